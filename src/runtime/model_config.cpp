#include "runtime/model_config.h"

#include <filesystem>

#include <fmt/format.h>

namespace pf {
namespace {

constexpr FieldSpec kModelSpec[] = {
    {"name", FieldType::kString, true, "", "model name: prefix of its output tags (\"press1.state\")"},
    {"path", FieldType::kString, true, "", "model file: .onnx (manifest in metadata) or XGBoost .json/.ubj (manifest beside it)"},
    {"asset", FieldType::kString, false, "<first input tag's asset>", "asset of the output tags"},
    {"cycle", FieldType::kDuration, false, "1s", "the model runs once per cycle of the input tags' source time"},
    {"deadline", FieldType::kDuration, false, "<cycle>", "a slower run is published with uncertain quality and counted"},
    {"max_input_age", FieldType::kDuration, false, "<2 x cycle>", "an input tag with no newer sample stops inference"},
    {"threads", FieldType::kInt, false, "1", "inference threads of this model (OpenMP, passive wait)"},
    {"inputs", FieldType::kTableArray, true, "", "which tags fill which model input (see [[models.inputs]])"},
};

constexpr FieldSpec kInputSpec[] = {
    {"input", FieldType::kString, true, "", "model input name"},
    {"tags", FieldType::kStringArray, true, "", "tags, one per channel / feature, in the model's order"},
    {"window", FieldType::kInt, false, "1", "samples per tag, oldest first (channel-major: tag k's samples are contiguous)"},
};

double Seconds(Duration d) { return static_cast<double>(d.count()) * 1e-9; }

}  // namespace

std::span<const FieldSpec> ModelSpec() { return kModelSpec; }
std::span<const FieldSpec> ModelInputSpec() { return kInputSpec; }

Result<ModelEntry> ReadModel(const ConfigNode& table, const std::string& base_dir) {
  ConfigReader r(table, kModelSpec);
  PF_RETURN_IF_ERROR(r.Check());
  ModelEntry e;
  e.node = &table;
  apps::ModelAppConfig& c = e.app;
  PF_ASSIGN_OR_RETURN(c.name, r.String("name"));
  if (c.name.empty() || c.name.find_first_of("/ ?#") != std::string::npos)
    return r.Error("name", fmt::format("'{}' cannot be a model name (not empty; no '/', ' ', '?', '#')", c.name));
  PF_ASSIGN_OR_RETURN(e.path, r.String("path"));
  if (!e.path.empty() && std::filesystem::path(e.path).is_relative() && !base_dir.empty())
    e.path = (std::filesystem::path(base_dir) / e.path).string();
  PF_ASSIGN_OR_RETURN(e.asset, r.String("asset", ""));
  PF_ASSIGN_OR_RETURN(Duration cycle, r.Dur("cycle", std::chrono::seconds(1)));
  c.cycle_s = Seconds(cycle);
  if (r.Has("deadline")) {
    PF_ASSIGN_OR_RETURN(Duration d, r.Dur("deadline", cycle));
    c.deadline_s = Seconds(d);
  }
  if (r.Has("max_input_age")) {
    PF_ASSIGN_OR_RETURN(Duration d, r.Dur("max_input_age", 2 * cycle));
    c.max_input_age_s = Seconds(d);
  }
  PF_ASSIGN_OR_RETURN(int64_t threads, r.IntIn("threads", 1, 1, 64));
  e.threads = static_cast<int>(threads);
  const ConfigNode* inputs = table.Find("inputs");
  for (size_t i = 0; inputs && i < inputs->items.size(); ++i) {
    const ConfigNode& in = inputs->items[i];
    ConfigReader ir(in, kInputSpec);
    PF_RETURN_IF_ERROR(ir.Check());
    apps::ModelInputBinding b;
    PF_ASSIGN_OR_RETURN(b.input, ir.String("input"));
    PF_ASSIGN_OR_RETURN(b.tags, ir.Strings("tags"));
    if (b.tags.empty()) return ir.Error("tags", "at least one tag");
    PF_ASSIGN_OR_RETURN(int64_t w, ir.IntIn("window", 1, 1, 100000));
    b.window = static_cast<int>(w);
    c.inputs.push_back(std::move(b));
  }
  if (Status v = c.Validate(); !v.ok()) return ConfigError(table, v.message());
  engine::ModelOptions mo;
  mo.threads = e.threads;
  auto model = engine::LoadModel(e.path, mo);
  if (!model.ok()) return r.Error("path", model.status().message());
  for (const auto& out : (*model)->manifest().outputs) e.output_meanings.push_back(out.meaning);
  auto app = apps::ModelApp::Create(c, std::move(model).value());
  if (!app.ok()) return ConfigError(table, app.status().message());
  e.output_names = (*app)->OutputNames();
  return e;
}

}  // namespace pf
