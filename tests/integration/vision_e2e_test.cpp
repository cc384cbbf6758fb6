// Vision station inside `plantfloor run` (issue 10): a [[vision]] station on a watched folder in the
// plant configuration, a real libmodbus server as the PLC whose HR0 counts parts (+1 every 100 ms)
// and is latched as the part id at each image's arrival, the verdict registers read back with a
// libmodbus client, and a real mosquitto as the hub. Checks: each image's part id is the counter at
// its arrival; bad input (zero bytes, truncated, not an image) gives "uncertain" with the reason and
// an "inspection_uncertain" event, and the station keeps judging; every verdict is a sample of
// <station>.verdict in the history; an inspector's verdict is committed before the answer, survives
// kill -9, and reaches the hub as a label record; after the restart sequences continue.
#include <gtest/gtest.h>
#include <modbus.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "apps/vision_inspector.h"
#include "apps/vision_test_model.h"
#include "e2e_support.h"
#include "testing.h"
#include "uplink/uplink_test_support.h"

namespace pf {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

// HR0 of the PLC (the part counter), read now.
int ReadCounter(int port) {
  modbus_t* c = modbus_new_tcp("127.0.0.1", port);
  uint16_t v = 0;
  const bool ok = c && modbus_connect(c) == 0 && modbus_read_registers(c, 0, 1, &v) == 1;
  if (c) {
    modbus_close(c);
    modbus_free(c);
  }
  return ok ? v : -1;
}

// Writes the bytes beside the folder, then renames them in (how a camera PC should deliver).
void Deliver(const std::string& dir, const std::string& name, const std::string& bytes) {
  const std::string tmp = dir + "/../" + name + ".part";
  std::ofstream(tmp, std::ios::binary) << bytes;
  fs::rename(tmp, dir + "/" + name);
}

std::vector<json> Journal(const std::string& path) {
  std::vector<json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    auto j = json::parse(line, nullptr, false);
    if (j.is_object()) out.push_back(std::move(j));
  }
  return out;
}

std::vector<json> WaitJournal(const std::string& path, size_t n, std::chrono::seconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  std::vector<json> j = Journal(path);
  while (j.size() < n && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(50ms);
    j = Journal(path);
  }
  return j;
}

