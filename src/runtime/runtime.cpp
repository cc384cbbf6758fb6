#include "runtime/runtime.h"

#include <cmath>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/log.h"

namespace pf {
namespace {
constexpr size_t kMaxPending = 500'000;  // samples kept in memory while the history store fails
constexpr size_t kFlushBatch = 20'000;
constexpr size_t kMaxPendingEvents = 50'000;
constexpr int64_t kShutdownDrainNs = 2'000'000'000;

double Rms(const std::vector<float>& v) {
  if (v.empty()) return 0;
  double acc = 0;
  for (float x : v) acc += static_cast<double>(x) * x;
  return std::sqrt(acc / static_cast<double>(v.size()));
}
}  // namespace

Runtime::Runtime(PlantConfig config, MetricsRegistry& metrics)
    : config_(std::move(config)), metrics_(metrics), bus_(config_.runtime.queue_capacity) {}

Result<std::unique_ptr<Runtime>> Runtime::Create(PlantConfig config, MetricsRegistry& metrics) {
  std::unique_ptr<Runtime> rt(new Runtime(std::move(config), metrics));
  const PlantConfig& pc = rt->config_;
  std::error_code ec;
  std::filesystem::create_directories(pc.runtime.data_dir, ec);
  if (ec) return Unavailable("cannot create data_dir '{}': {}", pc.runtime.data_dir, ec.message());

  StoreOptions so;
  so.path = pc.store.path;
  so.fsync = pc.store.fsync;
  so.disk_budget_bytes = pc.store.disk_budget_bytes;
  so.retention = pc.history.retention;
  so.metrics = &metrics;
  PF_ASSIGN_OR_RETURN(rt->store_, Store::Open(so));
  for (const TagDef& t : pc.tags) {
    PF_RETURN_IF_ERROR(rt->store_->RegisterTag(t));
    rt->filter_.Configure(t.id, t.store, t.deadband, t.max_store_interval);
    rt->snapshots_.push_back(TagSnapshot{t, std::nullopt, 0});
    rt->tag_index_[t.name] = t.id;
  }
  for (const auto& u : pc.uplinks) {
    PF_ASSIGN_OR_RETURN(auto up, MqttUplink::Create(*u.node, rt->store_->outbox(), metrics));
    rt->uplinks_.push_back(std::move(up));
  }
  for (const auto& s : pc.sources) {
    if (!s.enabled) continue;
    SourceState st;
    st.name = s.name;
    st.type = s.type;
    for (const auto& t : s.tags) st.tags.push_back(t.id);
    rt->source_states_.push_back(std::move(st));
  }
  PF_ASSIGN_OR_RETURN(rt->sources_, CreateSources(pc, metrics));
  PF_ASSIGN_OR_RETURN(rt->alerts_, AlertService::Create(pc, *rt->store_));
  PF_ASSIGN_OR_RETURN(rt->spc_, SpcService::Create(pc, *rt->store_));
  PF_ASSIGN_OR_RETURN(rt->condition_, ConditionService::Create(pc, *rt->store_));
  PF_ASSIGN_OR_RETURN(rt->models_, ModelService::Create(pc, &metrics));
  Runtime* const rtp = rt.get();
  VisionSink vs;
  // The stations' verdict samples and events wait at most 20 ms for the bus: a stalled store must not
  // stall the verdicts the PLC waits for (dropped ones are counted; the station's journal has them).
  vs.write = [rtp](std::vector<Sample>&& b) { return rtp->bus_.PushFor(BusItem(std::move(b)), std::chrono::milliseconds(20)); };
  vs.emit = [rtp](Event&& e) {
    if (e.id.empty()) e.id = NewEventId(e.start.ns ? e.start : Now());
    return rtp->bus_.PushFor(BusItem(std::move(e)), std::chrono::milliseconds(20));
  };
  vs.durable = [rtp](std::vector<Event> e) { return rtp->EmitDurable(std::move(e)); };
  PF_ASSIGN_OR_RETURN(rt->vision_, VisionService::Create(pc, std::move(vs), metrics));

  rt->samples_in_ = &metrics.GetCounter("pf_bus_samples_total", "samples accepted on the bus");
  rt->samples_stored_ = &metrics.GetCounter("pf_history_samples_written_total", "samples written to the history store");
  rt->commits_refused_full_ = &metrics.GetCounter("pf_store_commits_refused_total",
                                                  "group commits refused because the disk budget or disk was full (retried)");
  rt->samples_unknown_tag_ = &metrics.GetCounter("pf_bus_unknown_tag_total", "samples for a tag id the runtime does not know");
  rt->blocks_in_ = &metrics.GetCounter("pf_bus_blocks_total", "waveform blocks accepted on the bus");
  rt->events_in_ = &metrics.GetCounter("pf_events_total", "events recorded");
  rt->alert_events_ = &metrics.GetCounter("pf_alert_events_total", "alert transitions and flood records recorded");
  rt->history_errors_ = &metrics.GetCounter("pf_history_errors_total", "failed history commits (retried)");
  rt->samples_dropped_ = &metrics.GetCounter("pf_history_samples_dropped_total",
                                             "samples dropped because the history store failed for too long");
  rt->flush_seconds_ = &metrics.GetHistogram("pf_history_commit_seconds", "time of one history commit");
  Runtime* self = rt.get();
  metrics.GaugeCallback("pf_queue_depth", "items waiting on a queue", {{"queue", "bus"}},
                        [self] { return static_cast<double>(self->bus_.size()); }, self);
  metrics.GaugeCallback("pf_queue_capacity", "capacity of a queue", {{"queue", "bus"}},
                        [self] { return static_cast<double>(self->bus_.capacity()); }, self);
  metrics.GaugeCallback("pf_queue_full_waits_total", "times a source was paused because a queue was full",
                        {{"queue", "bus"}}, [self] { return static_cast<double>(self->bus_.full_waits()); }, self);
  metrics.GaugeCallback("pf_history_bytes", "bytes on disk of the database (with WAL)", {},
                        [self] { return static_cast<double>(self->store_->history().BytesOnDisk()); }, self);
  for (auto state : {alerts::AlertState::kActiveUnacked, alerts::AlertState::kActiveAcked, alerts::AlertState::kRtnUnacked,
                     alerts::AlertState::kShelved, alerts::AlertState::kSuppressed})
    metrics.GaugeCallback("pf_alerts_current", "current alerts by ISA-18.2 state",
                          {{"state", std::string(alerts::AlertStateName(state))}},
                          [self, state] { return static_cast<double>(self->alerts_->CountInState(state)); }, self);
  metrics.GaugeCallback("pf_alert_rule_errors_total", "rule verdicts the alert engine refused (out-of-order samples)", {},
                        [self] { return static_cast<double>(self->alerts_->errors()); }, self);
  rt->alerts_->RegisterMetrics(metrics, self);
  metrics.GaugeCallback("pf_tags", "configured tags", {}, [self] { return static_cast<double>(self->config_.tags.size()); }, self);

  if (pc.api.enabled) {
    ApiServerOptions ao;
    ao.host = pc.api.host;
    ao.port = pc.api.port;
    if (!pc.vision.empty()) ao.payload_max_bytes = 64u << 20;  // POST /api/v1/inspect: a 5 MP image, even as BMP
    rt->api_ = std::make_unique<ApiServer>(ao, &metrics);
    ApiSources srcs;
    srcs.runtime = self;
    srcs.history = &rt->store_->history();
    srcs.events = &rt->store_->events();
    srcs.metrics = &metrics;
    PF_RETURN_IF_ERROR(AddBuiltinRoutes(*rt->api_, srcs));
    PF_RETURN_IF_ERROR(rt->api_->AddRoute(
        "GET", "/api/v1/outbox", [self](const ApiRequest&) { return self->OutboxResponse(); }, false));
    PF_RETURN_IF_ERROR(
        rt->alerts_->AddRoutes(*rt->api_, [self](std::vector<Event> e) { return self->EmitDurable(std::move(e)); }));
    PF_RETURN_IF_ERROR(
        rt->spc_->AddRoutes(*rt->api_, [self](std::vector<Event> e) { return self->EmitDurable(std::move(e)); }));
    if (!rt->condition_->empty()) PF_RETURN_IF_ERROR(rt->condition_->AddRoutes(*rt->api_));
    if (!rt->models_->empty()) PF_RETURN_IF_ERROR(rt->models_->AddRoutes(*rt->api_));
    if (!rt->vision_->empty()) PF_RETURN_IF_ERROR(rt->vision_->AddRoutes(*rt->api_));
  }
  return rt;
}

Runtime::~Runtime() {
  Stop();
  metrics_.RemoveCallbacks(this);
}

Status Runtime::Start() {
  started_at_ = Now();
  processor_ = std::thread([this] { ProcessLoop(); });
  housekeeper_ = std::thread([this] { Housekeeping(); });
  started_ = true;
  if (api_) PF_RETURN_IF_ERROR_CTX(api_->Start(), "api on {}:{}", config_.api.host, config_.api.port);
  // Uplinks register their outbox cursors before the first sample is committed.
  for (auto& u : uplinks_) PF_RETURN_IF_ERROR_CTX(u->Start(), "uplink '{}'", u->config().name);
  for (auto& s : sources_) {
    PF_RETURN_IF_ERROR_CTX(s->Start(*this), "source '{}'", s->name());
    PF_LOG_INFO("source '{}' started", s->name());
  }
  vision_->Start();
  Event e;
  e.start = e.end = started_at_;
  e.id = NewEventId(e.start);
  e.asset_id = config_.assets.empty() ? "" : config_.assets.front().id;
  e.source = "runtime";
  e.kind = "runtime_started";
  e.severity = "info";
  e.message = fmt::format("plantfloor started: {} sources, {} tags, {} assets", sources_.size(), config_.tags.size(),
                          config_.assets.size());
  Emit(std::move(e));
  return Status::Ok();
}

void Runtime::Stop() {
  if (!started_.exchange(false)) return;
  // No new requests first: an upload or a label answered now must still reach the store.
  if (api_) api_->Stop();
  for (auto& s : sources_) s->Stop();
  vision_->Stop();  // its last verdicts and events still go through the bus
  bus_.Close();
  if (processor_.joinable()) processor_.join();
  {
    std::lock_guard lk(hk_mu_);
    stopping_ = true;
  }
  hk_cv_.notify_all();
  if (housekeeper_.joinable()) housekeeper_.join();
  // Connected uplinks get a short grace period to send what the last commits queued; whatever is
  // left stays in the outbox and goes out after the next start.
  const int64_t drain_deadline = MonotonicNs() + kShutdownDrainNs;
  for (auto& u : uplinks_) {
    u->Wake();
    while (MonotonicNs() < drain_deadline && u->GetState().connected &&
           store_->outbox().Stats(u->config().name).depth > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (auto& u : uplinks_) u->Stop();
  // The run's account, kept in the events table: what came in, what was stored, how often the
  // bus was full (a source paused by backpressure).
  Event e;
  e.start = e.end = Now();
  e.id = NewEventId(e.start);
  e.asset_id = config_.assets.empty() ? "" : config_.assets.front().id;
  e.source = "runtime";
  e.kind = "runtime_stopped";
  e.severity = "info";
  nlohmann::json payload = {{"samples_in", samples_in_->value()},
                            {"samples_stored", samples_stored_->value()},
                            {"samples_dropped", samples_dropped_->value()},
                            {"bus_full_waits", bus_.full_waits()},
                            {"events", events_in_->value()}};
  e.payload_json = payload.dump();
  e.message = fmt::format("plantfloor stopped: {} samples in, {} stored, sources paused {} times by backpressure",
                          samples_in_->value(), samples_stored_->value(), bus_.full_waits());
  CommitBatch last;
  last.events.push_back(e);
  if (auto s = store_->Commit(last); !s.ok()) PF_LOG_ERROR("runtime_stopped event not stored: {}", s.ToString());
  PF_LOG_INFO("{}", e.message);
}

bool Runtime::ShouldExit() const {
  if (!config_.runtime.exit_when_sources_finish || sources_.empty()) return false;
  for (const auto& s : sources_)
    if (!s->Finished()) return false;
  return bus_.size() == 0;
}

int Runtime::api_port() const { return api_ ? api_->port() : 0; }

// Store-and-forward state for operators: per uplink what waits, how old, what was acknowledged;
// the store's size against its budget; the newest loss-ledger entries.
ApiResponse Runtime::OutboxResponse() const {
  using nlohmann::json;
  json uplinks = json::array();
  for (const auto& u : uplinks_) {
    const std::string& name = u->config().name;
    OutboxStats st = store_->outbox().Stats(name);
    MqttUplink::State state = u->GetState();
    Timestamp now = Now();
    uplinks.push_back({{"name", name},
                       {"broker", u->config().broker},
                       {"connected", state.connected},
                       {"depth", st.depth},
                       {"bytes", st.bytes},
                       {"oldest", st.oldest.ns ? json(FormatRfc3339(st.oldest, 9)) : json(nullptr)},
                       {"oldest_age_s", st.oldest.ns ? (now - st.oldest).count() * 1e-9 : 0.0},
                       {"acknowledged", st.acknowledged},
                       {"evicted", st.evicted},
                       {"published", state.published},
                       {"reconnects", state.reconnects},
                       {"last_error", state.last_error.empty() ? json(nullptr) : json(state.last_error)}});
  }
  json ledger = json::array();
  if (auto entries = store_->Ledger(0, 100000); entries.ok()) {
    size_t first = entries->size() > 100 ? entries->size() - 100 : 0;
    for (size_t i = entries->size(); i-- > first;) {
      const LedgerEntry& l = (*entries)[i];
      ledger.push_back({{"id", l.id},
                        {"recorded", FormatRfc3339(l.recorded, 9)},
                        {"asset", l.asset},
                        {"tag", l.tag},
                        {"type", RecordTypeName(l.evicted_type)},
                        {"from", FormatRfc3339(l.from, 9)},
                        {"to", FormatRfc3339(l.to, 9)},
                        {"count", l.count},
                        {"reason", l.reason},
                        {"upstream_loss", l.upstream_loss}});
    }
  }
  auto used = store_->BytesUsed();
  json store = {{"path", config_.store.path},
                {"bytes_used", used.ok() ? json(*used) : json(nullptr)},
                {"disk_budget", config_.store.disk_budget_bytes ? json(config_.store.disk_budget_bytes) : json(nullptr)},
                {"fsync", config_.store.fsync},
                {"commit_window_ms", config_.store.commit_window.count() / 1'000'000}};
  return ApiResponse::Json({{"uplinks", uplinks}, {"store", store}, {"ledger", ledger}});
}

bool Runtime::Alive() const {
  int64_t beat = processor_heartbeat_ns_.load(std::memory_order_relaxed);
  if (beat == 0) return true;  // not started yet
  return MonotonicNs() - beat < std::max<int64_t>(5'000'000'000, 20 * config_.store.commit_window.count());
}

bool Runtime::Write(std::vector<Sample>&& batch) {
  if (batch.empty()) return true;
  if (vision_->latches())
    for (const Sample& s : batch) vision_->OnSample(s);  // part ids latched as read, not after the bus
  return bus_.Push(BusItem(std::move(batch)));
}

bool Runtime::WriteBlock(Block&& block) { return bus_.Push(BusItem(std::move(block))); }

void Runtime::Emit(Event&& event) {
  if (event.id.empty()) event.id = NewEventId(event.start.ns ? event.start : Now());
  if (!bus_.Push(BusItem(std::move(event)))) PF_LOG_WARN("event dropped at shutdown");
}

Status Runtime::EmitDurable(std::vector<Event> events, Duration timeout) {
  if (events.empty()) return Status::Ok();
  auto done = std::make_shared<std::promise<Status>>();
  std::future<Status> result = done->get_future();
  for (Event& e : events)
    if (e.id.empty()) e.id = NewEventId(e.start.ns ? e.start : Now());
  size_t n = events.size();
  if (!bus_.Push(BusItem(DurableEvents{std::move(events), done})))
    return Unavailable("plantfloor is stopping: the {} events were not recorded", n);
  if (result.wait_for(timeout) != std::future_status::ready)
    return Unavailable("the store did not commit within {} ms; the events are queued and will be recorded",
                       std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count());
  return result.get();
}

void Runtime::ProcessLoop() {
  std::vector<BusItem> items;
  std::vector<std::shared_ptr<std::promise<Status>>> waiters;  // DurableEvents waiting for the next commit
  std::vector<Sample> block_samples;
  CommitBatch pending;
  int64_t last_flush = MonotonicNs();
  const int64_t window_ns = config_.store.commit_window.count();
  for (;;) {
    items.clear();
    bool open = bus_.PopBatch(items, 256, std::chrono::milliseconds(20));
    processor_heartbeat_ns_.store(MonotonicNs(), std::memory_order_relaxed);
    for (auto& item : items) {
      if (auto* batch = std::get_if<std::vector<Sample>>(&item)) {
        HandleSamples(*batch, pending);
      } else if (auto* block = std::get_if<Block>(&item)) {
        blocks_in_->Inc();
        // A waveform tag keeps its block RMS as value and history; apps get the waveform itself.
        Sample s;
        s.tag = block->tag;
        s.value = Rms(block->values);
        s.source_time = block->start_time;
        s.receive_time = Now();
        s.seq = block->seq;
        s.quality = block->quality;
        s.sub = block->sub;
        block_samples.assign(1, std::move(s));
        HandleSamples(block_samples, pending);
        if (!condition_->empty()) HandleCondition(*block, pending);
      } else if (auto* ev = std::get_if<Event>(&item)) {
        HandleEvent(*ev, pending);
      } else if (auto* durable = std::get_if<DurableEvents>(&item)) {
        for (Event& e : durable->events) HandleEvent(e, pending);
        waiters.push_back(std::move(durable->done));
      }
    }
    TickAlerts(pending);
    if (condition_->has_overall()) TickCondition(pending);
    if (!models_->empty()) TickModels(pending);
    int64_t now = MonotonicNs();
    bool big = pending.history.size() >= kFlushBatch;
    if (!pending.empty() && (big || !waiters.empty() || now - last_flush >= window_ns || !open)) {
      Status s = Flush(pending);
      last_flush = now;
      for (auto& w : waiters)
        w->set_value(s.ok() ? s
                            : Unavailable("the store refused the commit ({}); the events are kept and retried",
                                          s.message()));
      waiters.clear();
    }
    if (!open) break;
  }
  if (!pending.empty()) (void)Flush(pending);  // a failure is logged by Flush
}

void Runtime::HandleSamples(std::vector<Sample>& batch, CommitBatch& pending) {
  ConditionService::Output overall;
  IngestSamples(batch, pending, overall);
  // After the state lock is released: routing takes it again (and feeds the derived samples back here).
  if (!overall.empty()) RouteCondition(overall, pending);
  // Model outputs (steps triggered by these samples) are samples of their output tags.
  if (!model_out_.empty()) {
    std::vector<Sample> outputs;
    outputs.swap(model_out_);
    HandleSamples(outputs, pending);
  }
}

void Runtime::IngestSamples(std::vector<Sample>& batch, CommitBatch& pending, ConditionService::Output& overall) {
  std::vector<Event> alert_events, spc_events;
  std::vector<alerts::ConditionUpdate> spc_updates;
  // Models first, outside the state lock: an inference must not hold up the API.
  if (!models_->empty()) {
    for (const auto& s : batch) models_->OnSample(s, model_out_);
  }
  std::lock_guard lk(state_mu_);
  for (auto& s : batch) {
    if (s.tag >= snapshots_.size()) {
      samples_unknown_tag_->Inc();
      continue;
    }
    samples_in_->Inc();
    if (!condition_->empty()) {
      condition_->OnSpeed(s);
      condition_->OnSample(s, overall);
    }
    TagSnapshot& snap = snapshots_[s.tag];
    snap.latest = s;
    ++snap.samples;
    const TagDef& def = snap.def;
    if (def.context != ContextRole::kNone && s.quality != Quality::kBad)
      contexts_[def.asset_id][def.context_key] = ValueToString(s.value);
    // Derived tags (monitor outputs, model outputs) say nothing about their source's link.
    for (auto& st : source_states_) {
      if (def.derived) break;
      if (st.name != def.source) continue;
      if (s.quality == Quality::kGood) {
        st.connected = true;
        st.last_success = s.receive_time;
      } else if (s.sub == QualitySub::kCommFailure || s.sub == QualitySub::kNotConnected) {
        st.connected = false;
      }
      break;
    }
    // What the history keeps is also what is forwarded upstream.
    if (filter_.Keep(s)) {
      pending.history.push_back(s);
      if (!uplinks_.empty()) pending.forward.push_back(s);
    }
    if (alerts_->has_rules() || !spc_->empty()) {
      std::string machine_state;
      auto ctx = contexts_.find(def.asset_id);
      if (const std::string& key = alerts_->MachineStateKey(def.asset_id); !key.empty())
        if (ctx != contexts_.end())
          if (auto v = ctx->second.find(key); v != ctx->second.end()) machine_state = v->second;
      alerts_->OnSample(s, machine_state, alert_events);
      if (!spc_->empty()) {
        static const ProductionContext kNoContext;
        spc_updates.clear();
        spc_->OnSample(s, ctx == contexts_.end() ? kNoContext : ctx->second, machine_state, spc_updates, spc_events);
        for (const alerts::ConditionUpdate& u : spc_updates) alerts_->Evaluate(u, alert_events);
      }
    }
  }
  AppendAlertEvents(alert_events, pending);
  AppendSpcEvents(spc_events, pending);
}

void Runtime::HandleCondition(const Block& block, CommitBatch& pending) {
  ConditionService::Output out;
  condition_->OnBlock(block, out);
  RouteCondition(out, pending);
}

void Runtime::TickCondition(CommitBatch& pending) {
  constexpr int64_t kConditionTickNs = 250'000'000;
  int64_t mono = MonotonicNs();
  if (mono - last_condition_tick_ns_ < kConditionTickNs) return;
  last_condition_tick_ns_ = mono;
  std::optional<Timestamp> now = alerts_->AlertNow();  // nullopt: source clock, no watched sample yet
  if (!now) return;
  ConditionService::Output out;
  condition_->Tick(*now, out);
  if (!out.empty()) RouteCondition(out, pending);
}

void Runtime::TickModels(CommitBatch& pending) {
  constexpr int64_t kModelTickNs = 250'000'000;
  const int64_t mono = MonotonicNs();
  if (mono - last_model_tick_ns_ < kModelTickNs) return;
  last_model_tick_ns_ = mono;
  std::vector<Sample> outputs;
  models_->Tick(mono, outputs);
  if (!outputs.empty()) HandleSamples(outputs, pending);
}

void Runtime::RouteCondition(ConditionService::Output& out, CommitBatch& pending) {
  if (!out.samples.empty()) HandleSamples(out.samples, pending);  // derived tags: history, rules, SPC
  if (out.conditions.empty() && out.events.empty()) return;
  std::vector<Event> alert_events;
  std::lock_guard lk(state_mu_);
  for (apps::ConditionChange& c : out.conditions) {
    if (const std::string& key = alerts_->MachineStateKey(c.update.asset); !key.empty())
      if (auto ctx = contexts_.find(c.update.asset); ctx != contexts_.end())
        if (auto v = ctx->second.find(key); v != ctx->second.end()) c.update.machine_state = v->second;
    size_t first = alert_events.size();
    alerts_->Evaluate(c.update, alert_events);
    if (c.evidence_json.empty()) continue;
    // The evidence (matched lines, amplitudes, SNR, margin; sensor figures) goes into the payload
    // of the alert transitions this update caused.
    auto evidence = nlohmann::json::parse(c.evidence_json, nullptr, false);
    for (size_t i = first; i < alert_events.size(); ++i) {
      auto payload = nlohmann::json::parse(alert_events[i].payload_json, nullptr, false);
      if (!payload.is_object() || payload.value("cause", "") != c.update.cause) continue;
      payload["evidence"] = evidence;
      alert_events[i].payload_json = payload.dump();
    }
  }
  AppendAlertEvents(alert_events, pending);
  AppendSpcEvents(out.events, pending);  // baseline events: same handling (context, count)
}

// Called with state_mu_ held: limit_change events of the SPC charts, with the asset's context.
void Runtime::AppendSpcEvents(std::vector<Event>& events, CommitBatch& pending) {
  for (Event& e : events) {
    if (auto it = contexts_.find(e.asset_id); it != contexts_.end() && e.context.empty()) e.context = it->second;
    events_in_->Inc();
    pending.events.push_back(std::move(e));
  }
  events.clear();
}

// Called with state_mu_ held: stamps the asset's production context on each alert event.
void Runtime::AppendAlertEvents(std::vector<Event>& events, CommitBatch& pending) {
  for (Event& e : events) {
    if (auto it = contexts_.find(e.asset_id); it != contexts_.end() && e.context.empty()) e.context = it->second;
    events_in_->Inc();
    alert_events_->Inc();
    pending.events.push_back(std::move(e));
  }
}

void Runtime::TickAlerts(CommitBatch& pending) {
  // The time-driven part (delays, expiries, stale rules, time windows) at most every kTickEvery:
  // a turn per arriving sample must not scan every condition of the plant.
  constexpr int64_t kTickEvery = 10'000'000;  // ns
  std::vector<Event> events;
  std::optional<Timestamp> now = alerts_->AlertNow();  // nullopt: source clock, no watched sample yet
  int64_t mono = MonotonicNs();
  std::lock_guard lk(state_mu_);
  if (now && mono - last_alert_tick_ns_ >= kTickEvery) {
    last_alert_tick_ns_ = mono;
    alerts_->Tick(
        *now,
        [&](const std::string& asset) -> std::string {
          const std::string& key = alerts_->MachineStateKey(asset);
          if (key.empty()) return "";
          auto it = contexts_.find(asset);
          if (it == contexts_.end()) return "";
          auto v = it->second.find(key);
          return v == it->second.end() ? "" : v->second;
        },
        events);
    if (!spc_->empty()) {
      std::vector<alerts::ConditionUpdate> updates;
      std::vector<Event> spc_events;
      spc_->Tick(*now, updates, spc_events);
      for (const alerts::ConditionUpdate& u : updates) alerts_->Evaluate(u, events);
      AppendSpcEvents(spc_events, pending);
    }
  }
  if (!spc_->empty())
    for (auto& [k, v] : spc_->TakeStateIfChanged()) pending.state[k] = std::move(v);
  if (!condition_->empty())
    for (auto& [k, v] : condition_->TakeStateIfChanged()) pending.state[k] = std::move(v);
  AppendAlertEvents(events, pending);
  for (auto& [k, v] : alerts_->TakeStateIfChanged()) pending.state[k] = std::move(v);
}

void Runtime::HandleEvent(Event& e, CommitBatch& pending) {
  events_in_->Inc();
  std::lock_guard lk(state_mu_);
  if (auto it = contexts_.find(e.asset_id); it != contexts_.end() && e.context.empty()) e.context = it->second;
  if (e.kind == "source_status") {
    for (auto& st : source_states_) {
      // Sources name themselves "<type>:<name>" ("modbus:plc1") in the events they emit.
      if (e.source != st.type + ":" + st.name && e.source != st.name) continue;
      auto payload = nlohmann::json::parse(e.payload_json, nullptr, false);
      std::string state = payload.is_object() ? payload.value("state", "") : "";
      if (state == "connected") {
        if (st.connected || st.last_success.ns) ++st.reconnects;
        st.connected = true;
      } else if (state == "disconnected" || state == "unreachable") {
        st.connected = false;
      }
      if (e.severity != "info") st.last_error = e.message;
    }
  }
  pending.events.push_back(std::move(e));
}

Status Runtime::Flush(CommitBatch& pending) {
  int64_t t0 = MonotonicNs();
  Status s = store_->Commit(pending);
  flush_seconds_->Observe(static_cast<double>(MonotonicNs() - t0) * 1e-9);
  if (s.ok()) {
    samples_stored_->Inc(pending.history.size());
    pending.history.clear();
    pending.forward.clear();
    pending.events.clear();
    pending.state.clear();
    for (auto& u : uplinks_) u->Wake();
    return s;
  }
  if (s.code() == StatusCode::kResourceExhausted) commits_refused_full_->Inc();
  else history_errors_->Inc();
  PF_LOG_ERROR("commit of {} samples and {} events failed (kept for retry): {}", pending.history.size(),
               pending.events.size(), s.ToString());
  if (pending.history.size() > kMaxPending) {
    size_t drop = pending.history.size() - kMaxPending;
    samples_dropped_->Inc(drop);
    PF_LOG_ERROR("store failing: dropped the {} oldest pending samples", drop);
    pending.history.erase(pending.history.begin(), pending.history.begin() + static_cast<ptrdiff_t>(drop));
    if (pending.forward.size() > kMaxPending)
      pending.forward.erase(pending.forward.begin(),
                            pending.forward.begin() + static_cast<ptrdiff_t>(pending.forward.size() - kMaxPending));
  }
  if (pending.events.size() > kMaxPendingEvents) {
    size_t drop = pending.events.size() - kMaxPendingEvents;
    PF_LOG_ERROR("store failing: dropped the {} oldest pending events", drop);
    pending.events.erase(pending.events.begin(), pending.events.begin() + static_cast<ptrdiff_t>(drop));
  }
  return s;
}

void Runtime::Housekeeping() {
  // Retention every retention_check; the alarm-rate and precision metrics every kMetricsRefresh.
  constexpr Duration kMetricsRefresh = std::chrono::seconds(10);
  std::unique_lock lk(hk_mu_);
  int64_t next_retention = MonotonicNs();
  while (!stopping_) {
    lk.unlock();
    if (MonotonicNs() >= next_retention) {
      auto deleted = store_->history().EnforceRetention(Now());
      if (!deleted.ok()) PF_LOG_WARN("retention: {}", deleted.status().ToString());
      else if (*deleted > 0) PF_LOG_INFO("retention deleted {} samples", *deleted);
      next_retention = MonotonicNs() + config_.history.retention_check.count();
    }
    if (auto now = alerts_->AlertNow()) alerts_->RefreshMetrics(*now);
    lk.lock();
    hk_cv_.wait_for(lk, std::min<Duration>(kMetricsRefresh, config_.history.retention_check), [&] { return stopping_; });
  }
}

std::vector<Asset> Runtime::Assets() const { return config_.assets; }

std::vector<TagSnapshot> Runtime::Tags() const {
  std::lock_guard lk(state_mu_);
  return snapshots_;
}

std::optional<TagSnapshot> Runtime::FindTag(std::string_view name) const {
  auto it = tag_index_.find(name);
  if (it == tag_index_.end()) return std::nullopt;
  std::lock_guard lk(state_mu_);
  return snapshots_[it->second];
}

std::vector<SourceHealth> Runtime::Sources() const {
  std::vector<SourceHealth> out;
  std::lock_guard lk(state_mu_);
  for (size_t i = 0; i < source_states_.size(); ++i) {
    const auto& st = source_states_[i];
    SourceHealth h;
    h.name = st.name;
    h.type = st.type;
    h.connected = st.connected;
    h.finished = i < sources_.size() && sources_[i]->Finished();
    h.last_error = st.last_error;
    h.reconnects = st.reconnects;
    h.last_success = st.last_success;
    out.push_back(std::move(h));
  }
  return out;
}

ProductionContext Runtime::Context(std::string_view asset_id) const {
  std::lock_guard lk(state_mu_);
  auto it = contexts_.find(asset_id);
  return it == contexts_.end() ? ProductionContext{} : it->second;
}

}  // namespace pf
