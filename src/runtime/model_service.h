#pragma once
// ModelService: the [[models]] of the running plant (issue 8 item 6). Each model is an
// apps::ModelApp fed by the processor thread with its input tags' samples; it runs once per cycle
// of the inputs' source time (the first input sample at or past the next cycle boundary triggers
// the step, so replayed and live data behave alike; when every input falls silent, Tick steps on
// the arrival clock instead) and its outputs go back into the normal sample
// path as the declared output tags (history, rules, SPC): good quality, uncertain when the run
// missed its deadline, bad with no value when it could not run (a window not full, a bad or stale
// input, a model error). GET /api/v1/models lists each model with its manifest, counters and the
// last step. Latency histograms per model go to /metrics (pf_model_latency_seconds{model=...}).
//
// Thread-safety: OnSample on the processor thread; the API handler on API threads; one mutex.
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "api/api_server.h"
#include "apps/model_app.h"
#include "core/metrics.h"
#include "runtime/plant_config.h"

namespace pf {

class ModelService {
 public:
  static Result<std::unique_ptr<ModelService>> Create(const PlantConfig& pc, MetricsRegistry* metrics);
  ~ModelService();
  bool empty() const { return models_.empty(); }

  // Processor thread: a sample of any tag; appends the output samples of the steps it triggered.
  void OnSample(const Sample& s, std::vector<Sample>& out);
  // Processor thread, periodically (MonotonicNs()): when every input of a model has been silent
  // for max_input_age plus a cycle on the arrival clock, steps the boundaries from the first one at
  // which its newest input is older than max_input_age up to the source's estimated now (newest
  // input time + silence): outputs bad, reason in the last step. A model that has seen no input
  // sample is left alone.
  void Tick(int64_t mono_now_ns, std::vector<Sample>& out);

  Status AddRoutes(ApiServer& api);

  struct Model;

 private:
  ModelService() = default;
  void StepModel(Model* m, Timestamp at, std::vector<Sample>& out);  // mu_ held
  std::vector<std::unique_ptr<Model>> models_;
  std::map<TagId, std::vector<std::pair<Model*, size_t>>> by_tag_;
  mutable std::mutex mu_;
};

}  // namespace pf
