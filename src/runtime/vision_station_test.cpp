// VisionStation with the brightness model (apps/vision_test_model.h): uploads through the HTTP routes
// (ApiServer::Handle, no sockets), the inspector's verdicts, the statistics, review images within
// their budget, the folder loop with the register map, and a restart that keeps sequence and book.
#include "runtime/vision_station.h"

#include <gtest/gtest.h>
#include <modbus.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "apps/vision_test_model.h"
#include "core/time.h"
#include "engine/model.h"
#include "testing.h"

namespace pf {
namespace {

using apps::testing::FlatPgm;
using Json = nlohmann::json;

std::unique_ptr<VisionStation> MakeStation(const std::string& dir, double audit_rate, int64_t budget, int modbus_port = -1) {
  auto m = engine::OnnxModel::Load(apps::testing::BrightnessModel(4), "brightness.onnx", {});
  EXPECT_TRUE(m.ok());
  apps::VisionOptions vo;
  vo.good_classes = {"good"};
  auto insp = apps::VisionInspector::Create(std::move(*m), vo);
  EXPECT_TRUE(insp.ok()) << insp.status().ToString();
  StationOptions so;
  so.folder.dir = dir;
  so.folder.settle_ms = 50;
  so.audit_rate = audit_rate;
  so.review_budget_bytes = budget;
  so.modbus_port = modbus_port;
  auto s = VisionStation::Create(std::move(*insp), so);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(*s) : nullptr;
}

ApiResponse Call(ApiServer& api, const std::string& method, const std::string& path, const std::string& body = "",
                 const std::string& query = "") {
  ApiRequest r;
  r.method = method;
  r.body = body;
  if (!query.empty()) r.query.emplace("part_id", query);
  return api.Handle(r, path);
}

TEST(VisionStation, UploadsVerdictsStatsAndRestart) {
  pf::testing::TempDir dir;
  {
    auto st = MakeStation(dir.path(), 1.0, 1 << 20);  // every accept audited
    ASSERT_TRUE(st);
    ApiServer api({}, nullptr);
    ASSERT_TRUE(st->AddRoutes(api).ok());
    auto good = Call(api, "POST", "/api/v1/inspect", FlatPgm(4, 4, 250), "p-1");
    ASSERT_EQ(good.status, 200) << good.body;
    auto gj = Json::parse(good.body);
    EXPECT_EQ(gj["verdict"], "accept");
    EXPECT_EQ(gj["part_id"], "p-1");
    EXPECT_EQ(gj["audit"], true);
    EXPECT_EQ(gj["sequence"], 1);
    auto dark = Json::parse(Call(api, "POST", "/api/v1/inspect", FlatPgm(4, 4, 5), "p-2").body);
    EXPECT_EQ(dark["verdict"], "reject");
    auto bad = Json::parse(Call(api, "POST", "/api/v1/inspect", "not an image at all", "p-3").body);
    EXPECT_EQ(bad["verdict"], "uncertain");
    EXPECT_NE(bad["reason"].get<std::string>().find("decode error"), std::string::npos);
    EXPECT_EQ(Call(api, "POST", "/api/v1/inspect", "").status, 400);
    // All three wait for a person; the review images are there (.bin for the undecodable one).
    auto q = Json::parse(Call(api, "GET", "/api/v1/inspections").body);
    ASSERT_EQ(q["items"].size(), 3u);
    EXPECT_EQ(q["items"][0]["sequence"], 3);
    EXPECT_TRUE(q["items"][0]["image"].get<std::string>().ends_with(".bin"));
    EXPECT_TRUE(q["items"][1]["image"].get<std::string>().ends_with(".png"));
    // Verdicts: confirm the reject, the audited accept was a defect (an escape), the uncertain one good.
    EXPECT_EQ(Call(api, "POST", "/api/v1/inspections/2/verdict", R"({"agree": true})").status, 201);
    EXPECT_EQ(Call(api, "POST", "/api/v1/inspections/2/verdict", R"({"agree": true})").status, 409);
    EXPECT_EQ(Call(api, "POST", "/api/v1/inspections/1/verdict", R"({"agree": false, "class": "dark"})").status, 201);
    EXPECT_EQ(Call(api, "POST", "/api/v1/inspections/3/verdict", R"({"agree": false})").status, 400);  // needs the class
    EXPECT_EQ(Call(api, "POST", "/api/v1/inspections/3/verdict", R"({"agree": false, "class": "shiny"})").status, 400);
    EXPECT_EQ(Call(api, "POST", "/api/v1/inspections/3/verdict", R"({"agree": false, "class": "good"})").status, 201);
    EXPECT_EQ(Call(api, "POST", "/api/v1/inspections/99/verdict", R"({"agree": true})").status, 404);
    EXPECT_EQ(Call(api, "POST", "/api/v1/inspections/x/verdict", R"({"agree": true})").status, 400);
    EXPECT_EQ(Call(api, "POST", "/api/v1/inspections/1/verdict", R"([1])").status, 400);
    auto s = Json::parse(Call(api, "GET", "/api/v1/inspections/stats").body);
    EXPECT_EQ(s["inspected"], 3);
    EXPECT_EQ(s["precision"]["estimate"], 1.0);
    EXPECT_EQ(s["escape_rate"]["estimate"], 1.0);
    EXPECT_EQ(s["reviewed"]["uncertain"], 1);
    EXPECT_EQ(s["uncertain_defective"], 0);
    EXPECT_TRUE(Json::parse(Call(api, "GET", "/api/v1/inspections").body)["items"].empty());
  }
  // Restart: the sequence continues and the book is the same.
  auto st = MakeStation(dir.path(), 1.0, 1 << 20);
  ApiServer api({}, nullptr);
  ASSERT_TRUE(st->AddRoutes(api).ok());
  auto next = Json::parse(Call(api, "POST", "/api/v1/inspect", FlatPgm(4, 4, 5)).body);
  EXPECT_EQ(next["sequence"], 4);
  EXPECT_EQ(next["part_id"], "upload-4");
  auto s = Json::parse(Call(api, "GET", "/api/v1/inspections/stats").body);
  EXPECT_EQ(s["inspected"], 4);
  EXPECT_EQ(s["reviewed"]["rejects"], 1);
  EXPECT_EQ(Call(api, "POST", "/api/v1/inspections/2/verdict", R"({"agree": true})").status, 409);
}

TEST(VisionStation, ReviewImagesStayWithinTheirBudget) {
  pf::testing::TempDir dir;
  auto st = MakeStation(dir.path(), 0.0, 3 * 200);  // room for a few small overlays
  ASSERT_TRUE(st);
  for (int k = 0; k < 20; ++k) ASSERT_TRUE(st->InspectUpload(FlatPgm(4, 4, 5), "").ok());
  int64_t bytes = 0, files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path() + "/.review")) {
    bytes += static_cast<int64_t>(e.file_size());
    ++files;
  }
  EXPECT_LE(bytes, 600);
  EXPECT_GT(files, 0);
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/.review/0000000020_upload-20.png"));  // the newest stays
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/.review/0000000001_upload-1.png"));
}

