#include "apps/vision_inspector.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include <fmt/format.h>

#include "apps/vision_anomaly.h"
#include "core/file.h"

namespace pf::apps {
namespace {

using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// Sample value of channel c of pixel (x, y) converted to the model's channel count, in [0, 1].
float Sample(const images::Image& img, int x, int y, int c, int64_t model_channels, float scale) {
  if (img.channels == model_channels) return static_cast<float>(img.at(x, y, c)) * scale;
  if (img.channels == 1) return static_cast<float>(img.at(x, y, 0)) * scale;  // gray to RGB
  // RGB to gray (ITU-R BT.601 luma).
  return (0.299f * static_cast<float>(img.at(x, y, 0)) + 0.587f * static_cast<float>(img.at(x, y, 1)) +
          0.114f * static_cast<float>(img.at(x, y, 2))) *
         scale;
}

}  // namespace

std::string_view VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kAccept: return "accept";
    case Verdict::kReject: return "reject";
    case Verdict::kUncertain: return "uncertain";
  }
  return "?";
}

Result<std::unique_ptr<VisionInspector>> VisionInspector::Create(std::unique_ptr<engine::Model> model,
                                                                 const VisionOptions& options) {
  if (!model) return InvalidArgument("vision: no model");
  const auto& ins = model->inputs();
  if (ins.size() != 1 || ins[0].dtype != engine::DType::kFloat || ins[0].shape.size() != 4 ||
      (ins[0].shape[1] != 1 && ins[0].shape[1] != 3) || ins[0].shape[2] <= 0 || ins[0].shape[3] <= 0)
    return InvalidArgument("vision: the model must take one float image input [1, C, H, W] with C 1 or 3, not {} {}",
                           ins.empty() ? "" : ins[0].name, ins.empty() ? "(none)" : engine::ShapeToString(ins[0].shape));
  if (model->outputs().empty()) return InvalidArgument("vision: the model has no output");
  std::unique_ptr<VisionInspector> v(new VisionInspector());
  v->options_ = options;
  v->input_name_ = ins[0].name;
  v->output_name_ = model->outputs()[0].name;
  v->channels_ = ins[0].shape[1];
  v->height_ = ins[0].shape[2];
  v->width_ = ins[0].shape[3];
  const engine::Manifest& m = model->manifest();
  std::map<std::string, double> class_thresholds;
  for (const auto& o : m.outputs) {
    if (o.name != v->output_name_) continue;
    v->classes_ = o.class_names;
    class_thresholds = o.thresholds;
  }
  if (v->classes_.empty())
    return InvalidArgument("vision: the manifest names no classes for output '{}' (classification needs them)", v->output_name_);
  for (const auto& g : options.good_classes) {
    if (std::find(v->classes_.begin(), v->classes_.end(), g) == v->classes_.end())
      return InvalidArgument("vision: good class '{}' is not one of the model's classes", g);
  }
  auto check = [](double t, const char* name) -> Status {
    if (!(t > 0 && t <= 1)) return InvalidArgument("vision: {} {} must be in (0, 1]", name, t);
    return Status::Ok();
  };
  PF_RETURN_IF_ERROR(check(options.accept_threshold, "accept_threshold"));
  PF_RETURN_IF_ERROR(check(options.reject_threshold, "reject_threshold"));
  for (const auto& c : v->classes_) {
    const bool good = std::find(options.good_classes.begin(), options.good_classes.end(), c) != options.good_classes.end();
    v->good_.push_back(good);
    double t = good ? options.accept_threshold : options.reject_threshold;
    if (!good && class_thresholds.count(c)) {
      t = class_thresholds.at(c);
      PF_RETURN_IF_ERROR(check(t, ("manifest threshold of class " + c).c_str()));
    }
    v->thresholds_.push_back(t);
  }
  for (const auto& r : options.rois) {
    if (r.x < 0 || r.y < 0 || r.width <= 0 || r.height <= 0)
      return InvalidArgument("vision: ROI {},{} {}x{} must have x, y >= 0 and a positive size", r.x, r.y, r.width, r.height);
  }
  if (options.expect_bit_depth != 0 && options.expect_bit_depth != 8 && options.expect_bit_depth != 16)
    return InvalidArgument("vision: expected bit depth {} (0, 8 or 16)", options.expect_bit_depth);
  // Normalization per channel from the manifest (one value broadcasts).
  for (const auto& mi : m.inputs) {
    if (mi.name != v->input_name_ || mi.mean.empty()) continue;
    if (mi.axis != 1) return InvalidArgument("vision: normalization along axis {} (the channel axis 1 is supported)", mi.axis);
    for (int64_t c = 0; c < v->channels_; ++c) {
      const size_t k = mi.mean.size() == 1 ? 0 : static_cast<size_t>(c);
      if (k >= mi.mean.size() || k >= mi.std.size() || mi.std[k] == 0)
        return InvalidArgument("vision: normalization of {} values for {} channels", mi.mean.size(), v->channels_);
      v->mean_.push_back(static_cast<float>(mi.mean[k]));
      v->inv_std_.push_back(static_cast<float>(1.0 / mi.std[k]));
    }
  }
  v->model_ = std::move(model);
  return v;
}

