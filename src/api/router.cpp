#include "api/router.h"

#include "api/http.h"

namespace pf {

Result<std::vector<std::string>> SplitPath(std::string_view raw_path) {
  std::vector<std::string> out;
  if (raw_path.empty() || raw_path[0] != '/')
    return InvalidArgument("path '{}' does not start with '/'", raw_path);
  size_t pos = 1;
  while (pos <= raw_path.size()) {
    size_t end = raw_path.find('/', pos);
    if (end == std::string_view::npos) end = raw_path.size();
    std::string_view seg = raw_path.substr(pos, end - pos);
    // A trailing '/' ("/api/v1/tags/") and doubled slashes name the same resource.
    if (!seg.empty()) {
      PF_ASSIGN_OR_RETURN(std::string decoded, PercentDecode(seg));
      out.push_back(std::move(decoded));
    }
    pos = end + 1;
  }
  return out;
}

Result<RoutePattern> RoutePattern::Parse(std::string_view pattern) {
  RoutePattern p;
  p.text_ = std::string(pattern);
  if (pattern.empty() || pattern[0] != '/')
    return InvalidArgument("route pattern '{}' does not start with '/'", pattern);
  if (pattern == "/") return p;
  size_t pos = 1;
  while (pos <= pattern.size()) {
    size_t end = pattern.find('/', pos);
    if (end == std::string_view::npos) end = pattern.size();
    std::string_view seg = pattern.substr(pos, end - pos);
    if (seg.empty()) return InvalidArgument("route pattern '{}' has an empty segment", pattern);
    Segment s;
    if (seg.front() == '{') {
      if (seg.size() < 3 || seg.back() != '}')
        return InvalidArgument("route pattern '{}': segment '{}' is not a {{name}} parameter", pattern, seg);
      s.is_param = true;
      s.text = std::string(seg.substr(1, seg.size() - 2));
    } else {
      if (seg.find_first_of("{}") != std::string_view::npos)
        return InvalidArgument("route pattern '{}': segment '{}' mixes text and a parameter", pattern, seg);
      s.text = std::string(seg);
    }
    p.segments_.push_back(std::move(s));
    pos = end + 1;
  }
  return p;
}

bool RoutePattern::Match(const std::vector<std::string>& segments,
                         std::map<std::string, std::string>* params) const {
  if (segments.size() != segments_.size()) return false;
  for (size_t i = 0; i < segments.size(); ++i)
    if (!segments_[i].is_param && segments_[i].text != segments[i]) return false;
  for (size_t i = 0; i < segments.size(); ++i)
    if (segments_[i].is_param) (*params)[segments_[i].text] = segments[i];
  return true;
}

}  // namespace pf
