#include "connect/replay/tz.h"

#include "connect/replay/time_format.h"

#include <ctime>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

namespace pf {
namespace {

Timestamp Utc(const char* rfc3339) { return ParseRfc3339(rfc3339).value(); }

TimeZone LoadOrSkip(const char* name) {
  if (!std::filesystem::exists(std::string("/usr/share/zoneinfo/") + name)) {
    fprintf(stderr, "no tzdata for %s: skipped\n", name);
    std::exit(77);
  }
  auto tz = TimeZone::Load(name);
  EXPECT_TRUE(tz.ok()) << tz.status().ToString();
  return std::move(tz).value();
}

TEST(TimeZone, BerlinFallBackIsAmbiguous) {
  TimeZone tz = LoadOrSkip("Europe/Berlin");
  LocalMapping m = tz.LocalToUtc(2021, 10, 31, 2, 30, 0);
  EXPECT_EQ(m.kind, LocalMapping::Kind::kAmbiguous);
  EXPECT_EQ(m.first, Utc("2021-10-31T00:30:00Z"));   // CEST, +02:00
  EXPECT_EQ(m.second, Utc("2021-10-31T01:30:00Z"));  // CET, +01:00
  EXPECT_EQ(FormatCivil(tz.UtcToLocal(m.first)), "2021-10-31 02:30:00");
  EXPECT_EQ(FormatCivil(tz.UtcToLocal(m.second)), "2021-10-31 02:30:00");
  EXPECT_TRUE(tz.IsDstAt(m.first.ns / 1'000'000'000));
  EXPECT_FALSE(tz.IsDstAt(m.second.ns / 1'000'000'000));
}

TEST(TimeZone, BerlinSpringForwardDoesNotExist) {
  TimeZone tz = LoadOrSkip("Europe/Berlin");
  LocalMapping m = tz.LocalToUtc(2021, 3, 28, 2, 30, 0);
  EXPECT_EQ(m.kind, LocalMapping::Kind::kNonexistent);
  EXPECT_EQ(m.first, Utc("2021-03-28T01:30:00Z"));   // read with CET (before the gap) = 03:30 CEST
  EXPECT_EQ(m.second, Utc("2021-03-28T00:30:00Z"));  // read with CEST
  EXPECT_EQ(FormatCivil(tz.UtcToLocal(m.first)), "2021-03-28 03:30:00");
  // Either side of the gap is unique.
  EXPECT_EQ(tz.LocalToUtc(2021, 3, 28, 1, 59, 59).kind, LocalMapping::Kind::kUnique);
  EXPECT_EQ(tz.LocalToUtc(2021, 3, 28, 3, 0, 0).first, Utc("2021-03-28T01:00:00Z"));
}

TEST(TimeZone, NewYork) {
  TimeZone tz = LoadOrSkip("America/New_York");
  LocalMapping summer = tz.LocalToUtc(2021, 7, 1, 12, 0, 0);
  EXPECT_EQ(summer.kind, LocalMapping::Kind::kUnique);
  EXPECT_EQ(summer.first, Utc("2021-07-01T16:00:00Z"));
  LocalMapping fall = tz.LocalToUtc(2021, 11, 7, 1, 30, 0);
  EXPECT_EQ(fall.kind, LocalMapping::Kind::kAmbiguous);
  EXPECT_EQ(fall.first, Utc("2021-11-07T05:30:00Z"));
  EXPECT_EQ(fall.second, Utc("2021-11-07T06:30:00Z"));
  LocalMapping spring = tz.LocalToUtc(2021, 3, 14, 2, 30, 0);
  EXPECT_EQ(spring.kind, LocalMapping::Kind::kNonexistent);
  EXPECT_EQ(spring.first, Utc("2021-03-14T07:30:00Z"));
  EXPECT_EQ(tz.OffsetAt(Utc("2021-01-15T12:00:00Z").ns / 1'000'000'000), -5 * 3600);
}

TEST(TimeZone, SeoulHasNoDstSince1988) {
  TimeZone tz = LoadOrSkip("Asia/Seoul");
  EXPECT_EQ(tz.LocalToUtc(2018, 1, 1, 0, 15, 0).first, Utc("2017-12-31T15:15:00Z"));
  EXPECT_EQ(tz.LocalToUtc(2018, 7, 1, 12, 0, 0).first, Utc("2018-07-01T03:00:00Z"));
  EXPECT_EQ(tz.LocalToUtc(2040, 7, 1, 12, 0, 0).first, Utc("2040-07-01T03:00:00Z"));
  // 1987 still had summer time (+10).
  EXPECT_EQ(tz.LocalToUtc(1987, 7, 1, 12, 0, 0).first, Utc("1987-07-01T02:00:00Z"));
  for (int m = 1; m <= 12; ++m)
    EXPECT_EQ(tz.LocalToUtc(2018, m, 15, 2, 30, 0).kind, LocalMapping::Kind::kUnique) << m;
}

TEST(TimeZone, Utc) {
  auto tz = TimeZone::Load("UTC");
  ASSERT_TRUE(tz.ok()) << tz.status().ToString();
  LocalMapping m = tz->LocalToUtc(2021, 10, 31, 2, 30, 0);
  EXPECT_EQ(m.kind, LocalMapping::Kind::kUnique);
  EXPECT_EQ(m.first, Utc("2021-10-31T02:30:00Z"));
  EXPECT_EQ(TimeZone::Utc().LocalToUtc(2040, 1, 1, 0, 0, 0).first, Utc("2040-01-01T00:00:00Z"));
}

TEST(TimeZone, FutureDatesUseTheFooterRule) {
  TimeZone tz = LoadOrSkip("Europe/Berlin");
  LocalMapping gap = tz.LocalToUtc(2040, 3, 25, 2, 30, 0);  // last Sunday of March 2040
  EXPECT_EQ(gap.kind, LocalMapping::Kind::kNonexistent);
  EXPECT_EQ(gap.first, Utc("2040-03-25T01:30:00Z"));
  LocalMapping fold = tz.LocalToUtc(2040, 10, 28, 2, 30, 0);  // last Sunday of October 2040
  EXPECT_EQ(fold.kind, LocalMapping::Kind::kAmbiguous);
  EXPECT_EQ(fold.first, Utc("2040-10-28T00:30:00Z"));
  EXPECT_EQ(fold.second, Utc("2040-10-28T01:30:00Z"));
  EXPECT_EQ(tz.LocalToUtc(2040, 7, 1, 12, 0, 0).first, Utc("2040-07-01T10:00:00Z"));
  EXPECT_EQ(tz.LocalToUtc(2040, 1, 15, 12, 0, 0).first, Utc("2040-01-15T11:00:00Z"));
}

TEST(TimeZone, FooterOnlyFileWithMRules) {
  // A TZif v2 file with no transitions at all: every instant follows the footer.
  std::string header(44, '\0');
  header.replace(0, 5, "TZif2");
  header[39] = 1;  // typecnt = 1
  header[43] = 4;  // charcnt = 4
  std::string body = std::string("\xff\xff\xb9\xb0\x00\x00", 6) + std::string("EST\0", 4);  // -18000, std
  std::string bytes = header + body + header + body + "\nEST5EDT,M3.2.0,M11.1.0\n";
  auto tz = TimeZone::FromTzif("Test/Footer", bytes);
  ASSERT_TRUE(tz.ok()) << tz.status().ToString();
  EXPECT_EQ(tz->LocalToUtc(2030, 11, 3, 1, 30, 0).kind, LocalMapping::Kind::kAmbiguous);
  EXPECT_EQ(tz->LocalToUtc(2030, 11, 3, 1, 30, 0).first, Utc("2030-11-03T05:30:00Z"));
  EXPECT_EQ(tz->LocalToUtc(2030, 3, 10, 2, 30, 0).kind, LocalMapping::Kind::kNonexistent);
  EXPECT_EQ(tz->LocalToUtc(2030, 1, 10, 12, 0, 0).first, Utc("2030-01-10T17:00:00Z"));
}

TEST(TimeZone, ErrorsNameTheZoneAndTheFile) {
  auto missing = TimeZone::Load("Mars/Olympus_Mons");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(),
            "time zone 'Mars/Olympus_Mons': cannot read /usr/share/zoneinfo/Mars/Olympus_Mons: No such file or "
            "directory");
  auto escape = TimeZone::Load("../../etc/passwd");
  EXPECT_EQ(escape.status().code(), StatusCode::kInvalidArgument);
  auto junk = TimeZone::FromTzif("Bad/Zone", "this is not a tz file at all, clearly not one");
  EXPECT_EQ(junk.status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(junk.status().message(), "time zone 'Bad/Zone': not a valid TZif file: missing 'TZif' magic");
  if (std::filesystem::exists("/usr/share/zoneinfo/zone.tab")) {
    auto tab = TimeZone::Load("zone.tab");
    EXPECT_EQ(tab.status().code(), StatusCode::kDataLoss);
    EXPECT_EQ(tab.status().message(),
              "/usr/share/zoneinfo/zone.tab: time zone 'zone.tab': not a valid TZif file: missing 'TZif' magic");
  }
}

// Reference check against glibc's localtime_r (TZ set in this test process only; the library
// itself never touches TZ): offsets and DST flags agree every ~7 hours from 1950 to 2060,
// which covers the transition tables and the footer rules after 2037.
TEST(TimeZone, AgreesWithGlibcLocaltime) {
  for (const char* name : {"Europe/Berlin", "America/New_York", "Asia/Seoul", "Australia/Sydney",
                           "America/Sao_Paulo", "Asia/Kolkata"}) {
    if (!std::filesystem::exists(std::string("/usr/share/zoneinfo/") + name)) continue;
    auto tz = TimeZone::Load(name);
    ASSERT_TRUE(tz.ok()) << tz.status().ToString();
    setenv("TZ", name, 1);
    tzset();
    int mismatches = 0;
    for (int64_t t = -631152000; t < 2840140800 && mismatches < 5; t += 7 * 3600 + 1234) {
      std::time_t tt = static_cast<std::time_t>(t);
      std::tm tm{};
      localtime_r(&tt, &tm);
      if (tm.tm_gmtoff != tz->OffsetAt(t) || (tm.tm_isdst > 0) != tz->IsDstAt(t)) {
        ++mismatches;
        ADD_FAILURE() << name << " at " << t << ": glibc " << tm.tm_gmtoff << "/" << tm.tm_isdst << ", ours "
                      << tz->OffsetAt(t) << "/" << tz->IsDstAt(t);
      }
      // Round trip: local -> UTC contains t.
      LocalMapping m = tz->LocalToUtc(tz->UtcToLocal(Timestamp{t * 1'000'000'000}));
      int64_t s = t * 1'000'000'000;
      if (m.first.ns != s && m.second.ns != s) {
        ++mismatches;
        ADD_FAILURE() << name << " round trip at " << t;
      }
    }
  }
  unsetenv("TZ");
}

TEST(TimeFormat, PatternsAndEpochs) {
  auto dmy = TimeFormat::Parse("%d/%m/%Y %H:%M");
  ASSERT_TRUE(dmy.ok());
  auto t = dmy->Apply("31/12/2018 23:45");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_FALSE(t->absolute);
  EXPECT_EQ(FormatCivil(t->local), "2018-12-31 23:45:00");
  EXPECT_EQ(dmy->Apply("31/02/2021 10:00").status().message(),
            "'31/02/2021 10:00' does not match time format \"%d/%m/%Y %H:%M\": day 31 does not exist in 2021-02");
  EXPECT_EQ(dmy->Apply("31/12/2018 23:45:10").status().message(),
            "'31/12/2018 23:45:10' does not match time format \"%d/%m/%Y %H:%M\": unexpected text \":10\" at the end");

  auto iso = TimeFormat::Parse("%Y-%m-%d %H:%M:%S");
  ASSERT_TRUE(iso.ok());
  auto frac = iso->Apply("2021-06-01 12:00:01.25");
  ASSERT_TRUE(frac.ok());
  EXPECT_EQ(frac->fraction_ns, 250'000'000);

  auto ms = TimeFormat::Parse("epoch_ms");
  ASSERT_TRUE(ms.ok());
  EXPECT_EQ(ms->Apply("1622548800123")->instant, Utc("2021-06-01T12:00:00.123Z"));
  auto s = TimeFormat::Parse("epoch_s");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->Apply("1622548800.5")->instant, Utc("2021-06-01T12:00:00.5Z"));
  EXPECT_EQ(s->Apply("12:00").status().code(), StatusCode::kInvalidArgument);

  EXPECT_EQ(TimeFormat::Parse("%d.%m.%Y %Z").status().message(),
            "time format \"%d.%m.%Y %Z\": unsupported conversion '%Z' (supported: %Y %m %d %H %M %S %%, or rfc3339, "
            "epoch_s, epoch_ms)");
  EXPECT_EQ(TimeFormat::Parse("%H:%M").status().message(),
            "time format \"%H:%M\": needs %Y, %m and %d (or rfc3339, epoch_s, epoch_ms)");
}

}  // namespace
}  // namespace pf
