#include "connect/replay/tz.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

namespace pf {

namespace {

constexpr int64_t kDay = 86400;

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// 0 = Sunday; 1970-01-01 was a Thursday.
int WeekdayFromDays(int64_t days) { return static_cast<int>(((days % 7) + 11) % 7); }

int64_t ReadBe(std::string_view b, size_t pos, int size) {
  uint64_t v = 0;
  for (int i = 0; i < size; ++i) v = (v << 8) | static_cast<uint8_t>(b[pos + i]);
  if (size == 4) return static_cast<int32_t>(static_cast<uint32_t>(v));
  return static_cast<int64_t>(v);
}

// [+-]h[h][:mm[:ss]] -> seconds; advances pos.
bool ParseHms(std::string_view s, size_t& pos, int32_t& out) {
  int sign = 1;
  if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) sign = s[pos++] == '-' ? -1 : 1;
  int32_t parts[3] = {0, 0, 0};
  for (int k = 0; k < 3; ++k) {
    if (k > 0) {
      if (pos >= s.size() || s[pos] != ':') break;
      ++pos;
    }
    size_t start = pos;
    int32_t v = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9' && pos - start < 3) v = v * 10 + (s[pos++] - '0');
    if (pos == start) return false;
    parts[k] = v;
  }
  out = sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]);
  return true;
}

bool ParseZoneAbbrev(std::string_view s, size_t& pos) {
  if (pos < s.size() && s[pos] == '<') {
    size_t close = s.find('>', pos);
    if (close == std::string_view::npos) return false;
    pos = close + 1;
    return true;
  }
  size_t start = pos;
  while (pos < s.size() && std::isalpha(static_cast<unsigned char>(s[pos]))) ++pos;
  return pos - start >= 3;
}

bool ParseInt(std::string_view s, size_t& pos, int& out) {
  size_t start = pos;
  out = 0;
  while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') out = out * 10 + (s[pos++] - '0');
  return pos > start;
}

}  // namespace

int64_t CivilToSeconds(const CivilTime& c) {
  return DaysFromCivil(c.year, static_cast<unsigned>(c.month), static_cast<unsigned>(c.day)) * kDay +
         c.hour * 3600 + c.minute * 60 + c.second;
}

CivilTime SecondsToCivil(int64_t secs) {
  int64_t days = FloorDiv(secs, kDay);
  int64_t rem = secs - days * kDay;
  // Howard Hinnant's civil_from_days.
  int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  CivilTime c;
  c.year = static_cast<int>(static_cast<int64_t>(yoe) + era * 400 + (m <= 2));
  c.month = static_cast<int>(m);
  c.day = static_cast<int>(d);
  c.hour = static_cast<int>(rem / 3600);
  c.minute = static_cast<int>(rem % 3600 / 60);
  c.second = static_cast<int>(rem % 60);
  return c;
}

std::string FormatCivil(const CivilTime& c) {
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", c.year, c.month, c.day, c.hour, c.minute, c.second);
}

std::string_view LocalMappingKindName(LocalMapping::Kind k) {
  switch (k) {
    case LocalMapping::Kind::kUnique: return "unique";
    case LocalMapping::Kind::kAmbiguous: return "ambiguous";
    case LocalMapping::Kind::kNonexistent: return "nonexistent";
  }
  return "?";
}

TimeZone TimeZone::Utc() {
  TimeZone tz;
  tz.name_ = "UTC";
  tz.types_.push_back({0, false});
  return tz;
}

Result<TimeZone> TimeZone::Load(std::string_view name, std::string_view dir) {
  bool safe = !name.empty() && name.front() != '/' && name.find("..") == std::string_view::npos &&
              std::all_of(name.begin(), name.end(), [](char ch) {
                return std::isalnum(static_cast<unsigned char>(ch)) || ch == '/' || ch == '_' || ch == '-' || ch == '.' ||
                       ch == '+';
              });
  if (!safe)
    return InvalidArgument("time zone '{}': not an IANA zone name (expected e.g. Europe/Berlin, Asia/Seoul, UTC)",
                           name);
  std::string path = fmt::format("{}/{}", dir, name);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    if (name == "UTC" || name == "Etc/UTC") return Utc();
    return NotFound("time zone '{}': cannot read {}: {}", name, path, std::strerror(err));
  }
  std::string bytes;
  char buf[4096];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    bytes.append(buf, static_cast<size_t>(in.gcount()));
    if (bytes.size() > (1u << 20)) return DataLoss("time zone '{}': {} is larger than 1 MiB, not a TZif file", name, path);
  }
  auto tz = FromTzif(name, bytes);
  if (!tz.ok()) return tz.status().WithContext(path);
  return tz;
}

