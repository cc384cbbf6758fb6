#pragma once
// Route patterns for the API: "/api/v1/tags/{name}/history" = literal segments and {param}
// segments, each matching exactly one path segment. Paths are split on '/' BEFORE
// percent-decoding, so a tag name may contain an encoded '/' (%2F) as well as dots.
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace pf {

// A raw request path split into percent-decoded segments ("/a/b%2Ec" -> {"a", "b.c"}).
Result<std::vector<std::string>> SplitPath(std::string_view raw_path);

class RoutePattern {
 public:
  // Fails for patterns that do not start with '/', empty segments, or bad {param} names.
  static Result<RoutePattern> Parse(std::string_view pattern);
  // True when the decoded segments match; fills params (name -> decoded value).
  bool Match(const std::vector<std::string>& segments, std::map<std::string, std::string>* params) const;
  const std::string& text() const { return text_; }

 private:
  struct Segment {
    std::string text;
    bool is_param = false;
  };
  std::string text_;
  std::vector<Segment> segments_;
};

}  // namespace pf
