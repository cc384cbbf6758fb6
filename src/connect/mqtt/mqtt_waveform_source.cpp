#include "connect/mqtt/mqtt_waveform_source.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <thread>

#include <mqtt/async_client.h>
#include <nlohmann/json.hpp>

#include "connect/mqtt/waveform_block.h"
#include "core/backoff.h"
#include "core/log.h"

namespace pf {

namespace {

using namespace std::chrono_literals;

constexpr FieldSpec kSourceSpec[] = {
    {"broker", FieldType::kString, true, "", "MQTT broker URI: tcp://host:1883 (ssl:// is not supported here)"},
    {"topic", FieldType::kString, true, "", "the topic the sensor or gateway publishes PFWB blocks on (no wildcards)"},
    {"qos", FieldType::kInt, false, "1", "subscription QoS 0, 1 or 2; 1 or 2 lets the broker keep blocks during an outage"},
    {"client_id", FieldType::kString, false, "plantfloor-<source name>",
     "MQTT client id; stable, so the broker keeps the session (and queued blocks) across reconnects"},
    {"username", FieldType::kString, false, "", "MQTT user name"},
    {"password_env", FieldType::kString, false, "", "name of the environment variable holding the MQTT password"},
    {"keepalive", FieldType::kAny, false, "30s", "MQTT keep-alive interval"},
    {"reconnect_min", FieldType::kAny, false, "500ms", "first reconnect delay (doubles up to reconnect_max)"},
    {"reconnect_max", FieldType::kAny, false, "30s", "longest reconnect delay"},
};

constexpr FieldSpec kTagSpec[] = {
    {"channel", FieldType::kInt, true, "", "index of this tag's channel in the block (0-based)"},
};

struct TagBinding {
  TagId id = 0;
  std::string name;
  std::string asset_id;
  uint32_t channel = 0;
};

struct MqttWaveformConfig {
  std::string name;
  std::string broker;
  std::string topic;
  int qos = 1;
  std::string client_id;
  std::string username;
  std::string password;
  Duration keepalive = 30s;
  Duration reconnect_min = 500ms;
  Duration reconnect_max = 30s;
  std::vector<TagBinding> tags;
};

Result<MqttWaveformConfig> ParseConfig(const ConfigNode& table, const std::vector<SourceTagConfig>& tags) {
  ConfigReader r(table, kSourceSpec);
  MqttWaveformConfig c;
  PF_ASSIGN_OR_RETURN(c.name, r.String("name", "mqtt_waveform"));
  PF_ASSIGN_OR_RETURN(c.broker, r.String("broker"));
  if (c.broker.rfind("tcp://", 0) != 0 && c.broker.rfind("mqtt://", 0) != 0)
    return r.Error("broker", fmt::format("expected tcp://host:port, got \"{}\"", c.broker));
  PF_ASSIGN_OR_RETURN(c.topic, r.String("topic"));
  if (c.topic.empty() || c.topic.find_first_of("+#") != std::string::npos)
    return r.Error("topic", fmt::format("one topic without wildcards (+ #) per source, got \"{}\"", c.topic));
  PF_ASSIGN_OR_RETURN(int64_t qos, r.IntIn("qos", 1, 0, 2));
  c.qos = static_cast<int>(qos);
  PF_ASSIGN_OR_RETURN(c.client_id, r.String("client_id", "plantfloor-" + c.name));
  if (c.client_id.empty() || c.client_id.size() > 23 * 4)
    return r.Error("client_id", "must be 1..92 characters");
  PF_ASSIGN_OR_RETURN(c.username, r.String("username"));
  PF_ASSIGN_OR_RETURN(std::string pw_env, r.String("password_env"));
  if (!pw_env.empty()) {
    const char* pw = std::getenv(pw_env.c_str());
    if (!pw) return r.Error("password_env", fmt::format("environment variable {} is not set", pw_env));
    c.password = pw;
  }
  PF_ASSIGN_OR_RETURN(c.keepalive, r.Dur("keepalive", 30s));
  PF_ASSIGN_OR_RETURN(c.reconnect_min, r.Dur("reconnect_min", 500ms));
  PF_ASSIGN_OR_RETURN(c.reconnect_max, r.Dur("reconnect_max", 30s));
  if (c.keepalive < 1s) return r.Error("keepalive", "must be at least 1s");
  if (c.reconnect_min <= Duration::zero() || c.reconnect_max < c.reconnect_min)
    return r.Error("reconnect_max", "need 0 < reconnect_min <= reconnect_max");
  if (tags.empty()) return r.Error("tags", "an mqtt_waveform source needs at least one tag");
  for (const auto& t : tags) {
    ConfigReader tr(*t.node, kTagSpec);
    PF_ASSIGN_OR_RETURN(int64_t ch, tr.IntIn("channel", 0, 0, wave::kMaxChannels - 1));
    c.tags.push_back({t.id, t.name, t.asset_id, static_cast<uint32_t>(ch)});
  }
  return c;
}

class MqttWaveformSource final : public Source {
 public:
  MqttWaveformSource(MqttWaveformConfig cfg, MetricsRegistry& m)
      : cfg_(std::move(cfg)),
        blocks_(m.GetCounter("pf_waveform_blocks_total", "waveform blocks accepted", {{"source", cfg_.name}})),
        rejected_(m.GetCounter("pf_waveform_blocks_rejected_total", "waveform blocks refused (decode/CRC errors)",
                               {{"source", cfg_.name}})),
        missing_(m.GetCounter("pf_waveform_blocks_missing_total", "waveform blocks never received (sequence gaps)",
                              {{"source", cfg_.name}})),
        duplicate_(m.GetCounter("pf_waveform_blocks_duplicate_total", "waveform blocks received twice (dropped)",
                                {{"source", cfg_.name}})),
        reconnects_(m.GetCounter("pf_mqtt_reconnects_total", "MQTT reconnects after a lost connection",
                                 {{"source", cfg_.name}})) {
    tag_bad_.assign(cfg_.tags.size(), false);
  }
  ~MqttWaveformSource() override { Stop(); }

