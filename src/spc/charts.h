#pragma once
// Control charts over a finished series (the `plantfloor spc` tool and Phase I studies):
// Shewhart X̄-R, X̄-S, I-MR, p, np, c, u; EWMA; tabular CUSUM; Hotelling T².
//
// Phase I and Phase II. Points 1..N (subgroups, samples or individual values, 1-based) are split
// by ChartOptions::phase1_first/last: the Phase I points estimate the parameters (center and
// sigma); every point, Phase II included, is then judged against those fixed limits. With
// exclude_ooc, Phase I points beyond a limit (on any of the chart's charts) are excluded and the
// parameters re-estimated, pass after pass until none is beyond (or max_exclusion_passes), each
// exclusion recorded with the point, chart, pass and reason. Excluded points stay on the chart.
// Known parameters (ChartOptions::mean/sigma) replace the estimates ("standards given").
//
// Estimates (textbook, Montgomery Introduction to SQC):
//   xbar_r   x̿ = Σ n_i x̄_i / Σ n_i;   sigma = mean of R_i / d2(n_i)   (= R̄/d2 for constant n)
//   xbar_s   x̿ as above;               sigma = mean of s_i / c4(n_i)   (= s̄/c4 for constant n)
//            limits per point: x̿ ± L sigma/√n_i; R: d2(n_i)σ ± L d3(n_i)σ; S: c4σ ± L σ√(1-c4²),
//            which for constant n and L = 3 are the A2, D3, D4, A3, B3, B4 limits.
//   imr      x̄ of the values; sigma = MR̄/d2(2) = MR̄/1.128 (moving ranges of neighbouring Phase I
//            points both in use); MR chart from point 2: center MR̄, UCL D4(2) MR̄.
//   p        p̄ = ΣD/Σn, sigma_i = √(p̄(1-p̄)/n_i);  np: n p̄ ± L √(n p̄(1-p̄)), constant n only
//   c        c̄ = mean count, sigma = √c̄ (constant inspection size);  u: ū = Σc/Σn, √(ū/n_i)
//   ewma     z_0 = μ0, z_i = λx_i + (1-λ)z_{i-1}; limits μ0 ± Lσ√(λ/(2-λ)(1-(1-λ)^2i)) (time-
//            varying, default) or μ0 ± Lσ√(λ/(2-λ)) (asymptotic); μ0 = Phase I mean, σ = MR̄/1.128
//            (subgroups of constant n > 1: the means, σ/√n with σ = mean R_i/d2(n))
//   cusum    C+_i = max(0, x_i - μ0 - kσ + C+_{i-1}), C-_i = max(0, μ0 - kσ - x_i + C-_{i-1}),
//            signal above H = hσ; FIR starts both at H/2. Not reset after a signal. μ0, σ as ewma.
//   t2       individuals: T² = (x-x̄)'S⁻¹(x-x̄), S the Phase I sample covariance;
//              Phase I UCL ((m-1)²/m) Beta_{1-α}(p/2, (m-p-1)/2)  (Tracy, Young, Mason 1992),
//              Phase II UCL p(m+1)(m-1)/(m²-mp) F_{1-α}(p, m-p);
//            subgroups of n: T² = n (x̄_i - x̿)'S⁻¹(x̄_i - x̿), S the pooled within-subgroup covariance;
//              Phase I UCL p(m-1)(n-1)/(mn-m-p+1) F_{1-α}(p, mn-m-p+1), Phase II the same with (m+1).
//            LCL 0; the center line is the median of the same distribution (as Minitab draws it).
// The LCL of p, np, c, u, R, S and MR charts is truncated at 0.
//
// Rules (rules.h) are judged on the main Shewhart chart with the selected rule set; the R, S and
// MR charts and every EWMA, CUSUM and T² chart get only the limit rule (we1 or nelson1, whichever
// the selection names, we1 when it names neither): run rules assume independent, normal,
// symmetric points, which those statistics are not.
//
// Autocorrelation: the lag-1 autocorrelation of the Phase I series (values, subgroup means,
// proportions or counts) is reported; above max_autocorrelation (0.5) a Shewhart chart is refused
// (kFailedPrecondition) unless allow_autocorrelation: its limits would alarm all day.
//
// Errors are kInvalidArgument naming the point (and its label): empty data, sigma 0 (constant
// data), subgroups of 1 for X̄-R/X̄-S, negative or fractional counts, sample size 0, count above
// size, too few Phase I points. Results never hold NaN. Pure and thread-compatible.
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "spc/rules.h"

