// Live SPC charts benchmark (issue 5): many LiveCharts fed at 1 Hz, and one chart beside R.
//
// Phases (each in a forked child, so that its peak RSS, VmHWM, is its own):
//   single  one I-MR chart, all eight Nelson rules (rule 1 on MR), on a --points series (normal
//           with shifts, a drift, stratification and a mixture, so that every rule fires):
//             live   limits from the series (mean, MR̄/d2(2)) then LiveChart::Add point by point
//             batch  BuildChart over the whole series (the `plantfloor spc` path)
//             R      bench/spc_reference_bench.R via Rscript on the same series written to a temp
//                    CSV: vectorised r-base; its own system.time of the computation only
//           The violation counts per rule must agree between all three (else exit 1); throughputs,
//           ratios and peak RSS (R: /usr/bin/time -v) are printed.
//   fleet   --charts charts (half I-MR, half X̄-R n = 5, all Nelson rules, limits given), fed one
//           value per chart per simulated second for --seconds simulated seconds as fast as
//           possible; 10 % of the charts shift by 1.5 sigma halfway. Then, with --realtime S,
//           S more seconds at the real 1 Hz rate (all charts fed at the top of each second, then
//           sleep): CPU time of the process / wall time = share of one core.
//           Latency per sample = the time Add takes (steady_clock around the call): the violation
//           exists when Add returns. In real time also tick-to-violation: from the top of the second
//           (when all samples are due) to the Add that raised it, i.e. including the queue of
//           charts before it on this one thread.
//           Memory: (RSS after feeding - RSS before creating the charts) / charts, and memory_bytes().
// Exit code 0 when every phase ran, the counts agree and the fleet raised violations; 1 otherwise.
#include <malloc.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "spc/charts.h"
#include "spc/constants.h"
#include "spc/live_chart.h"

namespace {

using pf::Timestamp;
using pf::spc::ChartType;
using pf::spc::LiveChart;
using pf::spc::LiveLimits;
using pf::spc::LiveResult;
using Clock = std::chrono::steady_clock;
constexpr int64_t kSecondNs = 1'000'000'000;

struct Options {
  int charts = 10000;
  int seconds = 60;
  int realtime = 0;
  int points = 1'000'000;
  uint64_t seed = 20261125;
  std::string rscript = "/usr/bin/Rscript";
  std::string r_script = PF_SPC_R_SCRIPT;
};

int64_t ProcKb(const char* key) {  // VmRSS / VmHWM of this process, kB
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key, 0) == 0) return std::atoll(line.c_str() + std::strlen(key));
  return -1;
}

double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
}

double Since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string LoadAverage() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a + " / " + b + " / " + c;
}

// p-th percentile (0..100) of the values, in microseconds; sorts v.
std::string Percentiles(std::vector<int64_t>& v) {
  if (v.empty()) return "n/a (none)";
  std::sort(v.begin(), v.end());
  auto at = [&](double p) { return v[std::min(v.size() - 1, static_cast<size_t>(p / 100 * v.size()))] / 1e3; };
  return fmt::format("p50 {:.2f} us, p99 {:.2f} us, max {:.2f} us (n = {})", at(50), at(99), v.back() / 1e3, v.size());
}

// ---- single chart beside R ----

std::vector<double> Series(int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> z(0, 1);
  std::vector<double> x(n);
  for (int i = 0; i < n; ++i) {
    double v = z(rng);
    switch ((i / 500) % 20) {  // 500-point segments, mostly in control
      case 3: v += 1.5; break;
      case 7: v = 0.2 * v; break;                         // stratification (nelson7)
      case 11: v = 0.3 * v + (z(rng) > 0 ? 1.8 : -1.8); break;  // mixture (nelson8)
      case 15: v = 0.3 * v + ((i % 40) - 20) * 0.08; break;    // sawtooth drift (nelson3)
      default: break;
    }
    x[i] = 50 + 4 * v;
  }
  return x;
}

using Counts = std::map<std::string, int64_t>;  // "nelson5 i" -> count

