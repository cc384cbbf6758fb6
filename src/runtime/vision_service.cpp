#include "runtime/vision_service.h"

#include <deque>
#include <mutex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/log.h"
#include "core/time.h"

namespace pf {
namespace {
using Json = nlohmann::json;
constexpr size_t kLatchRing = 256;
constexpr int64_t kRestartNs = 5'000'000'000;
}  // namespace

struct VisionService::Station {
  VisionEntry cfg;
  std::unique_ptr<VisionStation> station;
  TagId verdict_tag = 0, class_tag = 0, confidence_tag = 0, latency_tag = 0;
  bool has_part_tag = false;
  TagId part_tag = 0;
  std::mutex latch_mu;
  std::deque<std::pair<int64_t, std::optional<std::string>>> latch;  // (receive time ns, value or bad), oldest first
  std::thread thread;
  VisionSink sink;
  Counter* verdicts[3] = {nullptr, nullptr, nullptr};
  Counter* dropped = nullptr;
  Histogram* latency = nullptr;

  Event MakeEvent(std::string kind, std::string severity, std::string message) const {
    Event e;
    e.start = e.end = Now();
    e.asset_id = cfg.asset;
    e.source = "vision:" + cfg.name;
    e.kind = std::move(kind);
    e.severity = std::move(severity);
    e.message = std::move(message);
    return e;
  }

  // The newest value received at or before the trigger, when it was good and is young enough.
  std::optional<std::string> PartIdAt(int64_t trigger_mono_ns) {
    const int64_t trigger_wall = MonotonicToWallNs(trigger_mono_ns);
    std::lock_guard<std::mutex> lock(latch_mu);
    const std::pair<int64_t, std::optional<std::string>>* best = nullptr;  // the latest at or before the trigger
    for (const auto& e : latch)
      if (e.first <= trigger_wall && (!best || e.first >= best->first)) best = &e;
    if (!best) return std::nullopt;
    if (cfg.part_id_max_age_ns > 0 && trigger_wall - best->first > cfg.part_id_max_age_ns) return std::nullopt;
    return best->second;
  }

  bool Emit(Event&& e) {
    if (sink.emit(std::move(e))) return true;
    dropped->Inc();
    return false;
  }

  // A journal record (under the station's lock, in sequence order): samples, and an event for a part
  // routed to a person because it could not be judged.
  void OnRecord(const Json& r) {
    const std::string verdict = r.value("verdict", "uncertain");
    const int code = verdict == "accept" ? 1 : verdict == "reject" ? 2 : 3;
    double cls = 0;
    if (r.contains("class") && r["class"].is_string()) {
      const auto it = std::find(cfg.classes.begin(), cfg.classes.end(), r["class"].get<std::string>());
      if (it != cfg.classes.end()) cls = static_cast<double>(it - cfg.classes.begin() + 1);
    }
    const double conf = r.contains("confidence") && r["confidence"].is_number() ? r["confidence"].get<double>() : 0.0;
    const char* lat_key = r.contains("detect_to_verdict_ms") ? "detect_to_verdict_ms" : "total_ms";
    const double lat = r.contains(lat_key) && r[lat_key].is_number() ? r[lat_key].get<double>() : 0.0;
    verdicts[code - 1]->Inc();
    latency->Observe(lat / 1e3);
    const Timestamp now = Now();
    const uint64_t seq = r.value("sequence", 0u);
    std::vector<Sample> batch;
    for (const auto& [tag, value] : {std::pair{verdict_tag, static_cast<double>(code)}, std::pair{class_tag, cls},
                                     std::pair{confidence_tag, conf}, std::pair{latency_tag, lat}}) {
      Sample s;
      s.tag = tag;
      s.value = value;
      s.source_time = s.receive_time = now;
      s.seq = seq;
      batch.push_back(std::move(s));
    }
    if (!sink.write(std::move(batch))) dropped->Inc();
    if (code == 3) {
      Event e = MakeEvent("inspection_uncertain", "medium",
                          fmt::format("{}: part {} routed to a person: {}", cfg.name, r.value("part_id", ""), r.value("reason", "")));
      e.payload_json = r.dump();
      Emit(std::move(e));
    }
  }

