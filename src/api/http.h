#pragma once
// The API's request/response types, independent of the HTTP library so that handlers can be
// called and tested without sockets, and the REST conventions shared by every route:
//   - errors: HTTP status from the StatusCode, body {"code", "message", "field"} (field null when
//     the error is not about one request field);
//   - lists: {"items": [...], "next_cursor": "..." | null} with ?cursor=&limit= paging.
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace pf {

struct ApiRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // decoded path, without the query
  std::map<std::string, std::string> path_params;   // {name} segments, percent-decoded
  std::multimap<std::string, std::string> query;    // decoded query parameters
  std::map<std::string, std::string> headers;       // names lower-cased
  std::string remote_addr;
  std::string body;

  // The first value of query parameter `name`, or nullopt when absent.
  std::optional<std::string> Query(std::string_view name) const;
  // The value of path parameter `name` ("" when the route has none of that name).
  const std::string& Param(const std::string& name) const;
};

struct ApiResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;

  static ApiResponse Json(const nlohmann::json& body, int status = 200);
  static ApiResponse Text(std::string body, std::string content_type, int status = 200);
  // The error body for a non-ok status; field names the request field at fault ("" = none).
  static ApiResponse Error(const Status& status, std::string_view field = "");
};

// invalid_argument/out_of_range 400, not_found 404, already_exists/failed_precondition 409,
// permission_denied 403, resource_exhausted 429, unavailable 503, deadline_exceeded 504,
// unimplemented 501, anything else 500.
int HttpStatusFor(StatusCode code);
// {"code": "...", "message": "...", "field": "..." | null}
nlohmann::json ErrorJson(const Status& status, std::string_view field = "");

// Percent-decoding of one path segment ('+' stays '+'); invalid escapes are an error.
Result<std::string> PercentDecode(std::string_view text);

// Opaque cursors for name-ordered lists: base64url of the last key of the previous page.
std::string EncodeCursor(std::string_view last_key);
Result<std::string> DecodeCursor(std::string_view cursor);

}  // namespace pf
