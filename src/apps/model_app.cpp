#include "apps/model_app.h"

#include <cmath>
#include <limits>
#include <set>

#include <fmt/format.h>

namespace pf::apps {

Status ModelAppConfig::Validate() const {
  if (name.empty()) return InvalidArgument("name: must not be empty");
  if (!(cycle_s > 0)) return InvalidArgument("cycle: must be above 0 s, got {}", cycle_s);
  if (deadline_s && !(*deadline_s > 0)) return InvalidArgument("deadline: must be above 0 s, got {}", *deadline_s);
  if (max_input_age_s && !(*max_input_age_s > 0))
    return InvalidArgument("max_input_age: must be above 0 s, got {}", *max_input_age_s);
  if (inputs.empty()) return InvalidArgument("inputs: at least one input binding is needed");
  std::set<std::string> seen;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const ModelInputBinding& b = inputs[i];
    if (b.input.empty()) return InvalidArgument("inputs[{}].input: must not be empty", i);
    if (!seen.insert(b.input).second) return InvalidArgument("inputs[{}].input: '{}' is bound twice", i, b.input);
    if (b.tags.empty()) return InvalidArgument("inputs[{}].tags: at least one tag", i);
    if (b.window < 1 || b.window > 100000) return InvalidArgument("inputs[{}].window: must be in [1, 100000], got {}", i, b.window);
  }
  return Status::Ok();
}

Result<std::unique_ptr<ModelApp>> ModelApp::Create(ModelAppConfig config, std::unique_ptr<engine::Model> model) {
  PF_RETURN_IF_ERROR_CTX(config.Validate(), "model app '{}'", config.name);
  if (!model) return InvalidArgument("model app '{}': no model", config.name);
  std::unique_ptr<ModelApp> app(new ModelApp());
  const engine::Manifest& manifest = model->manifest();
  for (const engine::ValueInfo& in : model->inputs()) {
    const ModelInputBinding* b = nullptr;
    for (const auto& x : config.inputs)
      if (x.input == in.name) b = &x;
    if (!b) return InvalidArgument("model app '{}': model input '{}' is not bound to tags", config.name, in.name);
    if (in.dtype != engine::DType::kFloat)
      return InvalidArgument("model app '{}': input '{}' is {}; only float inputs can be built from tags", config.name,
                             in.name, engine::DTypeName(in.dtype));
    const int64_t n = engine::CheckedNumElements(in.shape);
    const int64_t want = static_cast<int64_t>(b->tags.size()) * b->window;
    if (n != want)
      return InvalidArgument("model app '{}': input '{}' has shape {} ({} elements) but {} tags x window {} give {}",
                             config.name, in.name, engine::ShapeToString(in.shape), n, b->tags.size(), b->window, want);
    Bound bd;
    bd.input = in.name;
    bd.shape = in.shape;
    bd.window = b->window;
    bd.first_channel = app->channels_.size();
    bd.channels = b->tags.size();
    for (const engine::ManifestInput& mi : manifest.inputs) {
      if (mi.name != in.name || mi.mean.empty()) continue;
      const int64_t axis = mi.axis < 0 ? mi.axis + static_cast<int64_t>(in.shape.size()) : mi.axis;
      if (axis < 0 || axis >= static_cast<int64_t>(in.shape.size()) ||
          static_cast<int64_t>(mi.mean.size()) != in.shape[static_cast<size_t>(axis)] || mi.std.size() != mi.mean.size())
        return InvalidArgument("model app '{}': manifest normalization of '{}' (axis {}, {} values) does not fit shape {}",
                               config.name, in.name, mi.axis, mi.mean.size(), engine::ShapeToString(in.shape));
      const std::vector<int64_t> strides = engine::Strides(in.shape);
      bd.mean.resize(static_cast<size_t>(n));
      bd.inv_std.resize(static_cast<size_t>(n));
      for (int64_t k = 0; k < n; ++k) {
        const size_t c = static_cast<size_t>((k / strides[static_cast<size_t>(axis)]) % in.shape[static_cast<size_t>(axis)]);
        if (!(mi.std[c] > 0))
          return InvalidArgument("model app '{}': manifest normalization of '{}': std[{}] = {} must be above 0", config.name,
                                 in.name, c, mi.std[c]);
        bd.mean[static_cast<size_t>(k)] = static_cast<float>(mi.mean[c]);
        bd.inv_std[static_cast<size_t>(k)] = static_cast<float>(1.0 / mi.std[c]);
      }
    }
    for (const std::string& tag : b->tags) {
      Channel ch;
      ch.tag = tag;
      ch.binding = app->bound_.size();
      app->channels_.push_back(std::move(ch));
      app->input_tags_.push_back(tag);
    }
    app->feed_[in.name] = engine::Tensor::Float(in.shape);
    app->bound_.push_back(std::move(bd));
  }
  for (const auto& b : config.inputs) {
    bool found = false;
    for (const auto& in : model->inputs()) found |= in.name == b.input;
    if (!found) return InvalidArgument("model app '{}': the model has no input '{}'", config.name, b.input);
  }
  for (const engine::ValueInfo& out : model->outputs()) {
    const int64_t n = engine::CheckedNumElements(out.shape);
    if (n <= 0) return InvalidArgument("model app '{}': output '{}' has no static size ({})", config.name, out.name,
                                       engine::ShapeToString(out.shape));
    const engine::ManifestOutput* mo = nullptr;
    for (const auto& m : manifest.outputs)
      if (m.name == out.name) mo = &m;
    for (int64_t i = 0; i < n; ++i) {
      std::string name;
      if (n == 1) name = fmt::format("{}.{}", config.name, out.name);
      else if (mo && !mo->class_names.empty() && static_cast<int64_t>(mo->class_names.size()) == n)
        name = fmt::format("{}.{}.{}", config.name, out.name, mo->class_names[static_cast<size_t>(i)]);
      else name = fmt::format("{}.{}.{}", config.name, out.name, i);
      app->output_names_.push_back(std::move(name));
    }
    app->outputs_.push_back({out.name, n});
  }
  app->config_ = std::move(config);
  app->model_ = std::move(model);
  return app;
}

