#include "api/http.h"

#include <array>

namespace pf {

std::optional<std::string> ApiRequest::Query(std::string_view name) const {
  auto it = query.find(std::string(name));
  if (it == query.end()) return std::nullopt;
  return it->second;
}

const std::string& ApiRequest::Param(const std::string& name) const {
  static const std::string kEmpty;
  auto it = path_params.find(name);
  return it == path_params.end() ? kEmpty : it->second;
}

ApiResponse ApiResponse::Json(const nlohmann::json& body, int status) {
  ApiResponse r;
  r.status = status;
  // Replace invalid UTF-8 (a string register with garbage) rather than throwing.
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

ApiResponse ApiResponse::Text(std::string body, std::string content_type, int status) {
  ApiResponse r;
  r.status = status;
  r.content_type = std::move(content_type);
  r.body = std::move(body);
  return r;
}

ApiResponse ApiResponse::Error(const Status& status, std::string_view field) {
  return Json(ErrorJson(status, field), HttpStatusFor(status.code()));
}

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument:
    case StatusCode::kOutOfRange: return 400;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition: return 409;
    case StatusCode::kPermissionDenied: return 403;
    case StatusCode::kResourceExhausted: return 429;
    case StatusCode::kUnavailable: return 503;
    case StatusCode::kDeadlineExceeded: return 504;
    case StatusCode::kUnimplemented: return 501;
    case StatusCode::kDataLoss:
    case StatusCode::kInternal: return 500;
  }
  return 500;
}

nlohmann::json ErrorJson(const Status& status, std::string_view field) {
  nlohmann::json j;
  j["code"] = std::string(StatusCodeName(status.code()));
  j["message"] = status.message();
  j["field"] = field.empty() ? nlohmann::json(nullptr) : nlohmann::json(std::string(field));
  return j;
}

namespace {
int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
constexpr std::string_view kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
}  // namespace

Result<std::string> PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    int hi = i + 2 < text.size() ? HexDigit(text[i + 1]) : -1;
    int lo = i + 2 < text.size() ? HexDigit(text[i + 2]) : -1;
    if (hi < 0 || lo < 0)
      return InvalidArgument("'{}': invalid percent escape at offset {}", text, i);
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

std::string EncodeCursor(std::string_view last_key) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : last_key) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kB64[(acc >> bits) & 0x3f];
    }
  }
  if (bits > 0) out += kB64[(acc << (6 - bits)) & 0x3f];
  return out;
}

Result<std::string> DecodeCursor(std::string_view cursor) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : cursor) {
    size_t v = kB64.find(c);
    if (v == std::string_view::npos)
      return InvalidArgument("'{}' is not a cursor returned by this API (bad character '{}')", cursor, c);
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  if (cursor.size() % 4 == 1)
    return InvalidArgument("'{}' is not a cursor returned by this API (truncated)", cursor);
  return out;
}

}  // namespace pf
