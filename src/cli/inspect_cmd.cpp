#include "cli/inspect_cmd.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <csignal>
#include <mutex>
#include <thread>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "apps/vision_anomaly.h"
#include "apps/vision_inspector.h"
#include "core/file.h"
#include "engine/model.h"
#include "api/api_server.h"
#include "connect/images/camera_source.h"
#include "runtime/vision_station.h"

namespace pf {
namespace {

using Json = nlohmann::ordered_json;
constexpr int kExitBadInput = 2;
constexpr int kExitFailed = 1;

int Fail(std::ostream& err, const Status& st, int code) {
  err << "error: " << st.ToString() << "\n";
  return code;
}


double Pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

Json InspectionJson(const std::string& path, const apps::Inspection& r) {
  Json j;
  j["image"] = path;
  j["part_id"] = std::filesystem::path(path).stem().string();
  j["verdict"] = std::string(apps::VerdictName(r.verdict));
  if (r.rois.size() == 1) {
    j["class"] = r.rois[0].class_name;
    j["confidence"] = r.rois[0].confidence;
  }
  j["reason"] = r.reason;
  j["image_info"] = {{"format", r.format}, {"width", r.width}, {"height", r.height}, {"channels", r.channels},
                     {"bit_depth", r.bit_depth}};
  j["times_ms"] = {{"acquire", r.times.acquire_ms}, {"decode", r.times.decode_ms}, {"preprocess", r.times.preprocess_ms},
                   {"infer", r.times.infer_ms}, {"total", r.times.total_ms}};
  Json rois = Json::array();
  for (const auto& rr : r.rois) {
    Json roi{{"roi", {rr.roi.x, rr.roi.y, rr.roi.width, rr.roi.height}},
             {"verdict", std::string(apps::VerdictName(rr.verdict))},
             {"class", rr.class_name},
             {"confidence", rr.confidence},
             {"probabilities", rr.probabilities}};
    if (rr.heat_grid > 0) {
      roi["anomaly_score"] = rr.anomaly_score;
      roi["threshold"] = rr.anomaly_threshold;
      roi["heat_grid"] = rr.heat_grid;
      roi["heat_map"] = rr.heat_map;
    }
    rois.push_back(std::move(roi));
  }
  j["rois"] = rois;
  return j;
}

}  // namespace

std::atomic<bool> g_stop{false};
void OnStopSignal(int) { g_stop.store(true); }

int RunStation(const InspectArgs& a, std::unique_ptr<apps::VisionInspector> inspector, std::ostream& out, std::ostream& err) {
  StationOptions so;
  so.folder.dir = a.watch;
  so.folder.settle_ms = a.settle_ms;
  so.folder.keep_done = !a.delete_done;
  so.journal = a.journal;
  so.modbus_host = a.modbus_host;
  so.modbus_port = a.modbus_port;
  so.audit_rate = a.audit_rate;
  so.review_budget_bytes = static_cast<int64_t>(a.review_budget_mb * 1024 * 1024);
  so.camera.device = a.camera;
  so.camera.frame_rate = a.camera_fps;
  so.part_id_pattern = a.part_id_pattern;
  auto station = VisionStation::Create(std::move(inspector), so);
  if (!station.ok()) return Fail(err, station.status().WithContext(a.camera.empty() ? "--watch" : "--watch/--camera"), kExitBadInput);
  std::unique_ptr<ApiServer> api;
  if (a.http_port >= 0) {
    ApiServerOptions ao;
    ao.host = a.http_host;
    ao.port = a.http_port;
    ao.threads = 2;
    ao.payload_max_bytes = 64u << 20;  // a 5 MP image, even as BMP
    api = std::make_unique<ApiServer>(ao, nullptr);
    if (Status st = (*station)->AddRoutes(*api); !st.ok()) return Fail(err, st, kExitFailed);
    if (Status st = api->Start(); !st.ok()) return Fail(err, st.WithContext("--http-port"), kExitBadInput);
  }
  std::signal(SIGTERM, OnStopSignal);
  std::signal(SIGINT, OnStopSignal);
  out << fmt::format("READY watch={} modbus={} http={} camera={}\n", a.watch,
                     (*station)->modbus_port() >= 0 ? fmt::format("{}:{}", a.modbus_host, (*station)->modbus_port()) : "off",
                     api ? fmt::format("{}:{}", a.http_host, api->port()) : "off", a.camera.empty() ? "off" : a.camera)
      << std::flush;
  Status st = (*station)->Run(g_stop, [&](const std::string& line) { out << line << "\n" << std::flush; });
  if (api) api->Stop();
  const auto c = (*station)->counters();
  err << fmt::format("station stopped: {} inspected ({} accept, {} reject, {} uncertain; {} uploaded), {} finished from "
                     "before a restart\n",
                     c.inspected, c.accept, c.reject, c.uncertain, c.uploads, c.recovered);
  if (!st.ok()) return Fail(err, st, kExitFailed);
  return 0;
}

int RunInspect(const InspectArgs& a, std::ostream& out, std::ostream& err) {
  std::vector<std::string> paths = a.images;
  if (!a.image_list.empty()) {
    std::ifstream list(a.image_list);
    if (!list) return Fail(err, NotFound("--image-list {}: cannot open", a.image_list), kExitBadInput);
    for (std::string line; std::getline(list, line);) {
      if (!line.empty()) paths.push_back(a.image_dir.empty() ? line : a.image_dir + "/" + line);
    }
  }
  if (paths.empty() && a.watch.empty())
    return Fail(err, InvalidArgument("no image: give --image FILE, --image-list LIST or --watch DIR"), kExitBadInput);
  if (!paths.empty() && !a.watch.empty()) return Fail(err, InvalidArgument("--watch takes no --image"), kExitBadInput);
  if (!a.overlay.empty() && paths.size() != 1)
    return Fail(err, InvalidArgument("--overlay takes one --image"), kExitBadInput);
  apps::VisionOptions o;
  for (const auto& s : a.rois) {
    auto r = apps::ParseRoi(s);
    if (!r.ok()) return Fail(err, r.status().WithContext("--roi"), kExitBadInput);
    o.rois.push_back(*r);
  }
  o.good_classes = a.good;
  o.accept_threshold = a.accept_threshold;
  o.reject_threshold = a.reject_threshold;
  o.deadline_ms = a.deadline_ms;
  o.expect_bit_depth = a.expect_bits;
  if (a.model.empty() == a.anomaly.empty())
    return Fail(err, InvalidArgument("give --model M (classification) or --anomaly DIR (anomaly mode)"), kExitBadInput);
  auto inspector = apps::VisionInspector::Load(a.model, a.anomaly, o, a.threads);
  if (!inspector.ok())
    return Fail(err, inspector.status().WithContext(a.anomaly.empty() ? "--model" : "--anomaly"), kExitBadInput);
  if (!a.watch.empty()) return RunStation(a, std::move(*inspector), out, err);
  const auto& classes = (*inspector)->classes();
  const size_t nc = classes.size();
  std::vector<std::vector<int>> confusion(nc, std::vector<int>(nc, 0));
  int labelled = 0, right = 0;
  std::map<std::string, int> verdicts;
  std::vector<double> t_decode, t_pre, t_infer, t_total;
  Json all = Json::array();
  for (const auto& path : paths) {
    const auto t0 = std::chrono::steady_clock::now();
    auto bytes = ReadFileBytes(path);
    const double acquire = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    apps::Inspection r;
    if (!bytes.ok()) {
      r.reason = "acquire error: " + std::string(bytes.status().message());
    } else {
      r = (*inspector)->Inspect(*bytes, path, acquire);
    }
    ++verdicts[std::string(apps::VerdictName(r.verdict))];
    t_decode.push_back(r.times.decode_ms);
    t_pre.push_back(r.times.preprocess_ms);
    t_infer.push_back(r.times.infer_ms);
    t_total.push_back(r.times.total_ms);
    const std::string stem = std::filesystem::path(path).stem().string();
    const auto label = std::find(classes.begin(), classes.end(), stem.substr(0, stem.rfind('_')));
    if (label != classes.end() && r.rois.size() == 1) {
      ++labelled;
      const int truth = static_cast<int>(label - classes.begin());
      right += r.rois[0].class_index == truth;
      ++confusion[truth][r.rois[0].class_index];
    }
    if (!a.overlay.empty() && bytes.ok()) {
      auto img = images::DecodeImage(*bytes, path, o.limits);
      if (img.ok()) {
        auto png = images::EncodePng(apps::Overlay(*img, r));
        std::ofstream f(a.overlay, std::ios::binary);
        if (!png.ok() || !(f << *png) || !f.flush())
          return Fail(err, Internal("--overlay {}: cannot write", a.overlay), kExitFailed);
      }
    }
    all.push_back(InspectionJson(path, r));
  }
  if (paths.size() == 1) {
    if (a.json) {
      out << all[0].dump(2) << "\n";
    } else {
      const Json& j = all[0];
      out << fmt::format("{}: {}", paths[0], j["verdict"].get<std::string>());
      if (j.contains("class")) out << fmt::format(" ({} {:.3f})", j["class"].get<std::string>(), j["confidence"].get<double>());
      if (!j["reason"].get<std::string>().empty()) out << " - " << j["reason"].get<std::string>();
      out << fmt::format("; {:.2f} ms (decode {:.2f}, preprocess {:.2f}, infer {:.2f})\n", j["times_ms"]["total"].get<double>(),
                         j["times_ms"]["decode"].get<double>(), j["times_ms"]["preprocess"].get<double>(),
                         j["times_ms"]["infer"].get<double>());
    }
    return 0;
  }
  Json summary{{"images", paths.size()}, {"verdicts", verdicts}, {"labelled", labelled}};
  if (labelled > 0) {
    summary["accuracy"] = static_cast<double>(right) / labelled;
    summary["classes"] = classes;
    summary["confusion"] = confusion;  // rows: true class, columns: predicted
  }
  summary["latency_ms"] = {{"decode_p50", Pct(t_decode, 0.5)},   {"preprocess_p50", Pct(t_pre, 0.5)},
                           {"infer_p50", Pct(t_infer, 0.5)},     {"total_p50", Pct(t_total, 0.5)},
                           {"total_p99", Pct(t_total, 0.99)},    {"total_max", Pct(t_total, 1.0)}};
  if (a.json) {
    out << Json{{"summary", summary}, {"inspections", all}}.dump(2) << "\n";
    return 0;
  }
  for (const auto& j : all) {
    out << fmt::format("{}: {}{}\n", j["image"].get<std::string>(), j["verdict"].get<std::string>(),
                       j.contains("class") ? " (" + j["class"].get<std::string>() + ")" : "");
  }
  out << fmt::format("{} images: {} accept, {} reject, {} uncertain; total p50 {:.2f} ms, p99 {:.2f} ms\n", paths.size(),
                     verdicts["accept"], verdicts["reject"], verdicts["uncertain"], Pct(t_total, 0.5), Pct(t_total, 0.99));
  if (labelled > 0) {
    out << fmt::format("accuracy on {} labelled: {:.2f} %\nconfusion (rows true, columns predicted):\n", labelled,
                       100.0 * right / labelled);
    for (size_t t = 0; t < nc; ++t) {
      out << fmt::format("  {:>16}", classes[t]);
      for (size_t p = 0; p < nc; ++p) out << fmt::format(" {:4d}", confusion[t][p]);
      out << "\n";
    }
  }
  return 0;
}

void AddInspectCommand(CLI::App& app) {
  auto a = std::make_shared<InspectArgs>();
  auto* c = app.add_subcommand("inspect", "inspect images with a vision model: class, fail-safe verdict, timing per stage");
  c->add_option("--model", a->model, "vision model (.onnx; int8 QDQ from `model quantize`)");
  c->add_option("--anomaly", a->anomaly, "anomaly mode: a directory from `plantfloor anomaly fit` (instead of --model)");
  c->add_option("--image", a->images, "image file (PNG, JPEG, BMP, PGM/PPM); repeat for several");
  c->add_option("--image-list", a->image_list, "file with one image path per line (e.g. a split list)");
  c->add_option("--image-dir", a->image_dir, "directory the --image-list paths are relative to");
  c->add_flag("--json", a->json, "JSON output");
  c->add_option("--overlay", a->overlay, "write the image with the ROI boxes coloured by verdict (PNG)");
  c->add_option("--roi", a->rois, "region of interest x,y,w,h in pixels; repeat for several (default: whole image)");
  c->add_option("--good", a->good, "a class that means a good part; repeat for several");
  c->add_option("--accept-threshold", a->accept_threshold, "probability a good class needs to accept")->capture_default_str();
  c->add_option("--reject-threshold", a->reject_threshold, "probability a defect class needs to reject")->capture_default_str();
  c->add_option("--deadline-ms", a->deadline_ms, "cycle budget; a later verdict is uncertain (0: none)")->capture_default_str();
  c->add_option("--expect-bits", a->expect_bits, "expected bit depth, 8 or 16 (0: any)")->capture_default_str();
  c->add_option("--threads", a->threads, "inference threads")->capture_default_str();
  c->add_option("--watch", a->watch, "station: inspect every complete image arriving in this folder until stopped");
  c->add_option("--modbus-port", a->modbus_port, "station: serve the verdict registers on this TCP port (0: a free one)");
  c->add_option("--modbus-host", a->modbus_host, "station: address of the register map")->capture_default_str();
  c->add_option("--settle-ms", a->settle_ms, "station: a file still open is complete when its size is stable this long")
      ->capture_default_str();
  c->add_option("--journal", a->journal, "station: JSON-lines record of every inspection (default <folder>/.plantfloor-inspections.jsonl)");
  c->add_flag("--delete-done", a->delete_done, "station: delete inspected files instead of moving them to .done/");
  c->add_option("--http-port", a->http_port, "station: serve POST /api/v1/inspect and the inspector's verdicts (0: a free port)");
  c->add_option("--http-host", a->http_host, "station: address of the HTTP API")->capture_default_str();
  c->add_option("--audit-rate", a->audit_rate, "station: share of accepted parts also sent to the inspector")->capture_default_str();
  c->add_option("--part-id-pattern", a->part_id_pattern,
                 "station: regular expression whose first group in the file name is the part id (else the stem)");
  c->add_option("--camera", a->camera, "station: also inspect the frames of this GigE Vision camera (IP address or aravis id)");
  c->add_option("--camera-fps", a->camera_fps, "station: the camera's frame rate (0: its own setting)");
  c->add_option("--review-budget-mb", a->review_budget_mb, "station: disk for images kept for review (.review/)")
      ->capture_default_str();
  c->callback([a] { std::exit(RunInspect(*a, std::cout, std::cerr)); });
}

}  // namespace pf
