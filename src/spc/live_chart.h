#pragma once
// A control chart on a live tag: values arrive one at a time at their source time, are grouped
// into subgroups (by count or by time window), and every completed subgroup becomes a point that
// is judged at once against approved (Phase II, fixed) limits by the streaming run rules
// (RuleMonitor). Fed the same series with the same given limits, a LiveChart produces exactly the
// points and violations BuildChart (charts.h) produces; the formulas are the ones in charts.h.
//
// Chart types: imr, xbar_r, xbar_s, ewma, cusum.
//   imr         one value per point (count subgroups of 1), or the mean of a time window
//   xbar_r/_s   subgroups of n >= 2 values (by count), or every value of a time window
//   ewma/cusum  single values or means of n values (by count), or the mean of a time window
// Every limit derives from LiveLimits::center and ::sigma (the process mean and the standard
// deviation of one value; for imr, ewma and cusum on time windows: of one window mean, which is
// the plotted value there), exactly as BuildChart with ChartOptions::mean/sigma given:
//   X̄ / I      center ± L σ/√n                          zones at ±1, ±2 σ/√n
//   R / MR     d2(n)σ ± L d3(n)σ (MR: n = 2), LCL >= 0
//   S          c4(n)σ ± L σ√(1-c4²), LCL >= 0
//   EWMA       EwmaMonitor (time-varying or asymptotic), CUSUM: CusumMonitor (ewma_cusum.h)
// n is each subgroup's own size, so time windows of varying size get per-point limits.
//
// Rules: the configured RuleSet on the main chart of a Shewhart type (xbar, i); the limit rule
// (we1 or nelson1, as BuildChart chooses it) on R, S and MR and on every EWMA and CUSUM chart.
// Violation::points are LivePoint::index values (int: exact up to 2^31 - 1 points, 68 years at
// 1 Hz); a violation is raised by the newest point of its pattern, the point emitted in the same call.
//
// Subgrouping.
//   By count: a subgroup closes when its n-th value arrives; the point's time is that value's
//     source time. Values are taken in arrival order, their times are not checked. Tick does nothing.
//   By time window W: windows are [kW, (k+1)W) on the Unix epoch (1-minute windows start on the
//     minute); the point's time is the window start. A window closes when a value of a later
//     window arrives or when Tick(now) reaches its end; callers that want to wait for late
//     samples pass now minus their allowed lateness. A value older than the open window (or than
//     a window already closed) is refused (kOutOfRange) and counted in late_values. A window with
//     fewer than min_window_values values (default 2 for xbar_r/xbar_s, 1 otherwise), or an X̄
//     window with more than kMaxSubgroupSize, is skipped: no point, its values leave the history,
//     and skipped_subgroups counts it. Empty windows make no point (the process was not running).
//
// Baseline phase: without limits a chart collects its subgroups and emits points with
// has_limits = false (the plain statistics: i/mr, xbar/r/s; for ewma and cusum the plotted value
// under "i" or "xbar") and no violations. EstimateLimits turns a window of RecentSubgroups() into
// proposed limits through BuildChart (Phase I, with its exclusions and autocorrelation check);
// an engineer approves them and the owner calls SetLimits.
//
// SetLimits: a new approved version. The rule monitors restart (a run of 7 above the center
// before and 2 after is not a run of 9), EWMA restarts at z0 = center, CUSUM at 0 (or H/2 with
// FIR); the open subgroup, the history and the MR neighbour (the previous value is still a real
// neighbour) are kept; point indices continue.
//
// Memory: O(keep) per chart, allocated up front for count subgroups (I-MR with keep = 100 and the
// eight Nelson rules: about 3.5 KB, see memory_bytes()). Time windows hold the open window's
// values too; the history holds at most keep_values values (the oldest subgroups go first; a
// single window larger than that keeps its newest values, Subgroup::missing says how many not).
//
// Thread-compatible: one owner calls Add/Tick/SetLimits; const methods may run concurrently with
// each other but not with those.
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "spc/charts.h"
#include "spc/ewma_cusum.h"
#include "spc/rules.h"