TEST(VisionStation, FolderImagesReachTheRegisters) {
  pf::testing::TempDir dir;
  auto st = MakeStation(dir.path(), 0.0, 0, 0);
  ASSERT_TRUE(st);
  ASSERT_GT(st->modbus_port(), 0);
  std::atomic<bool> stop{false};
  std::vector<std::string> lines;
  std::mutex mu;
  std::thread t([&] {
    EXPECT_TRUE(st->Run(stop, [&](const std::string& l) {
                    std::lock_guard<std::mutex> lock(mu);
                    lines.push_back(l);
                  }).ok());
  });
  std::ofstream(dir.path() + "/.w.tmp", std::ios::binary) << FlatPgm(4, 4, 5);
  std::filesystem::rename(dir.path() + "/.w.tmp", dir.path() + "/AB-17.pgm");
  for (int k = 0; k < 100; ++k) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!lines.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // What the PLC reads: sequence 1, reject, class "dark" (index 1 + 1), part id "AB-17"; the heartbeat
  // keeps counting across the verdict update (it is not reset by it).
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  modbus_t* c = modbus_new_tcp("127.0.0.1", st->modbus_port());
  uint16_t regs[apps::kVerdictRegisters] = {};
  const bool connected = modbus_connect(c) == 0;
  const int got = connected ? modbus_read_registers(c, 0, apps::kVerdictRegisters, regs) : -1;
  modbus_close(c);
  modbus_free(c);
  stop = true;
  t.join();  // before any assertion can leave the test with the thread running
  ASSERT_TRUE(connected);
  ASSERT_EQ(got, apps::kVerdictRegisters);
  EXPECT_GE(regs[apps::kHeartbeatRegister], 2);
  EXPECT_EQ(regs[1], 1);
  EXPECT_EQ(regs[2], 2);
  EXPECT_EQ(regs[3], 2);
  EXPECT_EQ(regs[8], ('A' << 8) | 'B');
  EXPECT_EQ(regs[9], ('-' << 8) | '1');
  EXPECT_EQ(regs[10], ('7' << 8));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(Json::parse(lines[0])["part_id"], "AB-17");
  EXPECT_EQ(Json::parse(lines[0])["part_id_source"], "file");
  EXPECT_TRUE(std::filesystem::is_empty(dir.path() + "/.processing"));
}

