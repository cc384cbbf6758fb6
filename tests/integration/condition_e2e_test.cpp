// Condition monitoring end to end on real data: CWRU record 105 (inner race 0.007 in, 0 hp,
// 1797 rpm, 12 kHz; ../shared/data/cwru_bearing, SOURCE.md) replayed as a waveform tag through the
// plantfloor binary with a [[condition.monitors]] entry. Checked over the API: the derived tags
// carry values (velocity RMS, ISO zone, kurtosis, crest, sensor_ok), the monitor reports its
// windows, and the inner-race diagnosis is an alert whose stored event carries the evidence (the
// BPFI line of the 6205 at 1797 rpm, its SNR and the margin over the runner-up).
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "e2e_process.h"
#include "testing.h"

namespace pf {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

json WaitFor(int port, const std::string& path, const std::function<bool(const json&)>& done, std::chrono::seconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  json j;
  while (std::chrono::steady_clock::now() < end) {
    j = e2e::GetJson(port, path);
    if (!j.is_discarded() && done(j)) return j;
    std::this_thread::sleep_for(100ms);
  }
  return j;
}

TEST(ConditionE2E, InnerRaceRecordGivesDerivedTagsAndABearingAlertWithEvidence) {
  const std::string data = testing::SharedDir() + "/data/cwru_bearing/12k_DE/12k_DE_0hp_IR007_rec105.csv";
  testing::RequireOrSkip(data, "CWRU record 105 of ../shared/data/cwru_bearing");
  testing::TempDir dir;
  int api_port = testing::FreePort();
  std::ofstream(dir.path() + "/plant.toml") << fmt::format(R"(
[plant]
data_dir = "{0}/data"
[api]
listen = "127.0.0.1:{1}"
[store]
commit_window = "50ms"
[[assets]]
id = "fan"
area = "utilities"
line = "air"
[[sources]]
name = "rig"
type = "replay"
file = "{2}"
format = "waveform"
sample_rate_hz = 12000
block_size = 1200
start_time = "2026-01-01T00:00:00Z"
speed = "fast"
asset = "fan"
[[sources.tags]]
name = "fan.de_accel"
column = "de_accel_g"

[alerts]
clock = "source"

[[condition.monitors]]
name = "fan_de"
tag = "fan.de_accel"
rpm = 1797
bearing = "6205"
kurtogram_blocks = 4
diagnosis_blocks = 2
)",
                                                           dir.path(), api_port, data);
  const std::vector<std::string> args = {testing::PlantfloorBin(), "run", "--config", dir.path() + "/plant.toml",
                                         "--log-level", "warn"};
  e2e::ChildProcess pf(args);
  ASSERT_TRUE(e2e::WaitHealthy(api_port, 20s));
  // 121265 samples = 10 whole 1 s windows.
  json monitors = WaitFor(api_port, "/api/v1/condition/monitors", [](const json& j) {
    return j.contains("monitors") && !j["monitors"].empty() && j["monitors"][0].value("windows", 0) >= 10;
  }, 30s);
  ASSERT_EQ(monitors["monitors"][0]["windows"], 10) << monitors.dump();
  EXPECT_EQ(monitors["monitors"][0]["refused_blocks"], 0);

  json vel = e2e::GetJson(api_port, "/api/v1/tags/fan.de_accel.velocity_rms");
  ASSERT_TRUE(vel.contains("value") && vel["value"].is_number()) << vel.dump();
  EXPECT_EQ(vel["unit"], "mm/s");
  EXPECT_GT(vel["value"].get<double>(), 0.0);
  json zone = e2e::GetJson(api_port, "/api/v1/tags/fan.de_accel.zone");
  ASSERT_TRUE(zone["value"].is_number()) << zone.dump();
  // The zone tag agrees with the velocity tag under the ISO 10816-3 group 2 rigid boundaries
  // (1.4 / 2.8 / 4.5 mm/s).
  const double v = vel["value"].get<double>();
  const int expected_zone = v < 1.4 ? 0 : v < 2.8 ? 1 : v < 4.5 ? 2 : 3;
  EXPECT_EQ(zone["value"].get<double>(), expected_zone);
  EXPECT_EQ(e2e::GetJson(api_port, "/api/v1/tags/fan.de_accel.sensor_ok")["value"], 1.0);
  EXPECT_TRUE(e2e::GetJson(api_port, "/api/v1/tags/fan.de_accel.kurtosis")["value"].is_number());

  json events = WaitFor(api_port, "/api/v1/events?kind=alert&source=condition:fan_de", [](const json& j) {
    return j.contains("items") && !j["items"].empty();
  }, 20s);
  const json* raised = nullptr;
  for (const json& e : events["items"])
    if (e["payload"].value("cause", "") == "fan_de.bearing.inner_race" && e["payload"].contains("evidence")) raised = &e;
  ASSERT_NE(raised, nullptr) << events.dump();
  const json& ev = (*raised)["payload"]["evidence"];
  EXPECT_EQ(ev["location"], "inner_race");
  // BPFI of the 6205 (n = 9, d = 0.3126 in, D = 1.537 in) at 1797 rpm = 4.5 (1 + d/D) fr = 162.2 Hz.
  const double bpfi = 4.5 * (1 + 0.3126 / 1.537) * 1797.0 / 60;
  EXPECT_NEAR(ev["candidates"][0]["fundamental_hz"].get<double>(), bpfi, 0.001 * bpfi);
  EXPECT_NEAR(ev["candidates"][0]["lines"][0]["found_hz"].get<double>(), bpfi, 2.0);
  EXPECT_GE(ev["candidates"][0]["lines"][0]["snr_db"].get<double>(), 9.5);
  EXPECT_GE(ev["margin_db"].get<double>(), 6.0);
  for (const json& e : events["items"])
    EXPECT_EQ(e["payload"].value("cause", "").find(".sensor."), std::string::npos) << e.dump();
}

}  // namespace
}  // namespace pf
