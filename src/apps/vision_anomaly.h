#pragma once
// Anomaly mode of the vision station (issue 10 item 4): trained on good parts only, for lines with few
// defect examples.
//
// Features: a fixed texture filter bank run as an ONNX model through engine/ (int8 after
// `engine::QuantizeModel` on good images): Laws' texture energy (Laws 1980; the 24 outer products of
// the 5-tap vectors L5, E5, S5, R5, W5 other than L5L5) on the image and on the image averaged 2x2:
// the absolute filter response averaged over a grid x grid of cells (each mask runs as +m and -m with
// a Relu, so the convolution and rectification are one int8 kernel; the pair is summed here). Per cell and for the whole image: the log energies of
// both scales, the mean gray value and the log standard deviation (50 values).
// Scores: the squared Mahalanobis distance of the image's vector to the good parts' Gaussian (mean,
// covariance + ridge); the heat map: the same distance per cell against the Gaussian of all good cells.
// Threshold: the (1 - target false-reject rate) quantile of the scores of held-out good images (not the
// training ones, whose scores are biased low).
// The baseline it is compared with (GrayStatsFeatures): mean, SD, skewness, kurtosis and the 1/10/50/
// 90/99th percentiles of the gray values, with the same Gaussian score.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "engine/model.h"

namespace pf::apps {

struct TextureModelOptions {
  int size = 200;  // input S x S; (S - 4) and (S / 2 - 4) must divide into `grid` cells
  int grid = 4;
};
constexpr int kLawsMasks = 24;
constexpr int kAnomalyFeatures = 2 * kLawsMasks + 2;

// The texture model as ONNX bytes (opset 13, with its manifest): input "image" [1, 1, S, S] in [0, 1],
// outputs "energy0", "energy1" [1, 48, grid, grid] (the rectified +m responses, then the -m ones).
Result<std::string> BuildTextureModel(const TextureModelOptions& options);

struct AnomalyFeatures {
  std::vector<double> image;               // kAnomalyFeatures
  std::vector<std::vector<double>> cells;  // grid * grid, row-major, each kAnomalyFeatures
};
// x: the preprocessed image [1, 1, S, S] in [0, 1]; `model` the (int8) texture model.
Result<AnomalyFeatures> ComputeAnomalyFeatures(engine::Model& model, const engine::Tensor& x, int grid);
std::vector<double> GrayStatsFeatures(const engine::Tensor& x);

struct Gaussian {
  std::vector<double> mean;
  std::vector<double> inv_cov;  // dim x dim
  // Rows of equal length, at least 2; ridge added to the covariance's diagonal.
  static Result<Gaussian> Fit(const std::vector<std::vector<double>>& rows, double ridge);
  double Distance2(const std::vector<double>& v) const;
};

struct AnomalyDetector {
  Gaussian image, cell;
  double threshold = 0;        // image score above it: anomalous
  double target_frr = 0.05;
  int grid = 4, size = 200;
  int64_t good_images = 0, holdout_images = 0;
  nlohmann::json ToJson() const;
  static Result<AnomalyDetector> FromJson(const nlohmann::json& j);
  double Score(const AnomalyFeatures& f) const { return image.Distance2(f.image); }
  std::vector<double> HeatMap(const AnomalyFeatures& f) const;
};

// Area under the ROC curve of `positive` (anomalous) scores against `negative` (good) ones; ties count half.
double Auroc(const std::vector<double>& positive, const std::vector<double>& negative);
// The threshold for a target false-reject rate: the score that (1 - frr) of `good_scores` do not exceed.
double ThresholdForFrr(std::vector<double> good_scores, double frr);

}  // namespace pf::apps
