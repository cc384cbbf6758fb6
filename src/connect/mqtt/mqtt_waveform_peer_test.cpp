// The mqtt_waveform source against a real mosquitto broker; the blocks are published by mosquitto_pub
// (an independent MQTT client) from files written by the codec.
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "connect/mqtt/mqtt_waveform_source.h"
#include "connect/mqtt/waveform_block.h"
#include "testing.h"

namespace pf {
namespace {

using namespace std::chrono_literals;

ConfigNode Leaf(const std::string& path, ConfigNode::Kind kind) {
  ConfigNode n;
  n.kind = kind;
  n.loc = {"plant.toml", 1};
  n.path = path;
  return n;
}
void AddString(ConfigNode& t, const std::string& key, const std::string& v) {
  ConfigNode n = Leaf(t.path + "." + key, ConfigNode::Kind::kString);
  n.s = v;
  t.fields.emplace_back(key, std::move(n));
}
void AddInt(ConfigNode& t, const std::string& key, int64_t v) {
  ConfigNode n = Leaf(t.path + "." + key, ConfigNode::Kind::kInt);
  n.i = v;
  t.fields.emplace_back(key, std::move(n));
}

class Sink : public SampleSink {
 public:
  bool Write(std::vector<Sample>&& batch) override {
    std::lock_guard l(mu_);
    for (auto& s : batch) samples.push_back(s);
    cv_.notify_all();
    return true;
  }
  bool WriteBlock(Block&& b) override {
    std::lock_guard l(mu_);
    blocks.push_back(std::move(b));
    cv_.notify_all();
    return true;
  }
  void Emit(Event&& e) override {
    std::lock_guard l(mu_);
    events.push_back(std::move(e));
    cv_.notify_all();
  }
  template <typename Pred>
  bool WaitFor(Pred pred, std::chrono::milliseconds timeout) {
    std::unique_lock l(mu_);
    return cv_.wait_for(l, timeout, [&] { return pred(*this); });
  }
  bool HasEvent(const std::string& state) const {
    for (const auto& e : events)
      if (e.payload_json.find("\"state\":\"" + state + "\"") != std::string::npos) return true;
    return false;
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Sample> samples;
  std::vector<Block> blocks;
  std::vector<Event> events;
};

struct Fixture {
  ConfigNode source;
  std::vector<ConfigNode> tag_nodes;
  std::vector<SourceTagConfig> tags;
};

std::unique_ptr<Fixture> MakeConfig(int port, const std::string& topic) {
  auto f = std::make_unique<Fixture>();
  f->source = Leaf("sources[0]", ConfigNode::Kind::kTable);
  AddString(f->source, "name", "vib");
  AddString(f->source, "broker", fmt::format("tcp://127.0.0.1:{}", port));
  AddString(f->source, "topic", topic);
  AddString(f->source, "reconnect_min", "100ms");
  AddString(f->source, "reconnect_max", "500ms");
  f->tag_nodes.resize(2);
  for (int i = 0; i < 2; ++i) {
    f->tag_nodes[i] = Leaf(fmt::format("sources[0].tags[{}]", i), ConfigNode::Kind::kTable);
    AddInt(f->tag_nodes[i], "channel", i == 0 ? 1 : 5);  // tag 1 asks for a channel that is not there
  }
  for (int i = 0; i < 2; ++i) f->tags.push_back({static_cast<TagId>(10 + i), fmt::format("ch{}", i), "pump1", &f->tag_nodes[i]});
  return f;
}

std::string WriteBlockFile(const std::string& dir, uint64_t seq, Timestamp start) {
  wave::WaveformBlock b;
  b.format = wave::SampleFormat::kInt16;
  b.channels = 2;
  b.sample_rate_hz = 1000;
  b.start_time = start;
  b.seq = seq;
  b.scale = 1.0f / 1000;
  b.data.assign(2, std::vector<float>(100));
  for (int i = 0; i < 100; ++i) {
    b.data[0][i] = 0;
    b.data[1][i] = static_cast<float>(seq) + i / 1000.0f;  // channel 1 carries seq.i
  }
  auto bytes = wave::Encode(b);
  EXPECT_TRUE(bytes.ok());
  std::string path = fmt::format("{}/block{}.bin", dir, seq);
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes->data()), bytes->size());
  return path;
}

int Publish(int port, const std::string& topic, const std::string& file) {
  return testing::Run(fmt::format("mosquitto_pub -h 127.0.0.1 -p {} -q 1 -t '{}' -f '{}'", port, topic, file));
}

TEST(MqttWaveformPeer, BlocksGapsAndRejectsOverARealBroker) {
  if (testing::Run("command -v mosquitto_pub >/dev/null") != 0) {
    fmt::print(stderr, "SKIP: mosquitto_pub not installed\n");
    std::exit(testing::kSkipReturnCode);
  }
  testing::Peer broker("mosquitto");
  ASSERT_TRUE(broker.ok()) << broker.log();
  testing::TempDir dir;
  const std::string topic = "plant/pump1/vib";
  auto cfg = MakeConfig(broker.port(), topic);
  MetricsRegistry metrics;
  const ConnectorInfo info = MqttWaveformConnector();
  auto src = info.create(cfg->source, cfg->tags, metrics);
  ASSERT_TRUE(src.ok()) << src.status().message();
  Sink sink;
  ASSERT_TRUE((*src)->Start(sink).ok());
  ASSERT_TRUE(sink.WaitFor([](Sink& s) { return s.HasEvent("connected"); }, 10s));

  const Timestamp t0 = Timestamp::FromMs(1764072000000);
  auto at = [&](uint64_t seq) { return t0 + Duration(static_cast<int64_t>(seq) * 100'000'000); };  // 100 ms blocks
  ASSERT_EQ(Publish(broker.port(), topic, WriteBlockFile(dir.path(), 1, at(1))), 0);
  ASSERT_EQ(Publish(broker.port(), topic, WriteBlockFile(dir.path(), 2, at(2))), 0);
  ASSERT_EQ(Publish(broker.port(), topic, WriteBlockFile(dir.path(), 2, at(2))), 0);  // duplicate
  ASSERT_EQ(Publish(broker.port(), topic, WriteBlockFile(dir.path(), 5, at(5))), 0);  // 3 and 4 lost
  {
    std::string bad = dir.path() + "/bad.bin";
    std::ofstream(bad, std::ios::binary) << "PFWB this is not a block";
    ASSERT_EQ(Publish(broker.port(), topic, bad), 0);
  }
  ASSERT_TRUE(sink.WaitFor([](Sink& s) { return s.blocks.size() >= 3 && s.HasEvent("block_rejected"); }, 10s));
  std::this_thread::sleep_for(300ms);
  (*src)->Stop();

  std::lock_guard l(sink.mu_);
  ASSERT_EQ(sink.blocks.size(), 3u);  // seq 1, 2, 5 of channel 1; the duplicate dropped
  const double expect_seq[] = {1, 2, 5};
  for (size_t i = 0; i < 3; ++i) {
    const Block& b = sink.blocks[i];
    EXPECT_EQ(b.tag, 10u);
    EXPECT_EQ(b.sample_rate_hz, 1000);
    EXPECT_EQ(b.values.size(), 100u);
    EXPECT_NEAR(b.values[0], expect_seq[i], 1e-3);
    EXPECT_NEAR(b.values[99], expect_seq[i] + 0.099, 1e-3);
    EXPECT_EQ(b.start_time, at(static_cast<uint64_t>(expect_seq[i])));
  }
  // The missing blocks 3..4: one bad gap sample per tag at the end of block 2 (= start of block 3).
  int gaps = 0, config_errors = 0;
  for (const auto& s : sink.samples) {
    if (s.sub == QualitySub::kGap) {
      ++gaps;
      EXPECT_EQ(s.quality, Quality::kBad);
      EXPECT_EQ(s.source_time, at(3));
    }
    if (s.sub == QualitySub::kConfigError) {
      ++config_errors;
      EXPECT_EQ(s.tag, 11u);  // channel 5 does not exist: reported once, not per block
    }
  }
  EXPECT_EQ(gaps, 2);
  EXPECT_EQ(config_errors, 1);
  EXPECT_TRUE(sink.HasEvent("blocks_missing"));
  EXPECT_TRUE(sink.HasEvent("channel_missing"));
  bool precise = false;
  for (const auto& e : sink.events)
    if (e.message.find("needs exactly") != std::string::npos || e.message.find("byte ") != std::string::npos) precise = true;
  EXPECT_TRUE(precise);
  EXPECT_EQ(metrics.GetCounter("pf_waveform_blocks_missing_total", "", {{"source", "vib"}}).value(), 2u);
  EXPECT_EQ(metrics.GetCounter("pf_waveform_blocks_duplicate_total", "", {{"source", "vib"}}).value(), 1u);
  EXPECT_EQ(metrics.GetCounter("pf_waveform_blocks_rejected_total", "", {{"source", "vib"}}).value(), 1u);
}

// A broker restart: the source reconnects by itself and blocks flow again.
TEST(MqttWaveformPeer, ReconnectsAfterBrokerRestart) {
  if (testing::Run("command -v mosquitto_pub >/dev/null") != 0) std::exit(testing::kSkipReturnCode);
  int port = testing::FreePort();
  auto broker = std::make_unique<testing::Peer>("mosquitto", port);
  ASSERT_TRUE(broker->ok()) << broker->log();
  testing::TempDir dir;
  const std::string topic = "plant/pump1/vib";
  auto cfg = MakeConfig(port, topic);
  MetricsRegistry metrics;
  auto src = MqttWaveformConnector().create(cfg->source, cfg->tags, metrics);
  ASSERT_TRUE(src.ok()) << src.status().message();
  Sink sink;
  ASSERT_TRUE((*src)->Start(sink).ok());
  ASSERT_TRUE(sink.WaitFor([](Sink& s) { return s.HasEvent("connected"); }, 10s));
  const Timestamp t0 = Timestamp::FromMs(1764072000000);
  ASSERT_EQ(Publish(port, topic, WriteBlockFile(dir.path(), 1, t0)), 0);
  ASSERT_TRUE(sink.WaitFor([](Sink& s) { return s.blocks.size() == 1; }, 10s));
  broker->Stop();
  ASSERT_TRUE(sink.WaitFor([](Sink& s) { return s.HasEvent("disconnected"); }, 10s));
  broker = std::make_unique<testing::Peer>("mosquitto", port);
  ASSERT_TRUE(broker->ok()) << broker->log();
  // Reconnect (backoff <= 500 ms) and re-subscribe: the broker started empty, so the source subscribes again.
  ASSERT_TRUE(sink.WaitFor([](Sink& s) {
    int n = 0;
    for (const auto& e : s.events) n += e.payload_json.find("\"state\":\"connected\"") != std::string::npos;
    return n >= 2;
  }, 15s));
  ASSERT_EQ(Publish(port, topic, WriteBlockFile(dir.path(), 2, t0 + Duration(100'000'000))), 0);
  EXPECT_TRUE(sink.WaitFor([](Sink& s) { return s.blocks.size() == 2; }, 10s));
  (*src)->Stop();
  EXPECT_GE(metrics.GetCounter("pf_mqtt_reconnects_total", "", {{"source", "vib"}}).value(), 1u);
}

// plantfloor down, sensor still publishing (QoS 1): the broker keeps the persistent session's blocks and
// delivers them when the source comes back with the same client id. Nothing is lost.
TEST(MqttWaveformPeer, BlocksPublishedWhileDownArriveAfterRestart) {
  if (testing::Run("command -v mosquitto_pub >/dev/null") != 0) std::exit(testing::kSkipReturnCode);
  testing::Peer broker("mosquitto");
  ASSERT_TRUE(broker.ok()) << broker.log();
  testing::TempDir dir;
  const std::string topic = "plant/pump1/vib";
  auto cfg = MakeConfig(broker.port(), topic);
  const Timestamp t0 = Timestamp::FromMs(1764072000000);
  MetricsRegistry metrics;
  {
    auto src = MqttWaveformConnector().create(cfg->source, cfg->tags, metrics);
    ASSERT_TRUE(src.ok()) << src.status().message();
    Sink sink;
    ASSERT_TRUE((*src)->Start(sink).ok());
    ASSERT_TRUE(sink.WaitFor([](Sink& s) { return s.HasEvent("connected"); }, 10s));
    (*src)->Stop();  // plantfloor goes down
  }
  for (uint64_t seq = 1; seq <= 3; ++seq)
    ASSERT_EQ(Publish(broker.port(), topic, WriteBlockFile(dir.path(), seq, t0 + Duration(seq * 100'000'000))), 0);
  auto src = MqttWaveformConnector().create(cfg->source, cfg->tags, metrics);
  ASSERT_TRUE(src.ok());
  Sink sink;
  ASSERT_TRUE((*src)->Start(sink).ok());
  ASSERT_TRUE(sink.WaitFor([](Sink& s) { return s.blocks.size() >= 3; }, 10s));
  (*src)->Stop();
  std::lock_guard l(sink.mu_);
  ASSERT_EQ(sink.blocks.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(sink.blocks[i].values[0], static_cast<double>(i + 1), 1e-3);
}

}  // namespace
}  // namespace pf
