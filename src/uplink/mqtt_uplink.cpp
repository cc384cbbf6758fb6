#include "uplink/mqtt_uplink.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include <mqtt/async_client.h>

#include "core/log.h"
#include "uplink/drain_limiter.h"
#include "uplink/uplink_payload.h"

namespace pf {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kIdlePoll = 20ms;         // how often an idle uplink looks for new records
constexpr auto kFullWindowPoll = 100ms;  // longest wait for a PUBACK when the window is full
constexpr auto kDisconnectTimeout = 1s;
constexpr size_t kMaxPeekBytes = 4 << 20;

int Seconds(Duration d, int min) {
  return std::max<int>(min, static_cast<int>(std::chrono::ceil<std::chrono::seconds>(d).count()));
}

}  // namespace

class MqttUplink::Impl : public mqtt::iaction_listener {
 public:
  Impl(uplink::MqttUplinkConfig config, OutboxReader& outbox, MetricsRegistry& metrics)
      : config_(std::move(config)),
        outbox_(outbox),
        labels_{{"uplink", config_.name}},
        connected_(metrics.GetGauge("pf_uplink_connected", "1 while the uplink is connected to its broker", labels_)),
        published_(metrics.GetCounter("pf_uplink_published_total", "records published (resends included)", labels_)),
        acked_total_(metrics.GetCounter("pf_uplink_acked_total", "records acknowledged by the broker (PUBACK)", labels_)),
        bytes_(metrics.GetCounter("pf_uplink_bytes_total", "topic + payload bytes published", labels_)),
        reconnects_(metrics.GetCounter("pf_uplink_reconnects_total", "connection losses followed by a reconnect", labels_)),
        errors_(metrics.GetCounter("pf_uplink_errors_total", "connect, publish and outbox errors", labels_)),
        latency_(metrics.GetHistogram("pf_uplink_publish_latency_seconds", "publish to PUBACK", labels_)),
        depth_(metrics.GetGauge("pf_uplink_outbox_depth", "records this uplink has not had acknowledged", labels_)),
        depth_bytes_(metrics.GetGauge("pf_uplink_outbox_bytes", "approximate bytes of those records", labels_)),
        oldest_age_(metrics.GetGauge("pf_uplink_outbox_oldest_age_seconds", "age of the oldest unacknowledged record", labels_)),
        limiter_(config_.drain_rate_bytes_s),
        rng_(std::random_device{}()) {}

  ~Impl() override { Stop(); }

  Status CreateClient() {
    try {
      // Paho queues publishes in its own command buffer (default 100) and refuses the one beyond
      // it; the uplink's window must fit. Nothing is buffered while disconnected: the outbox
      // resends from its cursor, a second copy from Paho would come out of order.
      mqtt::create_options create(MQTTVERSION_3_1_1);
      create.set_max_buffered_messages(config_.max_inflight + 16);
      create.set_send_while_disconnected(false);
      client_ = std::make_unique<mqtt::async_client>(config_.broker, config_.client_id, create, nullptr);
      client_->set_connection_lost_handler([this](const std::string& cause) { OnConnectionLost(cause); });
    } catch (const mqtt::exception& e) {
      return InvalidArgument("mqtt uplink '{}': broker \"{}\": {}", config_.name, config_.broker, e.what());
    }
    return Status::Ok();
  }

  Status Start() {
    std::lock_guard lock(start_mu_);
    if (thread_.joinable()) return FailedPrecondition("mqtt uplink '{}': already started", config_.name);
    PF_RETURN_IF_ERROR_CTX(outbox_.RegisterUplink(config_.name), "mqtt uplink '{}'", config_.name);
    {
      std::lock_guard l(mu_);
      stop_ = false;
    }
    thread_ = std::thread([this] { Run(); });
    return Status::Ok();
  }

