// C-MAPSS FD001 (NASA turbofan run-to-failure simulation, ../shared/data/cmapss): a learned normal
// baseline must keep its false-alarm promise on engines it has never seen and must warn before
// failure. Issue 7, acceptance "C-MAPSS FD001".
//
// Protocol (fixed before looking at results):
//   split      the 100 training engines by id: id % 5 == 0 (5, 10, ..., 100) are held out (20),
//              the other 80 learn. No cycle of a held-out engine is used for learning or choosing.
//   baseline   one regime (FD001 has one operating condition, sea level; the three settings only
//              carry noise), pooled over the first 30 cycles of each of the 80 engines (2400
//              samples): all 21 sensors go in; the constant ones are dropped by the baseline with
//              their reason. Robust median/MAD standardisation + reweighted MCD; the threshold is
//              the empirical, finite-sample corrected, out-of-fold quantile for alpha = 1 %.
//   early      cycles 1-30 of the held-out engines: the same life stage the baseline was learned on,
//              which the data set's readme describes as normal operation ("the engine is operating
//              normally at the start of each time series"). The per-cycle exceedance rate there must
//              be at most 2 alpha.
//   alarm      the 3rd consecutive exceedance (k = 3). An alarm in cycles 1-30 is a false alarm
//              (reported); the lead time is counted from the first alarm after cycle 30 to the
//              engine's last cycle (its failure). A lead time must exist for most (>= 15 of 20)
//              held-out engines.
//   reference  the single best sensor: for each kept sensor a one-feature baseline (the same
//              learning and threshold rule at the same alpha, i.e. a two-sided robust z-score limit),
//              chosen on the 80 training engines only by the largest median lead time over all 80,
//              an engine without an alarm counting 0 (so a sensor that warns early on a few engines
//              and never on the rest does not win), then applied to the held-out engines.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "detect/baseline.h"
#include "testing.h"

