#include "api/params.h"

#include <charconv>

namespace pf {

Result<std::optional<Timestamp>> TimeParam(const ApiRequest& r, std::string_view name) {
  auto text = r.Query(name);
  if (!text) return std::optional<Timestamp>();
  PF_ASSIGN_OR_RETURN(Timestamp t, ParseRfc3339(*text));
  return std::optional<Timestamp>(t);
}

Result<std::optional<size_t>> CountParam(const ApiRequest& r, std::string_view name, size_t max) {
  auto text = r.Query(name);
  if (!text) return std::optional<size_t>();
  size_t v = 0;
  const char* end = text->data() + text->size();
  auto [ptr, ec] = std::from_chars(text->data(), end, v);
  if (text->empty() || ec != std::errc() || ptr != end || v < 1 || v > max)
    return InvalidArgument("{} must be an integer from 1 to {}, got '{}'", name, max, *text);
  return std::optional<size_t>(v);
}

Result<size_t> LimitParam(const ApiRequest& r) {
  PF_ASSIGN_OR_RETURN(std::optional<size_t> limit, CountParam(r, "limit", kMaxPageLimit));
  return limit.value_or(kDefaultPageLimit);
}

Result<std::string> NameCursorParam(const ApiRequest& r) {
  auto text = r.Query("cursor");
  if (!text || text->empty()) return std::string();
  return DecodeCursor(*text);
}

}  // namespace pf