Result<Roi> ParseRoi(std::string_view text) {
  Roi r;
  char c1 = 0, c2 = 0, c3 = 0;
  std::istringstream in{std::string(text)};
  if (!(in >> r.x >> c1 >> r.y >> c2 >> r.width >> c3 >> r.height) || c1 != ',' || c2 != ',' || c3 != ',' || !in.eof() ||
      r.x < 0 || r.y < 0 || r.width <= 0 || r.height <= 0)
    return InvalidArgument("'{}': expected x,y,w,h in pixels (x, y >= 0; w, h > 0)", text);
  return r;
}

Result<std::unique_ptr<VisionInspector>> VisionInspector::Load(const std::string& model, const std::string& anomaly_dir,
                                                               const VisionOptions& options, int threads) {
  if (model.empty() == anomaly_dir.empty())
    return InvalidArgument("give a classification model or an anomaly directory, not {}", model.empty() ? "neither" : "both");
  engine::ModelOptions mo;
  mo.threads = threads;
  const std::string path = anomaly_dir.empty() ? model : anomaly_dir + "/texture.onnx";
  PF_ASSIGN_OR_RETURN(auto m, engine::LoadModel(path, mo));
  if (anomaly_dir.empty()) {
    auto r = Create(std::move(m), options);
    if (!r.ok()) return r.status().WithContext(path);
    return r;
  }
  const std::string json_path = anomaly_dir + "/anomaly.json";
  PF_ASSIGN_OR_RETURN(std::string text, ReadFileBytes(json_path));
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return InvalidArgument("{} is not JSON", json_path);
  auto det = AnomalyDetector::FromJson(j);
  if (!det.ok()) return det.status().WithContext(json_path);
  auto r = CreateAnomaly(std::move(m), *det, options);
  if (!r.ok()) return r.status().WithContext(path);
  return r;
}

Result<std::unique_ptr<VisionInspector>> VisionInspector::CreateAnomaly(std::unique_ptr<engine::Model> texture,
                                                                        const AnomalyDetector& detector,
                                                                        const VisionOptions& options) {
  if (!texture) return InvalidArgument("vision: no texture model");
  const auto& ins = texture->inputs();
  if (ins.size() != 1 || ins[0].shape != engine::Shape{1, 1, detector.size, detector.size})
    return InvalidArgument("vision: the texture model takes {}, the detector was fitted at [1, 1, {}, {}]",
                           ins.empty() ? "nothing" : engine::ShapeToString(ins[0].shape), detector.size, detector.size);
  if (!(detector.threshold > 0)) return InvalidArgument("vision: anomaly threshold {} must be > 0", detector.threshold);
  for (const auto& r : options.rois) {
    if (r.x < 0 || r.y < 0 || r.width <= 0 || r.height <= 0)
      return InvalidArgument("vision: ROI {},{} {}x{} must have x, y >= 0 and a positive size", r.x, r.y, r.width, r.height);
  }
  std::unique_ptr<VisionInspector> v(new VisionInspector());
  v->options_ = options;
  v->options_.good_classes = {"good"};
  v->input_name_ = ins[0].name;
  v->channels_ = 1;
  v->height_ = v->width_ = detector.size;
  v->classes_ = {"good", "anomalous"};
  v->good_ = {true, false};
  v->thresholds_ = {1, 1};
  v->anomaly_ = std::make_unique<AnomalyDetector>(detector);
  v->model_ = std::move(texture);
  return v;
}