namespace pf::detect {
namespace {

constexpr double kAlpha = 0.01;
constexpr int kEarly = 30;  // cycles
constexpr int kConsecutive = 3;
const std::vector<std::string> kSensors = {
    "s1_T2",   "s2_T24",  "s3_T30", "s4_T50",   "s5_P2",     "s6_P15",     "s7_P30",
    "s8_Nf",   "s9_Nc",   "s10_epr", "s11_Ps30", "s12_phi",   "s13_NRf",   "s14_NRc",
    "s15_BPR", "s16_farB", "s17_htBleed", "s18_Nf_dmd", "s19_PCNfR_dmd", "s20_W31", "s21_W32"};

struct Engine {
  int id = 0;
  std::vector<std::vector<double>> cycles;  // 21 sensors per cycle, cycle 1 first
};

// train_FD001.txt: 26 space-separated numbers per row (unit, cycle, 3 settings, 21 sensors).
Result<std::map<int, Engine>> Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound("{}: cannot open", path);
  std::map<int, Engine> engines;
  std::string line;
  for (int row = 1; std::getline(in, line); ++row) {
    std::istringstream ss(line);
    std::vector<double> v;
    std::string tok;
    while (ss >> tok) {
      char* end = nullptr;
      const double d = std::strtod(tok.c_str(), &end);
      if (end == tok.c_str() || *end) return InvalidArgument("{}: row {}: column {}: not a number '{}'", path, row, v.size() + 1, tok);
      v.push_back(d);
    }
    if (v.empty()) continue;
    if (v.size() != 26) return InvalidArgument("{}: row {}: {} columns, expected 26", path, row, v.size());
    Engine& e = engines[static_cast<int>(v[0])];
    e.id = static_cast<int>(v[0]);
    if (static_cast<size_t>(v[1]) != e.cycles.size() + 1) {
      return InvalidArgument("{}: row {}: engine {} cycle {} follows cycle {}", path, row, e.id, v[1], e.cycles.size());
    }
    e.cycles.emplace_back(v.begin() + 5, v.end());
  }
  return engines;
}

bool HeldOut(int id) { return id % 5 == 0; }

Baseline Learn(const std::map<int, Engine>& engines, const std::vector<int>& sensors,
               ThresholdMethod method = ThresholdMethod::kEmpirical) {
  BaselineConfig c;
  c.threshold = method;
  c.asset = "fd001_fleet";
  for (int s : sensors) c.features.push_back(kSensors[s]);
  c.false_alarm_rate = kAlpha;
  auto t = BaselineTrainer::Create(c);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  for (const auto& [id, e] : engines) {
    if (HeldOut(id)) continue;
    for (int k = 0; k < kEarly; ++k) {
      std::vector<double> x;
      for (int s : sensors) x.push_back(e.cycles[k][s]);
      EXPECT_TRUE(t->AddToRegime(x, 0).ok());
    }
  }
  auto b = t->Fit();
  EXPECT_TRUE(b.ok()) << b.status().ToString();
  return std::move(b).value();
}

struct Verdict {
  int early_exceedances = 0;
  bool early_alarm = false;
  std::optional<int> alarm_cycle;  // first alarm after the early window
  int life = 0;
  std::optional<int> lead() const { return alarm_cycle ? std::optional<int>(life - *alarm_cycle) : std::nullopt; }
};

Verdict Monitor(const Baseline& b, const Engine& e, const std::vector<int>& sensors) {
  Verdict v;
  v.life = static_cast<int>(e.cycles.size());
  ConsecutiveExceedances alarm(kConsecutive);
  std::vector<double> x(sensors.size());
  for (int k = 0; k < v.life; ++k) {
    for (size_t j = 0; j < sensors.size(); ++j) x[j] = e.cycles[k][sensors[j]];
    auto s = b.Score(x, 0);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    const int cycle = k + 1;
    const bool on = alarm.Update(s->exceeds);
    if (cycle <= kEarly) {
      v.early_exceedances += s->exceeds;
      v.early_alarm = v.early_alarm || on;
    } else if (on && !v.alarm_cycle) {
      v.alarm_cycle = cycle;
    }
  }
  return v;
}

double Median(std::vector<int> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::vector<int> Leads(const Baseline& b, const std::map<int, Engine>& engines, const std::vector<int>& sensors,
                       bool held_out) {
  std::vector<int> out;
  for (const auto& [id, e] : engines) {
    if (HeldOut(id) != held_out) continue;
    if (auto lead = Monitor(b, e, sensors).lead()) out.push_back(*lead);
  }
  return out;
}

TEST(CmapssBaseline, FalseAlarmsAndLeadTimeOnHeldOutEngines) {
  const std::string dir = testing::SharedDir() + "/data/cmapss";
  testing::RequireOrSkip(dir + "/train_FD001.txt", "C-MAPSS FD001 data (../shared/data/cmapss)");
  auto loaded = Load(dir + "/train_FD001.txt");
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  const std::map<int, Engine>& engines = *loaded;
  ASSERT_EQ(engines.size(), 100u);

  std::vector<int> all(21);
  for (int s = 0; s < 21; ++s) all[s] = s;
  const Baseline multi = Learn(engines, all);
  const RegimeModel& m = *multi.model(0);
  std::printf("baseline: %zu samples (80 engines x cycles 1-%d), %zu features kept, %zu reweighting inliers\n", m.samples,
              kEarly, m.kept.size(), m.inliers);
  std::vector<std::string> dropped;
  for (const auto& d : m.dropped) {
    std::printf("  dropped %-14s %s\n", d.feature.c_str(), d.reason.c_str());
    dropped.push_back(d.feature.substr(0, d.feature.find('_')));
  }
  // SOURCE.md (and the literature): in FD001 s1, s5, s6, s10, s16, s18 and s19 are (near) constant.
  EXPECT_EQ(dropped, (std::vector<std::string>{"s1", "s5", "s6", "s10", "s16", "s18", "s19"}));
  std::printf("threshold d2 = %.3f for alpha = %g (out-of-fold exceedance %.4f; chi-square(%zu) 0.99 quantile for "
              "comparison 29.14 at p = 14)\n",
              m.threshold, kAlpha, m.calibration_exceedance, m.kept.size());

  // The single best sensor, chosen on the training engines only.
  int best = -1;
  double best_lead = -1;
  for (int s : m.kept) {
    const Baseline one = Learn(engines, {s});
    std::vector<int> leads = Leads(one, engines, {s}, /*held_out=*/false);
    const size_t alarms = leads.size();
    leads.resize(80, 0);  // missed engines count 0
    const double med = Median(leads);
    std::printf("  training engines, %-14s alone: alarms on %2zu of 80, median lead (missed = 0) %.1f\n",
                kSensors[s].c_str(), alarms, med);
    if (med > best_lead) best_lead = med, best = s;
  }
  ASSERT_GE(best, 0);
  const Baseline single = Learn(engines, {best});
  std::printf("best single sensor (training engines): %s\n\n", kSensors[best].c_str());

  std::printf("engine  life | multivariate: early exc  alarm  lead | %s: early exc  alarm  lead\n", kSensors[best].c_str());
  int early_multi = 0, early_single = 0, early_samples = 0, false_multi = 0, false_single = 0;
  std::vector<int> leads_multi, leads_single;
  for (const auto& [id, e] : engines) {
    if (!HeldOut(id)) continue;
    const Verdict a = Monitor(multi, e, all), b = Monitor(single, e, {best});
    early_samples += kEarly;
    early_multi += a.early_exceedances;
    early_single += b.early_exceedances;
    false_multi += a.early_alarm;
    false_single += b.early_alarm;
    if (a.lead()) leads_multi.push_back(*a.lead());
    if (b.lead()) leads_single.push_back(*b.lead());
    auto show = [](const Verdict& v) {
      return fmt::format("{:9d}{} {:5s} {:5s}", v.early_exceedances, v.early_alarm ? "*" : " ",
                         v.alarm_cycle ? std::to_string(*v.alarm_cycle) : "-", v.lead() ? std::to_string(*v.lead()) : "-");
    };
    std::printf("%6d %5d | %s | %s\n", id, a.life, show(a).c_str(), show(b).c_str());
  }
  const double far_multi = static_cast<double>(early_multi) / early_samples;
  const double far_single = static_cast<double>(early_single) / early_samples;
  std::printf("(* = a %d-in-a-row alarm inside cycles 1-%d: a false alarm)\n\n", kConsecutive, kEarly);
  std::printf("held-out early cycles (20 engines x 1-%d = %d samples), configured alpha %.2f %%:\n", kEarly, early_samples,
              100 * kAlpha);
  std::printf("  multivariate:  %d exceedances = %.2f %% (bound %.2f %%), false alarms (k = %d) on %d of 20 engines\n",
              early_multi, 100 * far_multi, 200 * kAlpha, kConsecutive, false_multi);
  std::printf("  %-13s  %d exceedances = %.2f %%, false alarms on %d of 20 engines\n", kSensors[best].c_str(), early_single,
              100 * far_single, false_single);
  std::printf("lead time before failure (cycles), held-out engines:\n");
  std::printf("  multivariate:  alarm on %zu of 20, median %.1f\n", leads_multi.size(), Median(leads_multi));
  std::printf("  %-13s  alarm on %zu of 20, median %.1f\n", kSensors[best].c_str(), leads_single.size(),
              Median(leads_single));

  // For comparison only: the Gaussian (F law) threshold on the same baseline.
  const Baseline f_law = Learn(engines, all, ThresholdMethod::kFLaw);
  int early_f = 0;
  std::vector<int> leads_f;
  for (const auto& [id, e] : engines) {
    if (!HeldOut(id)) continue;
    const Verdict v = Monitor(f_law, e, all);
    early_f += v.early_exceedances;
    if (v.lead()) leads_f.push_back(*v.lead());
  }
  std::printf("  (F-law threshold d2 = %.3f instead: early %.2f %%, alarm on %zu of 20, median lead %.1f; its out-of-fold "
              "exceedance on the training baseline %.4f)\n",
              f_law.model(0)->threshold, 100.0 * early_f / early_samples, leads_f.size(), Median(leads_f),
              f_law.model(0)->calibration_exceedance);

  EXPECT_LE(far_multi, 2 * kAlpha);
  EXPECT_GE(leads_multi.size(), 15u);
}

}  // namespace
}  // namespace pf::detect
