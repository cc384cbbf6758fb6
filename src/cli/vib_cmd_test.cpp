// `plantfloor vib` on synthetic records whose answers are known in closed form: a sine's velocity
// RMS and ISO zone, its order amplitude and time features; a simulated outer-race and inner-race
// defect (impacts at the kinematic rate ringing a resonance, dsp/test_signals.h) diagnosed at the
// frequency the textbook formula gives; the speed column's per-block median; and every bad input
// rejected with a message that says where and what.
#include "cli/vib_cmd.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numbers>
#include <random>
#include <sstream>

#include "dsp/test_signals.h"
#include "testing.h"

namespace pf {
namespace {

constexpr double kG0 = 9.80665;  // m/s^2 per g

struct Outcome {
  int code;
  std::string out, err;
  nlohmann::json json() const { return nlohmann::json::parse(out); }
};

Outcome Vib(const VibArgs& a) {
  std::ostringstream out, err;
  int code = RunVib(a, out, err);
  return {code, out.str(), err.str()};
}

// SKF 6205 (CWRU drive end): n 9, d 0.3126 in, D 1.537 in, contact angle 0; the kinematic
// formulas written out here independently of src/dsp (Randall & Antoni 2011).
constexpr double kBallRatio = 0.3126 / 1.537;
constexpr double kBpfo6205 = 4.5 * (1 - kBallRatio);
constexpr double kBpfi6205 = 4.5 * (1 + kBallRatio);

class VibCmd : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) const { return dir_.path() + "/" + name; }
  // One column "accel_g" (and "rpm" when given, one value per sample).
  std::string WriteRecord(const std::string& name, const std::vector<float>& x, const std::vector<double>& rpm = {}) {
    std::ofstream f(Path(name));
    f << (rpm.empty() ? "accel_g\n" : "accel_g,rpm\n");
    for (std::size_t i = 0; i < x.size(); ++i) {
      f << x[i];
      if (!rpm.empty()) f << ',' << rpm[i];
      f << '\n';
    }
    return Path(name);
  }
  std::string WriteText(const std::string& name, const std::string& text) {
    std::ofstream(Path(name)) << text;
    return Path(name);
  }
  VibArgs Args(const std::string& input, double fs, double rpm) {
    VibArgs a;
    a.input = input;
    a.fs = fs;
    a.rpm = rpm;
    a.bearing = "6205";
    a.json = true;
    return a;
  }
  pf::testing::TempDir dir_;
};

std::vector<float> Sine(double fs, double seconds, double hz, double amplitude, double noise) {
  std::mt19937 rng(7);
  std::normal_distribution<double> g(0, noise);
  std::vector<float> x(static_cast<std::size_t>(fs * seconds));
  for (std::size_t i = 0; i < x.size(); ++i)
    x[i] = static_cast<float>(amplitude * std::sin(2 * std::numbers::pi * hz * static_cast<double>(i) / fs) + g(rng));
  return x;
}

