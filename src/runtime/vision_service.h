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
// part_id_tag: the newest value of that tag received at or before the image arrived (a ring of the
// last 256 values per station, fed as sources deliver, before the bus), if it was good and is not
// older than part_id_max_age; else the file-based part id. Samples and events go through a short,
// bounded wait on the bus (a stalled store must not stall the verdicts): dropped ones are counted in
// pf_vision_dropped_total (the station's journal keeps every record).
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

// Where the stations' output goes. write and emit must not block for long (they run under a
// station's lock, which the verdict path shares): false = dropped (counted; the journal has it).
struct VisionSink {
  std::function<bool(std::vector<Sample>&&)> write;
  std::function<bool(Event&&)> emit;
  std::function<Status(std::vector<Event>)> durable;  // commits before it returns (Runtime::EmitDurable)
};

class VisionService {
 public:
  static Result<std::unique_ptr<VisionService>> Create(const PlantConfig& pc, VisionSink sink,
                                                       MetricsRegistry& metrics);  // must outlive the service
  ~VisionService();
  bool empty() const { return stations_.empty(); }
  void Start();
  void Stop();  // before the bus closes: the last verdicts still reach the store
  // Any source thread, as samples are read (before the bus): remembers the part-id tags' values.
  void OnSample(const Sample& s);
  bool latches() const { return latches_; }
  Status AddRoutes(ApiServer& api);

  struct Station;

 private:
  VisionService() = default;
  std::vector<std::unique_ptr<Station>> stations_;
  std::atomic<bool> stop_{false};
  bool latches_ = false;  // some station has a part_id_tag
};

}  // namespace pf