void Tally(const std::vector<pf::spc::Violation>& v, Counts* c) {
  for (const auto& x : v) ++(*c)[x.rule + " " + x.chart];
}

struct RRun {
  bool ok = false;
  double elapsed = 0, heap_mb = 0;
  int64_t rss_kb = -1;
  Counts counts;
  std::string output;
};

RRun RunR(const Options& o, const std::string& csv, const std::string& dir) {
  RRun r;
  std::string out = dir + "/r.out", err = dir + "/r.time";
  std::string cmd = fmt::format("/usr/bin/time -v '{}' '{}' '{}' > '{}' 2> '{}'", o.rscript, o.r_script, csv, out, err);
  int rc = std::system(cmd.c_str());
  std::ifstream fo(out), fe(err);
  std::string line;
  while (std::getline(fo, line)) {
    r.output += line + "\n";
    std::istringstream s(line);
    std::string key, rule, chart;
    s >> key;
    if (key == "elapsed") s >> r.elapsed;
    if (key == "r_heap_max_mb") s >> r.heap_mb;
    if (key == "count") {
      int64_t n = 0;
      s >> rule >> chart >> n;
      r.counts[rule + " " + chart] = n;
    }
  }
  while (std::getline(fe, line)) {
    auto at = line.find("Maximum resident set size (kbytes):");
    if (at != std::string::npos) r.rss_kb = std::atoll(line.c_str() + at + 35);
    else if (rc != 0) r.output += line + "\n";
  }
  r.ok = rc == 0 && !r.counts.empty();
  return r;
}

int SinglePhase(const Options& o) {
  std::vector<double> x = Series(o.points, o.seed);
  auto dir = std::filesystem::temp_directory_path() / fmt::format("spc_live_bench_{}", ::getpid());
  std::filesystem::create_directories(dir);
  std::string csv = (dir / "series.csv").string();
  {
    std::FILE* f = std::fopen(csv.c_str(), "w");
    std::fputs("x\n", f);
    for (double v : x) fmt::print(f, "{:.17g}\n", v);
    std::fclose(f);
  }
  auto rules = *pf::spc::ParseRuleSet("nelson");

  // live: limits from the series, then point by point.
  Clock::time_point t0 = Clock::now();
  double sum = 0, mr = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sum += x[i];
    if (i) mr += std::fabs(x[i] - x[i - 1]);
  }
  LiveLimits limits{ChartType::kIMR, 1, sum / x.size(), mr / (x.size() - 1) / pf::spc::RangeMeanD2(2)};
  pf::spc::LiveChartConfig config;
  config.type = ChartType::kIMR;
  config.rules = rules;
  LiveChart chart = std::move(LiveChart::Create(config, limits)).value();
  LiveResult out;
  Counts live;
  for (size_t i = 0; i < x.size(); ++i) {
    if (!chart.Add(x[i], Timestamp{static_cast<int64_t>(i) * kSecondNs}, &out).ok()) return 1;
    if (!out.violations.empty()) Tally(out.violations, &live);
    out.clear();
  }
  double live_s = Since(t0);
  int64_t hwm_live = ProcKb("VmHWM:");

  // batch: BuildChart over the series (building ChartData is input preparation, not timed).
  Counts batch;
  double batch_s = 0;
  {
    pf::spc::ChartData data;
    data.subgroups.reserve(x.size());
    for (double v : x) data.subgroups.push_back({"", {v}, 0});
    pf::spc::ChartOptions opt;
    opt.type = ChartType::kIMR;
    opt.rules = rules;
    opt.allow_autocorrelation = true;  // the R side does not gate on it
    t0 = Clock::now();
    auto built = pf::spc::BuildChart(data, opt);
    batch_s = Since(t0);
    if (!built.ok()) {
      fmt::print("batch BuildChart failed: {}\n", built.status().ToString());
      return 1;
    }
    Tally(built->violations, &batch);
  }
  int64_t hwm = ProcKb("VmHWM:");

  RRun r = RunR(o, csv, dir.string());
  std::filesystem::remove_all(dir);
  if (!r.ok) {
    fmt::print("R failed:\n{}\n", r.output);
    return 1;
  }
  fmt::print("== single I-MR chart, {} points, nelson1-8 on I, nelson1 on MR ==\n", x.size());
  fmt::print("limits: center {:.10g} sigma {:.10g}\n", limits.center, limits.sigma);
  fmt::print("{}", r.output);
  bool agree = true;
  fmt::print("{:<14} {:>10} {:>10} {:>10}\n", "rule chart", "live", "batch", "R");
  for (const auto& [key, n] : r.counts) {
    bool same = live[key] == n && batch[key] == n;
    agree = agree && same;
    fmt::print("{:<14} {:>10} {:>10} {:>10}{}\n", key, live[key], batch[key], n, same ? "" : "   MISMATCH");
  }
  for (const auto& [key, n] : live)
    if (!r.counts.count(key)) agree = false, fmt::print("{}: {} live, absent in R   MISMATCH\n", key, n);
  double pts = static_cast<double>(x.size());
  fmt::print("throughput: live {:.3g} points/s ({:.3f} s), batch BuildChart {:.3g} points/s ({:.3f} s), "
             "R {:.3g} points/s ({:.3f} s)\n",
             pts / live_s, live_s, pts / batch_s, batch_s, pts / r.elapsed, r.elapsed);
  fmt::print("ratio: live / R {:.1f}x, batch / R {:.1f}x\n", r.elapsed / live_s, r.elapsed / batch_s);
  fmt::print("peak RSS: C++ live {:.1f} MB (process with the series and the chart), C++ after batch {:.1f} MB "
             "(+ BuildChart input and result), Rscript {:.1f} MB (/usr/bin/time -v; R heap max {:.1f} MB)\n",
             hwm_live / 1024.0, hwm / 1024.0, r.rss_kb / 1024.0, r.heap_mb);
  fmt::print("counts agree: {}\n", agree ? "yes" : "NO");
  return agree ? 0 : 1;
}

