// Sensor faults injected into real CWRU records (../shared/data/cwru_bearing, SOURCE.md), with
// the one default SensorHealthOptions and the default diagnosis (1 s blocks, kurtogram over the
// record as in cwru_test.cpp). The combined decision per block is: sensor health first; a block
// with a sensor fault is not fed to the diagnosis, and no bearing location is released while
// SensorHealthReport::suppress_diagnosis holds.
//   1. Each injected fault is reported as that fault in at least one block, and no bearing
//      location is released for the record.
//   2. The un-injected 12-kHz records (18 inner/outer race, 9 ball) and normal record 97
//      (decimated to 12 kHz) report no sensor fault in any block (printed; asserted for the 18
//      race records and 97), and the gate leaves their diagnosis as it was.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <limits>
#include <numbers>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "dsp/block_processor.h"
#include "dsp/resample.h"
#include "dsp/sensor_health.h"
#include "testing.h"

namespace pf::dsp {
namespace {

constexpr double kFs = 12000;
constexpr std::size_t kBlock = 12000;

struct Record {
  std::string file, fault_class;
  int number = 0;
  double rpm = 0, fs = 0;
};

std::string DataDir() { return pf::testing::SharedDir() + "/data/cwru_bearing"; }

std::vector<Record> ReadManifest() {
  std::ifstream in(DataDir() + "/manifest.csv");
  std::vector<Record> out;
  std::string line;
  std::getline(in, line);  // file,cwru_record,fault_class,fault_diameter_in,motor_load_hp,rpm_in_file,rpm_nominal,fs_hz,...
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) f.push_back(cell);
    if (f.size() < 8) continue;
    out.push_back({f[0], f[2], std::atoi(f[1].c_str()), std::atof(f[5].c_str()), std::atof(f[7].c_str())});
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

bool IsLocation(FaultLocation l) { return l != FaultLocation::kNone && l != FaultLocation::kAmbiguous; }

FaultLocation Truth(const std::string& fault_class) {
  if (fault_class == "inner_race") return FaultLocation::kInnerRace;
  if (fault_class.rfind("outer_race", 0) == 0) return FaultLocation::kOuterRace;
  if (fault_class == "ball") return FaultLocation::kBall;
  return FaultLocation::kNone;
}

struct Outcome {
  int blocks = 0;
  std::array<int, kSensorFaultCodes> blocks_with{};  // per SensorFaultCode
  int faulty_blocks = 0;
  int released_locations = 0;  // blocks whose bearing location was released
  bool withheld = false;       // the record's final decision withheld by sensor health
  FaultLocation decision = FaultLocation::kNone;
  std::string first_message;
  SensorHealthFigures last_figures;
  // The largest figures over the blocks: the margins to the thresholds.
  double max_floor_rise_db = -100, max_subharmonic_db = -100, max_rate_offset = 0, max_spike_sigma = 0;
  long max_rail = 0, max_run = 0;
};

// Runs the combined decision over the whole blocks of x; speed(b) is the speed tag of block b.
Outcome RunChannel(const std::vector<float>& x, const std::function<std::optional<double>(int)>& speed) {
  Outcome o;
  o.blocks = static_cast<int>(x.size() / kBlock);
  BlockProcessorConfig c;
  c.fs = kFs;
  c.block_size = kBlock;
  c.bearing = *LookupBearing("6205");
  c.kurtogram_blocks = std::min(c.kurtogram_blocks, o.blocks);
  auto processor = BlockProcessor::Create(c);
  auto health = SensorHealth::Create(kFs, kBlock);
  EXPECT_TRUE(processor.ok() && health.ok());
  SensorHealthReport report;
  BlockResult result;
  bool have_result = false;
  for (int b = 0; b < o.blocks; ++b) {
    const auto block = std::span<const float>(x).subspan(static_cast<std::size_t>(b) * kBlock, kBlock);
    const std::optional<double> fr = speed(b);
    EXPECT_TRUE(health->Check(block, fr, &report).ok());
    for (const SensorFault& f : report.Faults()) {
      ++o.blocks_with[static_cast<std::size_t>(f.code)];
      if (o.first_message.empty()) o.first_message = std::string(f.text());
    }
    o.faulty_blocks += report.fault_count > 0;
    const SensorHealthFigures& f = report.figures;
    if (f.noise_floor_reference > 0) o.max_floor_rise_db = std::max(o.max_floor_rise_db, f.floor_rise_db);
    o.max_subharmonic_db = std::max({o.max_subharmonic_db, f.subharmonic_snr_db[0], f.subharmonic_snr_db[1]});
    if (f.rate_harmonics >= 3) o.max_rate_offset = std::max(o.max_rate_offset, std::fabs(f.rate_ratio - 1));
    o.max_spike_sigma = std::max(o.max_spike_sigma, f.max_spike_sigma);
    o.max_rail = std::max(o.max_rail, f.rail_samples);
    o.max_run = std::max(o.max_run, f.longest_run);
    if (report.fault_count == 0) {
      EXPECT_TRUE(processor->Process(block, *fr, &result).ok());
      have_result = true;
    }
    const bool released = DiagnosisAllowed(report) && have_result && result.envelope_ready;
    if (released && IsLocation(result.diagnosis.location)) ++o.released_locations;
    o.withheld = !DiagnosisAllowed(report);
    o.decision = released ? result.diagnosis.location : FaultLocation::kNone;
  }
  o.last_figures = report.figures;
  return o;
}

std::function<std::optional<double>(int)> Constant(std::optional<double> fr) {
  return [fr](int) { return fr; };
}

std::string CodesOf(const Outcome& o) {
  std::string s;
  for (int c = 0; c < kSensorFaultCodes; ++c) {
    if (o.blocks_with[static_cast<std::size_t>(c)] == 0) continue;
    if (!s.empty()) s += ",";
    s += std::string(SensorFaultCodeName(static_cast<SensorFaultCode>(c))) + "(" +
         std::to_string(o.blocks_with[static_cast<std::size_t>(c)]) + ")";
  }
  return s.empty() ? "-" : s;
}

// ---- injections (the data is sampled at 12 kHz; the speed tag is the manifest rpm / 60) ----

float PeakOf(const std::vector<float>& x) {
  float p = 0;
  for (float v : x) p = std::max(p, std::fabs(v));
  return p;
}

double RmsOf(const std::vector<float>& x) {
  double s = 0;
  for (float v : x) s += double(v) * v;
  return std::sqrt(s / static_cast<double>(x.size()));
}

std::vector<float> Clip60(std::vector<float> x) {
  const float rail = 0.6f * PeakOf(x);
  for (float& v : x) v = std::clamp(v, -rail, rail);
  return x;
}

// Stuck at the last good value from 40 % to 65 % of the record (2.5 s of a 10 s record).
std::vector<float> FlatSegment(std::vector<float> x) {
  const auto a = static_cast<std::ptrdiff_t>(0.40 * x.size()), b = static_cast<std::ptrdiff_t>(0.65 * x.size());
  std::fill(x.begin() + a, x.begin() + b, x[static_cast<std::size_t>(a - 1)]);
  return x;
}

// The record as a converter clocked at k * 12 kHz would have sampled it, read as if it were
// 12 kHz: every line appears at f / k. Band-limited (Blackman-windowed sinc, 64 taps, cut-off at
// the lower of the two Nyquist rates): linear interpolation would alias the 3 kHz resonances
// onto the low-frequency shaft lines, which a clock error does not do.
std::vector<float> RateOff(const std::vector<float>& x, double k) {
  constexpr int kHalf = 32;
  const double cut = std::min(1.0, k) * 0.95;  // fraction of the input Nyquist rate
  std::vector<float> y;
  for (std::size_t j = 0;; ++j) {
    const double t = static_cast<double>(j) / k;
    const auto i0 = static_cast<long>(std::floor(t));
    if (i0 + kHalf >= static_cast<long>(x.size())) break;
    double v = 0;
    for (long i = std::max(0L, i0 - kHalf + 1); i <= i0 + kHalf; ++i) {
      const double d = t - static_cast<double>(i);
      const double arg = std::numbers::pi * cut * d;
      const double sinc = std::fabs(d) < 1e-12 ? 1.0 : std::sin(arg) / arg;
      const double w = 0.42 + 0.5 * std::cos(std::numbers::pi * d / kHalf) + 0.08 * std::cos(2 * std::numbers::pi * d / kHalf);
      v += x[static_cast<std::size_t>(i)] * cut * sinc * w;
    }
    y.push_back(static_cast<float>(v));
  }
  return y;
}

// From 3 s on (after the reference is learned): white noise of twice the record's RMS and a 1/2x
// line of half its RMS, what a loose sensor rattling once per two revolutions adds.
std::vector<float> Loose(std::vector<float> x, double shaft_hz) {
  const double rms = RmsOf(x);
  std::mt19937 rng(7);
  std::normal_distribution<double> g(0.0, 2 * rms);
  for (std::size_t i = 36000; i < x.size(); ++i) {
    x[i] += static_cast<float>(g(rng) + 0.5 * rms * std::sin(2 * std::numbers::pi * shaft_hz / 2 * i / kFs));
  }
  return x;
}

// 20 single-sample spikes of +-2 times the record's peak at random places.
std::vector<float> Spikes(std::vector<float> x) {
  const float amp = 2.0f * PeakOf(x);
  std::mt19937 rng(11);
  std::uniform_int_distribution<std::size_t> at(10, x.size() - 10);
  for (int k = 0; k < 20; ++k) x[at(rng)] += (k % 2 ? amp : -amp);
  return x;
}

// Five 60 ms runs of exact zeros, spread over the record.
std::vector<float> Dropouts(std::vector<float> x) {
  for (double f : {0.12, 0.31, 0.5, 0.69, 0.85}) {
    const auto s = static_cast<std::ptrdiff_t>(f * x.size());
    std::fill(x.begin() + s, x.begin() + s + 720, 0.0f);
  }
  return x;
}

// Three NaN samples.
std::vector<float> Nans(std::vector<float> x) {
  for (double f : {0.17, 0.46, 0.88}) x[static_cast<std::size_t>(f * x.size())] = std::numeric_limits<float>::quiet_NaN();
  return x;
}

struct Subject {
  std::string name;
  std::vector<float> x;
  double shaft_hz = 0;
};

std::vector<Subject> Subjects() {
  std::vector<Subject> out;
  const std::string normal = DataDir() + "/48k_normal/48k_normal_0hp_normal_rec97.csv";
  auto x12 = Decimate(ReadSamples(normal), 4);
  EXPECT_TRUE(x12.ok());
  out.push_back({"97 normal", std::move(*x12), 1796 / 60.0});
  for (const Record& r : ReadManifest()) {
    if (r.fs != 12000) continue;
    if (r.number == 105 || r.number == 130 || r.number == 118 || r.number == 209) {
      out.push_back({std::to_string(r.number) + " " + r.fault_class, ReadSamples(DataDir() + "/" + r.file), r.rpm / 60.0});
    }
  }
  return out;
}

TEST(SensorFaultCwruTest, EachInjectedFaultIsReportedAndWithholdsDiagnosis) {
  pf::testing::RequireOrSkip(DataDir() + "/manifest.csv", "CWRU data (../shared/data/cwru_bearing) not present");
  pf::testing::RequireOrSkip(DataDir() + "/48k_normal/48k_normal_0hp_normal_rec97.csv", "CWRU normal record 97 not present");
  enum class Speed { kRecord, kZero, kAbsent };
  struct Injection {
    std::string name;
    SensorFaultCode expected;
    std::function<std::vector<float>(const Subject&)> make;
    Speed speed = Speed::kRecord;
    double rate_ratio = 0;  // the apparent rate ratio expected (1 / k), 0: none
  };
  const std::vector<Injection> injections = {
      {"clip 60%", SensorFaultCode::kClipping, [](const Subject& s) { return Clip60(s.x); }},
      {"flat 4-6.5 s", SensorFaultCode::kFlatLine, [](const Subject& s) { return FlatSegment(s.x); }},
      {"rate +5%", SensorFaultCode::kSampleRate, [](const Subject& s) { return RateOff(s.x, 1.05); }, Speed::kRecord, 1 / 1.05},
      {"rate -5%", SensorFaultCode::kSampleRate, [](const Subject& s) { return RateOff(s.x, 0.95); }, Speed::kRecord, 1 / 0.95},
      {"rate +10%", SensorFaultCode::kSampleRate, [](const Subject& s) { return RateOff(s.x, 1.10); }, Speed::kRecord, 1 / 1.10},
      {"rate -10%", SensorFaultCode::kSampleRate, [](const Subject& s) { return RateOff(s.x, 0.90); }, Speed::kRecord, 1 / 0.90},
      {"loose", SensorFaultCode::kLooseMounting, [](const Subject& s) { return Loose(s.x, s.shaft_hz); }},
      {"spikes", SensorFaultCode::kCableSpike, [](const Subject& s) { return Spikes(s.x); }},
      {"dropouts", SensorFaultCode::kDropout, [](const Subject& s) { return Dropouts(s.x); }},
      {"nan", SensorFaultCode::kNan, [](const Subject& s) { return Nans(s.x); }},
      {"speed 0", SensorFaultCode::kSpeedMissing, [](const Subject& s) { return s.x; }, Speed::kZero},
      {"speed absent", SensorFaultCode::kSpeedMissing, [](const Subject& s) { return s.x; }, Speed::kAbsent},
  };
  int cases = 0, reported = 0, released = 0;
  std::printf("%-22s %-13s %-9s %-6s %-9s %s\n", "record", "injection", "reported", "blocks", "decision", "codes (blocks) / first message");
  for (const Subject& s : Subjects()) {
    for (const Injection& inj : injections) {
      const auto x = inj.make(s);
      const std::optional<double> fr = inj.speed == Speed::kAbsent ? std::nullopt
                                       : inj.speed == Speed::kZero ? std::optional<double>(0.0)
                                                                   : std::optional<double>(s.shaft_hz);
      const Outcome o = RunChannel(x, Constant(fr));
      const bool hit = o.blocks_with[static_cast<std::size_t>(inj.expected)] > 0;
      ++cases;
      reported += hit;
      released += o.released_locations > 0;
      std::printf("%-22s %-13s %-9s %2d/%-3d %-9s %s | %s\n", s.name.c_str(), inj.name.c_str(), hit ? "yes" : "NO",
                  o.blocks_with[static_cast<std::size_t>(inj.expected)], o.blocks,
                  o.withheld ? "withheld" : std::string(FaultLocationName(o.decision)).c_str(), CodesOf(o).c_str(),
                  o.first_message.c_str());
      EXPECT_TRUE(hit) << s.name << " / " << inj.name;
      EXPECT_EQ(o.released_locations, 0) << s.name << " / " << inj.name;
      EXPECT_FALSE(IsLocation(o.decision)) << s.name << " / " << inj.name;
      if (inj.rate_ratio > 0) {
        // The estimate, within the 1 Hz bins and the ~0.6 % by which CWRU shafts run below their tag.
        EXPECT_NEAR(o.last_figures.rate_ratio, inj.rate_ratio, 0.02) << s.name << " / " << inj.name;
      }
    }
  }
  std::printf("injected faults reported: %d of %d; records with a bearing location released: %d\n", reported, cases, released);
}

TEST(SensorFaultCwruTest, UninjectedRecordsReportNoSensorFault) {
  pf::testing::RequireOrSkip(DataDir() + "/manifest.csv", "CWRU data (../shared/data/cwru_bearing) not present");
  int race = 0, race_faulty = 0, ball = 0, ball_faulty = 0, correct = 0;
  std::printf("largest figures over the blocks: floor rise (dB), sub-harmonic (dB), |rate ratio - 1| with >= 3 lines, isolated "
              "spike (sigma), rail samples, identical run\n");
  std::printf("%-36s %-10s %-6s %-11s %6s %6s %6s %6s %4s %4s %s\n", "record", "truth", "faulty", "decision", "rise", "subh",
              "rate", "spike", "rail", "run", "codes / first message");
  auto row = [](const std::string& name, FaultLocation truth, const Outcome& o) {
    std::printf("%-36s %-10s %2d/%-3d %-11s %6.1f %6.1f %6.3f %6.1f %4ld %4ld %s %s\n", name.c_str(),
                std::string(FaultLocationName(truth)).c_str(), o.faulty_blocks, o.blocks,
                std::string(FaultLocationName(o.decision)).c_str(), o.max_floor_rise_db, o.max_subharmonic_db,
                o.max_rate_offset, o.max_spike_sigma, o.max_rail, o.max_run, CodesOf(o).c_str(), o.first_message.c_str());
  };
  for (const Record& r : ReadManifest()) {
    if (r.fs != 12000) continue;
    const auto x = ReadSamples(DataDir() + "/" + r.file);
    const Outcome o = RunChannel(x, Constant(r.rpm / 60.0));
    const FaultLocation truth = Truth(r.fault_class);
    row(r.file, truth, o);
    if (truth == FaultLocation::kBall) {
      ++ball;
      ball_faulty += o.faulty_blocks > 0;
    } else {
      ++race;
      race_faulty += o.faulty_blocks > 0;
      correct += o.decision == truth;
      EXPECT_EQ(o.faulty_blocks, 0) << r.file << ": " << o.first_message;
    }
  }
  const std::string normal = DataDir() + "/48k_normal/48k_normal_0hp_normal_rec97.csv";
  pf::testing::RequireOrSkip(normal, "CWRU normal record 97 not present");
  auto x12 = Decimate(ReadSamples(normal), 4);
  ASSERT_TRUE(x12.ok());
  const Outcome o = RunChannel(*x12, Constant(1796 / 60.0));
  row("97 normal (48k decimated to 12k)", FaultLocation::kNone, o);
  EXPECT_EQ(o.faulty_blocks, 0) << o.first_message;
  EXPECT_EQ(o.decision, FaultLocation::kNone);
  std::printf("records with a sensor fault: inner/outer race %d of %d, ball %d of %d, normal 97 %d of 1; "
              "race records diagnosed correctly through the gate: %d of %d\n",
              race_faulty, race, ball_faulty, ball, o.faulty_blocks > 0 ? 1 : 0, correct, race);
  EXPECT_EQ(race, 18);
  EXPECT_EQ(race_faulty, 0);
  EXPECT_GE(correct, 15);
}

}  // namespace
}  // namespace pf::dsp
