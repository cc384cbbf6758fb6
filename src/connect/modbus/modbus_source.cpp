#include "connect/modbus/modbus_source.h"

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "connect/modbus/modbus_client.h"
#include "connect/modbus/modbus_config.h"
#include "connect/modbus/modbus_pacing.h"
#include "core/log.h"

#include <nlohmann/json.hpp>

namespace pf {
namespace modbus {
namespace {

QualitySub SubForException(int code) {
  if (code == 2) return QualitySub::kConfigError;
  if (code == 4) return QualitySub::kDeviceFailure;
  return QualitySub::kCommFailure;
}

struct Metrics {
  Counter* requests;
  std::map<ErrorKind, Counter*> errors;
  Counter* reconnects;
  Histogram* poll_seconds;
  Counter* skipped;
  Counter* samples;
};

Metrics MakeMetrics(MetricsRegistry& reg, const std::string& source) {
  Metrics m;
  Labels l{{"source", source}};
  m.requests = &reg.GetCounter("pf_modbus_requests_total", "Modbus requests sent", l);
  for (ErrorKind k : {ErrorKind::kTimeout, ErrorKind::kCrc, ErrorKind::kException, ErrorKind::kConnect,
                      ErrorKind::kProtocol}) {
    m.errors[k] = &reg.GetCounter("pf_modbus_errors_total", "Modbus request failures by kind",
                                  {{"source", source}, {"kind", std::string(ErrorKindName(k))}});
  }
  m.reconnects = &reg.GetCounter("pf_modbus_reconnects_total", "Modbus reconnect attempts after a loss", l);
  m.poll_seconds = &reg.GetHistogram("pf_modbus_poll_seconds", "Modbus poll cycle duration", l);
  m.skipped = &reg.GetCounter("pf_modbus_skipped_cycles_total", "poll cycles skipped after an overrun", l);
  m.samples = &reg.GetCounter("pf_samples_read_total", "samples read from a source", l);
  return m;
}

class ModbusSource final : public Source {
 public:
  ModbusSource(SourceConfig config, std::vector<ReadBlock> blocks, MetricsRegistry& registry)
      : config_(std::move(config)),
        blocks_(std::move(blocks)),
        metrics_(MakeMetrics(registry, config_.name)),
        pacer_(config_.max_requests_per_s),
        backoff_(config_.reconnect_min, config_.reconnect_max, std::hash<std::string>{}(config_.name)),
        last_sub_(config_.tags.size()) {}
  ~ModbusSource() override { Stop(); }

  std::string_view name() const override { return config_.name; }

  Status Start(SampleSink& sink) override {
    if (thread_.joinable()) return FailedPrecondition("modbus '{}': already started", config_.name);
    sink_ = &sink;
    stop_ = false;
    thread_ = std::thread([this] { Run(); });
    return Status::Ok();
  }