// ---- fleet of live charts ----

struct Fleet {
  std::vector<LiveChart> charts;
  std::vector<double> center, sigma;
  std::vector<bool> shifts;
  int64_t rss_kb[3] = {0, 0, 0};  // before, after the I-MR half, after the X̄-R half
  size_t heap[3] = {0, 0, 0};     // malloc'd bytes in use (mallinfo2), same points
};

// The first half I-MR, the second X̄-R, RSS read between the halves (memory per chart type).
Fleet MakeFleet(int n) {
  Fleet f;
  auto rules = *pf::spc::ParseRuleSet("nelson");
  f.charts.reserve(n);
  f.center.reserve(n);
  f.sigma.reserve(n);
  f.rss_kb[0] = ProcKb("VmRSS:");
  f.heap[0] = mallinfo2().uordblks;
  for (int i = 0; i < n; ++i) {
    bool imr = i < (n + 1) / 2;
    if (i == (n + 1) / 2) f.rss_kb[1] = ProcKb("VmRSS:"), f.heap[1] = mallinfo2().uordblks;
    double center = 100 + i % 17, sigma = 1 + (i % 5) * 0.5;
    pf::spc::LiveChartConfig c;
    c.type = imr ? ChartType::kIMR : ChartType::kXbarR;
    c.subgroup_size = imr ? 1 : 5;
    c.rules = rules;
    LiveLimits l{c.type, c.subgroup_size, center, sigma};
    f.charts.push_back(std::move(LiveChart::Create(c, l)).value());
    f.center.push_back(center);
    f.sigma.push_back(sigma);
    f.shifts.push_back(i % 10 == 3);
  }
  f.rss_kb[2] = ProcKb("VmRSS:");
  f.heap[2] = mallinfo2().uordblks;
  return f;
}

struct Latencies {
  std::vector<int64_t> all, violating, tick, batch;  // ns
  int64_t violations = 0;
};