Result<TimeZone> TimeZone::FromTzif(std::string_view name, std::string_view b) {
  auto bad = [&](std::string_view why) { return DataLoss("time zone '{}': not a valid TZif file: {}", name, why); };
  if (b.size() < 44 || b.substr(0, 4) != "TZif") return bad("missing 'TZif' magic");
  const bool v2 = b[4] >= '2';
  size_t pos = 0;
  TimeZone tz;
  tz.name_ = std::string(name);
  for (int pass = 0; pass < (v2 ? 2 : 1); ++pass) {
    const int ts = pass == 0 ? 4 : 8;
    if (pos + 44 > b.size()) return bad("truncated header");
    int64_t isutcnt = ReadBe(b, pos + 20, 4), isstdcnt = ReadBe(b, pos + 24, 4), leapcnt = ReadBe(b, pos + 28, 4);
    int64_t timecnt = ReadBe(b, pos + 32, 4), typecnt = ReadBe(b, pos + 36, 4), charcnt = ReadBe(b, pos + 40, 4);
    if (isutcnt < 0 || isstdcnt < 0 || leapcnt < 0 || timecnt < 0 || typecnt <= 0 || charcnt < 0)
      return bad("negative or zero counts");
    size_t body = static_cast<size_t>(timecnt * ts + timecnt + typecnt * 6 + charcnt + leapcnt * (ts + 4) +
                                      isstdcnt + isutcnt);
    pos += 44;
    if (pos + body > b.size()) return bad("truncated data block");
    const bool use = pass == (v2 ? 1 : 0);
    if (use) {
      tz.transitions_.clear();
      tz.transition_type_.clear();
      tz.types_.clear();
      size_t p = pos;
      for (int64_t i = 0; i < timecnt; ++i, p += ts) tz.transitions_.push_back(ReadBe(b, p, ts));
      for (int64_t i = 0; i < timecnt; ++i, ++p) {
        uint8_t idx = static_cast<uint8_t>(b[p]);
        if (idx >= typecnt) return bad("transition type index out of range");
        tz.transition_type_.push_back(idx);
      }
      for (int64_t i = 0; i < typecnt; ++i, p += 6)
        tz.types_.push_back({static_cast<int32_t>(ReadBe(b, p, 4)), b[p + 4] != 0});
      if (!std::is_sorted(tz.transitions_.begin(), tz.transitions_.end())) return bad("transitions not ascending");
    }
    pos += body;
  }
  if (v2 && pos < b.size() && b[pos] == '\n') {
    size_t end = b.find('\n', pos + 1);
    if (end == std::string_view::npos) return bad("unterminated footer");
    std::string_view footer = b.substr(pos + 1, end - pos - 1);
    if (!footer.empty()) {
      Status st = ParseFooter(footer, tz.footer_);
      if (!st.ok()) return bad(fmt::format("footer \"{}\": {}", footer, st.message()));
    }
  }
  return tz;
}

Status TimeZone::ParseFooter(std::string_view s, Footer& f) {
  size_t pos = 0;
  int32_t off = 0;
  if (!ParseZoneAbbrev(s, pos)) return InvalidArgument("bad standard zone name");
  if (!ParseHms(s, pos, off)) return InvalidArgument("bad standard offset");
  f.present = true;
  f.std_off = -off;  // POSIX offsets are west positive
  if (pos == s.size()) return Status::Ok();
  if (!ParseZoneAbbrev(s, pos)) return InvalidArgument("bad DST zone name");
  f.has_dst = true;
  f.dst_off = f.std_off + 3600;
  if (pos < s.size() && s[pos] != ',') {
    if (!ParseHms(s, pos, off)) return InvalidArgument("bad DST offset");
    f.dst_off = -off;
  }
  auto parse_date = [&](RuleDate& r) -> bool {
    if (pos >= s.size() || s[pos] != ',') return false;
    ++pos;
    if (pos < s.size() && s[pos] == 'M') {
      ++pos;
      r.kind = 'M';
      if (!ParseInt(s, pos, r.month) || pos >= s.size() || s[pos++] != '.') return false;
      if (!ParseInt(s, pos, r.week) || pos >= s.size() || s[pos++] != '.') return false;
      if (!ParseInt(s, pos, r.weekday)) return false;
      if (r.month < 1 || r.month > 12 || r.week < 1 || r.week > 5 || r.weekday > 6) return false;
    } else if (pos < s.size() && s[pos] == 'J') {
      ++pos;
      r.kind = 'J';
      if (!ParseInt(s, pos, r.day) || r.day < 1 || r.day > 365) return false;
    } else {
      r.kind = 'N';
      if (!ParseInt(s, pos, r.day) || r.day > 365) return false;
    }
    r.time = 7200;
    if (pos < s.size() && s[pos] == '/') {
      ++pos;
      if (!ParseHms(s, pos, r.time)) return false;
    }
    return true;
  };
  if (pos == s.size()) {  // POSIX default when rules are omitted: US rules
    f.start = {'M', 3, 2, 0, 0, 7200};
    f.end = {'M', 11, 1, 0, 0, 7200};
    return Status::Ok();
  }
  if (!parse_date(f.start)) return InvalidArgument("bad DST start rule");
  if (!parse_date(f.end)) return InvalidArgument("bad DST end rule");
  if (pos != s.size()) return InvalidArgument("trailing characters");
  return Status::Ok();
}

