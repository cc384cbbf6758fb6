#include "connect/replay/time_format.h"

#include <charconv>
#include <cmath>

namespace pf {

namespace {

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
int DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// Reads 1..max_digits digits.
bool ReadNumber(std::string_view s, size_t& pos, int max_digits, int& out) {
  size_t start = pos;
  out = 0;
  while (pos < s.size() && pos - start < static_cast<size_t>(max_digits) && s[pos] >= '0' && s[pos] <= '9')
    out = out * 10 + (s[pos++] - '0');
  return pos > start;
}

}  // namespace

Result<TimeFormat> TimeFormat::Parse(std::string_view spec) {
  TimeFormat f;
  f.spec_ = std::string(spec);
  if (spec == "rfc3339") {
    f.kind_ = Kind::kRfc3339;
  } else if (spec == "epoch_s") {
    f.kind_ = Kind::kEpochS;
  } else if (spec == "epoch_ms") {
    f.kind_ = Kind::kEpochMs;
  } else {
    f.kind_ = Kind::kPattern;
    bool has_y = false, has_m = false, has_d = false;
    for (size_t i = 0; i < spec.size(); ++i) {
      if (spec[i] != '%') continue;
      if (++i >= spec.size()) return InvalidArgument("time format \"{}\": ends with a lone '%'", spec);
      switch (spec[i]) {
        case 'Y': has_y = true; break;
        case 'm': has_m = true; break;
        case 'd': has_d = true; break;
        case 'H': case 'M': case 'S': case '%': break;
        default:
          return InvalidArgument(
              "time format \"{}\": unsupported conversion '%{}' (supported: %Y %m %d %H %M %S %%, or rfc3339, "
              "epoch_s, epoch_ms)",
              spec, spec[i]);
      }
    }
    if (!has_y || !has_m || !has_d)
      return InvalidArgument("time format \"{}\": needs %Y, %m and %d (or rfc3339, epoch_s, epoch_ms)", spec);
  }
  return f;
}

Result<ParsedTime> TimeFormat::Apply(std::string_view text) const {
  ParsedTime out;
  auto bad = [&](std::string_view why) {
    return InvalidArgument("'{}' does not match time format \"{}\": {}", text, spec_, why);
  };
  switch (kind_) {
    case Kind::kRfc3339: {
      auto t = ParseRfc3339(text);
      if (!t.ok()) return t.status();
      out.absolute = true;
      out.instant = *t;
      return out;
    }
    case Kind::kEpochS: {
      double v = 0;
      auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || p != text.data() + text.size() || !std::isfinite(v) || std::fabs(v) > 9e9)
        return bad("expected seconds since 1970");
      out.absolute = true;
      out.instant = Timestamp{static_cast<int64_t>(std::llround(v * 1e9))};
      return out;
    }
    case Kind::kEpochMs: {
      int64_t v = 0;
      auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || p != text.data() + text.size() || v > 9'000'000'000'000 || v < -9'000'000'000'000)
        return bad("expected integer milliseconds since 1970");
      out.absolute = true;
      out.instant = Timestamp::FromMs(v);
      return out;
    }
    case Kind::kPattern: break;
  }
  CivilTime c;
  size_t pos = 0;
  for (size_t i = 0; i < spec_.size(); ++i) {
    if (spec_[i] != '%' || spec_[i + 1] == '%') {
      if (spec_[i] == '%') ++i;
      if (pos >= text.size() || text[pos] != spec_[i]) return bad(fmt::format("expected '{}' at position {}", spec_[i], pos + 1));
      ++pos;
      continue;
    }
    char conv = spec_[++i];
    int* target = nullptr;
    int digits = 2;
    switch (conv) {
      case 'Y': target = &c.year; digits = 4; break;
      case 'm': target = &c.month; break;
      case 'd': target = &c.day; break;
      case 'H': target = &c.hour; break;
      case 'M': target = &c.minute; break;
      case 'S': target = &c.second; break;
    }
    if (!ReadNumber(text, pos, digits, *target))
      return bad(fmt::format("expected a number for %{} at position {}", conv, pos + 1));
    if (conv == 'S' && pos < text.size() && text[pos] == '.') {
      ++pos;
      int n = 0;
      int64_t frac = 0;
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
        if (n < 9) {
          frac = frac * 10 + (text[pos] - '0');
          ++n;
        }
        ++pos;
      }
      if (n == 0) return bad("empty fraction of seconds");
      for (; n < 9; ++n) frac *= 10;
      out.fraction_ns = frac;
    }
  }
  if (pos != text.size()) return bad(fmt::format("unexpected text \"{}\" at the end", text.substr(pos)));
  if (c.month < 1 || c.month > 12) return bad(fmt::format("month {} is not 1-12", c.month));
  if (c.day < 1 || c.day > DaysInMonth(c.year, c.month))
    return bad(fmt::format("day {} does not exist in {:04}-{:02}", c.day, c.year, c.month));
  if (c.hour > 23 || c.minute > 59 || c.second > 59) return bad("time of day out of range");
  out.local = c;
  return out;
}

}  // namespace pf