Result<engine::Tensor> VisionInspector::Preprocess(const images::Image& img, const Roi& roi) const {
  return PreprocessImage(img, roi, channels_, height_, width_, mean_, inv_std_);
}

Result<engine::Tensor> PreprocessImage(const images::Image& img, const Roi& roi_in, int64_t channels_, int64_t height_,
                                       int64_t width_, const std::vector<float>& mean_, const std::vector<float>& inv_std_) {
  Roi roi = roi_in;
  if (roi.width == 0) roi = {0, 0, img.width, img.height};
  if (static_cast<int64_t>(roi.x) + roi.width > img.width || static_cast<int64_t>(roi.y) + roi.height > img.height)
    return InvalidArgument("ROI {},{} {}x{} lies outside the {}x{} image", roi.x, roi.y, roi.width, roi.height, img.width,
                           img.height);
  const float scale = 1.0f / static_cast<float>(img.max_value());
  engine::Tensor t = engine::Tensor::Float({1, channels_, height_, width_});
  const double sx = static_cast<double>(roi.width) / static_cast<double>(width_);
  const double sy = static_cast<double>(roi.height) / static_cast<double>(height_);
  const bool shrink = sx > 1 || sy > 1;
  for (int64_t c = 0; c < channels_; ++c) {
    float* out = t.f.data() + c * height_ * width_;
    const auto ci = static_cast<int>(c);
    for (int64_t oy = 0; oy < height_; ++oy) {
      for (int64_t ox = 0; ox < width_; ++ox) {
        float v;
        if (shrink) {
          // Shrinking: the mean of the source pixels the output pixel covers (area filter), so thin
          // defects are averaged in, not skipped between samples.
          const int x0 = static_cast<int>(std::floor(ox * sx)), x1 = std::max(x0 + 1, static_cast<int>(std::floor((ox + 1) * sx)));
          const int y0 = static_cast<int>(std::floor(oy * sy)), y1 = std::max(y0 + 1, static_cast<int>(std::floor((oy + 1) * sy)));
          double sum = 0;
          for (int y = y0; y < std::min(y1, roi.height); ++y)
            for (int x = x0; x < std::min(x1, roi.width); ++x) sum += Sample(img, roi.x + x, roi.y + y, ci, channels_, scale);
          v = static_cast<float>(sum / ((std::min(y1, roi.height) - y0) * (std::min(x1, roi.width) - x0)));
        } else {
          // Same size or enlarging: bilinear with half-pixel centres (source position (o + 0.5) s - 0.5).
          const double fy = std::clamp((oy + 0.5) * sy - 0.5, 0.0, roi.height - 1.0);
          const int y0 = static_cast<int>(fy);
          const int y1 = std::min(y0 + 1, roi.height - 1);
          const auto wy = static_cast<float>(fy - y0);
          const double fx = std::clamp((ox + 0.5) * sx - 0.5, 0.0, roi.width - 1.0);
          const int x0 = static_cast<int>(fx);
          const int x1 = std::min(x0 + 1, roi.width - 1);
          const auto wx = static_cast<float>(fx - x0);
          const float a = Sample(img, roi.x + x0, roi.y + y0, ci, channels_, scale);
          const float b = wx > 0 ? Sample(img, roi.x + x1, roi.y + y0, ci, channels_, scale) : a;
          const float top = a + wx * (b - a);
          v = top;
          if (wy > 0) {
            const float cc = Sample(img, roi.x + x0, roi.y + y1, ci, channels_, scale);
            const float d = wx > 0 ? Sample(img, roi.x + x1, roi.y + y1, ci, channels_, scale) : cc;
            v = top + wy * ((cc + wx * (d - cc)) - top);
          }
        }
        if (!mean_.empty()) v = (v - mean_[c]) * inv_std_[c];
        out[oy * width_ + ox] = v;
      }
    }
  }
  return t;
}

