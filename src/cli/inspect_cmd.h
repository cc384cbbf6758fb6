#pragma once
// `plantfloor inspect`: one or many images through a vision model (apps::VisionInspector) and the
// fail-safe verdict, the way the station judges a part.
//   plantfloor inspect --model M.onnx --image FILE [--image FILE ...] [--json] [--overlay OUT.png]
//                      [--roi x,y,w,h ...] [--good CLASS ...] [--accept-threshold P] [--reject-threshold P]
//                      [--deadline-ms MS] [--expect-bits 8|16]
//   plantfloor inspect --model M.onnx --image-list LIST --image-dir DIR --json   (a labelled set)
//   plantfloor inspect --anomaly DIR --image FILE ...  (anomaly mode: DIR from `plantfloor anomaly fit`;
//                      the verdict from the anomaly score, a heat map per ROI, tinted in --overlay)
//   plantfloor inspect --model M.onnx --watch DIR [--modbus-port P] [--settle-ms MS] [--journal FILE]
//                      [--http-port P] [--audit-rate 0.01] [--review-budget-mb 256] [--camera DEVICE [--camera-fps F]]
//                      [--part-id-pattern REGEX]
//                      (a station: runtime/vision_station.h; prints "READY watch=DIR modbus=HOST:PORT
//                      http=HOST:PORT" and one journal line per inspection; SIGTERM/SIGINT stop it)
// The part id is the file's stem (or the first group of --part-id-pattern in the file name). Labels (for accuracy and the confusion matrix) come from file names
// <class>_<n>.<ext> when <class> is one of the model's classes. One image: the inspection (JSON object
// with verdict, class, confidence, probabilities, reason, times per stage, rois). Several: every
// inspection and a summary (counts per verdict, accuracy, confusion matrix, latency p50/p99 per stage).
// Exit codes: 0 inspected (whatever the verdicts), 2 bad arguments or a model the station cannot use,
// 1 anything else (e.g. the overlay cannot be written). A bad image is an "uncertain" verdict, not an
// exit code: the station keeps running.
#include <iosfwd>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace pf {

struct InspectArgs {
  std::string model;
  std::string anomaly;                 // a directory from `plantfloor anomaly fit` (instead of --model)
  std::vector<std::string> images;
  std::string image_list, image_dir;
  bool json = false;
  std::string overlay;                 // PNG (single image)
  std::vector<std::string> rois;       // "x,y,w,h"
  std::vector<std::string> good;
  double accept_threshold = 0.9, reject_threshold = 0.9;
  double deadline_ms = 0;
  int expect_bits = 0;
  int threads = 1;
  // station
  std::string watch;
  int modbus_port = -1;
  std::string modbus_host = "127.0.0.1";
  int settle_ms = 500;
  std::string journal;
  bool delete_done = false;
  int http_port = -1;                  // station: POST /api/v1/inspect and the inspector's verdicts (-1 off, 0 free)
  std::string http_host = "127.0.0.1";
  double audit_rate = 0.01;
  double review_budget_mb = 256;
  std::string camera;                  // station: a GigE Vision camera (IP address or aravis id)
  std::string part_id_pattern;         // station: regex, first group of the file name = part id
  double camera_fps = 0;
};

int RunInspect(const InspectArgs& args, std::ostream& out, std::ostream& err);
void AddInspectCommand(CLI::App& app);

}  // namespace pf
