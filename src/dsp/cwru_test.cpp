// CWRU bearing data (../shared/data/cwru_bearing, SOURCE.md): envelope diagnosis with the one
// default parameter set (1 s blocks, kurtogram band over the record, DiagnosisOptions{}), nothing
// learned from fault data. Prints a table per record; asserts at least 15 of the 18 12-kHz
// inner/outer-race records named correctly, no confident wrong location on them, and `none` on
// normal record 97 (48 kHz, decimated by 4 through the anti-alias FIR). Ball records are printed,
// not asserted (Smith & Randall 2015 find many of them not diagnosable).
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "dsp/block_processor.h"
#include "dsp/resample.h"
#include "testing.h"

namespace pf::dsp {
namespace {

struct Record {
  std::string file, fault_class, diameter;
  int number = 0, load_hp = 0;
  double rpm = 0, fs = 0;
};

std::string DataDir() { return pf::testing::SharedDir() + "/data/cwru_bearing"; }

std::vector<Record> ReadManifest() {
  std::ifstream in(DataDir() + "/manifest.csv");
  std::vector<Record> out;
  std::string line;
  std::getline(in, line);  // header: file,cwru_record,fault_class,fault_diameter_in,motor_load_hp,rpm_in_file,...,fs_hz
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) f.push_back(cell);
    if (f.size() < 8) continue;
    out.push_back({f[0], f[2], f[3], std::atoi(f[1].c_str()), std::atoi(f[4].c_str()), std::atof(f[5].c_str()),
                   std::atof(f[7].c_str())});
  }
  return out;
}

std::vector<float> ReadSamples(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // de_accel_g
  std::vector<float> x;
  while (std::getline(in, line)) x.push_back(std::strtof(line.c_str(), nullptr));
  return x;
}

FaultLocation Truth(const std::string& fault_class) {
  if (fault_class == "inner_race") return FaultLocation::kInnerRace;
  if (fault_class.rfind("outer_race", 0) == 0) return FaultLocation::kOuterRace;
  if (fault_class == "ball") return FaultLocation::kBall;
  return FaultLocation::kNone;
}

bool IsLocation(FaultLocation l) { return l != FaultLocation::kNone && l != FaultLocation::kAmbiguous; }

BlockProcessorConfig DefaultConfig(double fs) {
  BlockProcessorConfig c;
  c.fs = fs;
  c.block_size = static_cast<std::size_t>(fs);  // 1 s
  c.bearing = *LookupBearing("6205");
  return c;
}

void PrintRow(const Record& r, const BlockResult& res) {
  const auto& d = res.diagnosis;
  std::printf("%-4d %-11s %-5s %dhp %-11s %-8s best %-10s %5.1f (lines %d, sidebands %d)  second %-10s %5.1f  margin %5.1f  band %4.0f-%4.0f Hz SK %6.2f\n",
              r.number, std::string(FaultLocationName(Truth(r.fault_class))).c_str(), r.diameter.c_str(), r.load_hp,
              std::string(FaultLocationName(d.location)).c_str(),
              IsLocation(d.location) ? (d.location == Truth(r.fault_class) ? "correct" : "WRONG") : "-",
              std::string(FaultLocationName(d.candidates[0].location)).c_str(), d.best_score,
              d.candidates[0].harmonics_detected, d.candidates[0].sidebands_detected,
              std::string(FaultLocationName(d.candidates[1].location)).c_str(), d.second_score, d.margin,
              res.envelope_band.lo_hz, res.envelope_band.hi_hz, res.band_kurtosis);
}

TEST(CwruDiagnosisTest, TwelveKhzDriveEndRecords) {
  pf::testing::RequireOrSkip(DataDir() + "/manifest.csv", "CWRU data (../shared/data/cwru_bearing) not present");
  int races = 0, correct = 0, confident_wrong = 0, balls = 0, balls_correct = 0;
  std::printf("rec  truth       dia   load diagnosis   verdict  candidates (score dB)\n");
  for (const Record& r : ReadManifest()) {
    if (r.fs != 12000) continue;
    const auto x = ReadSamples(DataDir() + "/" + r.file);
    ASSERT_GT(x.size(), 100000u) << r.file;
    auto res = AnalyzeRecord(x, r.rpm / 60.0, DefaultConfig(r.fs));
    ASSERT_TRUE(res.ok()) << r.file << ": " << res.status().ToString();
    PrintRow(r, *res);
    const FaultLocation truth = Truth(r.fault_class);
    const FaultLocation got = res->diagnosis.location;
    if (truth == FaultLocation::kBall) {
      ++balls;
      balls_correct += got == truth;
      continue;
    }
    ++races;
    correct += got == truth;
    if (IsLocation(got) && got != truth) {
      ++confident_wrong;
      std::printf("     confident wrong location on %s:\n%s\n", r.file.c_str(), DescribeDiagnosis(res->diagnosis).c_str());
    }
  }
  std::printf("inner/outer race: %d of %d correct, %d confident wrong; ball: %d of %d correct (reported only)\n",
              correct, races, confident_wrong, balls_correct, balls);
  EXPECT_EQ(races, 18);
  EXPECT_EQ(balls, 9);
  EXPECT_GE(correct, 15);
  EXPECT_EQ(confident_wrong, 0);
}

TEST(CwruDiagnosisTest, NormalRecord97DecimatedIsNone) {
  const std::string path = DataDir() + "/48k_normal/48k_normal_0hp_normal_rec97.csv";
  pf::testing::RequireOrSkip(path, "CWRU normal record 97 not present");
  const auto x48 = ReadSamples(path);
  ASSERT_EQ(x48.size(), 243938u);
  auto x12 = Decimate(x48, 4);
  ASSERT_TRUE(x12.ok());
  auto res = AnalyzeRecord(*x12, 1796 / 60.0, DefaultConfig(12000));
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  PrintRow({"48k_normal_0hp_normal_rec97.csv", "normal", "0", 97, 0, 1796, 12000}, *res);
  std::printf("%s\n", DescribeDiagnosis(res->diagnosis).c_str());
  EXPECT_EQ(res->diagnosis.location, FaultLocation::kNone);
}

}  // namespace
}  // namespace pf::dsp
