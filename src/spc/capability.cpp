#include "spc/capability.h"

#include <algorithm>
#include <cmath>

#include "spc/normal_dist.h"

namespace pf::spc {
namespace {

// ISO 22514-2 percentile method: the points that bound 99.73 % of a normal distribution.
constexpr double kLowerTail = 0.00135, kUpperTail = 0.99865;

Status CheckValues(const std::vector<double>& values) {
  if (values.size() < 2) return InvalidArgument("needs at least 2 values, got {}", values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      return InvalidArgument("value {} of {} is {}", i + 1, values.size(), std::isnan(values[i]) ? "NaN" : "infinite");
    }
  }
  return Status::Ok();
}

Status CheckOptions(const CapabilityOptions& o) {
  auto finite = [](const char* name, const std::optional<double>& v) {
    return v && !std::isfinite(*v) ? InvalidArgument("{} is not a finite number", name) : Status::Ok();
  };
  PF_RETURN_IF_ERROR(finite("lsl", o.lsl));
  PF_RETURN_IF_ERROR(finite("usl", o.usl));
  PF_RETURN_IF_ERROR(finite("target", o.target));
  if (!o.lsl && !o.usl) return InvalidArgument("needs a specification limit: lsl, usl or both");
  if (o.lsl && o.usl && *o.lsl >= *o.usl) {
    return InvalidArgument("lsl {} must be below usl {}", *o.lsl, *o.usl);
  }
  if (o.target && ((o.lsl && *o.target < *o.lsl) || (o.usl && *o.target > *o.usl))) {
    return InvalidArgument("target {} lies outside the specification limits", *o.target);
  }
  if (!(o.confidence > 0 && o.confidence < 1)) {
    return InvalidArgument("confidence {} must lie strictly between 0 and 1", o.confidence);
  }
  if (!(o.ad_alpha > 0 && o.ad_alpha < 1)) {
    return InvalidArgument("ad_alpha {} must lie strictly between 0 and 1", o.ad_alpha);
  }
  return Status::Ok();
}

double Mean(const std::vector<double>& x) {
  double sum = 0;
  for (double v : x) sum += v;
  return sum / static_cast<double>(x.size());
}

double SampleSigma(const std::vector<double>& x, double mean) {
  double ss = 0;
  for (double v : x) ss += (v - mean) * (v - mean);
  return std::sqrt(ss / static_cast<double>(x.size() - 1));
}

// The one-sided and combined indices for one sigma.
struct Indices {
  std::optional<double> c, upper, lower, ck;
};
Indices IndicesFor(const CapabilityOptions& o, double mean, double sigma) {
  Indices r;
  if (o.lsl && o.usl) r.c = (*o.usl - *o.lsl) / (6 * sigma);
  if (o.usl) r.upper = (*o.usl - mean) / (3 * sigma);
  if (o.lsl) r.lower = (mean - *o.lsl) / (3 * sigma);
  if (r.upper && r.lower) r.ck = std::min(*r.upper, *r.lower);
  else r.ck = r.upper ? r.upper : r.lower;
  return r;
}

// Chi-square interval for Cp / Pp (sigma has n - 1 degrees of freedom).
Interval ChiSquareInterval(double c, size_t n, double confidence) {
  double df = static_cast<double>(n - 1), alpha = 1 - confidence;
  return {c * std::sqrt(ChiSquareQuantile(alpha / 2, df) / df),
          c * std::sqrt(ChiSquareQuantile(1 - alpha / 2, df) / df)};
}

// Bissell's (1990) normal approximation for Cpk / Ppk.
Interval BissellInterval(double c, size_t n, double confidence) {
  double nn = static_cast<double>(n);
  double half = NormalQuantile(1 - (1 - confidence) / 2) * std::sqrt(1 / (9 * nn) + c * c / (2 * (nn - 1)));
  return {c - half, c + half};
}

struct Ppm {
  double below = 0, above = 0;
};
Ppm ExpectedPpm(const CapabilityOptions& o, double mean, double sigma) {
  Ppm p;
  if (o.lsl) p.below = 1e6 * NormalCdf((*o.lsl - mean) / sigma);
  if (o.usl) p.above = 1e6 * NormalCdf((mean - *o.usl) / sigma);  // 1 - Phi(u) = Phi(-u), no cancellation
  return p;
}

void Percentiles(const std::vector<double>& sorted, const CapabilityOptions& o, CapabilityResult& r) {
  r.percentile_low = EmpiricalQuantile(sorted, kLowerTail);
  r.percentile_median = EmpiricalQuantile(sorted, 0.5);
  r.percentile_high = EmpiricalQuantile(sorted, kUpperTail);
  double lo = r.percentile_low, mid = r.percentile_median, hi = r.percentile_high;
  if (sorted.size() <= 741) {
    r.warnings.push_back(fmt::format(
        "percentile indices: with {} values the 0.135 % and 99.865 % points are interpolated between the two "
        "smallest and the two largest values, so they rest on a few extremes",
        sorted.size()));
  }
  if (o.lsl && o.usl) {
    if (hi > lo) r.percentile_pp = (*o.usl - *o.lsl) / (hi - lo);
    else r.warnings.push_back("percentile_pp undefined: the 0.135 % and 99.865 % points are equal");
  }
  std::optional<double> upper, lower;
  if (o.usl && hi > mid) upper = (*o.usl - mid) / (hi - mid);
  if (o.lsl && mid > lo) lower = (mid - *o.lsl) / (mid - lo);
  if ((o.usl && !upper) || (o.lsl && !lower)) {
    r.warnings.push_back("percentile_ppk: a side is undefined because its extreme percentile equals the median");
  }
  if (upper && lower) r.percentile_ppk = std::min(*upper, *lower);
  else if (!(o.usl && o.lsl)) r.percentile_ppk = upper ? upper : lower;
}

// The Taguchi index: needs the target (given, or the middle of two limits).
void Cpm(const CapabilityOptions& o, CapabilityResult& r) {
  if (o.target) r.target = o.target;
  else if (o.lsl && o.usl) r.target = (*o.lsl + *o.usl) / 2;
  if (!r.target) return;
  double t = *r.target, d = r.mean - t;
  double tau = std::sqrt(r.sigma_overall * r.sigma_overall + d * d);
  double half = INFINITY;
  if (o.usl) half = std::min(half, *o.usl - t);
  if (o.lsl) half = std::min(half, t - *o.lsl);
  r.cpm = half / (3 * tau);
}

// D'Agostino & Stephens (1986), table 4.9, for the case of estimated mean and variance.
double AndersonDarlingPValue(double a) {
  if (a < 0.2) return 1 - std::exp(-13.436 + 101.14 * a - 223.73 * a * a);
  if (a < 0.34) return 1 - std::exp(-8.318 + 42.796 * a - 59.938 * a * a);
  if (a < 0.6) return std::exp(0.9177 - 4.279 * a - 1.38 * a * a);
  if (a < 13) return std::exp(1.2937 - 5.709 * a + 0.0186 * a * a);
  return 0;  // beyond the table; the formula would give below 5e-31 here
}

bool AllFinite(const CapabilityResult& r) {
  std::vector<double> v = {r.mean, r.sigma_within, r.sigma_overall, r.expected_ppm_total, r.expected_ppm_total_overall,
                           r.observed_ppm_total, r.anderson_darling, r.ad_p_value, r.percentile_low,
                           r.percentile_median, r.percentile_high};
  for (const auto& o : {r.cp, r.cpk, r.pp, r.ppk, r.cpm, r.cpu, r.cpl, r.ppu, r.ppl, r.percentile_pp, r.percentile_ppk}) {
    if (o) v.push_back(*o);
  }
  for (const auto& i : {r.cp_ci, r.cpk_ci, r.pp_ci, r.ppk_ci}) {
    if (i) v.insert(v.end(), {i->low, i->high});
  }
  return std::all_of(v.begin(), v.end(), [](double x) { return std::isfinite(x); });
}

}  // namespace

