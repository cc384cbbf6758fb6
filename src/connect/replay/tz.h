#pragma once
// IANA time zones read from the system tzdata (TZif files, RFC 8536), without setenv("TZ") or
// mktime: a TimeZone is immutable after Load() and safe to use from any number of threads.
//
// Only the 64-bit (v2+) section is used: transition times, local time types (UT offset, isdst)
// and the POSIX TZ footer, which governs instants after the last transition ("CET-1CEST,M3.5.0,
// M10.5.0/3"; the M, Jn and n rule forms are supported). Leap-second records are ignored
// (plantfloor time is POSIX time).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/time.h"

namespace pf {

// A wall-clock reading in some zone, to the second. month 1-12, day 1-31.
struct CivilTime {
  int year = 1970, month = 1, day = 1, hour = 0, minute = 0, second = 0;
  auto operator<=>(const CivilTime&) const = default;
};

// Seconds since the epoch of a civil time read as if it were UTC.
int64_t CivilToSeconds(const CivilTime& c);
CivilTime SecondsToCivil(int64_t secs);
// "2021-10-31 02:30:00"
std::string FormatCivil(const CivilTime& c);

// The result of mapping a local wall-clock time to UTC.
struct LocalMapping {
  enum class Kind {
    kUnique,       // exactly one instant: first == second
    kAmbiguous,    // the hour repeated when clocks fall back: first (earlier, DST) < second
    kNonexistent,  // skipped when clocks spring forward: first = read with the offset before the
                   // gap (the usual "shift forward" reading), second = read with the offset after
  };
  Kind kind = Kind::kUnique;
  Timestamp first;
  Timestamp second;
};
std::string_view LocalMappingKindName(LocalMapping::Kind k);  // "unique", "ambiguous", "nonexistent"

class TimeZone {
 public:
  // Loads /usr/share/zoneinfo/<name> (or <dir>/<name>). "UTC" always works, even without tzdata.
  // Errors (NotFound / InvalidArgument / DataLoss) name the zone and the file.
  static Result<TimeZone> Load(std::string_view name, std::string_view dir = "/usr/share/zoneinfo");
  // Parses TZif bytes (for tests and embedded data); name is used in messages only.
  static Result<TimeZone> FromTzif(std::string_view name, std::string_view bytes);
  static TimeZone Utc();

  const std::string& name() const { return name_; }

  // UT offset in seconds (east positive) in effect at the instant (whole seconds).
  int32_t OffsetAt(int64_t utc_seconds) const;
  bool IsDstAt(int64_t utc_seconds) const;

  LocalMapping LocalToUtc(int year, int month, int day, int hour, int minute, int second) const;
  LocalMapping LocalToUtc(const CivilTime& c) const;
  // Local wall-clock time at the instant (sub-second part dropped).
  CivilTime UtcToLocal(Timestamp t) const;

 private:
  struct LocalType {
    int32_t utoff = 0;
    bool isdst = false;
  };
  // POSIX TZ rule date: kind 'M' (month.week.weekday), 'J' (1-365, no Feb 29) or 'N' (0-365).
  struct RuleDate {
    char kind = 'M';
    int month = 0, week = 0, weekday = 0, day = 0;
    int32_t time = 7200;  // seconds after local midnight, may be negative or > 24 h
  };
  struct Footer {
    bool present = false;
    int32_t std_off = 0;  // east positive
    bool has_dst = false;
    int32_t dst_off = 0;
    RuleDate start, end;
  };
  static Status ParseFooter(std::string_view text, Footer& out);
  static int64_t RuleInstantLocal(const RuleDate& r, int year);  // local seconds (as-if-UTC)
  LocalType TypeAt(int64_t utc_seconds) const;
  LocalType FooterTypeAt(int64_t utc_seconds) const;

  std::string name_;
  std::vector<int64_t> transitions_;      // UTC seconds, ascending
  std::vector<uint8_t> transition_type_;  // index into types_
  std::vector<LocalType> types_;
  Footer footer_;
};

}  // namespace pf
