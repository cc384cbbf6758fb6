#pragma once
// One time type for the whole runtime: UTC nanoseconds since the Unix epoch.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace pf {

struct Timestamp {
  int64_t ns = 0;  // UTC nanoseconds since 1970-01-01T00:00:00Z

  static Timestamp FromNs(int64_t ns) { return {ns}; }
  static Timestamp FromMs(int64_t ms) { return {ms * 1'000'000}; }
  static Timestamp FromSeconds(double s) { return {static_cast<int64_t>(s * 1e9)}; }
  double seconds() const { return static_cast<double>(ns) * 1e-9; }
  int64_t ms() const { return ns / 1'000'000; }
  auto operator<=>(const Timestamp&) const = default;
};

using Duration = std::chrono::nanoseconds;

inline Timestamp operator+(Timestamp t, Duration d) { return {t.ns + d.count()}; }
inline Timestamp operator-(Timestamp t, Duration d) { return {t.ns - d.count()}; }
inline Duration operator-(Timestamp a, Timestamp b) { return Duration(a.ns - b.ns); }

// Wall clock (UTC). Used for receive timestamps.
Timestamp Now();
// Monotonic nanoseconds, for periods and latencies only.
int64_t MonotonicNs();
// A wall-clock instant (ns since 1970) on the monotonic clock and back, through the present offset
// between the two; an instant in the future is clamped to now (MonotonicToWallNs: not clamped).
int64_t WallToMonotonicNs(int64_t wall_ns);
int64_t MonotonicToWallNs(int64_t mono_ns);

// RFC 3339 UTC with the given fractional digits (0, 3, 6 or 9): "2026-11-25T13:45:00.123Z".
std::string FormatRfc3339(Timestamp t, int fraction_digits = 3);
// Accepts "YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)" and a space instead of 'T'.
Result<Timestamp> ParseRfc3339(std::string_view text);

// Days from 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d);

// "250ms", "10s", "5m", "2h", "7d", "1500us", "0" -> Duration.
Result<Duration> ParseDuration(std::string_view text);
std::string FormatDuration(Duration d);

}  // namespace pf
