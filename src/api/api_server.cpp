#include "api/api_server.h"

#include <algorithm>
#include <atomic>
#include <cctype>

#include <httplib.h>
#include <sys/socket.h>

#include "core/log.h"
#include "core/time.h"

namespace pf {
namespace {

constexpr const char* kUnmatchedRoute = "unmatched";

bool IsStateChangingMethod(std::string_view m) {
  return m == "POST" || m == "PUT" || m == "PATCH" || m == "DELETE";
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

ApiRequest FromHttplib(const httplib::Request& req) {
  ApiRequest r;
  r.method = req.method;
  for (const auto& [k, v] : req.params) r.query.emplace(k, v);
  for (const auto& [k, v] : req.headers) r.headers[Lower(k)] = v;
  r.remote_addr = req.remote_addr;
  r.body = req.body;
  return r;
}

std::string_view RawPath(const std::string& target) {
  std::string_view t = target;
  return t.substr(0, t.find('?'));
}

}  // namespace

ApiServer::ApiServer(ApiServerOptions options, MetricsRegistry* metrics)
    : options_(std::move(options)), metrics_(metrics) {}

ApiServer::~ApiServer() { Stop(); }

Status ApiServer::AddRoute(std::string method, std::string_view pattern, ApiHandler handler,
                           bool state_changing) {
  if (started_) return FailedPrecondition("api: route {} {} added after the server started", method, pattern);
  if (method != "GET" && !IsStateChangingMethod(method))
    return InvalidArgument("api: route {} {}: method must be GET, POST, PUT, PATCH or DELETE", method, pattern);
  if (IsStateChangingMethod(method) && !state_changing)
    return InvalidArgument("api: route {} {} changes state and must go through the auth hook", method, pattern);
  if (!handler) return InvalidArgument("api: route {} {} has no handler", method, pattern);
  PF_ASSIGN_OR_RETURN(RoutePattern parsed, RoutePattern::Parse(pattern));
  for (const auto& r : routes_)
    if (r.method == method && r.pattern.text() == parsed.text())
      return AlreadyExists("api: route {} {} is already registered", method, pattern);
  routes_.push_back(Route{std::move(method), std::move(parsed), std::move(handler), state_changing});
  return Status::Ok();
}

ApiResponse ApiServer::Handle(ApiRequest request, std::string_view raw_path) const {
  int64_t t0 = MonotonicNs();
  std::string route = kUnmatchedRoute;
  ApiResponse res = Dispatch(request, raw_path, &route);
  Record(route, res.status, static_cast<double>(MonotonicNs() - t0) * 1e-9);
  return res;
}

ApiResponse ApiServer::Dispatch(ApiRequest& request, std::string_view raw_path, std::string* route_label) const {
  auto segments = SplitPath(raw_path);
  if (!segments.ok()) return ApiResponse::Error(segments.status());
  std::string path;
  for (const auto& seg : *segments) path.append("/").append(seg);
  request.path = path.empty() ? std::string("/") : std::move(path);
  // HEAD is answered by the GET route (the HTTP layer drops the body).
  std::string_view method = request.method == "HEAD" ? std::string_view("GET") : std::string_view(request.method);
  const Route* found = nullptr;
  for (const auto& r : routes_) {
    if (r.method != method) continue;
    std::map<std::string, std::string> params;
    if (r.pattern.Match(*segments, &params)) {
      found = &r;
      request.path_params = std::move(params);
      break;
    }
  }
  if (!found) return ApiResponse::Error(NotFound("no route for {} {}", request.method, request.path));
  *route_label = found->pattern.text();
  if (found->state_changing) {
    if (auto refused = Refusal(request, found->pattern.text())) return *refused;
  }
  try {
    return found->handler(request);
  } catch (const std::exception& e) {
    PF_LOG_ERROR("api: {} {}: handler threw: {}", request.method, request.path, e.what());
    return ApiResponse::Error(Internal("{} {}: handler failed: {}", request.method, request.path, e.what()));
  } catch (...) {
    return ApiResponse::Error(Internal("{} {}: handler failed with an unknown exception", request.method, request.path));
  }
}

std::optional<ApiResponse> ApiServer::Refusal(const ApiRequest& request, const std::string& route) const {
  if (!options_.auth) return std::nullopt;
  AuthRequest a{request.method, request.path, request.remote_addr, request.headers, route};
  Status s;
  try {
    s = options_.auth(a);
  } catch (const std::exception& e) {
    s = Internal("auth hook threw: {}", e.what());
  } catch (...) {
    s = Internal("auth hook threw an unknown exception");
  }
  if (s.ok()) return std::nullopt;
  // A refusal is a refusal (403); only transient codes keep theirs, so a client knows to retry.
  bool transient = s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kDeadlineExceeded ||
                   s.code() == StatusCode::kResourceExhausted;
  return ApiResponse::Error(transient ? s : Status(StatusCode::kPermissionDenied, s.message()));
}

void ApiServer::Record(const std::string& route, int status, double seconds) const {
  if (!metrics_) return;
  metrics_->GetCounter("pf_api_requests_total", "API requests by route pattern and HTTP status",
                       {{"route", route}, {"code", std::to_string(status)}})
      .Inc();
  metrics_->GetHistogram("pf_api_request_seconds", "API request handling time in seconds", {{"route", route}})
      .Observe(seconds);
}

Status ApiServer::Start() {
  if (started_) return FailedPrecondition("api: server already started on {}:{}", options_.host, port_);
  http_ = std::make_unique<httplib::Server>();
  size_t threads = std::max<size_t>(1, options_.threads);
  http_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  auto rt = options_.read_timeout.count(), wt = options_.write_timeout.count();
  http_->set_read_timeout(rt / 1000, (rt % 1000) * 1000);
  http_->set_write_timeout(wt / 1000, (wt % 1000) * 1000);
  http_->set_payload_max_length(options_.payload_max_bytes);
  // Small JSON answers: without TCP_NODELAY, header and body writes meet delayed ACKs (~40 ms).
  http_->set_tcp_nodelay(true);
  // httplib's default also sets SO_REUSEPORT, which lets a second process bind the same port and
  // silently take half the requests; SO_REUSEADDR alone still allows a quick restart.
  http_->set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  auto serve = [this](const httplib::Request& req, httplib::Response& res) {
    ApiResponse out = Handle(FromHttplib(req), RawPath(req.target));
    res.status = out.status;
    res.set_content(out.body, out.content_type.c_str());
  };
  http_->Get(".*", serve);
  http_->Post(".*", serve);
  http_->Put(".*", serve);
  http_->Patch(".*", serve);
  http_->Delete(".*", serve);
  // Errors the HTTP layer produces itself (malformed request, 413 payload too large, 414 URI too
  // long) get the same error body as ours; responses that already have a body are left alone.
  http_->set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req,
                                                                   httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    StatusCode code = res.status == 413 ? StatusCode::kResourceExhausted : StatusCode::kInvalidArgument;
    if (res.status >= 500) code = StatusCode::kInternal;
    Status s(code, fmt::format("{} {}: request refused by the HTTP layer (HTTP {})", req.method, req.path,
                               res.status));
    res.set_content(ErrorJson(s).dump(), "application/json");
    return httplib::Server::HandlerResponse::Handled;
  }));
  if (options_.port == 0) {
    port_ = http_->bind_to_any_port(options_.host);
    if (port_ < 0) return Unavailable("api: cannot bind {}:<any port>", options_.host);
  } else {
    if (!http_->bind_to_port(options_.host, options_.port))
      return Unavailable("api: cannot bind {}:{} (in use or not permitted)", options_.host, options_.port);
    port_ = options_.port;
  }
  // Wait until the accept loop runs: httplib's stop() is a no-op before that, so a Stop() right
  // after Start() would otherwise leave the thread blocked in accept() forever.
  auto listener_done = std::make_shared<std::atomic<bool>>(false);
  thread_ = std::thread([this, listener_done] {
    http_->listen_after_bind();
    listener_done->store(true);
  });
  while (!http_->is_running() && !listener_done->load())
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (!http_->is_running()) {
    thread_.join();
    return Unavailable("api: the listener on {}:{} exited at start", options_.host, port_);
  }
  started_ = true;
  PF_LOG_INFO("api: listening on http://{}:{}", options_.host, port_);
  return Status::Ok();
}

void ApiServer::Stop() {
  if (!started_) return;
  http_->stop();
  if (thread_.joinable()) thread_.join();
  started_ = false;
}

}  // namespace pf