double EmpiricalQuantile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  double h = (static_cast<double>(sorted.size()) - 1) * std::clamp(p, 0.0, 1.0);
  size_t lo = static_cast<size_t>(std::floor(h));
  if (lo + 1 >= sorted.size()) return sorted.back();
  return sorted[lo] + (h - static_cast<double>(lo)) * (sorted[lo + 1] - sorted[lo]);
}

Result<NormalityTest> AndersonDarlingNormal(const std::vector<double>& values) {
  PF_RETURN_IF_ERROR(CheckValues(values).WithContext("anderson-darling"));
  std::vector<double> x = values;
  std::sort(x.begin(), x.end());
  double mean = Mean(x), sd = SampleSigma(x, mean);
  if (!(sd > 0)) return InvalidArgument("anderson-darling: all {} values are equal ({})", x.size(), x.front());
  size_t n = x.size();
  double sum = 0;
  for (size_t i = 0; i < n; ++i) {
    double zi = (x[i] - mean) / sd, zmirror = (x[n - 1 - i] - mean) / sd;
    sum += (2.0 * static_cast<double>(i) + 1) * (LogNormalCdf(zi) + LogNormalCdf(-zmirror));
  }
  double nn = static_cast<double>(n);
  NormalityTest t;
  t.a2 = -nn - sum / nn;
  t.a2_adjusted = t.a2 * (1 + 0.75 / nn + 2.25 / (nn * nn));
  t.p_value = std::clamp(AndersonDarlingPValue(t.a2_adjusted), 0.0, 1.0);
  return t;
}