  void Stop() override {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  enum class Link { kNever, kUp, kDown };

  // Sleeps until the steady-clock deadline; false when Stop() was asked.
  bool SleepUntil(int64_t deadline_ns) {
    std::unique_lock lock(mu_);
    auto deadline = std::chrono::steady_clock::time_point(std::chrono::nanoseconds(deadline_ns));
    cv_.wait_until(lock, deadline, [this] { return stop_.load(); });
    return !stop_;
  }

  void Run() {
    Client client(config_.endpoint, config_.client);
    const int64_t period = config_.poll.count();
    int64_t next = MonotonicNs();
    while (SleepUntil(next)) {
      int64_t t0 = MonotonicNs();
      PollOnce(client);
      metrics_.poll_seconds->Observe(static_cast<double>(MonotonicNs() - t0) * 1e-9);
      next += period;
      int64_t now = MonotonicNs();
      if (now > next) {
        int64_t missed = (now - next) / period + 1;
        next += missed * period;
        metrics_.skipped->Inc(static_cast<uint64_t>(missed));
      }
    }
    client.Close();
  }

  void PollOnce(Client& client) {
    std::vector<Sample> batch;
    if (!client.connected() && !TryConnect(client, batch)) {
      Deliver(batch);
      return;
    }
    Timestamp poll_time = Now();
    std::vector<uint16_t> regs;
    for (const ReadBlock& block : blocks_) {
      Status s = ReadWithRetries(client, block, &regs);
      if (stop_) return;
      if (s.ok()) {
        DecodeBlock(block, regs, poll_time, batch);
        continue;
      }
      if (client.last_error() == ErrorKind::kException) {
        MarkBad(block.items, SubForException(client.last_exception()), batch);
        LogOnce(s);
        MarkUp();
        continue;
      }
      if (client.last_error() == ErrorKind::kCrc || client.last_error() == ErrorKind::kProtocol) {
        MarkBad(block.items, QualitySub::kCommFailure, batch);
        LogOnce(s);
        continue;  // the link still works; the next block may read fine
      }
      client.Close();
      MarkAllBad(batch);
      LinkLost(s);
      break;
    }
    Deliver(batch);
  }

  bool TryConnect(Client& client, std::vector<Sample>& batch) {
    if (MonotonicNs() < reconnect_at_) return false;
    if (link_ != Link::kNever || attempted_) metrics_.reconnects->Inc();
    attempted_ = true;
    Status s = client.Connect();
    if (s.ok()) return true;
    metrics_.errors[ErrorKind::kConnect]->Inc();
    MarkAllBad(batch);
    LinkLost(s);
    return false;
  }

  Status ReadWithRetries(Client& client, const ReadBlock& block, std::vector<uint16_t>* regs) {
    Status s;
    for (int attempt = 0; attempt <= config_.retries; ++attempt) {
      if (!SleepUntil(pacer_.NextAllowedNs())) return Unavailable("modbus '{}': stopping", config_.name);
      pacer_.Sent(MonotonicNs());
      metrics_.requests->Inc();
      s = client.Read(block.table, block.start, block.count, regs);
      if (s.ok()) {
        MarkUp();
        return s;
      }
      ErrorKind kind = client.last_error();
      metrics_.errors[kind]->Inc();
      bool retry = kind == ErrorKind::kCrc || kind == ErrorKind::kProtocol ||
                   (kind == ErrorKind::kTimeout && config_.endpoint.kind == Endpoint::Kind::kRtu);
      if (!retry || stop_) break;
      client.Flush();
    }
    return s.WithContext(fmt::format("modbus '{}'", config_.name));
  }

  void DecodeBlock(const ReadBlock& block, const std::vector<uint16_t>& regs, Timestamp poll_time,
                   std::vector<Sample>& batch) {
    Timestamp received = Now();
    for (size_t idx : block.items) {
      const TagConfig& tag = config_.tags[idx];
      size_t first = tag.address.offset - block.start;
      Sample smp{tag.id, {}, poll_time, received, 0, Quality::kGood, QualitySub::kNone};
      if (IsBitTable(tag.address.table)) {
        smp.value = regs[first] != 0;
      } else {
        std::span<const uint16_t> span(regs.data() + first, static_cast<size_t>(tag.registers()));
        auto v = Decode(span, tag.type, tag.order, tag.address.bit);
        if (!v.ok()) {
          EmitBad(idx, QualitySub::kParseError, batch);
          LogOnce(v.status().WithContext(fmt::format("modbus '{}': tag '{}' ({})", config_.name, tag.name,
                                                     FormatAddress(tag.address))));
          continue;
        }
        smp.value = tag.scaled ? ApplyScale(*v, tag.scale, tag.offset) : *v;
      }
      smp.seq = ++seq_;
      last_sub_[idx] = QualitySub::kNone;
      batch.push_back(std::move(smp));
    }
  }

  void EmitBad(size_t idx, QualitySub sub, std::vector<Sample>& batch) {
    if (last_sub_[idx] == sub) return;  // already reported bad with this sub-code
    last_sub_[idx] = sub;
    Timestamp now = Now();
    batch.push_back(Sample{config_.tags[idx].id, {}, now, now, ++seq_, Quality::kBad, sub});
  }
  void MarkBad(const std::vector<size_t>& items, QualitySub sub, std::vector<Sample>& batch) {
    for (size_t idx : items) EmitBad(idx, sub, batch);
  }
  void MarkAllBad(std::vector<Sample>& batch) {
    for (size_t i = 0; i < config_.tags.size(); ++i) EmitBad(i, QualitySub::kCommFailure, batch);
  }

  void Deliver(std::vector<Sample>& batch) {
    if (batch.empty()) return;
    size_t n = batch.size();
    if (sink_->Write(std::move(batch))) metrics_.samples->Inc(n);
  }

  void MarkUp() {
    backoff_.Reset();
    if (link_ == Link::kUp) return;
    link_ = Link::kUp;
    logged_.clear();
    EmitStatus("connected", "info", fmt::format("connected to {} unit {}", config_.endpoint.ToString(),
                                                config_.client.unit));
  }

  void LinkLost(const Status& why) {
    reconnect_at_ = MonotonicNs() + backoff_.Next().count();
    if (link_ == Link::kDown) return;
    const char* state = link_ == Link::kUp ? "disconnected" : "unreachable";
    link_ = Link::kDown;
    EmitStatus(state, "medium", why.message());
  }

  void EmitStatus(std::string_view state, std::string_view severity, const std::string& detail) {
    Event e;
    Timestamp now = Now();
    e.id = NewEventId(now);
    e.asset_id = config_.tags.empty() ? "" : config_.tags.front().asset_id;
    e.source = "modbus:" + config_.name;
    e.start = e.end = now;
    e.kind = "source_status";
    e.severity = std::string(severity);
    e.message = fmt::format("modbus '{}': {}: {}", config_.name, state, detail);
    e.payload_json = nlohmann::json{{"state", state},
                                    {"endpoint", config_.endpoint.ToString()},
                                    {"unit", config_.client.unit},
                                    {"detail", detail}}
                         .dump();
    sink_->Emit(std::move(e));
  }

  // Logs an error once per distinct message until the link is up again, so a broken tag does not
  // flood the log every cycle.
  void LogOnce(const Status& s) {
    if (logged_.insert(s.message()).second) PF_LOG_WARN("{}", s.message());
  }

  SourceConfig config_;
  std::vector<ReadBlock> blocks_;
  Metrics metrics_;
  RequestPacer pacer_;
  Backoff backoff_;
  std::vector<std::optional<QualitySub>> last_sub_;  // nullopt = nothing sent yet
  SampleSink* sink_ = nullptr;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> stop_{false};
  Link link_ = Link::kNever;
  bool attempted_ = false;
  int64_t reconnect_at_ = 0;
  uint64_t seq_ = 0;
  std::set<std::string> logged_;
};

Result<std::unique_ptr<Source>> Create(const ConfigNode& table, const std::vector<SourceTagConfig>& tags,
                                       MetricsRegistry& metrics) {
  PF_ASSIGN_OR_RETURN(SourceConfig config, ReadSourceConfig(table, tags));
  std::vector<PlanItem> items;
  for (const auto& t : config.tags)
    items.push_back(PlanItem{t.address.table, t.address.offset, static_cast<uint16_t>(t.registers())});
  auto blocks = PlanBlocks(items, config.plan);
  if (!blocks.ok()) return blocks.status().WithContext(fmt::format("modbus '{}'", config.name));
  return std::unique_ptr<Source>(new ModbusSource(std::move(config), std::move(*blocks), metrics));
}

}  // namespace
}  // namespace modbus

ConnectorInfo ModbusConnector() {
  return ConnectorInfo{"modbus", "Modbus TCP/RTU PLC, read-only, polled (libmodbus)", modbus::SourceSpec(),
                       modbus::TagSpec(), &modbus::Create};
}

}  // namespace pf
