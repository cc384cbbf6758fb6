// Overall-value condition monitoring end to end against a real Modbus TCP server: the libmodbus
// slave of ../shared/peers holds a vibration transmitter's velocity RMS as a float32 in holding
// registers 20-21; an independent client (pymodbus, src/connect/modbus/testdata/write_values.py)
// changes it; the plantfloor binary polls it with a modbus source and watches it with a
// [[condition.overall]] entry. Checked over the API: the derived zone tag follows the value under
// the ISO 10816-3 group 1 / flexible boundaries (3.5 / 7.1 / 11.0 mm/s), the zone C alert is active
// and its stored event carries the evidence, the monitor is listed with kind "overall"; when the
// server goes away the transmitter's samples turn bad, then stop: only sensor alerts follow
// (bad_quality, then stale).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
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

// Writes a float32 (big-endian words, abcd) into hr:20-21 with pymodbus' client.
void WriteVelocity(int port, double mm_s) {
  const char* dir = std::getenv("PF_MODBUS_TESTDATA");
  ASSERT_NE(dir, nullptr) << "PF_MODBUS_TESTDATA is set by ctest";
  std::string out;
  ASSERT_EQ(testing::Run(fmt::format("/usr/bin/python3 {}/write_values.py {} "
                                     "'[{{\"offset\": 20, \"type\": \"float32\", \"order\": \"abcd\", \"value\": {}}}]'",
                                     dir, port, mm_s),
                         &out),
            0)
      << out;
}

const json* FindAlert(const json& alerts, const std::string& cause) {
  if (!alerts.contains("items")) return nullptr;
  for (const json& a : alerts["items"])
    if (a.value("cause", "") == cause) return &a;
  return nullptr;
}