Result<CapabilityResult> ComputeCapability(const std::vector<double>& values, double sigma_within,
                                           const CapabilityOptions& options) {
  PF_RETURN_IF_ERROR(CheckValues(values).WithContext("capability"));
  PF_RETURN_IF_ERROR(CheckOptions(options).WithContext("capability"));
  if (!(sigma_within > 0) || !std::isfinite(sigma_within)) {
    return InvalidArgument("capability: sigma_within {} must be a finite number above 0", sigma_within);
  }
  CapabilityResult r;
  r.n = values.size();
  r.lsl = options.lsl;
  r.usl = options.usl;
  r.confidence = options.confidence;
  r.mean = Mean(values);
  r.sigma_within = sigma_within;
  r.sigma_overall = SampleSigma(values, r.mean);
  if (!(r.sigma_overall > 0)) {
    return InvalidArgument("capability: all {} values are equal ({}): the overall sigma is 0", r.n, values.front());
  }

  Indices within = IndicesFor(options, r.mean, r.sigma_within);
  Indices overall = IndicesFor(options, r.mean, r.sigma_overall);
  r.cp = within.c, r.cpu = within.upper, r.cpl = within.lower, r.cpk = within.ck;
  r.pp = overall.c, r.ppu = overall.upper, r.ppl = overall.lower, r.ppk = overall.ck;
  if (r.cp) r.cp_ci = ChiSquareInterval(*r.cp, r.n, options.confidence);
  if (r.pp) r.pp_ci = ChiSquareInterval(*r.pp, r.n, options.confidence);
  if (r.cpk) r.cpk_ci = BissellInterval(*r.cpk, r.n, options.confidence);
  if (r.ppk) r.ppk_ci = BissellInterval(*r.ppk, r.n, options.confidence);
  Cpm(options, r);

  Ppm pw = ExpectedPpm(options, r.mean, r.sigma_within), po = ExpectedPpm(options, r.mean, r.sigma_overall);
  r.expected_ppm_below = pw.below, r.expected_ppm_above = pw.above, r.expected_ppm_total = pw.below + pw.above;
  r.expected_ppm_below_overall = po.below, r.expected_ppm_above_overall = po.above;
  r.expected_ppm_total_overall = po.below + po.above;
  size_t below = 0, above = 0;
  for (double v : values) {
    if (options.lsl && v < *options.lsl) ++below;
    if (options.usl && v > *options.usl) ++above;
  }
  double nn = static_cast<double>(r.n);
  r.observed_ppm_below = 1e6 * static_cast<double>(below) / nn;
  r.observed_ppm_above = 1e6 * static_cast<double>(above) / nn;
  r.observed_ppm_total = r.observed_ppm_below + r.observed_ppm_above;

  PF_ASSIGN_OR_RETURN(NormalityTest ad, AndersonDarlingNormal(values));
  r.anderson_darling = ad.a2_adjusted;
  r.ad_p_value = ad.p_value;
  r.normal = ad.p_value >= options.ad_alpha;
  if (r.n < 8) {
    r.warnings.push_back(fmt::format(
        "normality: with {} values the Anderson-Darling p-value approximation is unreliable (it needs 8 or more)", r.n));
  }
  if (!r.normal) {
    r.warnings.push_back(fmt::format(
        "normality rejected: Anderson-Darling A*2 = {:.4g}, p = {:.3g} < {}; Cp/Cpk/Pp/Ppk and the expected ppm assume "
        "a normal distribution, use percentile_pp / percentile_ppk instead",
        ad.a2_adjusted, ad.p_value, options.ad_alpha));
  }

  std::vector<double> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  Percentiles(sorted, options, r);

  if (!AllFinite(r)) {
    return InvalidArgument("capability: the values or limits are too large to compute with (a result overflowed)");
  }
  return r;
}