  std::string_view name() const override { return cfg_.name; }

  Status Start(SampleSink& sink) override {
    if (thread_.joinable()) return FailedPrecondition("mqtt_waveform '{}': already started", cfg_.name);
    try {
      mqtt::create_options create(MQTTVERSION_3_1_1);
      client_ = std::make_unique<mqtt::async_client>(cfg_.broker, cfg_.client_id, create, nullptr);
    } catch (const mqtt::exception& e) {
      return InvalidArgument("mqtt_waveform '{}': broker \"{}\": {}", cfg_.name, cfg_.broker, e.what());
    }
    sink_ = &sink;
    stop_ = false;
    thread_ = std::thread([this] { Run(); });
    return Status::Ok();
  }

  void Stop() override {
    {
      std::lock_guard l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  enum class Link { kNever, kUp, kDown };

  bool Stopping() {
    std::lock_guard l(mu_);
    return stop_;
  }
  bool WaitFor(Duration d) {
    std::unique_lock l(mu_);
    return !cv_.wait_for(l, d, [this] { return stop_; });
  }

  void Run() {
    client_->start_consuming();
    Backoff backoff(cfg_.reconnect_min, cfg_.reconnect_max, std::hash<std::string>{}(cfg_.name));
    while (!Stopping()) {
      Status s = Connect();
      if (!s.ok()) {
        MarkDown(s.message());
        if (!WaitFor(backoff.Next())) break;
        continue;
      }
      backoff.Reset();
      MarkUp();
      // Consume until the connection is lost (paho queues an empty message) or Stop().
      while (!Stopping()) {
        mqtt::const_message_ptr msg;
        if (!client_->try_consume_message_for(&msg, 100ms)) continue;
        if (!msg) break;  // connection lost
        HandleMessage(*msg);
      }
      if (Stopping()) break;
      reconnects_.Inc();
      MarkDown("connection to the broker lost");
    }
    try {
      if (client_->is_connected()) client_->disconnect(1000)->wait_for(1500ms);
    } catch (const mqtt::exception&) {
    }
    client_->stop_consuming();
  }

  Status Connect() {
    mqtt::connect_options opts;
    opts.set_mqtt_version(MQTTVERSION_3_1_1);
    opts.set_clean_session(false);  // the broker keeps our subscription and queued QoS>0 blocks
    opts.set_automatic_reconnect(false);
    opts.set_keep_alive_interval(std::chrono::duration_cast<std::chrono::seconds>(cfg_.keepalive));
    opts.set_connect_timeout(5s);
    if (!cfg_.username.empty()) opts.set_user_name(cfg_.username);
    if (!cfg_.password.empty()) opts.set_password(cfg_.password);
    try {
      auto tok = client_->connect(opts);
      while (!tok->wait_for(100ms))
        if (Stopping()) return Unavailable("stopped while connecting");
      auto sub = client_->subscribe(cfg_.topic, cfg_.qos);
      while (!sub->wait_for(100ms))
        if (Stopping()) return Unavailable("stopped while subscribing");
      return Status::Ok();
    } catch (const mqtt::exception& e) {
      return Unavailable("connect/subscribe to {} topic {} failed: {}", cfg_.broker, cfg_.topic, e.what());
    }
  }

  void HandleMessage(const mqtt::message& msg) {
    const auto& payload = msg.get_payload_ref();
    std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(payload.data()), payload.size());
    Status s = wave::Decode(bytes, block_);
    if (!s.ok()) {
      rejected_.Inc();
      RateLimitedStatus("block_rejected", "medium", fmt::format("topic {}: {}", msg.get_topic(), s.message()));
      return;
    }
    std::vector<Sample> bad;
    if (last_seq_) {
      if (block_.seq == *last_seq_) {
        duplicate_.Inc();
        return;
      }
      if (block_.seq < *last_seq_) {
        EmitStatus("sender_restart", "low",
                   fmt::format("sequence went back from {} to {}: the sender restarted", *last_seq_, block_.seq));
      } else if (block_.seq > *last_seq_ + 1) {
        uint64_t lost = block_.seq - *last_seq_ - 1;
        missing_.Inc(lost);
        // The first missing block would have started where the last received one ended.
        Timestamp gap_start = last_end_;
        Timestamp now = Now();
        for (const auto& t : cfg_.tags)
          bad.push_back(Sample{t.id, {}, gap_start, now, ++sample_seq_, Quality::kBad, QualitySub::kGap});
        EmitStatus("blocks_missing", "medium",
                   fmt::format("{} block(s) never received: sequence {}..{}, from {} to {}", lost, *last_seq_ + 1,
                               block_.seq - 1, FormatRfc3339(gap_start), FormatRfc3339(block_.start_time)));
      }
    }
    last_seq_ = block_.seq;
    last_end_ = block_.start_time +
                Duration(static_cast<int64_t>(std::llround(block_.samples_per_channel / block_.sample_rate_hz * 1e9)));
    blocks_.Inc();
    Timestamp now = Now();
    for (size_t i = 0; i < cfg_.tags.size(); ++i) {
      const auto& t = cfg_.tags[i];
      if (t.channel >= block_.channels) {
        if (!tag_bad_[i]) {
          tag_bad_[i] = true;
          bad.push_back(Sample{t.id, {}, block_.start_time, now, ++sample_seq_, Quality::kBad, QualitySub::kConfigError});
          EmitStatus("channel_missing", "medium",
                     fmt::format("tag {}: channel {} is not in the block ({} channels)", t.name, t.channel,
                                 block_.channels));
        }
        continue;
      }
      tag_bad_[i] = false;
    }
    if (!bad.empty() && !sink_->Write(std::move(bad))) return;
    for (size_t i = 0; i < cfg_.tags.size(); ++i) {
      const auto& t = cfg_.tags[i];
      if (t.channel >= block_.channels) continue;
      Block b;
      b.tag = t.id;
      b.start_time = block_.start_time;
      b.sample_rate_hz = block_.sample_rate_hz;
      b.seq = ++sample_seq_;
      b.values = block_.data[t.channel];
      if (!sink_->WriteBlock(std::move(b))) return;
    }
  }

  void MarkUp() {
    if (link_ == Link::kUp) return;
    link_ = Link::kUp;
    EmitStatus("connected", "info", fmt::format("subscribed to {} on {} (QoS {})", cfg_.topic, cfg_.broker, cfg_.qos));
  }
  void MarkDown(const std::string& why) {
    if (link_ == Link::kDown) return;
    const char* state = link_ == Link::kUp ? "disconnected" : "unreachable";
    link_ = Link::kDown;
    PF_LOG_WARN("mqtt_waveform '{}': {}: {}", cfg_.name, state, why);
    EmitStatus(state, "medium", why);
  }

  // At most 20 events per minute of one state, so a sender spraying garbage does not flood the store.
  void RateLimitedStatus(std::string_view state, std::string_view severity, const std::string& detail) {
    int64_t now = MonotonicNs();
    if (now - window_start_ > 60'000'000'000) {
      window_start_ = now;
      window_count_ = 0;
    }
    if (++window_count_ > 20) return;
    PF_LOG_WARN("mqtt_waveform '{}': {}", cfg_.name, detail);
    EmitStatus(state, severity, detail);
  }

  void EmitStatus(std::string_view state, std::string_view severity, const std::string& detail) {
    Event e;
    Timestamp now = Now();
    e.id = NewEventId(now);
    e.asset_id = cfg_.tags.empty() ? "" : cfg_.tags.front().asset_id;
    e.source = "mqtt_waveform:" + cfg_.name;
    e.start = e.end = now;
    e.kind = "source_status";
    e.severity = std::string(severity);
    e.message = fmt::format("mqtt_waveform '{}': {}: {}", cfg_.name, state, detail);
    e.payload_json =
        nlohmann::json{{"state", state}, {"broker", cfg_.broker}, {"topic", cfg_.topic}, {"detail", detail}}.dump();
    sink_->Emit(std::move(e));
  }

  MqttWaveformConfig cfg_;
  Counter& blocks_;
  Counter& rejected_;
  Counter& missing_;
  Counter& duplicate_;
  Counter& reconnects_;
  std::unique_ptr<mqtt::async_client> client_;
  SampleSink* sink_ = nullptr;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  Link link_ = Link::kNever;
  wave::WaveformBlock block_;
  std::optional<uint64_t> last_seq_;
  Timestamp last_end_;
  uint64_t sample_seq_ = 0;
  std::vector<bool> tag_bad_;
  int64_t window_start_ = 0;
  int window_count_ = 0;
};

Result<std::unique_ptr<Source>> CreateMqttWaveform(const ConfigNode& table, const std::vector<SourceTagConfig>& tags,
                                                   MetricsRegistry& metrics) {
  auto cfg = ParseConfig(table, tags);
  if (!cfg.ok()) return cfg.status();
  return std::unique_ptr<Source>(std::make_unique<MqttWaveformSource>(std::move(*cfg), metrics));
}

}  // namespace

ConnectorInfo MqttWaveformConnector() {
  return {"mqtt_waveform",
          "vibration/current waveform blocks (PFWB binary, docs/schema.md) subscribed from an MQTT broker",
          kSourceSpec, kTagSpec, &CreateMqttWaveform};
}

}  // namespace pf