namespace pf::spc {

// The approved limits of one live chart (one version of them).
struct LiveLimits {
  ChartType type = ChartType::kIMR;
  int n = 1;          // subgroup size they were estimated for (information; per-point limits use each subgroup's n)
  double center = 0;  // process mean
  double sigma = 0;   // standard deviation of one value (> 0)
  double L = 3;       // Shewhart and EWMA limit width in sigmas
  double lambda = 0.2;      // ewma: weight, 0 < λ <= 1
  bool asymptotic = false;  // ewma: asymptotic limits from the first point on
  double k = 0.5, h = 5;    // cusum: reference value and decision interval, in sigmas of the plotted value
  bool fir = false;         // cusum: headstart H/2
};
// Checks ranges: finite center, sigma > 0, L > 0, n >= 1, λ in (0, 1], k >= 0, h > 0.
Status ValidateLiveLimits(const LiveLimits& limits);

struct LiveChartConfig {
  ChartType type = ChartType::kIMR;
  int subgroup_size = 1;                   // values per subgroup (count subgrouping); 1 with a window
  std::optional<Duration> subgroup_window{};  // subgroup by time instead (> 0)
  int min_window_values = 0;               // windows: fewer values are skipped; 0 = 2 (xbar_r/_s) or 1
  RuleSet rules{};                         // empty: no rules (use ParseRuleSet("nelson"), ...)
  size_t keep = 100;                       // completed subgroups kept for RecentSubgroups (0 = none)
  size_t keep_values = 0;                  // cap on values held; 0 = (keep + 1) n, or 64 (keep + 1) for windows
};

struct LivePoint {
  int64_t index = 0;       // 1-based point number on this chart since it was created
  Timestamp time;          // count: time of the value that completed the subgroup; window: window start
  std::string_view chart;  // "i", "mr", "xbar", "r", "s", "ewma", "cusum_upper", "cusum_lower" (static storage)
  double value = 0;        // the plotted statistic
  double center = 0, ucl = 0, lcl = 0;  // 0 when !has_limits
  double sigma = 0;        // one standard error of the statistic (zones at ±1, ±2); 0 for cusum or !has_limits
  int n = 1;               // values in the subgroup
  bool has_limits = false;
};

// What one Add or Tick completed. Add/Tick append: the caller clears (clear() keeps the capacity).
struct LiveResult {
  std::vector<LivePoint> points;
  std::vector<Violation> violations;
  void clear() {
    points.clear();
    violations.clear();
  }
};

struct LiveCounters {
  int64_t values = 0;             // accepted values
  int64_t points = 0;             // completed subgroups (points on the main chart)
  int64_t rejected_values = 0;    // not finite
  int64_t late_values = 0;        // older than the open (or last closed) window
  int64_t skipped_subgroups = 0;  // windows with fewer than min_window_values values
  int64_t dropped_values = 0;     // held back from the history by keep_values (still charted)
};

// EstimateLimits' answer: the limits to propose and the Phase I study behind them (exclusions,
// warnings, lag-1 autocorrelation, the baseline's own points and violations).
struct LiveProposal {
  LiveLimits limits;
  ChartResult phase1;
};

class LiveChart {
 public:
  // Checks the config (and the limits, whose type must be the config's) and allocates the history.
  static Result<LiveChart> Create(LiveChartConfig config, std::optional<LiveLimits> limits = std::nullopt);

  // One value at its source time. kInvalidArgument for a value that is not finite and
  // kOutOfRange for a late value (time windows), both counted; the chart is then unchanged.
  Status Add(double value, Timestamp t, LiveResult* out);
  // Closes a time window whose end is at or before now; nothing for count subgroups.
  void Tick(Timestamp now, LiveResult* out);
  // A new approved version (validated; its type must be the chart's): the rules restart.
  Status SetLimits(const LiveLimits& limits);
  // Back to the baseline phase (no limits, no rules).
  void ClearLimits();
  // A process break (a product or recipe change): the next value has no moving-range neighbour
  // and the rule runs restart. A subgroup open at the break keeps its values.
  void BreakSeries();