  void Stop() {
    std::lock_guard lock(start_mu_);
    {
      std::lock_guard l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  void Wake() {
    {
      std::lock_guard l(mu_);
      wake_ = true;
    }
    cv_.notify_all();
  }

  State GetState() const {
    State s;
    s.connected = connected_.value() > 0;
    s.published = published_.value();
    s.acked = acked_total_.value();
    s.bytes = bytes_.value();
    s.reconnects = reconnects_.value();
    std::lock_guard l(mu_);
    s.last_error = last_error_;
    return s;
  }

  const uplink::MqttUplinkConfig& config() const { return config_; }

  // Paho's thread: PUBACK of one publish.
  void on_success(const mqtt::token& tok) override {
    uint64_t pub = reinterpret_cast<uintptr_t>(tok.get_user_context());
    {
      std::lock_guard l(mu_);
      auto it = inflight_.find(pub);
      if (it == inflight_.end()) return;
      latency_.Observe(std::chrono::duration<double>(Clock::now() - it->second.sent).count());
      if (it->second.session == session_) --inflight_current_;
      acked_.push_back(it->second.record);
      inflight_.erase(it);
    }
    cv_.notify_all();
  }

  // Paho's thread: a publish failed (the connection broke, or the client was torn down).
  void on_failure(const mqtt::token& tok) override {
    uint64_t pub = reinterpret_cast<uintptr_t>(tok.get_user_context());
    {
      std::lock_guard l(mu_);
      auto it = inflight_.find(pub);
      if (it == inflight_.end()) return;
      if (it->second.session == session_) {
        --inflight_current_;
        lost_ = true;
        last_error_ = fmt::format("publish of record {} failed (rc {})", it->second.record, tok.get_return_code());
      }
      inflight_.erase(it);
    }
    cv_.notify_all();
  }

 private:
  struct Inflight {
    uint64_t record = 0;
    uint64_t session = 0;
    Clock::time_point sent;
  };

  void OnConnectionLost(const std::string& cause) {
    {
      std::lock_guard l(mu_);
      lost_ = true;
      last_error_ = fmt::format("connection to {} lost{}{}", config_.broker, cause.empty() ? "" : ": ", cause);
    }
    cv_.notify_all();
  }

  void Run() {
    int failures = 0;
    bool connected = false;
    auto next_gauges = Clock::now();
    while (!Stopping()) {
      if (!connected) {
        Status s = Connect();
        if (Stopping()) break;
        if (!s.ok()) {
          NoteError(s.message());
          if (failures == 0) PF_LOG_WARN("{}", s.message());
          if (!WaitFor(Backoff(failures++))) break;
          continue;
        }
        if (failures > 0 || ever_connected_) PF_LOG_INFO("mqtt uplink '{}': connected to {}", config_.name, config_.broker);
        failures = 0;
        connected = true;
        ever_connected_ = true;
        connected_.Set(1);
        DrainAcks();
        outbox_.Rewind(config_.name);
      }
      DrainAcks();
      if (TakeLost()) {
        connected = false;
        connected_.Set(0);
        reconnects_.Inc();
        errors_.Inc();
        PF_LOG_WARN("mqtt uplink '{}': {}; resending from the outbox cursor after reconnect", config_.name, LastError());
        QuietDisconnect(0ms);
        DrainAcks();
        outbox_.Rewind(config_.name);
        if (!WaitFor(Backoff(0))) break;
        continue;
      }
      if (Clock::now() >= next_gauges) {
        UpdateOutboxGauges();
        next_gauges = Clock::now() + 1s;
      }
      // Refill the window in chunks, not one record per PUBACK: each Peek is an SQL query under
      // the store's connection mutex, which a group commit holds through its fsync.
      size_t window = FreeWindow();
      if (window < RefillThreshold()) {
        WaitWindow(RefillThreshold(), kFullWindowPoll);
        if (FreeWindow() == 0) continue;
        window = FreeWindow();
      }
      auto records = outbox_.Peek(config_.name, std::min<size_t>(window, config_.batch), kMaxPeekBytes);
      if (!records.ok()) {
        NoteError(fmt::format("mqtt uplink '{}': outbox: {}", config_.name, records.status().ToString()));
        PF_LOG_ERROR("{}", LastError());
        if (!WaitFor(1s)) break;
        continue;
      }
      if (records->empty()) {
        WaitEvent(kIdlePoll);
        continue;
      }
      for (const OutboxRecord& r : *records)
        if (!Publish(r)) break;  // lost or stopping: the next turn rewinds or exits
    }
    DrainAcks();
    QuietDisconnect(kDisconnectTimeout);
    connected_.Set(0);
  }

  Status Connect() {
    mqtt::connect_options opts;
    opts.set_mqtt_version(MQTTVERSION_3_1_1);
    opts.set_clean_session(true);  // the outbox, not the broker session, holds what is unacknowledged
    opts.set_automatic_reconnect(false);
    opts.set_keep_alive_interval(Seconds(config_.keepalive, 1));
    opts.set_connect_timeout(Seconds(config_.connect_timeout, 1));
    opts.set_max_inflight(config_.max_inflight);
    if (!config_.username.empty()) opts.set_user_name(config_.username);
    if (!config_.password.empty()) opts.set_password(config_.password);
    if (config_.tls.enabled) {
      mqtt::ssl_options ssl;
      if (!config_.tls.ca_file.empty()) ssl.set_trust_store(config_.tls.ca_file);
      if (!config_.tls.cert_file.empty()) ssl.set_key_store(config_.tls.cert_file);
      if (!config_.tls.key_file.empty()) ssl.set_private_key(config_.tls.key_file);
      ssl.set_enable_server_cert_auth(config_.tls.verify);
      ssl.set_verify(config_.tls.verify);
      ssl.set_error_handler([this](const std::string& msg) {
        std::lock_guard l(mu_);
        if (tls_error_.empty()) tls_error_ = msg;
      });
      opts.set_ssl(std::move(ssl));
    }
    {
      std::lock_guard l(mu_);
      tls_error_.clear();
      lost_ = false;
      ++session_;
      inflight_current_ = 0;
      // PUBACKs of an older connection cannot arrive on a new one.
      inflight_.clear();
    }
    try {
      mqtt::token_ptr tok = client_->connect(opts);
      while (!tok->wait_for(100ms))
        if (Stopping()) return Unavailable("mqtt uplink '{}': stopped while connecting", config_.name);
      return Status::Ok();
    } catch (const mqtt::exception& e) {
      std::string tls;
      {
        std::lock_guard l(mu_);
        tls = tls_error_;
      }
      while (!tls.empty() && (tls.back() == '\n' || tls.back() == '\r')) tls.pop_back();
      return Unavailable("mqtt uplink '{}': connect to {} failed: {}{}{}", config_.name, config_.broker, e.what(),
                         tls.empty() ? "" : "; TLS: ", tls);
    }
  }

  void QuietDisconnect(Duration timeout) {
    try {
      if (!client_->is_connected()) return;
      mqtt::token_ptr tok = client_->disconnect(static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count()));
      tok->wait_for(std::chrono::duration_cast<std::chrono::milliseconds>(timeout) + 500ms);
    } catch (const mqtt::exception&) {
      // Already disconnected: nothing to do.
    }
  }

  bool Publish(const OutboxRecord& r) {
    uplink::Encoded e = uplink::Encode(r, config_.topic_prefix, config_.device);
    for (;;) {
      auto wait = limiter_.Wait(e.bytes(), Clock::now());
      if (wait == Clock::duration::zero()) break;
      if (!WaitFor(wait)) return false;
    }
    uint64_t pub;
    {
      std::lock_guard l(mu_);
      if (lost_ || stop_) return false;
      pub = next_pub_++;
      inflight_[pub] = Inflight{r.id, session_, Clock::now()};
      ++inflight_current_;
    }
    try {
      auto msg = mqtt::make_message(e.topic, e.payload.data(), e.payload.size(), config_.qos, false);
      client_->publish(msg, reinterpret_cast<void*>(static_cast<uintptr_t>(pub)), *this);
    } catch (const mqtt::exception& ex) {
      {
        std::lock_guard l(mu_);
        if (inflight_.erase(pub) > 0) --inflight_current_;
        lost_ = true;
        last_error_ = fmt::format("publish of record {} to {} failed: {}", r.id, e.topic, ex.what());
      }
      return false;
    }
    limiter_.Take(e.bytes(), Clock::now());
    published_.Inc();
    bytes_.Inc(e.bytes());
    return true;
  }

  void DrainAcks() {
    std::vector<uint64_t> ids;
    {
      std::lock_guard l(mu_);
      ids.swap(acked_);
    }
    for (uint64_t id : ids) {
      Status s = outbox_.Ack(config_.name, id);
      if (s.ok()) {
        acked_total_.Inc();
      } else {
        // The record stays unacknowledged in the outbox and is sent again after a reconnect.
        NoteError(fmt::format("mqtt uplink '{}': outbox ack of record {}: {}", config_.name, id, s.ToString()));
        PF_LOG_ERROR("{}", LastError());
      }
    }
  }

  void UpdateOutboxGauges() {
    OutboxStats st = outbox_.Stats(config_.name);
    depth_.Set(static_cast<double>(st.depth));
    depth_bytes_.Set(static_cast<double>(st.bytes));
    oldest_age_.Set(st.oldest.ns == 0 ? 0.0 : std::chrono::duration<double>(Now() - st.oldest).count());
  }

  // Full jitter: uniform in [0, min(reconnect_max, reconnect_min * 2^n)].
  Duration Backoff(int n) {
    double cap = static_cast<double>(config_.reconnect_min.count()) * std::pow(2.0, std::min(n, 30));
    cap = std::min(cap, static_cast<double>(config_.reconnect_max.count()));
    std::uniform_real_distribution<double> d(0, cap);
    return Duration(static_cast<int64_t>(d(rng_)));
  }

  size_t FreeWindow() const {
    std::lock_guard l(mu_);
    return inflight_current_ >= static_cast<size_t>(config_.max_inflight)
               ? 0 : static_cast<size_t>(config_.max_inflight) - inflight_current_;
  }
  // Free slots worth a Peek while records are in flight: a quarter of the window (at most a batch).
  size_t RefillThreshold() const {
    return std::max<size_t>(1, std::min<size_t>(static_cast<size_t>(config_.max_inflight) / 4,
                                                static_cast<size_t>(config_.batch)));
  }
  // Sleeps up to d or until `free` slots are free, a loss or Stop(). PUBACKs free slots at once
  // (on_success); their outbox acknowledgements wait for the next DrainAcks.
  void WaitWindow(size_t free, Duration d) {
    std::unique_lock l(mu_);
    cv_.wait_for(l, d, [&] {
      return stop_ || lost_ || inflight_current_ + free <= static_cast<size_t>(config_.max_inflight);
    });
  }
  bool Stopping() const {
    std::lock_guard l(mu_);
    return stop_;
  }
  bool TakeLost() {
    std::lock_guard l(mu_);
    bool lost = lost_;
    lost_ = false;
    if (lost) {
      ++session_;  // failures of publishes sent before the loss no longer count
      inflight_current_ = 0;
    }
    return lost;
  }
  // Sleeps up to d unless stopped or the connection is lost; false when stopping.
  bool WaitFor(Duration d) {
    std::unique_lock l(mu_);
    cv_.wait_for(l, d, [this] { return stop_ || lost_; });
    return !stop_;
  }
  // Sleeps up to d or until a PUBACK, a loss, a Wake() or Stop().
  void WaitEvent(Duration d) {
    std::unique_lock l(mu_);
    cv_.wait_for(l, d, [this] { return stop_ || lost_ || wake_ || !acked_.empty(); });
    wake_ = false;
  }
  void NoteError(std::string msg) {
    errors_.Inc();
    std::lock_guard l(mu_);
    last_error_ = std::move(msg);
  }
  std::string LastError() const {
    std::lock_guard l(mu_);
    return last_error_;
  }

  const uplink::MqttUplinkConfig config_;
  OutboxReader& outbox_;
  const Labels labels_;
  Gauge& connected_;
  Counter& published_;
  Counter& acked_total_;
  Counter& bytes_;
  Counter& reconnects_;
  Counter& errors_;
  Histogram& latency_;
  Gauge& depth_;
  Gauge& depth_bytes_;
  Gauge& oldest_age_;
  uplink::DrainLimiter limiter_;  // worker thread only
  std::mt19937_64 rng_;           // worker thread only
  bool ever_connected_ = false;   // worker thread only

  std::mutex start_mu_;  // serializes Start/Stop
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false, lost_ = false, wake_ = false;
  std::vector<uint64_t> acked_;            // PUBACKed record ids not yet passed to the outbox
  std::map<uint64_t, Inflight> inflight_;  // key: publish number (the Paho user context)
  uint64_t next_pub_ = 1;
  uint64_t session_ = 0;
  size_t inflight_current_ = 0;  // entries of the current session
  std::string last_error_, tls_error_;
  std::thread thread_;
  // Last member: destroyed first, so Paho's callbacks never see a destroyed Impl.
  std::unique_ptr<mqtt::async_client> client_;
};

MqttUplink::MqttUplink(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MqttUplink::~MqttUplink() { Stop(); }

Result<std::unique_ptr<MqttUplink>> MqttUplink::Create(const ConfigNode& table, OutboxReader& outbox,
                                                       MetricsRegistry& metrics) {
  PF_ASSIGN_OR_RETURN(uplink::MqttUplinkConfig config, uplink::ParseMqttUplinkConfig(table));
  return Create(std::move(config), outbox, metrics);
}

Result<std::unique_ptr<MqttUplink>> MqttUplink::Create(uplink::MqttUplinkConfig config, OutboxReader& outbox,
                                                       MetricsRegistry& metrics) {
  auto impl = std::make_unique<Impl>(std::move(config), outbox, metrics);
  PF_RETURN_IF_ERROR(impl->CreateClient());
  return std::unique_ptr<MqttUplink>(new MqttUplink(std::move(impl)));
}

Status MqttUplink::Start() { return impl_->Start(); }
void MqttUplink::Stop() {
  if (impl_) impl_->Stop();
}
void MqttUplink::Wake() { impl_->Wake(); }
MqttUplink::State MqttUplink::GetState() const { return impl_->GetState(); }
const uplink::MqttUplinkConfig& MqttUplink::config() const { return impl_->config(); }

}  // namespace pf