// A part id pattern takes the part id out of the file name; a name it does not match keeps its stem.
// The review image carries the part id in its name.
TEST(VisionStation, PartIdFromTheFileNamePattern) {
  pf::testing::TempDir dir;
  auto m = engine::OnnxModel::Load(apps::testing::BrightnessModel(4), "brightness.onnx", {});
  ASSERT_TRUE(m.ok());
  apps::VisionOptions vo;
  vo.good_classes = {"good"};
  StationOptions so;
  so.folder.dir = dir.path();
  so.folder.settle_ms = 50;
  so.audit_rate = 0;
  so.part_id_pattern = "^([A-Z]+[0-9]+)_";
  {
    StationOptions bad = so;
    bad.part_id_pattern = "^[A-Z]+_";
    auto m2 = engine::OnnxModel::Load(apps::testing::BrightnessModel(4), "brightness.onnx", {});
    auto s = VisionStation::Create(apps::VisionInspector::Create(std::move(*m2), vo).value(), bad);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.status().message().find("needs a group"), std::string::npos) << s.status().ToString();
  }
  auto st = VisionStation::Create(apps::VisionInspector::Create(std::move(*m), vo).value(), so);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  std::atomic<bool> stop{false};
  std::vector<Json> lines;
  std::mutex mu;
  std::thread t([&] {
    EXPECT_TRUE((*st)->Run(stop, [&](const std::string& l) {
                      std::lock_guard<std::mutex> lock(mu);
                      lines.push_back(Json::parse(l));
                    }).ok());
  });
  for (const char* name : {"PX4711_cam1_0001.pgm", "unnamed.pgm"}) {
    std::ofstream(dir.path() + "/.w.tmp", std::ios::binary) << FlatPgm(4, 4, 5);
    std::filesystem::rename(dir.path() + "/.w.tmp", dir.path() + "/" + name);
  }
  for (int k = 0; k < 100; ++k) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (lines.size() >= 2) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop = true;
  t.join();
  ASSERT_EQ(lines.size(), 2u);
  std::map<std::string, Json> by_file;
  for (const Json& j : lines) by_file[j["file"].get<std::string>()] = j;
  EXPECT_EQ(by_file["PX4711_cam1_0001.pgm"]["part_id"], "PX4711");
  EXPECT_EQ(by_file["PX4711_cam1_0001.pgm"]["part_id_source"], "file_pattern");
  EXPECT_EQ(by_file["unnamed.pgm"]["part_id"], "unnamed");
  EXPECT_EQ(by_file["unnamed.pgm"]["part_id_source"], "file");
  const uint32_t seq = by_file["PX4711_cam1_0001.pgm"]["sequence"];
  EXPECT_TRUE(std::filesystem::exists(dir.path() + fmt::format("/.review/{:010d}_PX4711.png", seq)));
  auto q = (*st)->Queue(10);
  bool listed = false;
  for (const auto& item : q["items"])
    if (item["part_id"] == "PX4711") listed = item.contains("image");
  EXPECT_TRUE(listed) << q.dump();
}

}  // namespace
}  // namespace pf

