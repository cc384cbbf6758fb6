#pragma once
// VisionService: the [[vision]] stations of the running plant (issue 10). Each VisionStation runs on
// a thread of its own (folder; the camera on another) and reports into the plant:
//   - every verdict as samples of the station's tags (<name>.verdict, .class, .confidence,
//     .latency_ms; history, rules, SPC, uplink), in the station's sequence order;
//   - an "inspection_uncertain" event for each part routed to a person because of bad input (zero
//     bytes, truncated, not an image, wrong bit depth, ROI outside), a deadline miss or a model error,
//     with the reason and the journal record as payload;
//   - each inspector's verdict as a "label" event, committed before the API answers, so that it
//     travels the outbox to the uplink like alert feedback;
//   - "camera_lost" / "camera_restored" and "vision_station_error" events (a station whose journal
//     refuses a record, e.g. a full disk, stops judging and is restarted every 5 s).
// part_id_tag: the newest good value of that tag received before the image arrived (a ring of the
// last 256 values per station, fed by the processor thread); none: the file name's stem.
// Routes on the plant's API: the station routes (POST /api/v1/inspect, GET /api/v1/inspections,
// GET /api/v1/inspections/stats, POST /api/v1/inspections/{sequence}/verdict) with ?station=NAME
// (optional when there is one station), and GET /api/v1/vision (stations, ports, counters).
#include <atomic>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "api/api_server.h"
#include "connect/source.h"
#include "core/metrics.h"
#include "runtime/plant_config.h"
#include "runtime/vision_station.h"

namespace pf {

class VisionService {
 public:
  // Commits events before it returns (Runtime::EmitDurable).
  using DurableEmit = std::function<Status(std::vector<Event>)>;
  static Result<std::unique_ptr<VisionService>> Create(const PlantConfig& pc, SampleSink& sink, DurableEmit durable,
                                                       MetricsRegistry& metrics);  // must outlive the service
  ~VisionService();
  bool empty() const { return stations_.empty(); }
  void Start();
  void Stop();  // before the bus closes: the last verdicts still reach the store
  // Processor thread: remembers the part-id tags' values.
  void OnSample(const Sample& s);
  Status AddRoutes(ApiServer& api);

  struct Station;

 private:
  VisionService() = default;
  std::vector<std::unique_ptr<Station>> stations_;
  std::atomic<bool> stop_{false};
};

}  // namespace pf