void ModelApp::OnSample(size_t index, double value, Quality quality, Timestamp t) {
  if (index >= channels_.size()) return;
  Channel& ch = channels_[index];
  const double max_age = config_.max_input_age_s.value_or(2 * config_.cycle_s);
  const auto age_limit = static_cast<int64_t>(max_age * 1e9);
  if (ch.any && t.ns <= ch.newest.ns) {
    if (ch.newest.ns - t.ns <= age_limit) return;  // a repeat or an older sample: the window moves forward only
    ch.window.clear();  // the clock went back further than max_input_age: start the window again
  } else if (ch.any && t.ns - ch.newest.ns > age_limit) {
    ch.window.clear();  // a gap longer than max_input_age: the older samples are not this window's
  }
  ch.window.emplace_back(value, std::isfinite(value) ? quality : Quality::kBad);
  while (static_cast<int>(ch.window.size()) > bound_[ch.binding].window) ch.window.pop_front();
  ch.newest = t;
  ch.any = true;
}

ModelStep ModelApp::Step(Timestamp now) {
  ModelStep step;
  step.time = now;
  step.values.assign(output_names_.size(), std::numeric_limits<double>::quiet_NaN());
  const double max_age = config_.max_input_age_s.value_or(2 * config_.cycle_s);
  for (const Channel& ch : channels_) {
    const int need = bound_[ch.binding].window;
    if (static_cast<int>(ch.window.size()) < need) {
      step.reason = fmt::format("tag '{}': {} of {} samples", ch.tag, ch.window.size(), need);
    } else if (static_cast<double>(now.ns - ch.newest.ns) * 1e-9 > max_age) {
      step.reason = fmt::format("tag '{}': newest sample {:.1f} s old (max_input_age {:g} s)", ch.tag,
                                static_cast<double>(now.ns - ch.newest.ns) * 1e-9, max_age);
    } else {
      for (const auto& [v, q] : ch.window)
        if (q != Quality::kGood) {
          step.reason = fmt::format("tag '{}': a {} sample in the window", ch.tag, q == Quality::kBad ? "bad" : "uncertain");
          break;
        }
    }
    if (!step.reason.empty()) {
      ++skipped_;
      return step;
    }
  }
  for (const Bound& b : bound_) {
    std::vector<float>& x = feed_[b.input].f;
    for (size_t c = 0; c < b.channels; ++c) {
      const Channel& ch = channels_[b.first_channel + c];
      size_t j = 0;
      for (const auto& [v, q] : ch.window) {
        const size_t k = c * static_cast<size_t>(b.window) + j++;
        x[k] = b.mean.empty() ? static_cast<float>(v) : (static_cast<float>(v) - b.mean[k]) * b.inv_std[k];
      }
    }
  }
  const double deadline = config_.deadline_s.value_or(config_.cycle_s);
  auto r = model_->Run(feed_, std::chrono::nanoseconds(static_cast<int64_t>(deadline * 1e9)));
  if (!r.ok()) {
    ++failed_;
    step.reason = r.status().message();
    return step;
  }
  ++runs_;
  step.ran = true;
  step.late = r->late;
  step.latency_ms = r->latency_ms;
  if (r->late) ++late_;
  step.quality = r->late ? Quality::kUncertain : Quality::kGood;
  size_t slot = 0;
  for (const OutputSlot& o : outputs_) {
    auto it = r->outputs.find(o.output);
    if (it == r->outputs.end() || it->second.size() != o.elements) {
      ++failed_;
      step.ran = false;
      step.quality = Quality::kBad;
      step.reason = fmt::format("output '{}' missing or resized", o.output);
      step.values.assign(output_names_.size(), std::numeric_limits<double>::quiet_NaN());
      return step;
    }
    for (int64_t i = 0; i < o.elements; ++i) step.values[slot++] = it->second.At(i);
  }
  return step;
}

}  // namespace pf::apps