  Status OnLabel(const Json& l) {
    const bool agree = l.value("agree", false);
    Event e = MakeEvent("label", "info",
                        fmt::format("{}: inspector {} with the model on part {} (model {} {}; label {})", cfg.name,
                                    agree ? "agrees" : "disagrees", l.value("part_id", ""), l.value("model_verdict", ""),
                                    l.value("model_class", ""), l.value("label", "")));
    e.operator_name = l.value("inspector", "");
    Json payload = l;
    payload["station"] = cfg.name;
    e.payload_json = payload.dump();
    return sink.durable({std::move(e)});
  }

  void Loop(const std::atomic<bool>& stop) {
    std::string last_error;
    int64_t last_event = 0;
    while (!stop.load()) {
      Status st = station->Run(stop);
      if (st.ok()) return;
      PF_LOG_ERROR("station {}: {}; restarting in 5 s", cfg.name, st.ToString());
      // One event per new error, repeated at most every 10 minutes while it lasts.
      if ((st.ToString() != last_error || MonotonicNs() - last_event > 600'000'000'000) &&
          Emit(MakeEvent("vision_station_error", "high",
                         fmt::format("{} stopped judging: {}; restarting every 5 s", cfg.name, st.ToString())))) {
        last_error = st.ToString();  // only once it was taken: a full bus does not silence it
        last_event = MonotonicNs();
      }
      const int64_t until = MonotonicNs() + kRestartNs;
      while (!stop.load() && MonotonicNs() < until) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
};

Result<std::unique_ptr<VisionService>> VisionService::Create(const PlantConfig& pc, VisionSink sink, MetricsRegistry& m) {
  std::unique_ptr<VisionService> svc(new VisionService());
  const auto tag_id = [&](const std::string& name) -> Result<TagId> {
    for (const TagDef& t : pc.tags)
      if (t.name == name) return t.id;
    return NotFound("tag '{}' is not declared", name);
  };
  for (const VisionEntry& e : pc.vision) {
    auto st = std::make_unique<Station>();
    Station* p = st.get();
    st->cfg = e;
    st->sink = sink;
    PF_ASSIGN_OR_RETURN(st->verdict_tag, tag_id(e.name + ".verdict"));
    PF_ASSIGN_OR_RETURN(st->class_tag, tag_id(e.name + ".class"));
    PF_ASSIGN_OR_RETURN(st->confidence_tag, tag_id(e.name + ".confidence"));
    PF_ASSIGN_OR_RETURN(st->latency_tag, tag_id(e.name + ".latency_ms"));
    if (!e.part_id_tag.empty()) {
      PF_ASSIGN_OR_RETURN(st->part_tag, tag_id(e.part_id_tag));
      st->has_part_tag = true;
      svc->latches_ = true;
    }
    for (int k = 0; k < 3; ++k)
      st->verdicts[k] = &m.GetCounter("pf_vision_inspections_total", "inspections by verdict",
                                      {{"station", e.name}, {"verdict", k == 0 ? "accept" : k == 1 ? "reject" : "uncertain"}});
    st->dropped = &m.GetCounter("pf_vision_dropped_total",
                                "verdict samples and events not taken by the bus in time (the station's journal has them)",
                                {{"station", e.name}});
    st->latency = &m.GetHistogram("pf_vision_latency_seconds", "image arrival to verdict", {{"station", e.name}});
    StationOptions so = e.station;
    if (st->has_part_tag) so.part_id_at = [p](int64_t t) { return p->PartIdAt(t); };
    so.on_record = [p](const Json& r) { p->OnRecord(r); };
    so.on_label = [p](const Json& l) { return p->OnLabel(l); };
    so.on_event = [p](const std::string& kind, const std::string& severity, const std::string& message) {
      p->Emit(p->MakeEvent(kind, severity, fmt::format("{}: {}", p->cfg.name, message)));
    };
    auto inspector = apps::VisionInspector::Load(e.model, e.anomaly_dir, e.inspector, e.threads);
    if (!inspector.ok()) return inspector.status().WithContext(fmt::format("station '{}'", e.name));
    auto station = VisionStation::Create(std::move(*inspector), so);
    if (!station.ok()) return station.status().WithContext(fmt::format("station '{}'", e.name));
    st->station = std::move(*station);
    svc->stations_.push_back(std::move(st));
  }
  return svc;
}

VisionService::~VisionService() { Stop(); }

void VisionService::Start() {
  stop_.store(false);
  for (auto& s : stations_) {
    Station* p = s.get();
    p->thread = std::thread([this, p] { p->Loop(stop_); });
    PF_LOG_INFO("vision station '{}' watching {}{}", p->cfg.name, p->cfg.station.folder.dir,
                p->station->modbus_port() >= 0 ? fmt::format(", verdict registers on {}:{}", p->cfg.station.modbus_host,
                                                             p->station->modbus_port())
                                               : "");
  }
}

void VisionService::Stop() {
  stop_.store(true);
  for (auto& s : stations_)
    if (s->thread.joinable()) s->thread.join();
}

void VisionService::OnSample(const Sample& s) {
  for (auto& st : stations_) {
    if (!st->has_part_tag || st->part_tag != s.tag) continue;
    // A bad value (the PLC stopped answering) is remembered as "no part id" from then on.
    const bool good = s.quality == Quality::kGood && !std::holds_alternative<std::monostate>(s.value);
    std::lock_guard<std::mutex> lock(st->latch_mu);
    st->latch.emplace_back(s.receive_time.ns, good ? std::optional<std::string>(ValueToString(s.value)) : std::nullopt);
    if (st->latch.size() > kLatchRing) st->latch.pop_front();
  }
}

Status VisionService::AddRoutes(ApiServer& api) {
  PF_RETURN_IF_ERROR(AddStationRoutes(api, [this](const ApiRequest& req) -> Result<VisionStation*> {
    const auto name = req.Query("station");
    if (!name && stations_.size() == 1) return stations_.front()->station.get();
    std::string names;
    for (const auto& s : stations_) {
      if (name && s->cfg.name == *name) return s->station.get();
      names += (names.empty() ? "" : ", ") + s->cfg.name;
    }
    if (!name) return InvalidArgument("give ?station= (one of: {})", names);
    return NotFound("no station '{}' (stations: {})", *name, names);
  }));
  return api.AddRoute(
      "GET", "/api/v1/vision",
      [this](const ApiRequest&) {
        Json items = Json::array();
        for (const auto& s : stations_) {
          const auto c = s->station->counters();
          const int port = s->station->modbus_port();
          items.push_back({{"name", s->cfg.name},
                           {"asset", s->cfg.asset},
                           {"watch", s->cfg.station.folder.dir},
                           {"mode", s->cfg.anomaly_dir.empty() ? "classification" : "anomaly"},
                           {"model", s->cfg.anomaly_dir.empty() ? s->cfg.model : s->cfg.anomaly_dir},
                           {"classes", s->cfg.classes},
                           {"modbus", port >= 0 ? Json(fmt::format("{}:{}", s->cfg.station.modbus_host, port)) : Json(nullptr)},
                           {"camera", s->cfg.station.camera.device.empty() ? Json(nullptr) : Json(s->cfg.station.camera.device)},
                           {"part_id_tag", s->cfg.part_id_tag.empty() ? Json(nullptr) : Json(s->cfg.part_id_tag)},
                           {"counters",
                            {{"inspected", c.inspected}, {"accept", c.accept}, {"reject", c.reject}, {"uncertain", c.uncertain},
                             {"uploads", c.uploads}, {"frames", c.frames}, {"recovered", c.recovered},
                             {"camera_errors", c.camera_errors}, {"labels_not_forwarded", c.labels_not_forwarded},
                             {"journal_rotations", c.rotations}}}});
        }
        return ApiResponse::Json(Json{{"items", items}});
      },
      false);
}

}  // namespace pf