Inspection VisionInspector::Inspect(std::string_view bytes, const std::string& what, double acquire_ms) {
  const auto t0 = Clock::now();
  auto img = images::DecodeImage(bytes, what, options_.limits);
  const double decode_ms = MsSince(t0);
  if (!img.ok()) {
    Inspection r;
    r.reason = "decode error: " + std::string(img.status().message());
    r.times.acquire_ms = acquire_ms;
    r.times.decode_ms = decode_ms;
    r.times.total_ms = acquire_ms + decode_ms;
    return r;
  }
  return InspectImage(*img, acquire_ms, decode_ms);
}

Inspection VisionInspector::InspectImage(const images::Image& img, double acquire_ms, double decode_ms) {
  Inspection r;
  r.width = img.width;
  r.height = img.height;
  r.channels = img.channels;
  r.bit_depth = img.bit_depth;
  r.format = std::string(images::ImageFormatName(img.format));
  r.times.acquire_ms = acquire_ms;
  r.times.decode_ms = decode_ms;
  auto finish = [&](Verdict v, std::string reason) {
    r.verdict = v;
    r.reason = std::move(reason);
    r.times.total_ms = r.times.acquire_ms + r.times.decode_ms + r.times.preprocess_ms + r.times.infer_ms;
    if (options_.deadline_ms > 0 && r.times.total_ms > options_.deadline_ms) {
      // Late is never "accept": the PLC's cycle moved on, a person decides.
      r.verdict = Verdict::kUncertain;
      r.reason = fmt::format("deadline miss: {:.2f} ms over a budget of {:.2f} ms", r.times.total_ms, options_.deadline_ms);
    }
    return r;
  };
  if (options_.expect_bit_depth != 0 && img.bit_depth != options_.expect_bit_depth)
    return finish(Verdict::kUncertain, fmt::format("bad input: {}-bit image where {}-bit is expected", img.bit_depth,
                                                   options_.expect_bit_depth));
  std::vector<Roi> rois = options_.rois;
  if (rois.empty()) rois.push_back({0, 0, img.width, img.height});
  bool any_reject = false, all_accept = true;
  for (const Roi& roi : rois) {
    const auto tp = Clock::now();
    auto x = Preprocess(img, roi);
    r.times.preprocess_ms += MsSince(tp);
    if (!x.ok()) return finish(Verdict::kUncertain, "bad input: " + std::string(x.status().message()));
    const auto ti = Clock::now();
    if (anomaly_) {
      auto f = ComputeAnomalyFeatures(*model_, *x, anomaly_->grid);
      r.times.infer_ms += MsSince(ti);
      if (!f.ok()) return finish(Verdict::kUncertain, "model error: " + std::string(f.status().message()));
      RoiResult rr;
      rr.roi = roi;
      rr.anomaly_score = anomaly_->Score(*f);
      rr.anomaly_threshold = anomaly_->threshold;
      rr.heat_map = anomaly_->HeatMap(*f);
      rr.heat_grid = anomaly_->grid;
      if (!std::isfinite(rr.anomaly_score)) return finish(Verdict::kUncertain, "model error: the anomaly score is not finite");
      const bool anomalous = rr.anomaly_score > anomaly_->threshold;
      rr.class_index = anomalous ? 1 : 0;
      rr.class_name = classes_[rr.class_index];
      rr.confidence = rr.anomaly_score / anomaly_->threshold;
      rr.verdict = anomalous ? Verdict::kReject : Verdict::kAccept;
      any_reject |= anomalous;
      all_accept &= !anomalous;
      r.rois.push_back(std::move(rr));
      continue;
    }
    engine::TensorMap in;
    in.emplace(input_name_, std::move(*x));
    auto out = model_->Run(in);
    r.times.infer_ms += MsSince(ti);
    if (!out.ok()) return finish(Verdict::kUncertain, "model error: " + std::string(out.status().message()));
    const auto it = out->outputs.find(output_name_);
    if (it == out->outputs.end() || !it->second.is_float() || it->second.f.size() != classes_.size())
      return finish(Verdict::kUncertain, fmt::format("model error: output '{}' does not hold {} class probabilities",
                                                     output_name_, classes_.size()));
    RoiResult rr;
    rr.roi = roi;
    rr.probabilities = it->second.f;
    const auto& p = rr.probabilities;
    bool finite = true;
    for (float v : p) finite &= std::isfinite(v);
    if (!finite) return finish(Verdict::kUncertain, "model error: a class probability is not finite");
    rr.class_index = static_cast<int>(std::max_element(p.begin(), p.end()) - p.begin());
    rr.class_name = classes_[rr.class_index];
    rr.confidence = p[rr.class_index];
    const bool confident = rr.confidence >= thresholds_[rr.class_index];
    rr.verdict = !confident ? Verdict::kUncertain : good_[rr.class_index] ? Verdict::kAccept : Verdict::kReject;
    any_reject |= rr.verdict == Verdict::kReject;
    all_accept &= rr.verdict == Verdict::kAccept;
    r.rois.push_back(std::move(rr));
  }
  if (any_reject) {
    const auto& worst = *std::find_if(r.rois.begin(), r.rois.end(), [](const RoiResult& x) { return x.verdict == Verdict::kReject; });
    if (anomaly_)
      return finish(Verdict::kReject, fmt::format("anomaly score {:.1f} above the threshold {:.1f}", worst.anomaly_score,
                                                  worst.anomaly_threshold));
    return finish(Verdict::kReject, fmt::format("{} at {:.3f}", worst.class_name, worst.confidence));
  }
  if (all_accept) return finish(Verdict::kAccept, "");
  return finish(Verdict::kUncertain, "below the confidence threshold");
}

