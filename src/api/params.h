#pragma once
// Query-parameter parsing for the built-in routes. Each function reads one named parameter and
// returns an error whose message quotes the bad text; the caller answers 400 naming the field
// (PF_API_ASSIGN_OR_RESPOND).
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "api/http.h"
#include "core/time.h"

namespace pf {

constexpr size_t kDefaultPageLimit = 100;
constexpr size_t kMaxPageLimit = 1000;

// RFC 3339 time, nullopt when absent.
Result<std::optional<Timestamp>> TimeParam(const ApiRequest& r, std::string_view name);
// An integer in [1, max], nullopt when absent.
Result<std::optional<size_t>> CountParam(const ApiRequest& r, std::string_view name, size_t max);
// ?limit=: default kDefaultPageLimit, at most kMaxPageLimit.
Result<size_t> LimitParam(const ApiRequest& r);
// ?cursor= of a name-ordered list, decoded to the last key of the previous page ("" = first page).
Result<std::string> NameCursorParam(const ApiRequest& r);

// Assigns the value of a Result or answers the request with a 400-style error naming `field`.
#define PF_API_ASSIGN_OR_RESPOND(lhs, expr, field)                                       \
  auto PF_CONCAT(pf_api_result_, __LINE__) = (expr);                                     \
  if (!PF_CONCAT(pf_api_result_, __LINE__).ok())                                         \
    return ::pf::ApiResponse::Error(PF_CONCAT(pf_api_result_, __LINE__).status(), field); \
  lhs = std::move(PF_CONCAT(pf_api_result_, __LINE__)).value()

}  // namespace pf
