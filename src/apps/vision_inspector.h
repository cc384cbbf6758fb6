#pragma once
// Vision inspection of one image (issue 10): decode, regions of interest, preprocessing from the model
// manifest, inference (engine/, int8 when the model is a QDQ model), and a fail-safe verdict.
//
// Preprocessing per ROI (ROIs in image pixels; none = the whole image): crop; channels to the model's
// (RGB -> gray as 0.299 R + 0.587 G + 0.114 B; gray -> RGB by copying); resize to the model's H x W:
// the mean over each output pixel's area when shrinking (as OpenCV's INTER_AREA), bilinear with
// half-pixel centres otherwise (as OpenCV's INTER_LINEAR); samples scaled to [0, 1] by the image's full scale
// (255 or 65535); then the manifest's normalization (x - mean[c]) / std[c].
// Verdict per ROI (classification): the top class and its probability p. If the class is one of
// `good_classes`: accept when p >= accept_threshold. Otherwise (a defect): reject when p >= the class's
// threshold (the manifest output's thresholds[class], else reject_threshold). Anything else is
// uncertain: the part goes to a person. A part is accepted only when every ROI is, rejected when any ROI
// is, else uncertain.
// Fail-safe: a decode error, an unexpected bit depth or channel count, a model error, or a total time
// over deadline_ms gives "uncertain" with the reason, never "accept". Timing is kept per stage.
// Thread-compatible: one Inspect() at a time per VisionInspector.
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "apps/vision_anomaly.h"
#include "connect/images/image.h"
#include "core/status.h"
#include "engine/model.h"

namespace pf::apps {

struct Roi {
  int x = 0, y = 0, width = 0, height = 0;
};
// "x,y,w,h" in pixels (x, y >= 0; w, h > 0). InvalidArgument naming the text.
Result<Roi> ParseRoi(std::string_view text);

struct VisionOptions {
  std::vector<Roi> rois;                  // empty: the whole image
  std::vector<std::string> good_classes;  // classes that mean "good part"
  double accept_threshold = 0.9;
  double reject_threshold = 0.9;          // for defect classes without their own threshold
  double deadline_ms = 0;                 // 0: none
  int expect_bit_depth = 0;               // 0: any; 8 or 16
  images::DecodeLimits limits;
};

enum class Verdict { kAccept, kReject, kUncertain };
std::string_view VerdictName(Verdict v);  // "accept", "reject", "uncertain"

struct RoiResult {
  Roi roi;
  std::string class_name;
  int class_index = -1;
  double confidence = 0;
  std::vector<float> probabilities;
  Verdict verdict = Verdict::kUncertain;
  // Anomaly mode: the image score, the threshold, and the score per cell (grid x grid, row-major).
  double anomaly_score = -1, anomaly_threshold = 0;
  std::vector<double> heat_map;
  int heat_grid = 0;
};

struct StageTimes {
  double acquire_ms = 0, decode_ms = 0, preprocess_ms = 0, infer_ms = 0, total_ms = 0;
};

struct Inspection {
  Verdict verdict = Verdict::kUncertain;
  std::string reason;                // why uncertain (or rejected): "decode error: ...", "deadline miss: ..."
  std::vector<RoiResult> rois;
  StageTimes times;
  int width = 0, height = 0, channels = 0, bit_depth = 0;
  std::string format;
};

class VisionInspector {
 public:
  // The model: one float input [1, C, H, W] (C 1 or 3) and a first output of class probabilities with
  // class names in its manifest. Errors: a model of another shape, ROIs with negative sizes, thresholds
  // outside (0, 1], good classes the model does not have.
  static Result<std::unique_ptr<VisionInspector>> Create(std::unique_ptr<engine::Model> model, const VisionOptions& options);
  // Anomaly mode (apps/vision_anomaly.h): `texture` is the texture model, `detector` the good parts'
  // Gaussians and threshold. Classes "good" and "anomalous": a ROI whose score exceeds the threshold is
  // rejected as anomalous, else accepted (confidence = score / threshold); failures are uncertain.
  static Result<std::unique_ptr<VisionInspector>> CreateAnomaly(std::unique_ptr<engine::Model> texture,
                                                                const AnomalyDetector& detector, const VisionOptions& options);
  // From files: a classification model (`model`, .onnx) or an anomaly directory (`anomaly_dir`, from
  // `plantfloor anomaly fit`: texture.onnx and anomaly.json); exactly one of the two. Errors name the file.
  static Result<std::unique_ptr<VisionInspector>> Load(const std::string& model, const std::string& anomaly_dir,
                                                       const VisionOptions& options, int threads = 1);

  // Never fails: problems become an "uncertain" inspection with the reason. `acquire_ms` is the time
  // the caller spent getting the bytes (file read, upload), counted in the total.
  Inspection Inspect(std::string_view bytes, const std::string& what, double acquire_ms = 0);
  Inspection InspectImage(const images::Image& image, double acquire_ms = 0, double decode_ms = 0);

  // The model-ready tensor of one ROI (tests, tools).
  Result<engine::Tensor> Preprocess(const images::Image& image, const Roi& roi) const;

  const std::vector<std::string>& classes() const { return classes_; }
  engine::Model& model() { return *model_; }
  const VisionOptions& options() const { return options_; }

 private:
  VisionInspector() = default;
  std::unique_ptr<engine::Model> model_;
  VisionOptions options_;
  std::vector<std::string> classes_;
  std::vector<double> thresholds_;  // per class: accept (good) or reject (defect) threshold
  std::vector<bool> good_;
  int64_t channels_ = 1, height_ = 0, width_ = 0;
  std::vector<float> mean_, inv_std_;  // per channel
  std::string input_name_, output_name_;
  std::unique_ptr<AnomalyDetector> anomaly_;
};

// The model-ready tensor [1, channels, height, width] of one ROI of `image` (the whole image when
// roi.width is 0), as VisionInspector preprocesses; mean/inv_std per channel, empty = none.
Result<engine::Tensor> PreprocessImage(const images::Image& image, const Roi& roi, int64_t channels, int64_t height,
                                       int64_t width, const std::vector<float>& mean, const std::vector<float>& inv_std);

// Draws each ROI's box on an RGB copy of the image (green accept, red reject, amber uncertain; the
// whole frame when there are no ROIs), for stored images and `inspect --overlay`.
images::Image Overlay(const images::Image& image, const Inspection& inspection);

}  // namespace pf::apps

namespace pf::apps {

// The verdict register map the station serves over Modbus TCP for the PLC to poll (holding registers,
// also readable as input registers; docs/schema.md "Vision verdict registers"):
//   0-1   sequence number of the inspection (uint32, high word first); changes last-in-first-seen
//   2     verdict: 0 none yet, 1 accept, 2 reject, 3 uncertain
//   3     class index + 1 of the (first rejecting, else first) ROI; 0 none
//   4     its confidence x 10000
//   5     total time, 0.01 ms units (saturates at 65535)
//   6     reason: 0 none, 1 decode error, 2 deadline miss, 3 model error, 4 bad input,
//         5 below the confidence threshold, 6 acquire error
//   7     heartbeat: +1 per second while the station runs (a frozen value means a dead station)
//   8-23  part id, ASCII, two characters per register (first in the high byte), NUL padded, 32 at most
constexpr int kVerdictRegisters = 24;
constexpr int kHeartbeatRegister = 7;
std::vector<uint16_t> VerdictRegisters(uint32_t sequence, const Inspection& inspection, const std::string& part_id);
int ReasonCode(const Inspection& inspection);

}  // namespace pf::apps