int64_t TimeZone::RuleInstantLocal(const RuleDate& r, int year) {
  int64_t days = 0;
  if (r.kind == 'M') {
    int64_t first = DaysFromCivil(year, static_cast<unsigned>(r.month), 1);
    int day = 1 + (r.weekday - WeekdayFromDays(first) + 7) % 7 + (r.week - 1) * 7;
    while (day > DaysInMonth(year, r.month)) day -= 7;
    days = first + day - 1;
  } else if (r.kind == 'J') {
    days = DaysFromCivil(year, 1, 1) + r.day - 1 + (IsLeap(year) && r.day >= 60 ? 1 : 0);
  } else {
    days = DaysFromCivil(year, 1, 1) + r.day;
  }
  return days * kDay + r.time;
}

TimeZone::LocalType TimeZone::FooterTypeAt(int64_t t) const {
  LocalType std_type{footer_.std_off, false};
  if (!footer_.has_dst) return std_type;
  int year = SecondsToCivil(t + footer_.std_off).year;
  int64_t start = RuleInstantLocal(footer_.start, year) - footer_.std_off;
  int64_t end = RuleInstantLocal(footer_.end, year) - footer_.dst_off;
  bool dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
  return dst ? LocalType{footer_.dst_off, true} : std_type;
}

TimeZone::LocalType TimeZone::TypeAt(int64_t t) const {
  if (transitions_.empty()) return footer_.present ? FooterTypeAt(t) : types_.front();
  if (t < transitions_.front()) return types_.front();
  if (t >= transitions_.back() && footer_.present) return FooterTypeAt(t);
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), t);
  size_t idx = static_cast<size_t>(it - transitions_.begin()) - 1;
  return types_[transition_type_[idx]];
}

int32_t TimeZone::OffsetAt(int64_t t) const { return TypeAt(t).utoff; }
bool TimeZone::IsDstAt(int64_t t) const { return TypeAt(t).isdst; }

LocalMapping TimeZone::LocalToUtc(int year, int month, int day, int hour, int minute, int second) const {
  return LocalToUtc(CivilTime{year, month, day, hour, minute, second});
}

LocalMapping TimeZone::LocalToUtc(const CivilTime& c) const {
  const int64_t local = CivilToSeconds(c);
  // Zones never change offset twice within a day, so the offsets in effect one day either side
  // of the reading are the only candidates.
  const int32_t before = OffsetAt(local - kDay);
  const int32_t after = OffsetAt(local + kDay);
  std::vector<int64_t> valid;
  for (int32_t off : {before, OffsetAt(local), after}) {
    int64_t t = local - off;
    if (OffsetAt(t) == off && std::find(valid.begin(), valid.end(), t) == valid.end()) valid.push_back(t);
  }
  std::sort(valid.begin(), valid.end());
  LocalMapping m;
  auto ts = [](int64_t s) { return Timestamp{s * 1'000'000'000}; };
  if (valid.empty()) {
    m.kind = LocalMapping::Kind::kNonexistent;
    m.first = ts(local - before);
    m.second = ts(local - after);
  } else {
    m.kind = valid.size() == 1 ? LocalMapping::Kind::kUnique : LocalMapping::Kind::kAmbiguous;
    m.first = ts(valid.front());
    m.second = ts(valid.back());
  }
  return m;
}

CivilTime TimeZone::UtcToLocal(Timestamp t) const {
  int64_t secs = FloorDiv(t.ns, 1'000'000'000);
  return SecondsToCivil(secs + OffsetAt(secs));
}

}  // namespace pf