  const LiveChartConfig& config() const { return config_; }
  const std::optional<LiveLimits>& limits() const { return limits_; }
  const LiveCounters& counters() const { return counters_; }

  // The last `keep` completed subgroups, oldest first, labelled with their time (RFC 3339, ms);
  // the first one is point first_recent_index(). Feed a window of them to EstimateLimits.
  std::vector<Subgroup> RecentSubgroups() const;
  int64_t first_recent_index() const { return next_index_ - static_cast<int64_t>(groups_); }
  // Bytes this chart holds: the object and the heap it owns (capacities, not malloc overhead).
  size_t memory_bytes() const;

  // Proposed limits for `config` from a baseline (Phase I over every subgroup given) through
  // BuildChart. options carries the Phase I choices (exclude_ooc, exclude, allow_autocorrelation,
  // L, lambda, asymptotic, k, h, fir, known mean/sigma); its type and rules are the config's.
  // imr, ewma and cusum on time windows chart window means: each subgroup is reduced to its mean.
  static Result<LiveProposal> EstimateLimits(const LiveChartConfig& config, const std::vector<Subgroup>& baseline,
                                             ChartOptions options = {});

 private:
  // Per-point constants for one subgroup size (count subgroups: computed once per SetLimits).
  struct Derived {
    int n = 0;
    double center = 0, sigma = 0, ucl = 0, lcl = 0;                // X̄ / I
    double center2 = 0, sigma2 = 0, ucl2 = 0, lcl2 = 0;            // R / S / MR
  };
  struct Open {  // the subgroup being filled
    int count = 0;
    double sum = 0, min = 0, max = 0;
    double welford_mean = 0, welford_m2 = 0;  // xbar_s when the ring could not hold every value
    int64_t window = 0;                       // time windows: k of [kW, (k+1)W)
  };

  LiveChart(LiveChartConfig config, RuleMonitor main, RuleMonitor second);
  bool windowed() const { return config_.subgroup_window.has_value(); }
  void ApplyLimits(const LiveLimits& limits);
  const Derived& DerivedFor(int n);
  void Close(Timestamp time, LiveResult* out);
  void Emit(int64_t index, Timestamp time, int n, double mean, double range, double sd, LiveResult* out);
  void PushValue(double v);
  void EvictOldestGroup();
  double SubgroupSd(double mean) const;  // two-pass over the open subgroup's values in the ring

  LiveChartConfig config_;
  std::optional<LiveLimits> limits_;
  Derived derived_;
  RuleMonitor main_rules_, second_rules_;
  std::optional<EwmaMonitor> ewma_;
  std::optional<CusumMonitor> cusum_;
  Open open_;
  int64_t next_window_ = INT64_MIN;  // windows: the earliest window a value may still open
  bool has_prev_ = false;           // imr: the previous point's value, for the moving range
  double prev_ = 0;
  int64_t next_index_ = 1;
  LiveCounters counters_;

  // History: a ring of values (completed subgroups then the open one) and a ring of subgroups.
  std::vector<double> values_;
  size_t head_ = 0, size_ = 0;
  size_t values_cap_ = 0;
  std::vector<int64_t> times_;    // per kept subgroup (ring of `keep`)
  std::vector<uint32_t> counts_;  // per kept subgroup, values held (time windows only)
  size_t group_head_ = 0, groups_ = 0;
  uint32_t dropped_front_ = 0;  // values of the oldest kept subgroup not held (see keep_values)
  uint32_t dropped_open_ = 0;   // values of the open subgroup not held
};

}  // namespace pf::spc
