// `plantfloor vib` end to end on CWRU records (../shared/data/cwru_bearing; skipped, 77, without
// them): the binary (PF_BIN) is run on 12 kHz drive-end IR007 at 0 hp (record 105) and OR007@6 at
// 0 hp (record 130) with the speed from manifest.csv. Expected: the location, and BPFI/BPFO equal
// to SOURCE.md's published multiples (5.4152 and 3.5848 x fr) x rpm/60 within 0.1 %; a PNG plot;
// and bad command lines refused with messages that say where and what.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "testing.h"

namespace pf {
namespace {

std::string DataDir() { return pf::testing::SharedDir() + "/data/cwru_bearing"; }

// The rpm_in_file column of manifest.csv for `file`.
double ManifestRpm(const std::string& file) {
  std::ifstream in(DataDir() + "/manifest.csv");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(file + ",", 0) != 0) continue;
    std::stringstream ss(line);
    std::string cell;
    for (int i = 0; i <= 5 && std::getline(ss, cell, ','); ++i) {
    }
    return std::atof(cell.c_str());
  }
  return 0;
}

struct CliRun {
  int code;
  std::string out;
};

CliRun Vib(const std::string& args) {
  CliRun r;
  r.code = pf::testing::Run(pf::testing::PlantfloorBin() + " vib " + args, &r.out);
  return r;
}

class VibCwru : public ::testing::Test {
 protected:
  void SetUp() override {
    pf::testing::RequireOrSkip(DataDir() + "/manifest.csv", "CWRU data (../shared/data/cwru_bearing) not present");
  }
  // Runs the record with --json and a plot; checks the location and the fault frequency.
  void Check(const std::string& file, const std::string& location, const std::string& name, double multiple) {
    const double rpm = ManifestRpm(file);
    ASSERT_GT(rpm, 1000) << file << " not in manifest.csv";
    const std::string png = dir_.path() + "/" + name + ".png";
    CliRun r = Vib(fmt::format("--input {}/{} --fs 12000 --rpm {} --bearing 6205 --json --plot {}", DataDir(), file, rpm, png));
    ASSERT_EQ(r.code, 0) << r.out;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["diagnosis"], location) << r.out;
    const double expected = multiple * rpm / 60;
    bool seen = false;
    for (const auto& c : j["candidates"]) {
      if (c["frequency_name"] != name) continue;
      seen = true;
      EXPECT_NEAR(c["fundamental_hz"].get<double>(), expected, 1e-3 * expected);
      EXPECT_NEAR(c["harmonics"][0]["expected_hz"].get<double>(), expected, 1e-3 * expected);
      EXPECT_NEAR(c["harmonics"][1]["expected_hz"].get<double>(), 2 * expected, 2e-3 * expected);
      EXPECT_TRUE(c["detected"].get<bool>());
    }
    EXPECT_TRUE(seen) << name << " missing from the candidates";
    EXPECT_NEAR(j["bearing"]["frequencies_hz"][name == "BPFI" ? "bpfi" : "bpfo"].get<double>(), expected, 1e-3 * expected);
    EXPECT_EQ(j["candidates"][0]["location"], location);
    EXPECT_GT(j["margin_db"].get<double>(), j["required_margin_db"].get<double>());
    std::ifstream in(png, std::ios::binary);
    std::string head(8, '\0');
    in.read(head.data(), 8);
    EXPECT_EQ(head, std::string("\x89PNG\r\n\x1a\n", 8));
    EXPECT_GT(std::filesystem::file_size(png), 10000u);
  }
  pf::testing::TempDir dir_;
};

TEST_F(VibCwru, InnerRace007ZeroHp) { Check("12k_DE/12k_DE_0hp_IR007_rec105.csv", "inner_race", "BPFI", 5.4152); }

TEST_F(VibCwru, OuterRace007At6ZeroHp) { Check("12k_DE/12k_DE_0hp_OR007_rec130.csv", "outer_race", "BPFO", 3.5848); }

TEST_F(VibCwru, TextReportNamesTheLocation) {
  CliRun r = Vib(fmt::format("--input {}/12k_DE/12k_DE_0hp_IR007_rec105.csv --fs 12000 --rpm 1797 --bearing 6205", DataDir()));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("diagnosis: inner_race"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("BPFI 5.4152x = 162.19 Hz"), std::string::npos) << r.out;  // 5.4152 x 1797/60
}

TEST_F(VibCwru, BadCommandLines) {
  const std::string rec = DataDir() + "/12k_DE/12k_DE_0hp_IR007_rec105.csv";
  CliRun r = Vib(fmt::format("--input {} --fs 12000 --rpm 1797 --bearing 6205 --column de_accel", rec));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("error: " + rec + ": no column 'de_accel' (columns: 'de_accel_g')"), std::string::npos) << r.out;
  r = Vib(fmt::format("--input {} --fs 0 --rpm 1797 --bearing 6205", rec));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("error: --fs 0: the sampling rate must be > 0 Hz"), std::string::npos) << r.out;
  r = Vib(fmt::format("--input {} --fs 12000 --rpm 1797 --bearing 6299", rec));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("error: --bearing: bearing '6299' is not in the catalogue (known: 6205"), std::string::npos) << r.out;
  r = Vib(fmt::format("--input {} --fs 12000 --rpm 1797 --rpm-column rpm --bearing 6205", rec));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("excludes --rpm-column"), std::string::npos) << r.out;
  // A non-numeric cell on line 4 of a copy of the record.
  const std::string bad = dir_.path() + "/bad.csv";
  {
    std::ifstream in(rec);
    std::ofstream out(bad);
    std::string line;
    for (int i = 1; std::getline(in, line); ++i) out << (i == 4 ? "0.0x12" : line) << "\n";
  }
  r = Vib(fmt::format("--input {} --fs 12000 --rpm 1797 --bearing 6205", bad));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("error: " + bad + ":4:1: column 'de_accel_g': not a number '0.0x12'"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace pf
