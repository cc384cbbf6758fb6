// RFC 3339 times and durations arrive in REST query strings and config files.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/time.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  auto t = pf::ParseRfc3339(s);
  if (t.ok() && t->ns >= 0) {
    auto again = pf::ParseRfc3339(pf::FormatRfc3339(*t, 9));
    if (!again.ok() || again->ns != t->ns) __builtin_trap();  // round trip must be exact
  }
  auto d = pf::ParseDuration(s);
  (void)d;
  return 0;
}
