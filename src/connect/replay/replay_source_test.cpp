#include "connect/replay/replay_source.h"

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "testing.h"

namespace pf {
namespace {

// ---- config tree helpers (what runtime/ builds from TOML) ----
ConfigNode Str(std::string v) {
  ConfigNode n;
  n.kind = ConfigNode::Kind::kString;
  n.s = std::move(v);
  return n;
}
ConfigNode Num(double v) {
  ConfigNode n;
  n.kind = ConfigNode::Kind::kDouble;
  n.d = v;
  return n;
}
ConfigNode Int(int64_t v) {
  ConfigNode n;
  n.kind = ConfigNode::Kind::kInt;
  n.i = v;
  return n;
}
ConfigNode Bool(bool v) {
  ConfigNode n;
  n.kind = ConfigNode::Kind::kBool;
  n.b = v;
  return n;
}
// A table at plant.toml:<line>; its keys sit on the following lines.
ConfigNode Table(const std::string& path, int line, std::vector<std::pair<std::string, ConfigNode>> fields) {
  ConfigNode t;
  t.kind = ConfigNode::Kind::kTable;
  t.path = path;
  t.loc = {"plant.toml", line};
  int l = line;
  for (auto& [k, v] : fields) {
    v.path = path + "." + k;
    v.loc = {"plant.toml", ++l};
    t.fields.emplace_back(k, std::move(v));
  }
  return t;
}

struct TagDefText {
  std::string name, column, kind = {};
};

struct TagSet {
  std::vector<ConfigNode> nodes;
  std::vector<SourceTagConfig> tags;
  TagSet(const TagSet&) = delete;
  explicit TagSet(std::initializer_list<TagDefText> list) {
    std::vector<TagDefText> defs(list);
    nodes.reserve(defs.size());
    for (size_t i = 0; i < defs.size(); ++i) {
      std::vector<std::pair<std::string, ConfigNode>> f = {{"column", Str(defs[i].column)}};
      if (!defs[i].kind.empty()) f.emplace_back("kind", Str(defs[i].kind));
      nodes.push_back(Table(fmt::format("sources.replay[0].tags[{}]", i), 20 + 3 * static_cast<int>(i), f));
    }
    for (size_t i = 0; i < defs.size(); ++i)
      tags.push_back({static_cast<TagId>(100 + i), defs[i].name, "line1", &nodes[i]});
  }
};

class CollectSink : public SampleSink {
 public:
  bool Write(std::vector<Sample>&& batch) override {
    std::lock_guard lk(mu_);
    batches.push_back(std::move(batch));
    cv_.notify_all();
    return true;
  }
  bool WriteBlock(Block&& block) override {
    std::lock_guard lk(mu_);
    blocks.push_back(std::move(block));
    return true;
  }
  void Emit(Event&& e) override {
    std::lock_guard lk(mu_);
    events.push_back(std::move(e));
  }
  std::vector<Event> EventsOf(const std::string& kind) {
    std::lock_guard lk(mu_);
    std::vector<Event> out;
    for (const auto& e : events)
      if (e.kind == kind) out.push_back(e);
    return out;
  }
  size_t BatchCount() {
    std::lock_guard lk(mu_);
    return batches.size();
  }
  std::vector<std::vector<Sample>> batches;
  std::vector<Block> blocks;
  std::vector<Event> events;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
};

std::string WriteFile(const std::string& dir, const std::string& name, const std::string& text) {
  std::string path = dir + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

std::unique_ptr<Source> Create(const ConfigNode& table, const TagSet& tags, MetricsRegistry& metrics) {
  auto src = ReplayConnector().create(table, tags.tags, metrics);
  EXPECT_TRUE(src.ok()) << src.status().ToString();
  return src.ok() ? std::move(src).value() : nullptr;
}

// Runs to the end of the file; returns the elapsed seconds.
double RunToEnd(Source& src, SampleSink& sink, double timeout_s = 60) {
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(src.Start(sink).ok());
  while (!src.Finished() && std::chrono::steady_clock::now() - t0 < std::chrono::duration<double>(timeout_s))
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_TRUE(src.Finished()) << "not finished after " << timeout_s << " s";
  src.Stop();
  return elapsed;
}

int64_t PayloadLine(const Event& e) {
  auto pos = e.payload_json.find("\"line\":");
  return pos == std::string::npos ? -1 : std::stoll(e.payload_json.substr(pos + 7));
}
std::string PayloadReason(const Event& e) {
  auto pos = e.payload_json.find("\"reason\":\"");
  if (pos == std::string::npos) return "";
  pos += 10;
  return e.payload_json.substr(pos, e.payload_json.find('"', pos) - pos);
}

Timestamp Utc(const char* s) { return ParseRfc3339(s).value(); }

TEST(ReplaySource, WideGarbageRowsAreReportedWithLineNumbersAndSkipped) {
  testing::TempDir dir;
  std::string file = WriteFile(dir.path(), "hist.csv",
                               "time,temp,state\n"                  // 1
                               "2021-06-01 00:00:00,20.5,Run\n"     // 2 good
                               "2021-06-01 00:00:01,abc,Run\n"      // 3 temp not a number
                               "2021-06-01 00:00:02,21.0,Run,x\n"   // 4 too many fields
                               "not a date,22.0,Run\n"              // 5 bad date
                               "2021-06-01 00:00:04,,Idle\n"        // 6 empty temp
                               "2021-06-01 00:00:05,23.5,\"Run\n"   // 7 unterminated quote
                               "2021-06-01 00:00:06,24.0,Run\n"     // 8 good
                               "2021-06-01 00:00:0");               // 9 truncated, no newline
  ConfigNode table = Table("sources.replay[0]", 10,
                           {{"name", Str("hist")}, {"file", Str(file)}, {"time_column", Str("time")},
                            {"time_format", Str("%Y-%m-%d %H:%M:%S")}, {"speed", Str("fast")}});
  TagSet tags({{"line1.temp", "temp"}, {"line1.state", "state"}});
  MetricsRegistry metrics;
  auto src = Create(table, tags, metrics);
  ASSERT_TRUE(src);
  CollectSink sink;
  RunToEnd(*src, sink);

  auto rejected = sink.EventsOf("replay_row_rejected");
  ASSERT_EQ(rejected.size(), 4u);
  std::vector<std::pair<int64_t, std::string>> got;
  for (const auto& e : rejected) got.emplace_back(PayloadLine(e), PayloadReason(e));
  EXPECT_EQ(got, (std::vector<std::pair<int64_t, std::string>>{
                     {4, "field_count"}, {5, "bad_time"}, {7, "unterminated_quote"}, {9, "field_count"}}));
  EXPECT_EQ(rejected[0].message, fmt::format("replay 'hist': {}:4: row rejected (field_count): expected 3 fields, got 4", file));
  EXPECT_EQ(rejected[1].message,
            fmt::format("replay 'hist': {}:5: row rejected (bad_time): 'not a date' does not match time format "
                        "\"%Y-%m-%d %H:%M:%S\": expected a number for %Y at position 1",
                        file));
  EXPECT_EQ(rejected[3].message,
            fmt::format("replay 'hist': {}:9: row rejected (field_count): expected 3 fields, got 1 (last line has no "
                        "line end: truncated?)",
                        file));
  EXPECT_EQ(rejected[0].source, "replay:hist");
  EXPECT_EQ(rejected[0].asset_id, "line1");

  auto cells = sink.EventsOf("replay_cell_rejected");
  ASSERT_EQ(cells.size(), 1u);
  EXPECT_EQ(PayloadLine(cells[0]), 3);
  EXPECT_EQ(cells[0].message,
            fmt::format("replay 'hist': {}:3: column 'temp' (tag 'line1.temp'): \"abc\" is not a number; sample has "
                        "quality bad/parse_error",
                        file));

  // Good rows 2, 3 (state good, temp bad), 6 (state only) and 8 are all kept.
  ASSERT_EQ(sink.batches.size(), 4u);
  const auto& b = sink.batches;
  ASSERT_EQ(b[0].size(), 2u);
  EXPECT_EQ(b[0][0].tag, 100u);
  EXPECT_EQ(b[0][0].value, Value(20.5));
  EXPECT_EQ(b[0][1].value, Value(std::string("Run")));
  EXPECT_EQ(b[0][0].source_time, Utc("2021-06-01T00:00:00Z"));
  ASSERT_EQ(b[1].size(), 2u);
  EXPECT_EQ(b[1][0].quality, Quality::kBad);
  EXPECT_EQ(b[1][0].sub, QualitySub::kParseError);
  EXPECT_TRUE(std::holds_alternative<std::monostate>(b[1][0].value));
  EXPECT_EQ(b[1][1].quality, Quality::kGood);
  ASSERT_EQ(b[2].size(), 1u);
  EXPECT_EQ(b[2][0].tag, 101u);
  EXPECT_EQ(b[2][0].value, Value(std::string("Idle")));
  EXPECT_EQ(b[2][0].source_time, Utc("2021-06-01T00:00:04Z"));
  ASSERT_EQ(b[3].size(), 2u);
  EXPECT_EQ(b[3][0].value, Value(24.0));
  uint64_t last_seq = 0;
  for (const auto& batch : b)
    for (const auto& s : batch) {
      EXPECT_GT(s.seq, last_seq);
      last_seq = s.seq;
      EXPECT_GT(s.receive_time, s.source_time);
    }

  EXPECT_EQ(metrics.Value("pf_replay_rows_total", {{"source", "hist"}}), 8);
  EXPECT_EQ(metrics.Value("pf_replay_rows_rejected_total", {{"source", "hist"}, {"reason", "field_count"}}), 2);
  EXPECT_EQ(metrics.Value("pf_replay_rows_rejected_total", {{"source", "hist"}, {"reason", "bad_time"}}), 1);
  EXPECT_EQ(metrics.Value("pf_replay_rows_rejected_total", {{"source", "hist"}, {"reason", "unterminated_quote"}}), 1);
  EXPECT_EQ(metrics.Value("pf_replay_cells_rejected_total", {{"source", "hist"}, {"reason", "not_a_number"}}), 1);
  EXPECT_EQ(sink.EventsOf("replay_finished").size(), 1u);
}

TEST(ReplaySource, RejectReportsAreRateLimitedWithASummary) {
  testing::TempDir dir;
  std::string text = "time,v\n";
  for (int i = 0; i < 10; ++i) text += "garbage\n";
  text += "2021-06-01T00:00:00Z,1\n";
  std::string file = WriteFile(dir.path(), "g.csv", text);
  ConfigNode table = Table("sources.replay[0]", 10,
                           {{"name", Str("g")}, {"file", Str(file)}, {"time_column", Str("time")},
                            {"speed", Str("fast")}, {"max_reported_rows", Int(3)}});
  TagSet tags({{"v", "v"}});
  MetricsRegistry metrics;
  auto src = Create(table, tags, metrics);
  ASSERT_TRUE(src);
  CollectSink sink;
  RunToEnd(*src, sink);
  EXPECT_EQ(sink.EventsOf("replay_row_rejected").size(), 3u);
  auto summary = sink.EventsOf("replay_report_summary");
  ASSERT_EQ(summary.size(), 1u);
  EXPECT_EQ(summary[0].payload_json,
            fmt::format("{{\"by_reason\":{{\"field_count\":7}},\"file\":\"{}\",\"suppressed\":7}}", file));
  EXPECT_EQ(metrics.Value("pf_replay_rows_rejected_total", {{"source", "g"}, {"reason", "field_count"}}), 10);
  EXPECT_EQ(sink.batches.size(), 1u);
}

TEST(ReplaySource, LongFormatGroupsRowsByTime) {
  testing::TempDir dir;
  std::string file = WriteFile(dir.path(), "long.csv",
                               "tag,time,value\n"
                               "press.temp,2021-06-01T00:00:00Z,20\n"
                               "press.state,2021-06-01T00:00:00Z,Run\n"
                               "other,2021-06-01T00:00:00Z,1\n"
                               "press.temp,2021-06-01T00:00:10Z,21\n"
                               "press.temp,2021-06-01T00:00:20Z,oops\n");
  ConfigNode table = Table("sources.replay[0]", 10,
                           {{"name", Str("long")}, {"file", Str(file)}, {"format", Str("long")},
                            {"speed", Str("fast")}});
  TagSet tags({{"press7.temp", "press.temp"}, {"press7.state", "press.state"}});
  MetricsRegistry metrics;
  auto src = Create(table, tags, metrics);
  ASSERT_TRUE(src);
  CollectSink sink;
  RunToEnd(*src, sink);
  ASSERT_EQ(sink.batches.size(), 3u);
  ASSERT_EQ(sink.batches[0].size(), 2u);
  EXPECT_EQ(sink.batches[0][0].value, Value(20.0));
  EXPECT_EQ(sink.batches[0][1].tag, 101u);
  EXPECT_EQ(sink.batches[0][1].value, Value(std::string("Run")));
  ASSERT_EQ(sink.batches[1].size(), 1u);
  EXPECT_EQ(sink.batches[1][0].source_time, Utc("2021-06-01T00:00:10Z"));
  ASSERT_EQ(sink.batches[2].size(), 1u);
  EXPECT_EQ(sink.batches[2][0].quality, Quality::kBad);
  auto cells = sink.EventsOf("replay_cell_rejected");
  ASSERT_EQ(cells.size(), 1u);
  EXPECT_EQ(PayloadLine(cells[0]), 6);
  EXPECT_EQ(metrics.Value("pf_replay_rows_total", {{"source", "long"}}), 5);
}

TEST(ReplaySource, DstAmbiguityIsReportedWithLineNumbers) {
  pf::testing::RequireOrSkip("/usr/share/zoneinfo/Europe/Berlin", "no tzdata");
  testing::TempDir dir;
  std::string file = WriteFile(dir.path(), "berlin.csv",
                               "date,kw\n"
                               "31/10/2021 01:30,1\n"   // 2 CEST, unique
                               "31/10/2021 02:00,2\n"   // 3 ambiguous
                               "31/10/2021 02:30,3\n"   // 4 ambiguous
                               "31/10/2021 02:00,4\n"   // 5 ambiguous (the repeated hour) and out of order
                               "31/10/2021 02:30,5\n"   // 6 ambiguous
                               "31/10/2021 03:00,6\n"   // 7 CET, unique
                               "28/03/2021 02:30,7\n");  // 8 does not exist (and out of order)
  ConfigNode table = Table("sources.replay[0]", 10,
                           {{"name", Str("berlin")}, {"file", Str(file)}, {"time_format", Str("%d/%m/%Y %H:%M")},
                            {"timezone", Str("Europe/Berlin")}, {"speed", Str("fast")}});
  TagSet tags({{"kw", "kw"}});
  MetricsRegistry metrics;
  auto src = Create(table, tags, metrics);
  ASSERT_TRUE(src);
  CollectSink sink;
  RunToEnd(*src, sink);
  auto amb = sink.EventsOf("replay_time_ambiguous");
  ASSERT_EQ(amb.size(), 5u);
  std::vector<std::pair<int64_t, std::string>> got;
  for (const auto& e : amb) got.emplace_back(PayloadLine(e), PayloadReason(e));
  EXPECT_EQ(got, (std::vector<std::pair<int64_t, std::string>>{
                     {3, "ambiguous"}, {4, "ambiguous"}, {5, "ambiguous"}, {6, "ambiguous"}, {8, "nonexistent"}}));
  EXPECT_EQ(amb[0].message,
            fmt::format("replay 'berlin': {}:3: local time 2021-10-31 02:00:00 in Europe/Berlin is ambiguous "
                        "(2021-10-31T00:00:00Z or 2021-10-31T01:00:00Z): first occurrence used",
                        file));
  auto order = sink.EventsOf("replay_row_out_of_order");
  ASSERT_EQ(order.size(), 2u);
  EXPECT_EQ(PayloadLine(order[0]), 5);
  EXPECT_EQ(PayloadLine(order[1]), 8);
  ASSERT_EQ(sink.batches.size(), 7u);  // on_ambiguous = first, on_out_of_order = keep: nothing dropped
  EXPECT_EQ(sink.batches[0][0].source_time, Utc("2021-10-30T23:30:00Z"));
  EXPECT_EQ(sink.batches[2][0].source_time, Utc("2021-10-31T00:30:00Z"));
  EXPECT_EQ(sink.batches[5][0].source_time, Utc("2021-10-31T02:00:00Z"));
  EXPECT_EQ(sink.batches[6][0].source_time, Utc("2021-03-28T01:30:00Z"));
  EXPECT_EQ(metrics.Value("pf_replay_time_issues_total", {{"source", "berlin"}, {"kind", "ambiguous"}}), 4);
  EXPECT_EQ(metrics.Value("pf_replay_time_issues_total", {{"source", "berlin"}, {"kind", "nonexistent"}}), 1);
}

TEST(ReplaySource, AmbiguousSecondAndSkip) {
  pf::testing::RequireOrSkip("/usr/share/zoneinfo/Europe/Berlin", "no tzdata");
  testing::TempDir dir;
  std::string file = WriteFile(dir.path(), "b.csv", "date,kw\n31/10/2021 02:30,1\n31/10/2021 03:30,2\n");
  for (const char* choice : {"second", "skip"}) {
    ConfigNode table = Table("sources.replay[0]", 10,
                             {{"name", Str("b")}, {"file", Str(file)}, {"time_format", Str("%d/%m/%Y %H:%M")},
                              {"timezone", Str("Europe/Berlin")}, {"speed", Str("fast")},
                              {"on_ambiguous", Str(choice)}});
    TagSet tags({{"kw", "kw"}});
    MetricsRegistry metrics;
    auto src = Create(table, tags, metrics);
    ASSERT_TRUE(src);
    CollectSink sink;
    RunToEnd(*src, sink);
    EXPECT_EQ(sink.EventsOf("replay_time_ambiguous").size(), 1u) << choice;
    if (std::string(choice) == "second") {
      ASSERT_EQ(sink.batches.size(), 2u);
      EXPECT_EQ(sink.batches[0][0].source_time, Utc("2021-10-31T01:30:00Z"));
    } else {
      ASSERT_EQ(sink.batches.size(), 1u);
      EXPECT_EQ(sink.batches[0][0].source_time, Utc("2021-10-31T02:30:00Z"));
      EXPECT_EQ(metrics.Value("pf_replay_rows_rejected_total", {{"source", "b"}, {"reason", "ambiguous_time"}}), 1);
    }
  }
}

std::string TenRowsOneSecondApart() {
  std::string text = "time,v\n";
  for (int i = 0; i < 10; ++i) text += fmt::format("{},{}\n", 1622505600 + i, i);
  return text;
}

TEST(ReplaySource, SpeedFactorPacesRows) {
  testing::TempDir dir;
  std::string file = WriteFile(dir.path(), "ten.csv", TenRowsOneSecondApart());
  ConfigNode table = Table("sources.replay[0]", 10,
                           {{"name", Str("x20")}, {"file", Str(file)}, {"time_column", Str("time")},
                            {"time_format", Str("epoch_s")}, {"speed", Num(20)}});
  TagSet tags({{"v", "v"}});
  MetricsRegistry metrics;
  auto src = Create(table, tags, metrics);
  ASSERT_TRUE(src);
  CollectSink sink;
  double elapsed = RunToEnd(*src, sink);
  EXPECT_EQ(sink.batches.size(), 10u);
  // 9 s of data at 20x = 0.45 s.
  EXPECT_GE(elapsed, 0.44);
  EXPECT_LE(elapsed, 0.80);
  std::printf("[measured] 10 rows 1 s apart at x20: %.3f s\n", elapsed);
}

TEST(ReplaySource, StopInterruptsARealTimeSleep) {
  testing::TempDir dir;
  std::string file = WriteFile(dir.path(), "slow.csv", "time,v\n2021-06-01T00:00:00Z,1\n2021-06-01T01:00:00Z,2\n");
  ConfigNode table =
      Table("sources.replay[0]", 10, {{"name", Str("rt")}, {"file", Str(file)}, {"time_column", Str("time")}});
  TagSet tags({{"v", "v"}});
  MetricsRegistry metrics;
  auto src = Create(table, tags, metrics);
  ASSERT_TRUE(src);
  CollectSink sink;
  ASSERT_TRUE(src->Start(sink).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto t0 = std::chrono::steady_clock::now();
  src->Stop();
  double stop_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(stop_s, 0.2);
  EXPECT_FALSE(src->Finished());
  EXPECT_EQ(sink.batches.size(), 1u);
}

TEST(ReplaySource, LoopKeepsTimeMovingForward) {
  testing::TempDir dir;
  std::string file = WriteFile(dir.path(), "loop.csv",
                               "time,v\n2021-06-01T00:00:00Z,1\n2021-06-01T00:00:01Z,2\n2021-06-01T00:00:02Z,3\n");
  ConfigNode table = Table("sources.replay[0]", 10,
                           {{"name", Str("loop")}, {"file", Str(file)}, {"time_column", Str("time")},
                            {"speed", Num(1000)}, {"loop", Bool(true)}});
  TagSet tags({{"v", "v"}});
  MetricsRegistry metrics;
  auto src = Create(table, tags, metrics);
  ASSERT_TRUE(src);
  CollectSink sink;
  ASSERT_TRUE(src->Start(sink).ok());
  for (int i = 0; i < 2000 && sink.BatchCount() < 7; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  src->Stop();
  ASSERT_GE(sink.batches.size(), 7u);
  EXPECT_FALSE(src->Finished());
  for (size_t i = 0; i < 7; ++i)
    EXPECT_EQ(sink.batches[i][0].source_time, Utc("2021-06-01T00:00:00Z") + std::chrono::seconds(i)) << i;
  EXPECT_EQ(sink.batches[3][0].value, Value(1.0));
}

TEST(ReplaySource, CreationErrorsNameTheKeyAndTheFile) {
  testing::TempDir dir;
  std::string file = WriteFile(dir.path(), "h.csv", "date,a,b\n2021-06-01T00:00:00Z,1,2\n");
  MetricsRegistry metrics;
  {
    ConfigNode table = Table("sources.replay[0]", 10, {{"name", Str("h")}, {"file", Str(file)}});
    TagSet tags({{"a", "a"}, {"c", "Nope"}});
    auto src = ReplayConnector().create(table, tags.tags, metrics);
    EXPECT_EQ(src.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(src.status().message(),
              fmt::format("plant.toml:24: sources.replay[0].tags[1].column: column 'Nope' is not in the header of {} "
                          "(it has: date, a, b)",
                          file));
  }
  {
    ConfigNode table = Table("sources.replay[0]", 10,
                             {{"name", Str("h")}, {"file", Str(file)}, {"timezone", Str("Europe/Atlantis")}});
    TagSet tags({{"a", "a"}});
    auto src = ReplayConnector().create(table, tags.tags, metrics);
    EXPECT_EQ(src.status().message(),
              "plant.toml:13: sources.replay[0].timezone: time zone 'Europe/Atlantis': cannot read "
              "/usr/share/zoneinfo/Europe/Atlantis: No such file or directory");
  }
  {
    ConfigNode table = Table("sources.replay[0]", 10, {{"name", Str("h")}, {"file", Str(dir.path() + "/none.csv")}});
    TagSet tags({{"a", "a"}});
    auto src = ReplayConnector().create(table, tags.tags, metrics);
    EXPECT_EQ(src.status().message(),
              fmt::format("plant.toml:12: sources.replay[0].file: cannot open {}/none.csv: No such file or directory",
                          dir.path()));
  }
  {
    ConfigNode table = Table("sources.replay[0]", 10, {{"name", Str("h")}, {"file", Str(file)}, {"speed", Str("warp")}});
    TagSet tags({{"a", "a"}});
    auto src = ReplayConnector().create(table, tags.tags, metrics);
    EXPECT_EQ(src.status().message(),
              "plant.toml:13: sources.replay[0].speed: expected \"realtime\", \"fast\" or a factor > 0 (60 = 60x), "
              "got a string (\"warp\")");
  }
}

TEST(ReplaySource, WaveformBlocksAtRealTime) {
  testing::TempDir dir;
  std::string text = "ch\n";
  for (int i = 0; i < 500; ++i) text += fmt::format("{}\n", i);
  std::string file = WriteFile(dir.path(), "w.csv", text);
  ConfigNode table = Table("sources.replay[0]", 10,
                           {{"name", Str("w")}, {"file", Str(file)}, {"format", Str("waveform")},
                            {"sample_rate_hz", Num(1000)}, {"block_size", Int(100)},
                            {"start_time", Str("2021-06-01T00:00:00Z")}});
  TagSet tags({{"vib", "ch"}});
  MetricsRegistry metrics;
  auto src = Create(table, tags, metrics);
  ASSERT_TRUE(src);
  CollectSink sink;
  double elapsed = RunToEnd(*src, sink);
  // Block 0 goes at once; block 4's last sample is 0.4 s after block 0's.
  EXPECT_GE(elapsed, 0.39);
  EXPECT_LE(elapsed, 0.75);
  ASSERT_EQ(sink.blocks.size(), 5u);
  EXPECT_EQ(sink.blocks[4].start_time, Utc("2021-06-01T00:00:00.4Z"));
  EXPECT_EQ(sink.blocks[4].values.front(), 400.0f);
}

// ---- the real data sets (skipped when ../shared/data is absent) ----

TEST(ReplaySource, SteelEnergyFileParsesFully) {
  std::string path = testing::SharedDir() + "/data/steel_energy/Steel_industry_data.csv";
  testing::RequireOrSkip(path, "steel_energy data set");
  ConfigNode table = Table("sources.replay[0]", 10,
                           {{"name", Str("steel")}, {"file", Str(path)}, {"time_format", Str("%d/%m/%Y %H:%M")},
                            {"timezone", Str("Asia/Seoul")}, {"speed", Str("fast")},
                            {"max_reported_rows", Int(1000)}});
  TagSet tags({{"kwh", "Usage_kWh"},
               {"lag_kvarh", "Lagging_Current_Reactive_Power_kVarh"},
               {"lead_kvarh", "Leading_Current_Reactive_Power_kVarh"},
               {"co2", "CO2(tCO2)"},
               {"lag_pf", "Lagging_Current_Power_Factor"},
               {"lead_pf", "Leading_Current_Power_Factor"},
               {"nsm", "NSM"},
               {"week", "WeekStatus"},
               {"dow", "Day_of_week"},
               {"load", "Load_Type"}});
  MetricsRegistry metrics;
  auto src = Create(table, tags, metrics);
  ASSERT_TRUE(src);
  CollectSink sink;
  double elapsed = RunToEnd(*src, sink, 120);
  std::printf("[measured] steel_energy 35040 rows x 10 tags, fast mode: %.0f ms\n", elapsed * 1000);
  EXPECT_EQ(metrics.Value("pf_replay_rows_total", {{"source", "steel"}}), 35040);
  EXPECT_EQ(sink.EventsOf("replay_row_rejected").size(), 0u);
  EXPECT_EQ(sink.EventsOf("replay_cell_rejected").size(), 0u);
  EXPECT_EQ(sink.EventsOf("replay_time_ambiguous").size(), 0u);
  ASSERT_EQ(sink.batches.size(), 35040u);
  size_t samples = 0;
  for (const auto& b : sink.batches) samples += b.size();
  EXPECT_EQ(samples, 35040u * 10);
  EXPECT_EQ(sink.batches[0][0].source_time, Utc("2017-12-31T15:15:00Z"));  // 01/01/2018 00:15 KST
  EXPECT_EQ(sink.batches[0][0].value, Value(3.17));
  EXPECT_EQ(sink.batches[0][9].value, Value(std::string("Light_Load")));
  // The file labels each midnight row with the day that is ending ("01/01/2018 00:00" follows
  // "01/01/2018 23:45"), so every midnight row is 24 h behind: one per day, reported and kept.
  auto order = sink.EventsOf("replay_row_out_of_order");
  EXPECT_EQ(order.size(), 365u);
  ASSERT_FALSE(order.empty());
  EXPECT_EQ(PayloadLine(order.front()), 97);
  EXPECT_EQ(PayloadLine(order.back()), 35041);
  EXPECT_EQ(metrics.Value("pf_replay_time_issues_total", {{"source", "steel"}, {"kind", "out_of_order"}}), 365);
}

TEST(ReplaySource, CwruWaveformGivesAllBlocksAndSamples) {
  std::string path = testing::SharedDir() + "/data/cwru_bearing/12k_DE/12k_DE_0hp_B007_rec118.csv";
  testing::RequireOrSkip(path, "CWRU bearing data set");
  ConfigNode table = Table("sources.replay[0]", 10,
                           {{"name", Str("cwru")}, {"file", Str(path)}, {"format", Str("waveform")},
                            {"sample_rate_hz", Num(12000)}, {"block_size", Int(1024)}, {"speed", Str("fast")},
                            {"start_time", Str("2021-06-01T00:00:00Z")}});
  TagSet tags({{"de_accel", "de_accel_g"}});
  MetricsRegistry metrics;
  auto src = Create(table, tags, metrics);
  ASSERT_TRUE(src);
  CollectSink sink;
  double elapsed = RunToEnd(*src, sink, 120);
  std::printf("[measured] CWRU 122571 samples, fast mode: %.0f ms\n", elapsed * 1000);
  // manifest.csv: n_samples 122571 = 119 full blocks of 1024 + one of 715.
  ASSERT_EQ(sink.blocks.size(), 120u);
  size_t total = 0;
  for (size_t i = 0; i < sink.blocks.size(); ++i) {
    total += sink.blocks[i].values.size();
    EXPECT_EQ(sink.blocks[i].quality, Quality::kGood);
  }
  EXPECT_EQ(total, 122571u);
  EXPECT_EQ(sink.blocks.back().values.size(), 715u);
  EXPECT_FLOAT_EQ(sink.blocks[0].values[0], -0.0027614f);
  EXPECT_FLOAT_EQ(sink.blocks[0].values[1], -0.096324f);
  // Block 100 starts 100 * 1024 / 12000 s = 8.5333333 s after the start.
  EXPECT_EQ(sink.blocks[100].start_time, Utc("2021-06-01T00:00:00Z") + Duration(8'533'333'333));
  EXPECT_EQ(sink.blocks[100].sample_rate_hz, 12000);
  EXPECT_GT(sink.blocks[100].seq, sink.blocks[99].seq);
  EXPECT_EQ(sink.EventsOf("replay_row_rejected").size(), 0u);
}

}  // namespace
}  // namespace pf