namespace pf {
namespace {

std::unique_ptr<VisionStation> MakeStationWith(const StationOptions& so, std::vector<apps::Roi> rois = {}) {
  auto m = engine::OnnxModel::Load(apps::testing::BrightnessModel(4), "brightness.onnx", {});
  EXPECT_TRUE(m.ok());
  apps::VisionOptions vo;
  vo.good_classes = {"good"};
  vo.rois = std::move(rois);
  auto insp = apps::VisionInspector::Create(std::move(*m), vo);
  EXPECT_TRUE(insp.ok());
  auto s = VisionStation::Create(std::move(*insp), so);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(*s) : nullptr;
}

// Journals rotate past their size (keep N), a restart reads the newest rotated file and the current
// one: the sequence goes on. The part id comes from the latch when it has a value, the record says
// from where; every record reaches on_record in order; a label the plant cannot take is answered
// "forwarded": false and counted, and stays in the feedback journal.
TEST(VisionStation, JournalsRotatePartIdsLatchRecordsAndLabelsReachThePlant) {
  pf::testing::TempDir dir;
  StationOptions so;
  so.folder.dir = dir.path();
  so.audit_rate = 0;
  so.review_budget_bytes = 0;
  so.journal_max_bytes = 4096;
  so.journal_keep = 2;
  std::vector<uint32_t> seen;
  bool latch_has_value = true, label_fails = false;
  int64_t last_trigger = 0;
  so.part_id_at = [&](int64_t t) -> std::optional<std::string> {
    last_trigger = t;
    if (!latch_has_value) return std::nullopt;
    return std::string("P-77");
  };
  so.on_record = [&](const Json& r) { seen.push_back(r["sequence"].get<uint32_t>()); };
  std::vector<Json> labels;
  so.on_label = [&](const Json& l) {
    labels.push_back(l);
    return label_fails ? Unavailable("store refused") : Status::Ok();
  };
  const std::string journal = dir.path() + "/.plantfloor-inspections.jsonl";
  {
    auto st = MakeStationWith(so);
    ASSERT_TRUE(st);
    const int64_t before = MonotonicNs();
    auto a = st->InspectUpload(FlatPgm(4, 4, 250), "");
    ASSERT_TRUE(a.ok());
    EXPECT_EQ((*a)["part_id"], "P-77");
    EXPECT_EQ((*a)["part_id_source"], "tag");
    EXPECT_GE(last_trigger, before);
    auto b = st->InspectUpload(FlatPgm(4, 4, 250), "given-1");  // a part id given with the upload wins
    ASSERT_TRUE(b.ok());
    EXPECT_EQ((*b)["part_id"], "given-1");
    EXPECT_EQ((*b)["part_id_source"], "upload");
    latch_has_value = false;
    auto c = st->InspectUpload(FlatPgm(4, 4, 5), "");
    ASSERT_TRUE(c.ok());
    EXPECT_EQ((*c)["part_id"], fmt::format("upload-{}", (*c)["sequence"].get<uint32_t>()));
    EXPECT_EQ((*c)["part_id_source"], "sequence");
    images::Image frame;
    frame.width = frame.height = 4;
    frame.channels = 1;
    frame.bit_depth = 8;
    frame.data.assign(16, 250);
    auto f = st->InspectFrame(frame, "cam-9", MonotonicNs());
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    EXPECT_EQ((*f)["part_id"], "cam-9");
    EXPECT_EQ((*f)["part_id_source"], "camera");
    for (int k = 0; k < 60; ++k) ASSERT_TRUE(st->InspectUpload(FlatPgm(4, 4, k % 2 ? 250 : 5), "").ok());
    EXPECT_GE(st->counters().rotations, 3u);
    latch_has_value = true;
    auto e = st->InspectUpload(FlatPgm(4, 4, 5), "");
    ASSERT_TRUE(e.ok());
    EXPECT_EQ((*e)["verdict"], "reject");
    // Labels: forwarded, then refused by the plant (kept in the journal, answered and counted).
    auto ok = st->AddVerdict((*c)["sequence"].get<uint32_t>(), true, "", "anna");
    ASSERT_TRUE(ok.ok()) << ok.status().ToString();
    EXPECT_EQ((*ok)["forwarded"], true);
    label_fails = true;
    auto refused = st->AddVerdict((*e)["sequence"].get<uint32_t>(), false, "good", "anna");
    ASSERT_TRUE(refused.ok()) << refused.status().ToString();
    EXPECT_EQ((*refused)["forwarded"], false);
    EXPECT_EQ(st->counters().labels_not_forwarded, 1u);
    ASSERT_EQ(labels.size(), 2u);
    EXPECT_EQ(labels[1]["label"], "good");
    EXPECT_EQ(labels[1]["part_id"], "P-77");
  }
  ASSERT_EQ(seen.size(), 65u);
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], i + 1);
  EXPECT_TRUE(std::filesystem::exists(journal + ".1"));
  EXPECT_TRUE(std::filesystem::exists(journal + ".2"));
  EXPECT_FALSE(std::filesystem::exists(journal + ".3"));  // keep 2
  for (const std::string& p : {journal, journal + ".1", journal + ".2"}) EXPECT_LE(std::filesystem::file_size(p), 4096u) << p;
  std::ifstream fb(dir.path() + "/.plantfloor-verdicts.jsonl");
  int label_lines = 0;
  for (std::string line; std::getline(fb, line);) ++label_lines;
  EXPECT_EQ(label_lines, 2);
  // Restart: the sequence goes on from the newest record.
  {
    auto st = MakeStationWith(so);
    ASSERT_TRUE(st);
    auto next = st->InspectUpload(FlatPgm(4, 4, 250), "x");
    ASSERT_TRUE(next.ok());
    EXPECT_EQ((*next)["sequence"], 66u);
  }
  // A crash right after a rotation: the current file is new and empty, the records are in .1. The
  // sequence still goes on, and a claim whose record is in .1 is finished, not judged again.
  namespace fs = std::filesystem;
  fs::remove(journal + ".2");
  fs::rename(journal + ".1", journal + ".2");
  fs::rename(journal, journal + ".1");
  std::ofstream(journal).close();
  fs::create_directories(dir.path() + "/.processing");
  std::ofstream(dir.path() + "/.processing/123-judged.pgm", std::ios::binary) << FlatPgm(4, 4, 5);
  {
    std::ofstream j1(journal + ".1", std::ios::app);
    j1 << R"({"sequence":67,"part_id":"judged","source":"folder","file":"judged.pgm","claim":"123-judged.pgm","verdict":"reject","class":"dark","reason":"","audit":false})"
       << "\n";
  }
  auto st = MakeStationWith(so);
  ASSERT_TRUE(st);
  std::atomic<bool> stop{true};  // Run finishes what was pending, then returns
  ASSERT_TRUE(st->Run(stop).ok());
  EXPECT_EQ(st->counters().recovered, 1u);
  EXPECT_EQ(st->counters().inspected, 0u);
  EXPECT_TRUE(fs::is_empty(dir.path() + "/.processing"));
  auto next = st->InspectUpload(FlatPgm(4, 4, 250), "y");
  ASSERT_TRUE(next.ok());
  EXPECT_EQ((*next)["sequence"], 68u);
}