// The values of one second, one per chart (made before they are due: they come off the bus).
void MakeValues(const Fleet& f, bool shifted, std::mt19937_64& rng, std::vector<double>* v) {
  std::normal_distribution<double> z(0, 1);
  v->resize(f.charts.size());
  for (size_t i = 0; i < f.charts.size(); ++i)
    (*v)[i] = f.center[i] + f.sigma[i] * (z(rng) + (shifted && f.shifts[i] ? 1.5 : 0));
}

// One simulated second: one value for every chart. tick0: when the values were due (real time).
void FeedSecond(Fleet& f, int64_t second, const std::vector<double>& values, LiveResult& out, Latencies& lat,
                Clock::time_point tick0, bool real_time) {
  Timestamp t{second * kSecondNs};
  for (size_t i = 0; i < f.charts.size(); ++i) {
    Clock::time_point a = Clock::now();
    pf::Status s = f.charts[i].Add(values[i], t, &out);
    Clock::time_point b = Clock::now();
    s.IgnoreError();  // finite values at increasing times: never refused
    int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count();
    lat.all.push_back(ns);
    if (!out.violations.empty()) {
      lat.violating.push_back(ns);
      lat.violations += static_cast<int64_t>(out.violations.size());
      if (real_time) lat.tick.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(b - tick0).count());
    }
    out.clear();
  }
  lat.batch.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - tick0).count());
}

int FleetPhase(const Options& o) {
  std::mt19937_64 rng(o.seed + 1);
  Latencies fast, rt;
  size_t samples = static_cast<size_t>(o.charts) * o.seconds;
  fast.all.reserve(samples);
  fast.violating.reserve(samples / 4);
  rt.all.reserve(static_cast<size_t>(o.charts) * o.realtime);
  rt.violating.reserve(static_cast<size_t>(o.charts) * o.realtime / 4);
  rt.tick.reserve(static_cast<size_t>(o.charts) * o.realtime / 4);
  LiveResult out;
  out.points.reserve(16);
  out.violations.reserve(16);

  std::vector<double> values;
  values.reserve(o.charts);
  Fleet f = MakeFleet(o.charts);
  int64_t rss0 = f.rss_kb[0];
  int imr = (o.charts + 1) / 2, xr = o.charts / 2;
  size_t bytes_imr = f.charts.front().memory_bytes(), bytes_xr = f.charts.back().memory_bytes();

  double fast_wall = 0, fast_cpu = 0;
  for (int s = 0; s < o.seconds; ++s) {
    MakeValues(f, s >= o.seconds / 2, rng, &values);
    Clock::time_point t0 = Clock::now();
    double cpu0 = CpuSeconds();
    FeedSecond(f, s, values, out, fast, t0, false);
    fast_wall += Since(t0);
    fast_cpu += CpuSeconds() - cpu0;
  }
  int64_t rss_fed = ProcKb("VmRSS:");
  double add_s = 0;
  for (int64_t ns : fast.all) add_s += ns * 1e-9;

  fmt::print("== fleet: {} live charts ({} I-MR, {} X̄-R n=5), nelson1-8, 1 value per chart per second ==\n",
             o.charts, imr, xr);
  fmt::print("memory per chart (RSS delta / charts): I-MR {:.0f} B, X̄-R {:.0f} B at creation; all {:.0f} B at "
             "creation, {:.0f} B after {} s; memory_bytes(): I-MR {} B, X̄-R {} B\n",
             (f.rss_kb[1] - rss0) * 1024.0 / imr, (f.rss_kb[2] - f.rss_kb[1]) * 1024.0 / xr,
             (f.rss_kb[2] - rss0) * 1024.0 / o.charts, (rss_fed - rss0) * 1024.0 / o.charts, o.seconds, bytes_imr,
             bytes_xr);
  fmt::print("heap per chart (mallinfo2, + sizeof(LiveChart) {} B in the vector): I-MR {:.0f} B, X̄-R {:.0f} B\n",
             sizeof(LiveChart), static_cast<double>(f.heap[1] - f.heap[0]) / imr,
             static_cast<double>(f.heap[2] - f.heap[1]) / xr);
  fmt::print("fast ({} simulated s): {} samples in {:.3f} s wall ({:.3f} s CPU, {:.3f} s inside Add): "
             "{:.3g} samples/s; at 1 Hz that is {:.3f} % of one core\n",
             o.seconds, samples, fast_wall, fast_cpu, add_s, samples / fast_wall, 100 * fast_wall / o.seconds);
  fmt::print("fast: one second's {} samples take {}\n", o.charts, Percentiles(fast.batch));
  fmt::print("fast: {} violations; Add latency, all samples: {}\n", fast.violations, Percentiles(fast.all));
  fmt::print("fast: Add latency, samples that raised a violation: {}\n", Percentiles(fast.violating));

  if (o.realtime > 0) {
    Clock::time_point start = Clock::now() + std::chrono::milliseconds(100);
    double cpu_start = 0;
    int late_ticks = 0;
    for (int s = 0; s < o.realtime; ++s) {
      Clock::time_point due = start + std::chrono::seconds(s);
      if (s == 0) cpu_start = CpuSeconds();
      MakeValues(f, true, rng, &values);
      std::this_thread::sleep_until(due);
      Clock::time_point tick0 = Clock::now();
      if (tick0 - due > std::chrono::milliseconds(100)) ++late_ticks;
      FeedSecond(f, o.seconds + s, values, out, rt, tick0, true);
    }
    std::this_thread::sleep_until(start + std::chrono::seconds(o.realtime));
    double wall = Since(start), cpu = CpuSeconds() - cpu_start;
    fmt::print("real time ({} s at 1 Hz): CPU {:.3f} s over {:.3f} s wall = {:.3f} % of one core; {} ticks late by "
               "> 100 ms\n",
               o.realtime, cpu, wall, 100 * cpu / wall, late_ticks);
    fmt::print("real time: {} violations; Add latency, all samples: {}\n", rt.violations, Percentiles(rt.all));
    fmt::print("real time: Add latency, samples that raised a violation: {}\n", Percentiles(rt.violating));
    fmt::print("real time: one second's {} samples take {}\n", o.charts, Percentiles(rt.batch));
    fmt::print("real time: tick-to-violation (top of the second to the Add that raised it): {}\n",
               Percentiles(rt.tick));
  }
  fmt::print("peak RSS (fleet phase): {:.1f} MB\n", ProcKb("VmHWM:") / 1024.0);
  return fast.violations > 0 ? 0 : 1;
}