images::Image Overlay(const images::Image& image, const Inspection& inspection) {
  images::Image out;
  out.width = image.width;
  out.height = image.height;
  out.channels = 3;
  out.bit_depth = 8;
  out.data.resize(static_cast<size_t>(image.width) * image.height * 3);
  const int shift = image.bit_depth == 16 ? 8 : 0;
  for (int y = 0; y < image.height; ++y) {
    for (int x = 0; x < image.width; ++x) {
      for (int c = 0; c < 3; ++c) {
        const int src_c = image.channels == 3 ? c : 0;
        out.data[(static_cast<size_t>(y) * image.width + x) * 3 + c] = static_cast<uint8_t>(image.at(x, y, src_c) >> shift);
      }
    }
  }
  auto color = [](Verdict v) -> std::array<uint8_t, 3> {
    if (v == Verdict::kAccept) return {0, 200, 0};
    if (v == Verdict::kReject) return {230, 0, 0};
    return {255, 170, 0};
  };
  auto box = [&](Roi r, std::array<uint8_t, 3> col) {
    const int thick = std::max(1, std::min(image.width, image.height) / 100);
    const int y_end = static_cast<int>(std::min<int64_t>(static_cast<int64_t>(r.y) + r.height, image.height));
    const int x_end = static_cast<int>(std::min<int64_t>(static_cast<int64_t>(r.x) + r.width, image.width));
    for (int y = r.y; y < y_end; ++y) {
      for (int x = r.x; x < x_end; ++x) {
        const bool edge = x - r.x < thick || y - r.y < thick || r.x + r.width - 1 - x < thick || r.y + r.height - 1 - y < thick;
        if (edge) std::copy(col.begin(), col.end(), out.data.begin() + (static_cast<size_t>(y) * image.width + x) * 3);
      }
    }
  };
  // Anomaly heat map: each cell tinted red in proportion to its score over the image threshold.
  for (const auto& rr : inspection.rois) {
    if (rr.heat_grid <= 0 || rr.heat_map.size() != static_cast<size_t>(rr.heat_grid * rr.heat_grid)) continue;
    const int g = rr.heat_grid;
    double top = 0;
    for (double h : rr.heat_map) top = std::max(top, h);
    if (top <= 0) continue;
    for (int cy = 0; cy < g; ++cy) {
      for (int cx = 0; cx < g; ++cx) {
        const double a = 0.6 * std::min(1.0, rr.heat_map[cy * g + cx] / top);
        const int x0 = rr.roi.x + cx * rr.roi.width / g, x1 = rr.roi.x + (cx + 1) * rr.roi.width / g;
        const int y0 = rr.roi.y + cy * rr.roi.height / g, y1 = rr.roi.y + (cy + 1) * rr.roi.height / g;
        for (int y = y0; y < std::min(y1, image.height); ++y) {
          for (int x = x0; x < std::min(x1, image.width); ++x) {
            uint8_t* px = &out.data[(static_cast<size_t>(y) * image.width + x) * 3];
            px[0] = static_cast<uint8_t>(px[0] + a * (255 - px[0]));
            px[1] = static_cast<uint8_t>(px[1] * (1 - a));
            px[2] = static_cast<uint8_t>(px[2] * (1 - a));
          }
        }
      }
    }
  }
  if (inspection.rois.empty()) {
    box({0, 0, image.width, image.height}, color(inspection.verdict));
  } else {
    for (const auto& rr : inspection.rois) box(rr.roi, color(rr.verdict));
  }
  return out;
}

}  // namespace pf::apps

