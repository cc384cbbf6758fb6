#include "runtime/model_service.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "core/log.h"

namespace pf {

using nlohmann::json;

struct ModelService::Model {
  ModelEntry entry;
  std::unique_ptr<apps::ModelApp> app;
  std::vector<TagId> outputs;
  int64_t next_due_ns = 0;  // source time of the next step
  int64_t last_stepped_ns = 0;   // source time of the last boundary stepped (never stepped twice)
  int64_t newest_input_ns = 0;   // newest input sample's source time
  int64_t last_input_mono_ns = 0;  // MonotonicNs() when the last input sample arrived
  apps::ModelStep last;
  bool stepped = false;
  Histogram* latency = nullptr;
  Counter *runs = nullptr, *late = nullptr, *skipped = nullptr;
};

ModelService::~ModelService() = default;

Result<std::unique_ptr<ModelService>> ModelService::Create(const PlantConfig& pc, MetricsRegistry* metrics) {
  std::unique_ptr<ModelService> svc(new ModelService());
  std::map<std::string, TagId> ids;
  for (const TagDef& t : pc.tags) ids[t.name] = t.id;
  for (const ModelEntry& e : pc.models) {
    auto m = std::make_unique<Model>();
    m->entry = e;
    engine::ModelOptions mo;
    mo.threads = e.threads;
    PF_ASSIGN_OR_RETURN(std::unique_ptr<engine::Model> model, engine::LoadModel(e.path, mo));
    if (metrics) {
      const Labels l{{"model", e.app.name}};
      m->latency = &metrics->GetHistogram("pf_model_latency_seconds", "model inference latency per run", l);
      m->runs = &metrics->GetCounter("pf_model_runs_total", "model runs", l);
      m->late = &metrics->GetCounter("pf_model_late_total", "model runs that missed their deadline", l);
      m->skipped = &metrics->GetCounter("pf_model_skipped_total", "cycles without inference (inputs not ready, bad or stale; model error)", l);
    }
    PF_ASSIGN_OR_RETURN(m->app, apps::ModelApp::Create(e.app, std::move(model)));
    // BuildPlantConfig declared the outputs from the same file; a file replaced since then may differ.
    for (const std::string& name : m->app->OutputNames()) {
      auto id = ids.find(name);
      if (id == ids.end())
        return FailedPrecondition("model '{}': output tag '{}' was not declared when the configuration was read; "
                                  "was {} replaced since? Check the configuration again", e.app.name, name, e.path);
      m->outputs.push_back(id->second);
    }
    const auto& tags = m->app->InputTags();
    for (size_t i = 0; i < tags.size(); ++i) svc->by_tag_[ids.at(tags[i])].push_back({m.get(), i});  // checked by BuildPlantConfig
    PF_LOG_INFO("model '{}': {} ({}), {} inputs, {} outputs", e.app.name, e.path, m->app->model().kind(), tags.size(),
                m->outputs.size());
    svc->models_.push_back(std::move(m));
  }
  return svc;
}

void ModelService::StepModel(Model* m, Timestamp at, std::vector<Sample>& out) {
  if (at.ns <= m->last_stepped_ns) return;  // published already (e.g. by Tick, before a late backfill)
  m->last_stepped_ns = at.ns;
  apps::ModelStep step = m->app->Step(at);
  for (size_t k = 0; k < m->outputs.size(); ++k) {
    Sample o;
    o.tag = m->outputs[k];
    o.source_time = at;
    o.receive_time = Now();
    o.quality = step.quality;
    o.value = step.values[k];
    if (!std::isfinite(step.values[k])) {  // did not run, or the model gave NaN/inf: no usable value
      o.quality = Quality::kBad;
      o.value = 0.0;
    }
    out.push_back(std::move(o));
  }
  if (m->latency) {
    if (step.ran) m->latency->Observe(step.latency_ms * 1e-3), m->runs->Inc();
    if (step.late) m->late->Inc();
    if (!step.ran) m->skipped->Inc();
  }
  if (!step.ran && (m->app->skipped() + m->app->failed()) % 100 == 1)
    PF_LOG_WARN("model '{}': not run: {}", m->entry.app.name, step.reason);
  m->last = std::move(step);
  m->stepped = true;
}

void ModelService::OnSample(const Sample& s, std::vector<Sample>& out) {
  auto it = by_tag_.find(s.tag);
  if (it == by_tag_.end()) return;
  const std::optional<double> v = AsDouble(s.value);
  std::lock_guard lk(mu_);
  for (auto& [m, index] : it->second) {
    const int64_t cycle_ns = static_cast<int64_t>(m->entry.app.cycle_s * 1e9);
    // Step first when this sample starts a new cycle: the step sees the windows up to the boundary.
    // A sample more than two cycles before the next boundary means the clock went back (or an
    // earlier sample came from the future): start the cycles again from this sample.
    if (m->next_due_ns == 0 || s.source_time.ns < m->next_due_ns - 2 * cycle_ns) {
      m->next_due_ns = (s.source_time.ns / cycle_ns + 1) * cycle_ns;
      m->last_stepped_ns = 0;  // a clock that went back restarts the cycles (a backfill republishes)
      m->newest_input_ns = 0;
    }
    if (s.source_time.ns >= m->next_due_ns) {
      const Timestamp at{m->next_due_ns};
      m->next_due_ns = (s.source_time.ns / cycle_ns + 1) * cycle_ns;
      StepModel(m, at, out);
    }
    m->app->OnSample(index, v.value_or(std::nan("")), v ? s.quality : Quality::kBad, s.source_time);
    m->newest_input_ns = std::max(m->newest_input_ns, s.source_time.ns);
    m->last_input_mono_ns = MonotonicNs();
  }
}

void ModelService::Tick(int64_t mono_now_ns, std::vector<Sample>& out) {
  std::lock_guard lk(mu_);
  for (auto& m : models_) {
    if (m->last_input_mono_ns == 0) continue;  // no input sample yet: nothing to say
    const int64_t cycle_ns = static_cast<int64_t>(m->entry.app.cycle_s * 1e9);
    const int64_t max_age_ns = static_cast<int64_t>(m->entry.app.max_input_age_s.value_or(2 * m->entry.app.cycle_s) * 1e9);
    // Silence is measured on the clock the samples arrive on (not the alert clock: a source whose
    // timestamps trail the server's would otherwise be stepped ahead of its own data).
    const int64_t silent_ns = mono_now_ns - m->last_input_mono_ns;
    if (silent_ns < max_age_ns + cycle_ns) continue;
    // The source's time now, estimated from its newest sample and the silence since; the first
    // boundary stepped is the first at which the newest input is older than max_input_age, so
    // every timed step publishes bad outputs with the reason.
    const int64_t source_now = m->newest_input_ns + silent_ns;
    const int64_t first_stale = ((m->newest_input_ns + max_age_ns) / cycle_ns + 1) * cycle_ns;
    int64_t at = std::max(m->next_due_ns, first_stale);
    for (int k = 0; k < 100 && at + cycle_ns <= source_now; ++k, at += cycle_ns) {
      StepModel(m.get(), Timestamp{at}, out);
    }
    m->next_due_ns = at;
  }
}

Status ModelService::AddRoutes(ApiServer& api) {
  return api.AddRoute(
      "GET", "/api/v1/models",
      [this](const ApiRequest&) {
        json items = json::array();
        std::lock_guard lk(mu_);
        for (const auto& m : models_) {
          const engine::Manifest& man = m->app->model().manifest();
          json last = nullptr;
          if (m->stepped) {
            json values = json::object();
            for (size_t k = 0; k < m->app->OutputNames().size(); ++k)
              values[m->app->OutputNames()[k]] = m->last.ran ? json(m->last.values[k]) : json(nullptr);
            last = {{"time", FormatRfc3339(m->last.time)}, {"ran", m->last.ran}, {"late", m->last.late},
                    {"latency_ms", m->last.latency_ms}, {"reason", m->last.reason.empty() ? json(nullptr) : json(m->last.reason)},
                    {"values", values}};
          }
          items.push_back({{"name", m->entry.app.name},
                           {"path", m->entry.path},
                           {"kind", m->app->model().kind()},
                           {"manifest", {{"present", man.present}, {"name", man.name}, {"version", man.version},
                                         {"model_sha256", man.model_sha256}}},
                           {"cycle_s", m->entry.app.cycle_s},
                           {"inputs", m->app->InputTags()},
                           {"outputs", m->app->OutputNames()},
                           {"runs", m->app->runs()},
                           {"late", m->app->late_runs()},
                           {"skipped", m->app->skipped()},
                           {"failed", m->app->failed()},
                           {"last", last}});
        }
        return ApiResponse::Json({{"models", items}});
      },
      false);
}

}  // namespace pf
