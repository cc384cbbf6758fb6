#pragma once
// ModelApp: a model on live tags (issue 8 item 6). Pure: tag samples in, model outputs as derived
// values out; the runtime resolves tags, calls Step() every cycle and publishes what it returns.
//
// Inputs are built from tag windows per the model and its manifest: each binding fills one model
// input (float, static shape) from `tags` x `window` samples, channel-major: element
// k * window + j is tag k's j-th sample of the window, oldest first (so a [1, C, L] 1-D CNN input
// gets one tag per channel and L lags, and a [1, F] feature vector with window 1 gets one tag per
// feature). The element count must equal tags x window (checked at Create, the error names the
// input and both counts). The manifest's normalization (mean/std per index along its axis) is
// applied here, so config does not repeat it.
// Step(now) runs the model once when every window is full, every sample in it is good and the
// newest sample of each tag is at most max_input_age old; otherwise it does not run and returns the
// outputs with bad quality and the reason ("tag 'press.p1': 2 of 4 samples"). No inference on
// bad-quality inputs. The deadline (default: the cycle time) is passed to the model; a late result
// is published with uncertain quality and counted, which is this app's fail-safe (the value is
// still the model's, but no rule should act on it as if it were on time).
// Outputs: each model output element is a value named "<name>.<output>" (one element),
// "<name>.<output>.<class>" (manifest class names along the last axis) or "<name>.<output>.<i>".
//
// Not thread-safe: one ModelApp per model, used by the processor thread.
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/sample.h"
#include "core/status.h"
#include "core/time.h"
#include "engine/model.h"

namespace pf::apps {

struct ModelInputBinding {
  std::string input;              // model input name
  std::vector<std::string> tags;  // one per channel / feature, in order
  int window = 1;                 // samples per tag (the newest `window`)
};

struct ModelAppConfig {
  std::string name;     // output value names "<name>.<output>..."
  std::vector<ModelInputBinding> inputs;
  double cycle_s = 1.0;                 // Step() is called every cycle
  std::optional<double> deadline_s;     // default: cycle_s
  std::optional<double> max_input_age_s;  // default: 2 x cycle_s

  Status Validate() const;
};

struct ModelStep {
  Timestamp time;
  bool ran = false;
  bool late = false;
  double latency_ms = 0;
  Quality quality = Quality::kBad;       // kGood, kUncertain (late) or kBad (did not run / failed)
  std::vector<double> values;            // one per OutputNames() entry; NaN when it did not run
  std::string reason;                    // why it did not run or failed ("" when it ran)
};

class ModelApp {
 public:
  // The model's inputs must be float with static shapes matching the bindings; every model input
  // must be bound exactly once.
  static Result<std::unique_ptr<ModelApp>> Create(ModelAppConfig config, std::unique_ptr<engine::Model> model);

  // The flat list of input tags (binding by binding, tag by tag) for the caller to route samples.
  const std::vector<std::string>& InputTags() const { return input_tags_; }
  // A sample of input tag `index` (into InputTags()). Samples only move a window forward (a repeat
  // or older sample is dropped); a gap longer than max_input_age, or a clock stepping back by more
  // than that, starts the tag's window again.
  void OnSample(size_t index, double value, Quality quality, Timestamp t);
  // Runs the model (or explains why not). The returned values line up with OutputNames().
  ModelStep Step(Timestamp now);

  const std::vector<std::string>& OutputNames() const { return output_names_; }
  const ModelAppConfig& config() const { return config_; }
  const engine::Model& model() const { return *model_; }
  uint64_t runs() const { return runs_; }
  uint64_t late_runs() const { return late_; }
  uint64_t skipped() const { return skipped_; }
  uint64_t failed() const { return failed_; }

 private:
  struct Channel {
    std::string tag;
    size_t binding = 0;
    std::deque<std::pair<double, Quality>> window;
    Timestamp newest{};
    bool any = false;
  };
  struct Bound {
    std::string input;
    engine::Shape shape;
    int window = 1;
    size_t first_channel = 0, channels = 0;
    std::vector<float> mean, inv_std;  // per element (expanded along the manifest axis); empty = none
  };
  ModelApp() = default;

  ModelAppConfig config_;
  std::unique_ptr<engine::Model> model_;
  std::vector<Bound> bound_;
  std::vector<Channel> channels_;
  std::vector<std::string> input_tags_, output_names_;
  struct OutputSlot {
    std::string output;
    int64_t elements = 0;
  };
  std::vector<OutputSlot> outputs_;
  engine::TensorMap feed_;
  uint64_t runs_ = 0, late_ = 0, skipped_ = 0, failed_ = 0;
};

}  // namespace pf::apps
