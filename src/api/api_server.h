#pragma once
// ApiServer: the REST API over HTTP (cpp-httplib, a fixed worker pool), bound to 127.0.0.1 by
// default. Routes are registered with AddRoute before Start(); the built-in /api/v1 routes come
// from AddBuiltinRoutes (api/routes.h) and later modules (alerts, spc) add theirs the same way.
//
// Auth: every state-changing route (POST/PUT/PATCH/DELETE, or a GET registered as
// state-changing) passes through one wrapper that calls options.auth before its handler. A
// non-ok Status refuses the request with the error body and the handler does not run: 403
// permission_denied, except the transient codes unavailable (503, e.g. an auth backend down),
// deadline_exceeded (504) and resource_exhausted (429), which keep theirs so clients retry. Read-only GET routes are not checked. The default hook allows everything:
// the real policy is filled in later.
//
// Thread-safety: AddRoute only before Start(); Handle() is safe from any number of threads once
// the routes are registered; handlers run concurrently on the worker threads.
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "api/http.h"
#include "api/router.h"
#include "core/metrics.h"
#include "core/status.h"

namespace httplib {
class Server;
}

namespace pf {

using ApiHandler = std::function<ApiResponse(const ApiRequest&)>;

struct AuthRequest {
  std::string method;
  std::string path;  // decoded; "%2F" inside a segment shows as '/', so key policies on `route`
  std::string remote_addr;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string route;  // the matched pattern, e.g. "/api/v1/alerts/{id}/ack"
};
using AuthHook = std::function<Status(const AuthRequest&)>;

struct ApiServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0 = any free port; port() tells which after Start()
  size_t threads = 4;
  std::chrono::milliseconds read_timeout{5000};
  std::chrono::milliseconds write_timeout{5000};
  size_t payload_max_bytes = 1 << 20;  // request bodies above this are refused with 413
  AuthHook auth;                       // empty = allow all (filled later)
};

class ApiServer {
 public:
  // metrics: where pf_api_requests_total and pf_api_request_seconds go; may be null (no
  // metrics); must outlive the server.
  ApiServer(ApiServerOptions options, MetricsRegistry* metrics);
  ~ApiServer();  // stops the server
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // method: GET, POST, PUT, PATCH or DELETE. POST/PUT/PATCH/DELETE routes must be
  // state_changing. Fails on a bad pattern, a duplicate (method, pattern) or after Start().
  Status AddRoute(std::string method, std::string_view pattern, ApiHandler handler, bool state_changing);

  // Binds host:port and starts serving on a background thread. unavailable when it cannot bind.
  Status Start();
  // Stops accepting, finishes in-flight requests, joins the thread. Idempotent.
  void Stop();
  int port() const { return port_; }

  // The whole pipeline without sockets: route, auth, handler, error mapping, metrics.
  // request.path is ignored and set from raw_path (the still percent-encoded path, no query).
  ApiResponse Handle(ApiRequest request, std::string_view raw_path) const;

 private:
  struct Route {
    std::string method;
    RoutePattern pattern;
    ApiHandler handler;
    bool state_changing = false;
  };
  ApiResponse Dispatch(ApiRequest& request, std::string_view raw_path, std::string* route_label) const;
  // The refusal to send when the auth hook denies a state-changing request; nullopt = allowed.
  std::optional<ApiResponse> Refusal(const ApiRequest& request, const std::string& route) const;
  void Record(const std::string& route, int status, double seconds) const;

  ApiServerOptions options_;
  MetricsRegistry* metrics_;
  std::vector<Route> routes_;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  int port_ = 0;
  bool started_ = false;
};

}  // namespace pf