TEST(ConditionOverallE2E, TransmitterValueOverModbusGivesZoneAndAlertWithEvidence) {
  testing::Peer plc("libmodbus");
  ASSERT_TRUE(plc.ok()) << plc.log();
  WriteVelocity(plc.port(), 2.0);  // zone A: below 3.5 mm/s
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
name = "plc"
type = "modbus"
endpoint = "tcp://127.0.0.1:{2}"
poll = "200ms"
timeout = "500ms"
reconnect_max = "1s"
asset = "fan"
[[sources.tags]]
name = "fan.de_vel"
address = "hr:20"
type = "float32"
unit = "mm/s"

[[condition.overall]]
name = "fan_de"
tag = "fan.de_vel"
machine_group = "1"
foundation = "flexible"
min_spacing = "100ms"
stale_after = "2s"
)",
                                                           dir.path(), api_port, plc.port());
  const std::vector<std::string> args = {testing::PlantfloorBin(), "run", "--config", dir.path() + "/plant.toml",
                                         "--log-level", "warn"};
  e2e::ChildProcess pf(args);
  ASSERT_TRUE(e2e::WaitHealthy(api_port, 20s));

  // Zone A (encoding of the condition monitor: 0 = A, 1 = B, 2 = C, 3 = D), sensor fine.
  json zone = WaitFor(api_port, "/api/v1/tags/fan.de_vel.zone", [](const json& j) {
    return j.contains("value") && j["value"].is_number();
  }, 15s);
  ASSERT_TRUE(zone.contains("value")) << zone.dump();
  EXPECT_EQ(zone["value"], 0.0);
  EXPECT_EQ(e2e::GetJson(api_port, "/api/v1/tags/fan.de_vel")["value"], 2.0);
  EXPECT_EQ(e2e::GetJson(api_port, "/api/v1/tags/fan.de_vel.sensor_ok")["value"], 1.0);
  EXPECT_EQ(FindAlert(e2e::GetJson(api_port, "/api/v1/alerts"), "fan_de.zone.C"), nullptr);

  // 8 mm/s: zone C for group 1 on a flexible foundation (7.1 <= v < 11.0).
  WriteVelocity(plc.port(), 8.0);
  zone = WaitFor(api_port, "/api/v1/tags/fan.de_vel.zone", [](const json& j) { return j.value("value", -1.0) == 2.0; }, 15s);
  ASSERT_EQ(zone["value"], 2.0) << zone.dump();
  json alerts = WaitFor(api_port, "/api/v1/alerts", [](const json& j) { return FindAlert(j, "fan_de.zone.C") != nullptr; }, 10s);
  const json* c = FindAlert(alerts, "fan_de.zone.C");
  ASSERT_NE(c, nullptr) << alerts.dump();
  EXPECT_TRUE((*c)["active"].get<bool>());
  EXPECT_EQ((*c)["asset"], "fan");
  EXPECT_EQ((*c)["source"], "condition:fan_de");
  EXPECT_EQ((*c)["value"], 8.0);
  EXPECT_EQ(FindAlert(alerts, "fan_de.zone.D"), nullptr);

  json events = WaitFor(api_port, "/api/v1/events?kind=alert&source=condition:fan_de", [](const json& j) {
    if (!j.contains("items")) return false;
    for (const json& e : j["items"])
      if (e["payload"].value("cause", "") == "fan_de.zone.C" && e["payload"].contains("evidence")) return true;
    return false;
  }, 10s);
  const json* raised = nullptr;
  for (const json& e : events["items"])
    if (e["payload"].value("cause", "") == "fan_de.zone.C" && e["payload"].contains("evidence")) raised = &e;
  ASSERT_NE(raised, nullptr) << events.dump();
  const json& ev = (*raised)["payload"]["evidence"];
  EXPECT_EQ(ev["value_mm_s"], 8.0);
  EXPECT_EQ(ev["zone"], "C");
  EXPECT_EQ(ev["boundaries"]["ab"], 3.5);
  EXPECT_EQ(ev["boundaries"]["bc"], 7.1);
  EXPECT_EQ(ev["boundaries"]["cd"], 11.0);
  EXPECT_EQ(ev["machine_group"], "1");
  EXPECT_EQ(ev["foundation"], "flexible");

  std::this_thread::sleep_for(1200ms);  // the PLC is polled ~6 more times; the value stays 8.0
  json monitors = e2e::GetJson(api_port, "/api/v1/condition/monitors");
  ASSERT_TRUE(monitors.contains("monitors")) << monitors.dump();
  ASSERT_EQ(monitors["monitors"].size(), 1u);
  const json& m = monitors["monitors"][0];
  EXPECT_EQ(m["kind"], "overall");
  EXPECT_EQ(m["name"], "fan_de");
  EXPECT_EQ(m["latest"]["zone"], 2.0);
  EXPECT_EQ(m["latest"]["velocity_rms"], 8.0);
  EXPECT_GE(m["samples"].get<int>(), 5) << m.dump();
  // Polled every 200 ms, the transmitter's value changed once (each write is over 100 ms after the
  // last): the repeats of a held value are not fresh samples.
  EXPECT_EQ(m["fresh_samples"], 2) << m.dump();

  // The PLC goes away: the samples turn bad, a sensor alert follows; the zone alert is left as it was.
  plc.Stop();
  alerts = WaitFor(api_port, "/api/v1/alerts", [](const json& j) {
    const json* s = FindAlert(j, "fan_de.sensor.bad_quality");
    return s && (*s)["active"].get<bool>();
  }, 15s);
  const json* s = FindAlert(alerts, "fan_de.sensor.bad_quality");
  ASSERT_NE(s, nullptr) << alerts.dump();
  EXPECT_EQ((*s)["priority"], "low");
  EXPECT_EQ(FindAlert(alerts, "fan_de.zone.D"), nullptr);
  EXPECT_EQ(e2e::GetJson(api_port, "/api/v1/tags/fan.de_vel.sensor_ok")["value"], 0.0);
  // Nothing more arrives: after stale_after (2 s) the sensor is also stale.
  alerts = WaitFor(api_port, "/api/v1/alerts", [](const json& j) {
    const json* st = FindAlert(j, "fan_de.sensor.stale");
    return st && (*st)["active"].get<bool>();
  }, 10s);
  ASSERT_NE(FindAlert(alerts, "fan_de.sensor.stale"), nullptr) << alerts.dump();
  EXPECT_GE((*FindAlert(alerts, "fan_de.sensor.stale"))["value"].get<double>(), 2.0);
  EXPECT_EQ(FindAlert(alerts, "fan_de.zone.D"), nullptr);
}

}  // namespace
}  // namespace pf
