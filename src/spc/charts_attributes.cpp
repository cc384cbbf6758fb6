// p, np, c and u charts (formulas in charts.h).
#include <algorithm>
#include <cmath>

#include "spc/chart_build.h"

namespace pf::spc::internal {
namespace {

bool Whole(double v) { return std::floor(v) == v; }

Status Validate(const ChartData& data, ChartType type) {
  bool fraction = type == ChartType::kP || type == ChartType::kNP;
  const char* what = fraction ? "nonconforming count" : "count of nonconformities";
  for (size_t i = 0; i < data.samples.size(); ++i) {
    const CountSample& s = data.samples[i];
    std::string where = PointName("sample", static_cast<int>(i) + 1, s.label);
    if (!std::isfinite(s.count) || s.count < 0) return InvalidArgument("{}: negative {} {}", where, what, s.count);
    if (!Whole(s.count)) return InvalidArgument("{}: {} {} is not a whole number", where, what, s.count);
    if (!std::isfinite(s.size) || s.size <= 0)
      return InvalidArgument("{}: sample size {} (must be above 0)", where, s.size);
    if (fraction && !Whole(s.size)) return InvalidArgument("{}: sample size {} is not a whole number", where, s.size);
    if (fraction && s.count > s.size)
      return InvalidArgument("{}: {} nonconforming out of a sample of {}: the count cannot exceed the size", where,
                             s.count, s.size);
  }
  if (type == ChartType::kNP || type == ChartType::kC) {
    for (size_t i = 1; i < data.samples.size(); ++i)
      if (data.samples[i].size != data.samples[0].size)
        return InvalidArgument("{}: size {} differs from sample 1's {}: an {} chart needs a constant {} (use --chart {})",
                               PointName("sample", static_cast<int>(i) + 1, data.samples[i].label),
                               data.samples[i].size, data.samples[0].size, type == ChartType::kNP ? "np" : "c",
                               type == ChartType::kNP ? "sample size" : "inspection size",
                               type == ChartType::kNP ? "p" : "u");
  }
  return Status::Ok();
}

}  // namespace

Result<Family> AttributesFamily(const ChartData& data, const ChartOptions& o) {
  PF_RETURN_IF_ERROR(Validate(data, o.type));
  if (o.sigma) return InvalidArgument("--sigma does not apply to an attribute chart: sigma follows from the center");
  Family f;
  f.points = static_cast<int>(data.samples.size());
  for (const CountSample& s : data.samples) {
    f.labels.push_back(s.label);
    bool per_unit = o.type == ChartType::kP || o.type == ChartType::kU;
    f.series.push_back(per_unit ? s.count / s.size : s.count);
  }
  f.all_given = o.mean.has_value();
  f.build = [samples = data.samples, o](const std::vector<bool>& use, const std::vector<bool>&) -> Result<Built> {
    double sum_count = 0, sum_size = 0;
    int m = 0;
    for (size_t i = 0; i < samples.size(); ++i) {
      if (!use[i]) continue;
      ++m;
      sum_count += samples[i].count;
      sum_size += samples[i].size;
    }
    // level: p̄ (p, np), c̄ (c) or ū (u).
    double level = o.mean ? *o.mean : (o.type == ChartType::kC ? sum_count / m : sum_count / sum_size);
    bool fraction = o.type == ChartType::kP || o.type == ChartType::kNP;
    if (o.mean && (fraction ? !(level > 0 && level < 1) : !(level > 0)))
      return InvalidArgument("--mean {} is outside {}", level, fraction ? "(0, 1) for a fraction nonconforming" : "(0, inf)");
    if (!(level > 0))
      return InvalidArgument("Phase I ({}) has no {}: the center is 0 and the limits would collapse onto it",
                             PhaseOneRange(use), fraction ? "nonconforming unit" : "nonconformity");
    if (fraction && level >= 1)
      return InvalidArgument("Phase I ({}) is 100% nonconforming: p̄ = 1 leaves the chart no width", PhaseOneRange(use));
    std::string name(ChartTypeName(o.type));
    Chart c{name, {}, {}, {}, {}};
    for (size_t i = 0; i < samples.size(); ++i) {
      const CountSample& s = samples[i];
      ChartPoint p;
      p.index = static_cast<int>(i) + 1;
      p.label = s.label;
      p.size = s.size;
      switch (o.type) {
        case ChartType::kP:
          p.value = s.count / s.size;
          p.center = level;
          p.sigma = std::sqrt(level * (1 - level) / s.size);
          break;
        case ChartType::kNP:
          p.value = s.count;
          p.center = s.size * level;
          p.sigma = std::sqrt(s.size * level * (1 - level));
          break;
        case ChartType::kC:
          p.value = s.count;
          p.center = level;
          p.sigma = std::sqrt(level);
          break;
        default:  // u
          p.value = s.count / s.size;
          p.center = level;
          p.sigma = std::sqrt(level / s.size);
          break;
      }
      p.ucl = p.center + o.L * p.sigma;
      p.lcl = std::max(0.0, p.center - o.L * p.sigma);
      c.points.push_back(std::move(p));
    }
    Built b;
    b.parameters[o.type == ChartType::kC ? "cbar" : (o.type == ChartType::kU ? "ubar" : "pbar")] = level;
    b.parameters["mean"] = level;
    if (m) b.parameters["m"] = m;
    bool constant = std::all_of(samples.begin(), samples.end(), [&](const CountSample& s) { return s.size == samples[0].size; });
    if (constant && !samples.empty() && o.type != ChartType::kC) b.parameters["n"] = samples[0].size;
    b.charts.push_back(std::move(c));
    return b;
  };
  return f;
}

}  // namespace pf::spc::internal