namespace {

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20) out += fmt::format("\\u{:04x}", c);
        else out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string Num(double v) { return std::isfinite(v) ? fmt::format("{}", v) : "null"; }
std::string Num(const std::optional<double>& v) { return v ? Num(*v) : "null"; }
std::string Num(const std::optional<Interval>& v) {
  return v ? fmt::format("{{\"low\": {}, \"high\": {}}}", Num(v->low), Num(v->high)) : "null";
}

}  // namespace

std::string CapabilityJson(const CapabilityResult& r) {
  std::vector<std::pair<std::string, std::string>> f = {
      {"n", fmt::format("{}", r.n)},
      {"mean", Num(r.mean)},
      {"sigma_within", Num(r.sigma_within)},
      {"sigma_overall", Num(r.sigma_overall)},
      {"lsl", Num(r.lsl)},
      {"usl", Num(r.usl)},
      {"target", Num(r.target)},
      {"confidence", Num(r.confidence)},
      {"cp", Num(r.cp)},
      {"cpk", Num(r.cpk)},
      {"cpu", Num(r.cpu)},
      {"cpl", Num(r.cpl)},
      {"pp", Num(r.pp)},
      {"ppk", Num(r.ppk)},
      {"ppu", Num(r.ppu)},
      {"ppl", Num(r.ppl)},
      {"cpm", Num(r.cpm)},
      {"cp_ci", Num(r.cp_ci)},
      {"cpk_ci", Num(r.cpk_ci)},
      {"pp_ci", Num(r.pp_ci)},
      {"ppk_ci", Num(r.ppk_ci)},
      {"expected_ppm_below", Num(r.expected_ppm_below)},
      {"expected_ppm_above", Num(r.expected_ppm_above)},
      {"expected_ppm_total", Num(r.expected_ppm_total)},
      {"expected_ppm_below_overall", Num(r.expected_ppm_below_overall)},
      {"expected_ppm_above_overall", Num(r.expected_ppm_above_overall)},
      {"expected_ppm_total_overall", Num(r.expected_ppm_total_overall)},
      {"observed_ppm_below", Num(r.observed_ppm_below)},
      {"observed_ppm_above", Num(r.observed_ppm_above)},
      {"observed_ppm_total", Num(r.observed_ppm_total)},
      {"anderson_darling", Num(r.anderson_darling)},
      {"ad_p_value", Num(r.ad_p_value)},
      {"normal", r.normal ? "true" : "false"},
      {"percentile_low", Num(r.percentile_low)},
      {"percentile_median", Num(r.percentile_median)},
      {"percentile_high", Num(r.percentile_high)},
      {"percentile_pp", Num(r.percentile_pp)},
      {"percentile_ppk", Num(r.percentile_ppk)},
  };
  std::string warnings = "[";
  for (size_t i = 0; i < r.warnings.size(); ++i) warnings += (i ? ", " : "") + JsonString(r.warnings[i]);
  f.emplace_back("warnings", warnings + "]");
  std::string out = "{";
  for (size_t i = 0; i < f.size(); ++i) out += fmt::format("{}\"{}\": {}", i ? ", " : "", f[i].first, f[i].second);
  return out + "}";
}

}  // namespace pf::spc