// a = A sin(2 pi f t) in g integrates to a velocity of amplitude A g0 / (2 pi f): RMS A g0 / (2 pi f sqrt 2).
TEST_F(VibCmd, SineVelocityZoneOrdersAndFeatures) {
  const double fs = 8192, f = 100, amp = 0.2;
  const std::string file = WriteRecord("sine.csv", Sine(fs, 4, f, amp, 1e-4));
  Outcome o = Vib(Args(file, fs, 60 * f));  // the sine is 1x
  ASSERT_EQ(o.code, 0) << o.err;
  auto j = o.json();
  const double v = amp * kG0 / (2 * std::numbers::pi * f) / std::sqrt(2.0) * 1000;  // 2.2070 mm/s
  const auto& feat = j["features"];
  EXPECT_NEAR(feat["velocity_rms_mm_s"].get<double>(), v, 0.01 * v);
  EXPECT_EQ(feat["zone"], "B");  // group 2 rigid: 1.4 <= v < 2.8
  EXPECT_EQ(feat["zone_boundaries_mm_s"]["ab"], 1.4);
  EXPECT_EQ(feat["zone_boundaries_mm_s"]["bc"], 2.8);
  EXPECT_EQ(feat["zone_boundaries_mm_s"]["cd"], 4.5);
  EXPECT_NEAR(feat["rms_g"].get<double>(), amp / std::sqrt(2.0), 1e-3);
  EXPECT_NEAR(feat["crest_factor"].get<double>(), std::sqrt(2.0), 0.01);
  EXPECT_NEAR(feat["kurtosis"].get<double>(), 1.5, 0.01);  // a sine's plain kurtosis
  EXPECT_EQ(j["input"]["blocks"], 4);
  EXPECT_EQ(j["input"]["block_samples"], 8192);
  EXPECT_EQ(j["input"]["samples_not_analysed"], 0);
  const auto& o1 = j["orders"][0];
  EXPECT_EQ(o1["order"], 1);
  EXPECT_DOUBLE_EQ(o1["expected_hz"].get<double>(), f);
  EXPECT_NEAR(o1["frequency_hz"].get<double>(), f, 1.0);
  EXPECT_NEAR(o1["amplitude_g"].get<double>(), amp, 0.01 * amp);
  EXPECT_LT(j["orders"][1]["amplitude_g"].get<double>(), 1e-3);
  EXPECT_EQ(j["diagnosis"], "none");  // no impacts, nothing at any fault frequency
  EXPECT_TRUE(j["sensor_faults"].empty()) << j["sensor_faults"].dump();

  // Group 1 rigid (A/B 2.3 mm/s) puts the same machine in zone A; flexible group 2 (A/B 2.3) too.
  VibArgs a = Args(file, fs, 60 * f);
  a.machine_group = "1";
  EXPECT_EQ(Vib(a).json()["features"]["zone"], "A");
  a.machine_group = "2";
  a.foundation = "flexible";
  EXPECT_EQ(Vib(a).json()["features"]["zone_boundaries_mm_s"]["ab"], 2.3);
  // Text report: the same numbers, readable.
  a.json = false;
  a.foundation = "rigid";
  Outcome text = Vib(a);
  ASSERT_EQ(text.code, 0) << text.err;
  EXPECT_NE(text.out.find(fmt::format("velocity: {:.3f} mm/s RMS", v)), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("zone B (ISO 10816-3 group 2 rigid: A/B 1.4 B/C 2.8 C/D 4.5 mm/s)"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("diagnosis: none"), std::string::npos) << text.out;
}

TEST_F(VibCmd, SimulatedOuterRaceDefectAndPlot) {
  const double rpm = 1797, fr = rpm / 60;
  dsp::testing::FaultSignal s;
  s.shaft_hz = fr;
  s.fault_hz = kBpfo6205 * fr;
  const std::string file = WriteRecord("or.csv", dsp::testing::MakeFaultSignal(s));
  VibArgs a = Args(file, s.fs, rpm);
  a.plot = Path("or.png");
  Outcome o = Vib(a);
  ASSERT_EQ(o.code, 0) << o.err;
  auto j = o.json();
  EXPECT_EQ(j["diagnosis"], "outer_race") << o.out;
  EXPECT_TRUE(j["sensor_faults"].empty()) << j["sensor_faults"].dump();
  const auto& best = j["candidates"][0];
  EXPECT_EQ(best["location"], "outer_race");
  EXPECT_EQ(best["frequency_name"], "BPFO");
  EXPECT_NEAR(best["fundamental_hz"].get<double>(), kBpfo6205 * fr, 1e-3 * kBpfo6205 * fr);
  EXPECT_NEAR(best["harmonics"][0]["expected_hz"].get<double>(), kBpfo6205 * fr, 1e-3 * kBpfo6205 * fr);
  EXPECT_NEAR(best["harmonics"][1]["expected_hz"].get<double>(), 2 * kBpfo6205 * fr, 2e-3 * kBpfo6205 * fr);
  // The peak found lies within the search window: 0.5 % of the line plus half a bin (1 Hz bins).
  EXPECT_NEAR(best["harmonics"][0]["found_hz"].get<double>(), kBpfo6205 * fr, 0.005 * kBpfo6205 * fr + 0.5);
  EXPECT_GE(best["harmonics"][0]["snr_db"].get<double>(), j["detection_snr_db"].get<double>());
  EXPECT_GE(j["margin_db"].get<double>(), j["required_margin_db"].get<double>());
  EXPECT_NEAR(j["bearing"]["multiples"]["bpfo"].get<double>(), kBpfo6205, 1e-6);
  EXPECT_NEAR(j["bearing"]["multiples"]["bpfi"].get<double>(), kBpfi6205, 1e-6);
  // The kurtogram's band holds the 3 kHz resonance the impacts ring.
  EXPECT_LE(j["envelope"]["band_hz"][0].get<double>(), 3000);
  EXPECT_GE(j["envelope"]["band_hz"][1].get<double>(), 3000);
  // A PNG: the 8-byte signature, and a picture (two panels of spectra) well above 10 kB.
  std::ifstream png(a.plot, std::ios::binary);
  std::string head(8, '\0');
  png.read(head.data(), 8);
  EXPECT_EQ(head, std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_GT(std::filesystem::file_size(a.plot), 10000u);
}

TEST_F(VibCmd, SimulatedInnerRaceDefect) {
  const double rpm = 1750, fr = rpm / 60;
  dsp::testing::FaultSignal s;
  s.shaft_hz = fr;
  s.fault_hz = kBpfi6205 * fr;
  s.shaft_modulation = 0.8;  // the defect turns through the load zone once per revolution
  const std::string file = WriteRecord("ir.csv", dsp::testing::MakeFaultSignal(s));
  VibArgs a = Args(file, s.fs, rpm);
  a.bearing.clear();
  a.geometry = "9,0.3126,1.537,0";  // the same bearing, given by its geometry
  Outcome o = Vib(a);
  ASSERT_EQ(o.code, 0) << o.err;
  auto j = o.json();
  EXPECT_EQ(j["diagnosis"], "inner_race") << o.out;
  EXPECT_EQ(j["bearing"]["name"], "geometry");
  const auto& best = j["candidates"][0];
  EXPECT_NEAR(best["fundamental_hz"].get<double>(), kBpfi6205 * fr, 1e-3 * kBpfi6205 * fr);
  EXPECT_NEAR(best["sideband_spacing_hz"].get<double>(), fr, 1e-6);
  EXPECT_GE(best["sidebands_detected"].get<int>(), 1);
  ASSERT_FALSE(best["sidebands"].empty());
  EXPECT_NEAR(best["sidebands"][0]["expected_hz"].get<double>(), (kBpfi6205 - 1) * fr, 1e-3 * kBpfi6205 * fr);
}

// --rpm-column: the median of each block's rows, so a dropout (0) or a spike in the tag does not move it.
TEST_F(VibCmd, SpeedColumnMedianPerBlock) {
  const double fs = 4096;
  auto x = Sine(fs, 3, 30, 0.05, 0.01);
  std::vector<double> rpm(x.size());
  for (std::size_t i = 0; i < rpm.size(); ++i) {
    const std::size_t block = i / 4096;
    rpm[i] = block == 0 ? 1700 : block == 1 ? 1800 : 1790 + (i % 3);  // block 3: 1790, 1791, 1792 repeating
    if (i % 500 == 7) rpm[i] = 0;
    if (i % 700 == 3) rpm[i] = 99999;
  }
  VibArgs a = Args(WriteRecord("speed.csv", x, rpm), fs, 0);
  a.rpm.reset();
  a.rpm_column = "rpm";
  Outcome o = Vib(a);
  ASSERT_EQ(o.code, 0) << o.err;
  auto j = o.json();
  EXPECT_EQ(j["input"]["column"], "accel_g");  // the only column that is not the speed
  EXPECT_EQ(j["speed"]["block_rpm"], (std::vector<double>{1700, 1800, 1791}));
  EXPECT_EQ(j["speed"]["rpm"], 1791);
  EXPECT_EQ(j["speed"]["column"], "rpm");
  // The diagnosis searches at the last block's speed.
  EXPECT_NEAR(j["bearing"]["frequencies_hz"]["bpfo"].get<double>(), kBpfo6205 * 1791 / 60, 1e-9 * 1791);
}

TEST_F(VibCmd, BadInputsSayWhereAndWhat) {
  const std::string good = WriteRecord("good.csv", Sine(2048, 2, 50, 0.1, 0.01));
  auto expect_error = [](const VibArgs& a, const std::string& message, int code = 2) {
    Outcome o = Vib(a);
    EXPECT_EQ(o.code, code) << o.out;
    EXPECT_NE(o.err.find(message), std::string::npos) << "stderr: " << o.err << "\nwanted: " << message;
  };
  VibArgs a = Args(good, 2048, 1500);
  a.column = "velocity";
  expect_error(a, good + ": no column 'velocity' (columns: 'accel_g')");

  std::string bad = "accel_g\n0.1\n0.2\n0.3\nx\n0.5\n";
  VibArgs b = Args(WriteText("bad.csv", bad), 2048, 1500);
  expect_error(b, Path("bad.csv") + ":5:1: column 'accel_g': not a number 'x'");
  b.input = WriteText("gap.csv", "accel_g\n0.1\n\n0.3\n");  // a blank line in a one-column file is an empty cell
  expect_error(b, Path("gap.csv") + ":3:1: column 'accel_g': missing value ''");
  b.input = WriteText("na.csv", "t,accel_g\n0,0.1\n1,NA\n");
  b.column = "accel_g";
  expect_error(b, Path("na.csv") + ":3:2: column 'accel_g': missing value 'NA'");
  b.column.clear();
  b.input = WriteText("two.csv", "a,b\n1,2\n");
  expect_error(b, "which column is the vibration? give --column (candidates: a, b)");

  VibArgs c = Args(good, 0, 1500);
  expect_error(c, "--fs 0: the sampling rate must be > 0 Hz");
  c.fs = -5;
  expect_error(c, "--fs -5: the sampling rate must be > 0 Hz");
  c = Args(good, 2048, 1500);
  c.bearing = "6299";
  expect_error(c, "--bearing: bearing '6299' is not in the catalogue (known: 6205");
  c.bearing.clear();
  expect_error(c, "the diagnosis needs the bearing: --bearing NAME (catalogue: 6205");
  c.geometry = "9,0.3126,0.2,0";  // D < d
  expect_error(c, "--geometry '9,0.3126,0.2,0': ");
  c = Args(good, 2048, 1500);
  c.rpm.reset();
  expect_error(c, "the shaft speed is required: --rpm N or --rpm-column C");
  c.rpm = 0;
  expect_error(c, "--rpm 0: the shaft speed must be > 0 rpm");
  c.rpm = 1500;
  c.rpm_column = "rpm";
  expect_error(c, "give --rpm or --rpm-column, not both");
  c = Args(good, 2048, 1500);
  c.machine_group = "3";
  expect_error(c, "--machine-group '3': expected 1 (above 300 kW) or 2 (15-300 kW)");
  c = Args(good, 2048, 1500);
  c.foundation = "soft";
  expect_error(c, "--foundation 'soft': expected rigid or flexible");
  c = Args(good, 2048, 1500);
  c.block_s = 4;  // 2 s of data
  expect_error(c, good + ": 4096 samples in column 'accel_g': at least one block of 8192 (4 s at 2048 Hz) is needed");
  c = Args(Path("absent.csv"), 2048, 1500);
  expect_error(c, Path("absent.csv") + ": cannot read: No such file or directory");
  c = Args(good, 2048, 1500);
  c.plot = Path("plot.svg");
  expect_error(c, "--plot '" + Path("plot.svg") + "': only PNG is written");
  c.plot = Path("no/such/dir/plot.png");
  expect_error(c, "--plot '" + Path("no/such/dir/plot.png") + "': cannot write", 1);

}

// A speed column whose median over a block is 0 (the tag died) is a sensor fault, not a machine
// fault: reported as speed_missing, that block left out of the spectral figures, no diagnosis.
TEST_F(VibCmd, DeadSpeedTagIsASensorFault) {
  const double fs = 2048;
  std::vector<double> rpm(3 * 2048, 1500);
  std::fill(rpm.begin() + 2048, rpm.begin() + 4096, 0);
  VibArgs a = Args(WriteRecord("dead.csv", Sine(fs, 3, 50, 0.1, 1e-4), rpm), fs, 0);
  a.rpm.reset();
  a.rpm_column = "rpm";
  Outcome o = Vib(a);
  ASSERT_EQ(o.code, 0) << o.err;
  auto j = o.json();
  ASSERT_EQ(j["sensor_faults"].size(), 1u) << o.out;
  EXPECT_EQ(j["sensor_faults"][0]["code"], "speed_missing");
  EXPECT_EQ(j["sensor_faults"][0]["blocks"], 1);
  EXPECT_EQ(j["sensor_faults"][0]["first_block"], 2);
  EXPECT_EQ(j["speed"]["block_rpm"], (std::vector<double>{1500, 0, 1500}));
  EXPECT_EQ(j["speed"]["blocks_with_speed"], 2);
  EXPECT_EQ(j["diagnosis"], "none");
  EXPECT_TRUE(j["diagnosis_suppressed_by_sensor_fault"].get<bool>());
  // The velocity of the two blocks with a speed: the sine's closed form.
  const double v = 0.1 * kG0 / (2 * std::numbers::pi * 50) / std::sqrt(2.0) * 1000;
  EXPECT_NEAR(j["features"]["velocity_rms_mm_s"].get<double>(), v, 0.01 * v);
  // Every block dead: time features only, and a plot is refused.
  std::fill(rpm.begin(), rpm.end(), 0);
  a.input = WriteRecord("dead_all.csv", Sine(fs, 3, 50, 0.1, 1e-4), rpm);
  o = Vib(a);
  ASSERT_EQ(o.code, 0) << o.err;
  j = o.json();
  EXPECT_EQ(j["sensor_faults"][0]["blocks"], 3);
  EXPECT_TRUE(j["features"]["zone"].is_null());
  EXPECT_NEAR(j["features"]["rms_g"].get<double>(), 0.1 / std::sqrt(2.0), 1e-3);
  EXPECT_EQ(j["diagnosis"], "none");
  a.plot = Path("dead.png");
  o = Vib(a);
  EXPECT_EQ(o.code, 1);
  EXPECT_NE(o.err.find("--plot: no block has a shaft speed above 0"), std::string::npos) << o.err;
}

// Sensor faults suppress the diagnosis: the simulated outer-race record with a clipped amplifier.
TEST_F(VibCmd, ClippedRecordReportsClippingAndNoDiagnosis) {
  const double rpm = 1797, fr = rpm / 60;
  dsp::testing::FaultSignal s;
  s.shaft_hz = fr;
  s.fault_hz = kBpfo6205 * fr;
  auto x = dsp::testing::MakeFaultSignal(s);
  float peak = 0;
  for (float v : x) peak = std::max(peak, std::fabs(v));
  const float rail = 0.5f * peak;
  for (float& v : x) v = std::clamp(v, -rail, rail);
  VibArgs a = Args(WriteRecord("clipped.csv", x), s.fs, rpm);
  Outcome o = Vib(a);
  ASSERT_EQ(o.code, 0) << o.err;
  auto j = o.json();
  bool clipping = false;
  for (const auto& f : j["sensor_faults"]) clipping |= f["code"] == "clipping";
  EXPECT_TRUE(clipping) << j["sensor_faults"].dump();
  EXPECT_EQ(j["diagnosis"], "none");
  EXPECT_TRUE(j["diagnosis_suppressed_by_sensor_fault"].get<bool>());
  a.json = false;
  o = Vib(a);
  EXPECT_NE(o.out.find("sensor fault: clipping in "), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("diagnosis: none (suppressed by the sensor faults above"), std::string::npos) << o.out;
}

}  // namespace
}  // namespace pf