namespace pf::apps {

int ReasonCode(const Inspection& r) {
  const std::string& s = r.reason;
  if (r.verdict == Verdict::kAccept || r.verdict == Verdict::kReject) return 0;
  if (s.rfind("decode error", 0) == 0) return 1;
  if (s.rfind("deadline miss", 0) == 0) return 2;
  if (s.rfind("model error", 0) == 0) return 3;
  if (s.rfind("bad input", 0) == 0) return 4;
  if (s.rfind("below the confidence", 0) == 0) return 5;
  if (s.rfind("acquire error", 0) == 0) return 6;
  return 0;
}

std::vector<uint16_t> VerdictRegisters(uint32_t sequence, const Inspection& r, const std::string& part_id) {
  std::vector<uint16_t> v(kVerdictRegisters, 0);
  v[0] = static_cast<uint16_t>(sequence >> 16);
  v[1] = static_cast<uint16_t>(sequence & 0xffff);
  v[2] = static_cast<uint16_t>(r.verdict == Verdict::kAccept ? 1 : r.verdict == Verdict::kReject ? 2 : 3);
  const RoiResult* shown = nullptr;
  for (const auto& rr : r.rois) {
    if (rr.verdict == Verdict::kReject) {
      shown = &rr;
      break;
    }
  }
  if (!shown && !r.rois.empty()) shown = &r.rois.front();
  if (shown && shown->class_index >= 0) {
    v[3] = static_cast<uint16_t>(shown->class_index + 1);
    v[4] = static_cast<uint16_t>(std::lround(std::clamp(shown->confidence, 0.0, 1.0) * 10000));
  }
  v[5] = static_cast<uint16_t>(std::min(65535.0, std::round(r.times.total_ms * 100)));
  v[6] = static_cast<uint16_t>(ReasonCode(r));
  for (size_t k = 0; k < part_id.size() && k < 32; ++k) {
    const auto c = static_cast<uint8_t>(part_id[k]);
    v[8 + k / 2] |= static_cast<uint16_t>(k % 2 == 0 ? c << 8 : c);
  }
  return v;
}

}  // namespace pf::apps
