#pragma once
// The running plant: sources -> one bounded bus -> the processor (latest values, production
// context, store-on-change, history and events) -> SQLite; the API reads through RuntimeView.
//
// Threads: one or more per source (owned by the source), one processor, one housekeeping
// (retention), the API's pool. Backpressure: SampleSink::Write blocks while the bus is full, so a
// fast source is paused, never buffered without bound.
// Shutdown (Stop): sources first, then the bus is drained and flushed, then the API, then stores.
#include <atomic>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <variant>
#include <vector>

#include "api/api_server.h"
#include "api/routes.h"
#include "api/runtime_view.h"
#include "connect/source.h"
#include "core/bounded_queue.h"
#include "core/metrics.h"
#include "runtime/alert_service.h"
#include "runtime/condition_service.h"
#include "runtime/model_service.h"
#include "runtime/plant_config.h"
#include "runtime/spc_service.h"
#include "runtime/vision_service.h"
#include "store/store.h"
#include "uplink/mqtt_uplink.h"

namespace pf {

class Runtime final : public RuntimeView, public SampleSink {
 public:
  // metrics must outlive the runtime.
  static Result<std::unique_ptr<Runtime>> Create(PlantConfig config, MetricsRegistry& metrics);
  ~Runtime() override;

  Status Start();
  void Stop();
  // True when exit_when_sources_finish is set and every enabled source has finished.
  bool ShouldExit() const;
  int api_port() const;
  const PlantConfig& config() const { return config_; }
  Store& store() { return *store_; }
  // False when the processor has not turned for several commit windows (a hung thread): the
  // service watchdog then stops being fed and systemd restarts the process.
  bool Alive() const;

  // SampleSink (called by sources, any thread)
  bool Write(std::vector<Sample>&& batch) override;
  bool WriteBlock(Block&& block) override;
  void Emit(Event&& event) override;
  // Operator actions (ack, feedback, maintenance records): the events are committed before this
  // returns, so an answered request survives kill -9. Unavailable when the store refused the
  // commit within `timeout` (the events are kept for retry) or the runtime is stopping.
  Status EmitDurable(std::vector<Event> events, Duration timeout = std::chrono::seconds(10));

  // RuntimeView (called by API threads)
  std::vector<Asset> Assets() const override;
  std::vector<TagSnapshot> Tags() const override;
  std::optional<TagSnapshot> FindTag(std::string_view name) const override;
  std::vector<SourceHealth> Sources() const override;
  ProductionContext Context(std::string_view asset_id) const override;
  Timestamp StartedAt() const override { return started_at_; }

 private:
  // Events whose commit a caller waits for (EmitDurable).
  struct DurableEvents {
    std::vector<Event> events;
    std::shared_ptr<std::promise<Status>> done;
  };
  using BusItem = std::variant<std::vector<Sample>, Block, Event, DurableEvents>;
  struct SourceState {
    std::string name, type;
    std::vector<TagId> tags;
    bool connected = false;
    std::string last_error;
    uint64_t reconnects = 0;
    Timestamp last_success;
  };

  Runtime(PlantConfig config, MetricsRegistry& metrics);
  void ProcessLoop();
  void Housekeeping();
  void HandleSamples(std::vector<Sample>& batch, CommitBatch& pending);
  // HandleSamples without the overall-value monitors' output, which it collects in `overall`.
  void IngestSamples(std::vector<Sample>& batch, CommitBatch& pending, ConditionService::Output& overall);
  void HandleEvent(Event& e, CommitBatch& pending);
  Status Flush(CommitBatch& pending);
  // Alert rules and engine: time-driven verdicts and the snapshot, once per processor turn.
  void TickAlerts(CommitBatch& pending);
  void AppendAlertEvents(std::vector<Event>& events, CommitBatch& pending);
  void AppendSpcEvents(std::vector<Event>& events, CommitBatch& pending);
  // A waveform block through the condition monitors: derived samples, alerts with evidence, events.
  void HandleCondition(const Block& block, CommitBatch& pending);
  // What condition monitors made (derived samples, condition updates with evidence, events) into
  // history, the alert engine and the events table.
  void RouteCondition(ConditionService::Output& out, CommitBatch& pending);
  // Staleness of the overall-value tags on the alert clock, every kConditionTickNs.
  void TickCondition(CommitBatch& pending);
  void TickModels(CommitBatch& pending);  // ModelService::Tick every 250 ms of the processor thread (monotonic)
  ApiResponse OutboxResponse() const;

  PlantConfig config_;
  MetricsRegistry& metrics_;
  std::unique_ptr<Store> store_;
  std::vector<std::unique_ptr<Source>> sources_;
  std::vector<std::unique_ptr<MqttUplink>> uplinks_;
  std::atomic<int64_t> processor_heartbeat_ns_{0};
  int64_t last_alert_tick_ns_ = 0;  // processor thread: monotonic time of the last alert tick
  int64_t last_condition_tick_ns_ = 0;  // processor thread: same for TickCondition
  int64_t last_model_tick_ns_ = 0;      // processor thread: same for TickModels
  std::unique_ptr<ApiServer> api_;
  BoundedQueue<BusItem> bus_;
  ChangeFilter filter_;  // processor thread only
  std::unique_ptr<AlertService> alerts_;  // engine guarded inside; rules on the processor thread
  std::unique_ptr<SpcService> spc_;       // live charts (processor thread) and their API
  std::unique_ptr<ModelService> models_;        // [[models]] on live tags (processor thread) and their API
  std::vector<Sample> model_out_;               // processor thread: model outputs waiting to be ingested
  std::unique_ptr<ConditionService> condition_;  // vibration monitors (processor thread) and their API
  std::unique_ptr<VisionService> vision_;        // [[vision]] stations (own threads) and their API

  mutable std::mutex state_mu_;  // guards snapshots_, contexts_, source_states_
  std::vector<TagSnapshot> snapshots_;  // index == TagId
  std::map<std::string, ProductionContext, std::less<>> contexts_;
  std::vector<SourceState> source_states_;
  std::map<std::string, size_t, std::less<>> tag_index_;

  std::thread processor_, housekeeper_;
  std::mutex hk_mu_;
  std::condition_variable hk_cv_;
  bool stopping_ = false;
  std::atomic<bool> started_{false};
  Timestamp started_at_;

  Counter* samples_in_ = nullptr;
  Counter* samples_stored_ = nullptr;
  Counter* samples_unknown_tag_ = nullptr;
  Counter* blocks_in_ = nullptr;
  Counter* events_in_ = nullptr;
  Counter* alert_events_ = nullptr;
  Counter* history_errors_ = nullptr;
  Counter* commits_refused_full_ = nullptr;
  Counter* samples_dropped_ = nullptr;
  Histogram* flush_seconds_ = nullptr;
};

}  // namespace pf