int InChild(int (*phase)(const Options&), const Options& o) {
  std::fflush(stdout);
  pid_t pid = ::fork();
  if (pid == 0) {
    int rc = phase(o);
    std::fflush(stdout);
    std::_Exit(rc);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

bool ParseArgs(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = next();
    if (!v) return false;
    if (a == "--charts") o->charts = std::atoi(v);
    else if (a == "--seconds") o->seconds = std::atoi(v);
    else if (a == "--realtime") o->realtime = std::atoi(v);
    else if (a == "--points") o->points = std::atoi(v);
    else if (a == "--seed") o->seed = std::strtoull(v, nullptr, 10);
    else if (a == "--rscript") o->rscript = v;
    else if (a == "--r-script") o->r_script = v;
    else return false;
  }
  return o->charts >= 2 && o->seconds >= 1 && o->realtime >= 0 && o->points >= 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!ParseArgs(argc, argv, &o)) {
    std::fprintf(stderr, "usage: spc_live_bench [--charts N>=2] [--seconds S] [--realtime S] [--points N] "
                         "[--seed N] [--rscript PATH] [--r-script FILE]\n");
    return 2;
  }
  fmt::print("spc_live_bench: charts {} seconds {} realtime {} points {} seed {}; load average {}\n", o.charts,
             o.seconds, o.realtime, o.points, o.seed, LoadAverage());
  int rc = 0;
  if (o.points > 0) rc |= InChild(SinglePhase, o);
  rc |= InChild(FleetPhase, o);
  fmt::print("load average at the end {}; exit {}\n", LoadAverage(), rc ? 1 : 0);
  return rc ? 1 : 0;
}