namespace pf::spc {

enum class ChartType { kXbarR, kXbarS, kIMR, kP, kNP, kC, kU, kEWMA, kCUSUM, kT2 };
std::string_view ChartTypeName(ChartType t);  // "xbar_r", "xbar_s", "imr", "p", ..., "t2"
std::optional<ChartType> ParseChartType(std::string_view name);
bool IsShewhart(ChartType t);  // xbar_r, xbar_s, imr, p, np, c, u

struct ChartPoint {
  int index = 0;          // 1-based subgroup / sample / value position
  std::string label;      // subgroup id, sample id or data row; else the index
  double value = 0;       // the plotted statistic
  double center = 0, ucl = 0, lcl = 0;
  std::optional<double> size;  // subgroup or sample size where meaningful
  int phase = 1;          // 1 or 2
  bool excluded = false;  // excluded from the Phase I estimates
  double sigma = 0;       // one standard error of the statistic here (untruncated); zones are ±1, ±2 sigma
};

struct Chart {
  std::string name;  // "xbar", "r", "s", "i", "mr", "p", "np", "c", "u", "ewma", "cusum_upper", "cusum_lower", "t2"
  std::optional<double> center, ucl, lcl;  // set when the same for every point
  std::vector<ChartPoint> points;
};

struct Exclusion {
  int index = 0;
  std::string chart;
  int iteration = 0;   // 1 = the first pass; 0 = excluded up front by ChartOptions::exclude
  std::string reason;  // "beyond UCL 0.4102 (value 0.48)"
};

struct ChartResult {
  ChartType type = ChartType::kXbarR;
  std::vector<Chart> charts;  // main chart first; then R, S or MR
  std::vector<Exclusion> exclusions;
  std::vector<Violation> violations;
  std::optional<double> lag1_autocorrelation;
  std::vector<std::string> warnings;
  std::map<std::string, double> parameters;  // "n", "mean", "sigma", "lambda", "L", "k", "h", ...
  int phase1_first = 0, phase1_last = 0;      // 1-based inclusive; 0 when no Phase I (all given)
  std::string capability_json;                // a JSON object from capability.h, "" = none
};

// ---- input ----
struct Subgroup {
  std::string label;
  std::vector<double> values;  // finite; missing values already dropped
  int missing = 0;             // how many were dropped (for messages)
};
struct CountSample {
  std::string label;
  double count = 0;  // nonconforming units (p, np) or nonconformities (c, u)
  double size = 1;   // units inspected (p, np), inspection units (u); ignored by c unless it varies
};
struct VectorSubgroup {
  std::string label;
  std::vector<std::vector<double>> rows;  // each row: one observation of the p variables
};
struct ChartData {
  std::vector<Subgroup> subgroups;      // xbar_r, xbar_s; imr, ewma, cusum: one value each (or n each)
  std::vector<CountSample> samples;     // p, np, c, u
  std::vector<VectorSubgroup> vectors;  // t2: one row each (individuals) or n rows each
  std::vector<std::string> variables;   // t2: variable names (for messages)
};

struct ChartOptions {
  ChartType type = ChartType::kXbarR;
  std::optional<int> phase1_first, phase1_last;  // 1-based inclusive; default: every point
  bool exclude_ooc = false;
  int max_exclusion_passes = 0;  // 0: until no Phase I point is beyond a limit
  std::vector<int> exclude;      // 1-based points excluded up front (known assignable causes)
  RuleSet rules;                 // default: we1-we4
  double L = 3;                  // limit width in sigmas (Shewhart and EWMA)
  double lambda = 0.2;           // EWMA weight, 0 < λ <= 1
  bool asymptotic = false;       // EWMA: asymptotic limits at every point
  double k = 0.5, h = 5;         // CUSUM reference value and decision interval, in sigmas
  bool fir = false;              // CUSUM fast initial response (headstart H/2)
  double alpha = 0.0027;         // T² false-alarm probability per point
  // Known parameters. mean: the process mean (xbar, imr, ewma, cusum); p for p and np; c for c;
  // u for u. sigma: the process standard deviation of one value (xbar, imr, ewma, cusum).
  std::optional<double> mean, sigma;
  bool allow_autocorrelation = false;
  double max_autocorrelation = 0.5;

  ChartOptions();
};

Result<ChartResult> BuildChart(const ChartData& data, const ChartOptions& options);

// Hotelling T² limits (also for live charts): quantile q of the Phase I / Phase II distributions.
// m Phase I points (subgroups), p variables, n per subgroup. Preconditions: m > p + 1
// (individuals), m n - m - p + 1 > 0 (subgroups), 0 < q < 1.
double T2IndividualsPhase1Quantile(int m, int p, double q);
double T2IndividualsPhase2Quantile(int m, int p, double q);
double T2SubgroupsPhase1Quantile(int m, int n, int p, double q);
double T2SubgroupsPhase2Quantile(int m, int n, int p, double q);
// Quantiles of Beta(a, b) and F(d1, d2) (bisection on the regularized incomplete beta, ~1e-14).
double BetaQuantileT2(double q, double a, double b);
double FQuantileT2(double q, double d1, double d2);

// Lag1Autocorrelation (autocorr.h: Σ(x_t-x̄)(x_{t+1}-x̄)/Σ(x_t-x̄)²) where it is defined: nullopt
// below 3 values or for constant values.
std::optional<double> Lag1(const std::vector<double>& x);

}  // namespace pf::spc