// A Run that fails after a record is journaled (the file cannot be moved out of .processing/) is
// restarted: the claim is finished, not judged a second time. The record names the deciding ROI's
// class: the rejecting one, not the first.
TEST(VisionStation, ARestartedRunFinishesJournaledClaimsAndTheDecidingRoiNamesTheClass) {
  pf::testing::TempDir dir;
  namespace fs = std::filesystem;
  StationOptions so;
  so.folder.dir = dir.path();
  so.folder.settle_ms = 50;
  so.audit_rate = 0;
  so.review_budget_bytes = 0;
  auto st = MakeStationWith(so, {{0, 0, 4, 4}, {4, 0, 4, 4}});
  ASSERT_TRUE(st);
  // .done/ replaced by a file: the move after the verdict fails.
  fs::remove_all(dir.path() + "/.done");
  std::ofstream(dir.path() + "/.done") << "in the way";
  // Left half bright, right half dark.
  std::string pgm = "P5\n8 4\n255\n";
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 8; ++x) pgm += static_cast<char>(x < 4 ? 250 : 5);
  std::ofstream(dir.path() + "/.w.tmp", std::ios::binary) << pgm;
  fs::rename(dir.path() + "/.w.tmp", dir.path() + "/half.pgm");
  std::atomic<bool> stop{false};
  std::atomic<bool> ended{false};
  Status first = Status::Ok();
  std::thread t([&] {
    first = st->Run(stop);
    ended = true;
  });
  for (int k = 0; k < 200 && !ended.load(); ++k) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  stop = true;
  t.join();
  EXPECT_FALSE(first.ok()) << "the move must have failed";
  EXPECT_EQ(st->counters().inspected, 1u);
  fs::remove(dir.path() + "/.done");
  fs::create_directories(dir.path() + "/.done");
  std::atomic<bool> stop2{true};  // finish what is pending, then return
  ASSERT_TRUE(st->Run(stop2).ok());
  EXPECT_EQ(st->counters().inspected, 1u) << "judged twice";
  EXPECT_EQ(st->counters().recovered, 1u);
  EXPECT_TRUE(fs::is_empty(dir.path() + "/.processing"));
  std::ifstream in(dir.path() + "/.plantfloor-inspections.jsonl");
  std::vector<Json> recs;
  for (std::string line; std::getline(in, line);) recs.push_back(Json::parse(line));
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0]["verdict"], "reject");
  EXPECT_EQ(recs[0]["class"], "dark");  // the second ROI decided
}

}  // namespace
}  // namespace pf
