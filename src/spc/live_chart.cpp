#include "spc/live_chart.h"

#include <algorithm>
#include <cmath>

#include "spc/constants.h"

namespace pf::spc {
namespace {

// A history longer than this is a configuration mistake, not a use case (8 MB of times alone).
constexpr size_t kMaxKeep = 1'000'000;
constexpr size_t kMaxKeepValues = 100'000'000;
// Default value cap per kept window when keep_values is 0.
constexpr size_t kDefaultValuesPerWindow = 64;
constexpr size_t kInitialWindowRing = 16;

bool IsXbar(ChartType t) { return t == ChartType::kXbarR || t == ChartType::kXbarS; }

// Floor division: windows before the epoch are [kW, (k+1)W) with k < 0 too.
int64_t WindowOf(int64_t ns, int64_t width) {
  int64_t k = ns / width;
  if (ns % width < 0) --k;
  return k;
}

std::string_view MainName(ChartType t, bool has_limits, int n) {
  switch (t) {
    case ChartType::kIMR: return "i";
    case ChartType::kXbarR:
    case ChartType::kXbarS: return "xbar";
    case ChartType::kEWMA: return has_limits ? "ewma" : (n > 1 ? "xbar" : "i");
    case ChartType::kCUSUM: return has_limits ? "cusum_upper" : (n > 1 ? "xbar" : "i");
    default: return "";
  }
}

std::string_view SecondName(ChartType t) {
  switch (t) {
    case ChartType::kIMR: return "mr";
    case ChartType::kXbarR: return "r";
    case ChartType::kXbarS: return "s";
    case ChartType::kCUSUM: return "cusum_lower";
    default: return "";
  }
}

// The limit rule BuildChart applies to secondary charts and to EWMA and CUSUM.
RuleSet LimitOnly(const RuleSet& rules) {
  RuleSet set;
  if (rules.empty()) return set;
  bool any_nelson = std::any_of(rules.rules.begin(), rules.rules.end(),
                                [](Rule r) { return static_cast<int>(r) >= static_cast<int>(Rule::kNelson1); });
  set.rules = {rules.LimitRule().value_or(any_nelson ? Rule::kNelson1 : Rule::kWe1)};
  return set;
}

Status ValidateConfig(const LiveChartConfig& c) {
  std::string_view name = ChartTypeName(c.type);
  switch (c.type) {
    case ChartType::kIMR:
    case ChartType::kXbarR:
    case ChartType::kXbarS:
    case ChartType::kEWMA:
    case ChartType::kCUSUM:
      break;
    default:
      return InvalidArgument("chart '{}': live charts are imr, xbar_r, xbar_s, ewma or cusum", name);
  }
  if (c.subgroup_window) {
    if (c.subgroup_window->count() <= 0)
      return InvalidArgument("chart '{}': subgroup_window {} must be above 0", name, FormatDuration(*c.subgroup_window));
    if (c.subgroup_size != 1)
      return InvalidArgument("chart '{}': subgroup_size {} and subgroup_window {} both given: a subgroup closes by count "
                             "or by time, not both",
                             name, c.subgroup_size, FormatDuration(*c.subgroup_window));
    if (c.min_window_values < 0)
      return InvalidArgument("chart '{}': min_window_values {} must be 0 (default) or above", name, c.min_window_values);
    if (IsXbar(c.type) && c.min_window_values == 1)
      return InvalidArgument("chart '{}': min_window_values 1: an {} chart needs at least 2 values per subgroup", name,
                             name);
  } else {
    if (c.min_window_values != 0)
      return InvalidArgument("chart '{}': min_window_values {} applies to subgroup_window only", name,
                             c.min_window_values);
    if (c.type == ChartType::kIMR && c.subgroup_size != 1)
      return InvalidArgument("chart 'imr': subgroup_size {}: an I-MR chart takes one value per point (for subgroups "
                             "use xbar_r or xbar_s, or a subgroup_window to chart window means)",
                             c.subgroup_size);
    int min = IsXbar(c.type) ? 2 : 1;
    if (c.subgroup_size < min || c.subgroup_size > kMaxSubgroupSize)
      return InvalidArgument("chart '{}': subgroup_size {} is outside {}..{}", name, c.subgroup_size, min,
                             kMaxSubgroupSize);
  }
  if (c.keep > kMaxKeep) return InvalidArgument("chart '{}': keep {} is above {}", name, c.keep, kMaxKeep);
  if (c.keep_values > kMaxKeepValues)
    return InvalidArgument("chart '{}': keep_values {} is above {}", name, c.keep_values, kMaxKeepValues);
  if (!c.subgroup_window && c.keep_values != 0 && c.keep_values < static_cast<size_t>(c.subgroup_size))
    return InvalidArgument("chart '{}': keep_values {} is below subgroup_size {}: the open subgroup must fit", name,
                           c.keep_values, c.subgroup_size);
  return Status::Ok();
}

}  // namespace

Status ValidateLiveLimits(const LiveLimits& l) {
  std::string_view name = ChartTypeName(l.type);
  if (!std::isfinite(l.center)) return InvalidArgument("{} limits: center {} is not a finite number", name, l.center);
  if (!(l.sigma > 0) || !std::isfinite(l.sigma))
    return InvalidArgument("{} limits: sigma {} must be a finite number above 0", name, l.sigma);
  if (!(l.L > 0) || !std::isfinite(l.L)) return InvalidArgument("{} limits: L {} must be above 0", name, l.L);
  if (l.n < 1 || l.n > kMaxSubgroupSize)
    return InvalidArgument("{} limits: n {} is outside 1..{}", name, l.n, kMaxSubgroupSize);
  if (l.type == ChartType::kEWMA && !(l.lambda > 0 && l.lambda <= 1))
    return InvalidArgument("ewma limits: lambda {} is outside (0, 1]", l.lambda);
  if (l.type == ChartType::kCUSUM && !(l.k >= 0 && std::isfinite(l.k)))
    return InvalidArgument("cusum limits: k {} must be 0 or above", l.k);
  if (l.type == ChartType::kCUSUM && !(l.h > 0 && std::isfinite(l.h)))
    return InvalidArgument("cusum limits: h {} must be above 0", l.h);
  return Status::Ok();
}

LiveChart::LiveChart(LiveChartConfig config, RuleMonitor main, RuleMonitor second)
    : config_(std::move(config)), main_rules_(std::move(main)), second_rules_(std::move(second)) {
  size_t keep_groups = config_.keep + 1;  // the open subgroup beside the kept ones
  if (windowed()) {
    if (config_.min_window_values == 0) config_.min_window_values = IsXbar(config_.type) ? 2 : 1;
    values_cap_ = config_.keep_values ? config_.keep_values : kDefaultValuesPerWindow * keep_groups;
    values_.resize(std::min(values_cap_, kInitialWindowRing));
    counts_.resize(config_.keep);
  } else {
    values_cap_ = config_.keep_values ? config_.keep_values : keep_groups * config_.subgroup_size;
    values_.resize(values_cap_);
  }
  times_.resize(config_.keep);
}

Result<LiveChart> LiveChart::Create(LiveChartConfig config, std::optional<LiveLimits> limits) {
  PF_RETURN_IF_ERROR(ValidateConfig(config));
  if (limits) {
    PF_RETURN_IF_ERROR(ValidateLiveLimits(*limits));
    if (limits->type != config.type)
      return InvalidArgument("limits for a '{}' chart given to a '{}' chart", ChartTypeName(limits->type),
                             ChartTypeName(config.type));
  }
  RuleMonitor main(RuleSet{}, std::string(MainName(config.type, false, config.subgroup_size)));
  RuleMonitor second(RuleSet{}, std::string(SecondName(config.type)));
  LiveChart chart(std::move(config), std::move(main), std::move(second));
  if (limits) chart.ApplyLimits(*limits);
  return chart;
}

Status LiveChart::SetLimits(const LiveLimits& limits) {
  PF_RETURN_IF_ERROR(ValidateLiveLimits(limits));
  if (limits.type != config_.type)
    return InvalidArgument("limits for a '{}' chart given to a '{}' chart", ChartTypeName(limits.type),
                           ChartTypeName(config_.type));
  ApplyLimits(limits);
  return Status::Ok();
}

void LiveChart::ClearLimits() {
  limits_.reset();
  ewma_.reset();
  cusum_.reset();
  derived_.n = 0;
  main_rules_.Reset();
  second_rules_.Reset();
}

void LiveChart::BreakSeries() {
  has_prev_ = false;
  main_rules_.Reset();
  second_rules_.Reset();
}

void LiveChart::ApplyLimits(const LiveLimits& l) {
  limits_ = l;
  derived_.n = 0;
  ChartType t = config_.type;
  bool shewhart = IsShewhart(t);
  std::string zone = shewhart && l.L == 3 ? "beyond 3 sigma" : "beyond limits";
  main_rules_ = RuleMonitor(shewhart ? config_.rules : LimitOnly(config_.rules),
                            std::string(MainName(t, true, config_.subgroup_size)), zone);
  second_rules_ = RuleMonitor(LimitOnly(config_.rules), std::string(SecondName(t)), zone);
  // The plotted value of ewma/cusum is a window mean (sigma given for it) or a mean of n values.
  double plotted = windowed() ? l.sigma : l.sigma / std::sqrt(static_cast<double>(config_.subgroup_size));
  ewma_.reset();
  cusum_.reset();
  if (t == ChartType::kEWMA) ewma_.emplace(EwmaParams{l.center, plotted, l.lambda, l.L, l.asymptotic});
  if (t == ChartType::kCUSUM) cusum_.emplace(CusumParams{l.center, plotted, l.k, l.h, l.fir});
  // Count subgroups have one size: the constants (d2 and d3 by numerical integration the first
  // time a size is seen in the process) are computed here, off the data path.
  if (shewhart && !windowed()) DerivedFor(config_.subgroup_size);
}

// The same expressions as BuildChart's, so the limits agree to the last bit.
const LiveChart::Derived& LiveChart::DerivedFor(int n) {
  int key = IsXbar(config_.type) ? n : 1;
  if (derived_.n == key) return derived_;
  const LiveLimits& l = *limits_;
  Derived d;
  d.n = key;
  d.center = l.center;
  d.sigma = IsXbar(config_.type) ? l.sigma / std::sqrt(static_cast<double>(key)) : l.sigma;
  d.ucl = d.center + l.L * d.sigma;
  d.lcl = d.center - l.L * d.sigma;
  int m = config_.type == ChartType::kIMR ? 2 : key;
  if (config_.type == ChartType::kXbarS) {
    double c4 = C4(m);
    d.center2 = c4 * l.sigma;
    d.sigma2 = l.sigma * std::sqrt(1 - c4 * c4);
  } else {
    d.center2 = RangeMeanD2(m) * l.sigma;
    d.sigma2 = RangeSdD3(m) * l.sigma;
  }
  d.ucl2 = d.center2 + l.L * d.sigma2;
  d.lcl2 = std::max(0.0, d.center2 - l.L * d.sigma2);
  derived_ = d;
  return derived_;
}

Status LiveChart::Add(double value, Timestamp t, LiveResult* out) {
  if (!std::isfinite(value)) {
    ++counters_.rejected_values;
    return InvalidArgument("{} chart: value {} at {} is not a finite number (not charted)", ChartTypeName(config_.type),
                           value, FormatRfc3339(t));
  }
  if (windowed()) {
    int64_t width = config_.subgroup_window->count();
    int64_t k = WindowOf(t.ns, width);
    if (k < next_window_) {
      ++counters_.late_values;
      Timestamp start{next_window_ * width};
      return OutOfRange("{} chart: value at {} is late: windows before {} are closed (late values are not charted)",
                        ChartTypeName(config_.type), FormatRfc3339(t), FormatRfc3339(start));
    }
    if (open_.count > 0 && k > open_.window) Close(Timestamp{open_.window * width}, out);
    if (open_.count == 0) open_.window = next_window_ = k;
  }
  PushValue(value);
  if (open_.count == 0) {
    open_.min = open_.max = value;
  } else {
    open_.min = std::min(open_.min, value);
    open_.max = std::max(open_.max, value);
  }
  ++open_.count;
  open_.sum += value;
  if (config_.type == ChartType::kXbarS) {
    double delta = value - open_.welford_mean;
    open_.welford_mean += delta / open_.count;
    open_.welford_m2 += delta * (value - open_.welford_mean);
  }
  ++counters_.values;
  if (!windowed() && open_.count == config_.subgroup_size) Close(t, out);
  return Status::Ok();
}

void LiveChart::Tick(Timestamp now, LiveResult* out) {
  if (!windowed()) return;
  int64_t width = config_.subgroup_window->count();
  int64_t current = WindowOf(now.ns, width);  // every window before this one has ended
  if (open_.count > 0 && open_.window < current) Close(Timestamp{open_.window * width}, out);
  if (open_.count == 0) next_window_ = std::max(next_window_, current);
}

void LiveChart::Close(Timestamp time, LiveResult* out) {
  int n = open_.count;
  size_t held = static_cast<size_t>(n) - dropped_open_;
  double mean = open_.sum / n;
  double range = open_.max - open_.min;
  double sd = 0;
  if (config_.type == ChartType::kXbarS && n > 1)
    sd = dropped_open_ ? std::sqrt(open_.welford_m2 / (n - 1)) : SubgroupSd(mean);
  if (windowed()) next_window_ = open_.window + 1;
  bool skip = windowed() && (n < config_.min_window_values || (IsXbar(config_.type) && n > kMaxSubgroupSize));
  if (skip || config_.keep == 0) {
    size_ -= held;  // the open values are the newest in the ring
  } else {
    if (groups_ == config_.keep) EvictOldestGroup();
    size_t slot = (group_head_ + groups_) % config_.keep;
    times_[slot] = time.ns;
    if (windowed()) counts_[slot] = static_cast<uint32_t>(held);
    if (dropped_open_) dropped_front_ = dropped_open_;  // it filled the ring alone: it is the oldest
    ++groups_;
  }
  open_ = Open{};
  dropped_open_ = 0;
  if (skip) {
    ++counters_.skipped_subgroups;
    return;
  }
  ++counters_.points;
  Emit(next_index_++, time, n, mean, range, sd, out);
}

void LiveChart::Emit(int64_t index, Timestamp time, int n, double mean, double range, double sd, LiveResult* out) {
  ChartType t = config_.type;
  auto point = [&](std::string_view chart, double value) -> LivePoint& {
    out->points.push_back(LivePoint{index, time, chart, value, 0, 0, 0, 0, n, false});
    return out->points.back();
  };
  auto judge = [&](RuleMonitor& m, const LivePoint& p) {
    m.Add({static_cast<int>(index), p.value, p.center, p.ucl, p.lcl, p.sigma}, &out->violations);
  };
  auto limits = [](LivePoint& p, double center, double ucl, double lcl, double sigma) {
    p.center = center, p.ucl = ucl, p.lcl = lcl, p.sigma = sigma, p.has_limits = true;
  };
  if (!limits_) {
    point(MainName(t, false, config_.subgroup_size), mean);
    if (t == ChartType::kIMR && has_prev_) point("mr", std::fabs(mean - prev_));
    if (IsXbar(t)) point(SecondName(t), t == ChartType::kXbarR ? range : sd);
    has_prev_ = true;
    prev_ = mean;
    return;
  }
  switch (t) {
    case ChartType::kIMR:
    case ChartType::kXbarR:
    case ChartType::kXbarS: {
      const Derived& d = DerivedFor(n);
      LivePoint& p = point(MainName(t, true, n), mean);
      limits(p, d.center, d.ucl, d.lcl, d.sigma);
      judge(main_rules_, p);
      bool second = t != ChartType::kIMR || has_prev_;
      if (second) {
        double v = t == ChartType::kIMR ? std::fabs(mean - prev_) : (t == ChartType::kXbarR ? range : sd);
        LivePoint& q = point(SecondName(t), v);
        limits(q, d.center2, d.ucl2, d.lcl2, d.sigma2);
        judge(second_rules_, q);
      }
      break;
    }
    case ChartType::kEWMA: {
      EwmaMonitor::Step s = ewma_->Add(mean);
      LivePoint& p = point("ewma", s.z);
      limits(p, s.center, s.ucl, s.lcl, s.sigma);
      judge(main_rules_, p);
      break;
    }
    case ChartType::kCUSUM: {
      CusumMonitor::Step s = cusum_->Add(mean);
      LivePoint& up = point("cusum_upper", s.upper);
      limits(up, 0, s.limit, 0, 0);
      judge(main_rules_, up);
      LivePoint& down = point("cusum_lower", s.lower);
      limits(down, 0, s.limit, 0, 0);
      judge(second_rules_, down);
      break;
    }
    default:
      break;
  }
  has_prev_ = true;
  prev_ = mean;
}

// BuildChart's two-pass standard deviation over the open subgroup (the newest values in the ring).
double LiveChart::SubgroupSd(double mean) const {
  size_t n = static_cast<size_t>(open_.count);
  size_t ring = values_.size();
  double ss = 0;
  for (size_t i = size_ - n; i < size_; ++i) {
    double x = values_[(head_ + i) % ring];
    ss += (x - mean) * (x - mean);
  }
  return std::sqrt(ss / static_cast<double>(n - 1));
}

void LiveChart::PushValue(double v) {
  if (size_ == values_cap_) {
    if (groups_ > 0) {
      EvictOldestGroup();
    } else {  // only the open window is held: its oldest value goes
      head_ = (head_ + 1) % values_.size();
      --size_;
      ++dropped_open_;
      ++counters_.dropped_values;
    }
  }
  if (size_ == values_.size()) {  // time windows grow the ring up to values_cap_
    std::vector<double> grown(std::min(values_cap_, std::max<size_t>(1, values_.size() * 2)));
    for (size_t i = 0; i < size_; ++i) grown[i] = values_[(head_ + i) % values_.size()];
    values_.swap(grown);
    head_ = 0;
  }
  values_[(head_ + size_) % values_.size()] = v;
  ++size_;
}

void LiveChart::EvictOldestGroup() {
  size_t held = windowed() ? counts_[group_head_] : static_cast<size_t>(config_.subgroup_size);
  head_ = (head_ + held) % values_.size();
  size_ -= held;
  group_head_ = (group_head_ + 1) % config_.keep;
  --groups_;
  dropped_front_ = 0;
}

std::vector<Subgroup> LiveChart::RecentSubgroups() const {
  std::vector<Subgroup> out;
  out.reserve(groups_);
  size_t pos = head_;
  for (size_t g = 0; g < groups_; ++g) {
    size_t slot = (group_head_ + g) % config_.keep;
    size_t held = windowed() ? counts_[slot] : static_cast<size_t>(config_.subgroup_size);
    Subgroup s;
    s.label = FormatRfc3339(Timestamp{times_[slot]}, 3);
    s.values.reserve(held);
    for (size_t i = 0; i < held; ++i) s.values.push_back(values_[(pos + i) % values_.size()]);
    s.missing = g == 0 ? static_cast<int>(dropped_front_) : 0;
    pos = (pos + held) % values_.size();
    out.push_back(std::move(s));
  }
  return out;
}

size_t LiveChart::memory_bytes() const {
  size_t rules = config_.rules.rules.capacity();
  size_t limit_rules = config_.rules.empty() ? 0 : 1;
  size_t monitors = (IsShewhart(config_.type) ? config_.rules.rules.size() : limit_rules) + limit_rules;
  return sizeof(*this) + values_.capacity() * sizeof(double) + times_.capacity() * sizeof(int64_t) +
         counts_.capacity() * sizeof(uint32_t) + (rules + monitors) * sizeof(Rule);
}

Result<LiveProposal> LiveChart::EstimateLimits(const LiveChartConfig& config, const std::vector<Subgroup>& baseline,
                                               ChartOptions options) {
  PF_RETURN_IF_ERROR(ValidateConfig(config));
  std::string_view name = ChartTypeName(config.type);
  if (baseline.empty())
    return InvalidArgument("{} chart: the baseline has no subgroups (collect points before estimating limits)", name);
  options.type = config.type;
  options.rules = config.rules;
  bool means = config.type == ChartType::kIMR ||
               (config.subgroup_window && (config.type == ChartType::kEWMA || config.type == ChartType::kCUSUM));
  ChartData data;
  data.subgroups.reserve(baseline.size());
  double total = 0;
  for (size_t i = 0; i < baseline.size(); ++i) {
    const Subgroup& g = baseline[i];
    total += static_cast<double>(g.values.size());
    if (!means || g.values.size() == 1) {
      data.subgroups.push_back(g);
      continue;
    }
    if (g.values.empty())
      return InvalidArgument("{} chart: baseline subgroup {} ('{}') has no values", name, i + 1, g.label);
    double sum = 0;
    for (double v : g.values) sum += v;
    data.subgroups.push_back({g.label, {sum / static_cast<double>(g.values.size())}, g.missing});
  }
  Result<ChartResult> built = BuildChart(data, options);
  if (!built.ok()) return built.status().WithContext(fmt::format("{} limits from {} baseline subgroups", name, baseline.size()));
  ChartResult r = std::move(built).value();
  auto param = [&](const char* key) -> std::optional<double> {
    auto it = r.parameters.find(key);
    return it == r.parameters.end() ? std::nullopt : std::optional<double>(it->second);
  };
  if (!param("mean") || !param("sigma")) return Internal("{} chart: the Phase I study gave no mean or sigma", name);
  LiveLimits l;
  l.type = config.type;
  l.n = param("n") ? static_cast<int>(*param("n"))
                   : std::max(1, static_cast<int>(std::lround(total / static_cast<double>(baseline.size()))));
  if (means) l.n = 1;
  l.center = *param("mean");
  l.sigma = *param("sigma");
  l.L = options.L;
  l.lambda = options.lambda;
  l.asymptotic = options.asymptotic;
  l.k = options.k;
  l.h = options.h;
  l.fir = options.fir;
  PF_RETURN_IF_ERROR(ValidateLiveLimits(l));
  return LiveProposal{l, std::move(r)};
}

}  // namespace pf::spc