TEST(VisionE2E, StationInThePlantLatchesPartIdsRaisesEventsAndForwardsLabels) {
  testing::Peer plc("libmodbus");
  ASSERT_TRUE(plc.ok()) << plc.log();
  testing::TempDir dir;
  testing::TempDir broker_dir;
  const int broker_port = testing::FreePort();
  uplink::testing::Broker broker(broker_dir.path(), broker_port, "", true);
  ASSERT_TRUE(broker.Start()) << broker.Log();
  e2e::HubSubscriber hub(broker_port, "vision-e2e-hub");
  hub.Connect();
  ASSERT_TRUE(hub.WaitSubscribed(0, 5s));
  const std::string watch = dir.path() + "/in";
  fs::create_directories(watch);
  fs::create_directories(dir.path() + "/in2");
  std::ofstream(dir.path() + "/brightness.onnx", std::ios::binary) << apps::testing::BrightnessModel(4);
  const int api_port = testing::FreePort();
  std::ofstream(dir.path() + "/plant.toml") << fmt::format(R"(
[plant]
name = "vision-e2e"
data_dir = "{0}/data"
[api]
listen = "127.0.0.1:{1}"
[store]
commit_window = "50ms"

[[assets]]
id = "line1"
area = "finishing"
line = "line1"

[[sources]]
name = "plc1"
type = "modbus"
endpoint = "tcp://127.0.0.1:{2}"
poll = "20ms"
timeout = "500ms"
asset = "line1"
[[sources.tags]]
name = "line1.part_counter"
address = "hr:0"
type = "uint16"

[[uplinks]]
name = "hub"
type = "mqtt"
broker = "tcp://127.0.0.1:{3}"
device = "edge1"
reconnect_min = "200ms"
reconnect_max = "1s"

[[vision]]
name = "surface1"
asset = "line1"
model = "brightness.onnx"
watch = "in"
settle = "200ms"
good_classes = ["good"]
modbus_listen = "127.0.0.1:0"
part_id_tag = "line1.part_counter"
audit_rate = 0.0

[[vision]]
name = "surface2"
asset = "line1"
model = "brightness.onnx"
watch = "in2"
)",
                                                           dir.path(), api_port, plc.port(), broker_port);
  const std::vector<std::string> args = {testing::PlantfloorBin(), "run", "--config", dir.path() + "/plant.toml"};
  const std::string journal = watch + "/.plantfloor-inspections.jsonl";
  httplib::Client api("127.0.0.1", api_port);
  api.set_read_timeout(10, 0);
  std::string label_event_part;
  {
    e2e::ChildProcess pf(args);
    ASSERT_TRUE(e2e::WaitHealthy(api_port, 20s)) << "API did not come up";
    json vision = e2e::GetJson(api_port, "/api/v1/vision");
    ASSERT_EQ(vision["items"].size(), 2u) << vision.dump();
    EXPECT_EQ(vision["items"][0]["name"], "surface1");
    EXPECT_EQ(vision["items"][0]["part_id_tag"], "line1.part_counter");
    EXPECT_TRUE(vision["items"][1]["modbus"].is_null());
    ASSERT_TRUE(vision["items"][0]["modbus"].is_string()) << vision.dump();
    const std::string mb = vision["items"][0]["modbus"];
    const int verdict_port = std::stoi(mb.substr(mb.rfind(':') + 1));
    // Let the source deliver a few counter values first.
    std::this_thread::sleep_for(300ms);

    // Good and bad parts, one every 300 ms: the counter read just before and after each delivery
    // brackets the part id the station latched.
    struct Sent {
      std::string name;
      int before, after;
      std::string expect;  // verdict
    };
    std::vector<Sent> sent;
    const std::string good = apps::testing::FlatPgm(8, 8, 250), dark = apps::testing::FlatPgm(8, 8, 5);
    const std::vector<std::tuple<std::string, std::string, std::string>> parts = {
        {"a.pgm", good, "accept"},
        {"b.pgm", dark, "reject"},
        {"empty.png", "", "uncertain"},
        {"cut.pgm", good.substr(0, good.size() - 20), "uncertain"},
        {"notes.jpg", "this is not an image", "uncertain"},
        {"c.pgm", good, "accept"}};
    for (const auto& [name, bytes, expect] : parts) {
      const int before = ReadCounter(plc.port());
      Deliver(watch, name, bytes);
      const int after = ReadCounter(plc.port());
      ASSERT_GE(before, 0);
      sent.push_back({name, before, after, expect});
      std::this_thread::sleep_for(300ms);
    }
    // A burst (three parts renamed in within a few ms, judged one after the other) and a part written
    // in place over 240 ms in three pieces (pauses shorter than settle; taken when closed): each gets
    // the counter at its arrival, not at its turn or at its completion.
    for (const char* name : {"burst1.pgm", "burst2.pgm", "burst3.pgm"}) {
      const int before = ReadCounter(plc.port());
      Deliver(watch, name, good);
      sent.push_back({name, before, ReadCounter(plc.port()), "accept"});
    }
    {
      const int before = ReadCounter(plc.port());
      std::ofstream slow(watch + "/slow.pgm", std::ios::binary);
      slow << good.substr(0, 10) << std::flush;
      const int mid = ReadCounter(plc.port());
      std::this_thread::sleep_for(120ms);
      slow << good.substr(10, 20) << std::flush;
      std::this_thread::sleep_for(120ms);
      slow << good.substr(30);
      slow.close();
      EXPECT_GE(ReadCounter(plc.port()), mid + 2);  // the counter moved on while it was written
      sent.push_back({"slow.pgm", before, mid, "accept"});
    }
    auto records = WaitJournal(journal, sent.size(), 15s);
    ASSERT_EQ(records.size(), sent.size());
    for (const Sent& s : sent) {
      auto it = std::find_if(records.begin(), records.end(), [&](const json& r) { return r["file"] == s.name; });
      ASSERT_NE(it, records.end()) << s.name;
      const json& r = *it;
      EXPECT_EQ(r["verdict"], s.expect) << r.dump();
      EXPECT_EQ(r["part_id_source"], "tag") << r.dump();
      // The counter (uint16, +1 per 100 ms) at the arrival: between the reads around the rename,
      // one poll (20 ms) of lag allowed.
      const int pid = std::stoi(r["part_id"].get<std::string>());
      EXPECT_GE(pid, s.before - 1) << r.dump();
      EXPECT_LE(pid, s.after) << r.dump();
      if (s.expect == "uncertain") {
        EXPECT_FALSE(r["reason"].get<std::string>().empty()) << r.dump();
      }
    }
    // The last verdict on the registers the PLC polls.
    {
      modbus_t* c = modbus_new_tcp("127.0.0.1", verdict_port);
      ASSERT_TRUE(c);
      ASSERT_EQ(modbus_connect(c), 0);
      uint16_t regs[apps::kVerdictRegisters] = {};
      EXPECT_EQ(modbus_read_registers(c, 0, apps::kVerdictRegisters, regs), apps::kVerdictRegisters);
      modbus_close(c);
      modbus_free(c);
      EXPECT_EQ((uint32_t{regs[0]} << 16) | regs[1], records.back()["sequence"].get<uint32_t>());
      EXPECT_EQ(regs[2], 1);  // accept (c.pgm)
    }
    // One event per part that could not be judged, with the reason.
    json events;
    const auto ev_end = std::chrono::steady_clock::now() + 10s;
    do {
      events = e2e::GetJson(api_port, "/api/v1/events?kind=inspection_uncertain&limit=100");
      if (events.is_object() && events["items"].size() >= 3) break;
      std::this_thread::sleep_for(100ms);
    } while (std::chrono::steady_clock::now() < ev_end);
    ASSERT_EQ(events["items"].size(), 3u) << events.dump();
    std::set<std::string> files;
    for (const json& e : events["items"]) {
      EXPECT_EQ(e["source"], "vision:surface1");
      EXPECT_EQ(e["asset"], "line1");
      files.insert(e["payload"]["file"].get<std::string>());
      EXPECT_FALSE(e["payload"]["reason"].get<std::string>().empty());
    }
    EXPECT_EQ(files, (std::set<std::string>{"empty.png", "cut.pgm", "notes.jpg"}));
    // Every verdict is in the history (stored for each part, also repeats).
    json hist;
    const auto h_end = std::chrono::steady_clock::now() + 10s;
    do {
      hist = e2e::GetJson(api_port, "/api/v1/tags/surface1.verdict/history");
      if (hist.is_object() && hist.contains("points") && hist["points"].size() >= sent.size()) break;
      std::this_thread::sleep_for(100ms);
    } while (std::chrono::steady_clock::now() < h_end);
    ASSERT_TRUE(hist.contains("points")) << hist.dump();
    EXPECT_EQ(hist["points"].size(), sent.size()) << hist.dump();

    // The inspector disagrees with the reject of b.pgm: committed before the answer, then kill -9.
    auto b = std::find_if(records.begin(), records.end(), [](const json& r) { return r["file"] == "b.pgm"; });
    auto res = api.Post(fmt::format("/api/v1/inspections/{}/verdict?station=surface1", (*b)["sequence"].get<uint32_t>()),
                        R"({"agree": false, "class": "good", "inspector": "anna"})", "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 201) << res->body;
    auto lj = json::parse(res->body);
    EXPECT_EQ(lj["forwarded"], true) << res->body;
    EXPECT_EQ(lj["label"], "good");
    label_event_part = (*b)["part_id"];
    auto stats = e2e::GetJson(api_port, "/api/v1/inspections/stats?station=surface1");
    EXPECT_EQ(stats["inspected"], sent.size()) << stats.dump();
    auto unknown = api.Get("/api/v1/inspections/stats?station=nope");
    ASSERT_TRUE(unknown);
    EXPECT_EQ(unknown->status, 404) << unknown->body;
    auto which = api.Get("/api/v1/inspections/stats");  // two stations: which one?
    ASSERT_TRUE(which);
    EXPECT_EQ(which->status, 400) << which->body;
    EXPECT_NE(which->body.find("surface1, surface2"), std::string::npos) << which->body;
    pf.Kill9();
  }
  {
    e2e::ChildProcess pf(args);
    ASSERT_TRUE(e2e::WaitHealthy(api_port, 20s)) << "API did not come up after kill -9";
    const uint32_t last = Journal(journal).back()["sequence"];
    // The label answered before kill -9 is in the store.
    json labels = e2e::GetJson(api_port, "/api/v1/events?kind=label&source=vision:surface1");
    ASSERT_EQ(labels["items"].size(), 1u) << labels.dump();
    EXPECT_EQ(labels["items"][0]["payload"]["part_id"], label_event_part);
    const size_t before_restart = Journal(journal).size();
    Deliver(watch, "d.pgm", apps::testing::FlatPgm(8, 8, 250));
    auto records = WaitJournal(journal, before_restart + 1, 15s);
    ASSERT_EQ(records.size(), before_restart + 1);
    EXPECT_EQ(records.back()["sequence"].get<uint32_t>(), last + 1);
    EXPECT_EQ(records.back()["file"], "d.pgm");
    // The label reached the hub (stored before the answer; forwarded after the restart if not before).
    json label;
    const auto end = std::chrono::steady_clock::now() + 20s;
    while (label.is_null() && std::chrono::steady_clock::now() < end) {
      for (const json& m : hub.Messages())
        if (m.value("type", "") == "label" && m["event"].value("source", "") == "vision:surface1") label = m;
      std::this_thread::sleep_for(100ms);
    }
    ASSERT_FALSE(label.is_null()) << "hub messages: " << hub.Count();
    EXPECT_EQ(label["event"]["kind"], "label");
    EXPECT_EQ(label["event"]["operator"], "anna") << label.dump();
    EXPECT_EQ(label["event"]["payload"]["part_id"], label_event_part) << label.dump();
    EXPECT_EQ(label["event"]["payload"]["station"], "surface1") << label.dump();
    EXPECT_EQ(label["event"]["payload"]["agree"], false) << label.dump();
    EXPECT_EQ(pf.SignalAndWait(SIGTERM, 20s), 0);
  }
  hub.Disconnect();
}

}  // namespace
}  // namespace pf
