// SPC sample-to-alert latency benchmark (issue 5): 10,000 live charts through the runtime's own path.
//
// What runs: a generated plant TOML (--assets assets x --tags tags, one modbus source per asset that
// is never created or started, one [[spc.charts]] per tag: half I-MR, half X̄-R n = 5, all eight
// Nelson rules, approved limits in the config) goes through BuildPlantConfig; then, as
// Runtime::Create does, a real Store (temp dir, fsync on, every tag registered), AlertService::Create
// and SpcService::Create. A single thread plays the processor (Runtime::ProcessLoop): each turn takes
// the bus items that have arrived (at most 256), runs the HandleSamples part for every sample
// (change filter into the history batch, AlertService::OnSample, SpcService::OnSample, then
// AlertService::Evaluate for each condition update), then TickAlerts (AlertService::Tick,
// SpcService::Tick, TakeStateIfChanged, TakeSnapshotIfChanged), then Store::Commit when the commit
// window (200 ms, the default) passed, on the same thread, as the runtime does.
//
// Phases (each in a forked child with its own store, so state and peak RSS are its own):
//   fast    --seconds simulated seconds as fast as possible, all charts fed at the top of each
//           second in 100-sample bus items (one per asset), one commit per simulated second:
//           CPU per simulated second = share of one core at 1 Hz, per-sample processing time.
//   burst   --realtime seconds at the real 1 Hz: every chart's sample arrives at the top of the
//           second (one 100-sample item per asset, like 100 sources polling in step).
//   spread  --realtime seconds at the real 1 Hz: chart i's sample arrives at phase i/charts of the
//           second (one-sample items, like many sources polling at different offsets).
// Latency = from the sample's arrival (the moment it is due on the bus, i.e. handed to the
// processor code) to the return of the Evaluate that turned it into an alert Event; it includes the
// wait behind earlier samples, ticks and commits on the processor thread and the wake-up from the
// bus wait. Reported for every alert event and for raises only, and for every sample (arrival to
// the end of its own processing). Store::Commit (fsync on) is reported separately per commit:
// an alert is durable only after it. 10 % of the charts run shifted by 1.5 sigma (after half of
// the fast phase; throughout in real time).
// Memory: RSS before SpcService::Create and after, per chart; again after the phase; peak RSS.
// Exit code 0 when every phase ran and raised alerts, 1 otherwise.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "core/config.h"
#include "core/log.h"
#include "runtime/alert_service.h"
#include "runtime/config_loader.h"
#include "runtime/plant_config.h"
#include "runtime/spc_service.h"
#include "store/history.h"
#include "store/store.h"

namespace {

using Clock = std::chrono::steady_clock;
using pf::Timestamp;
constexpr int64_t kSecondNs = 1'000'000'000;
constexpr size_t kBusItemsPerTurn = 256;  // Runtime::ProcessLoop: bus_.PopBatch(items, 256, 20 ms)
constexpr auto kBusWait = std::chrono::milliseconds(20);

struct Options {
  int assets = 100;
  int tags = 100;  // per asset
  int seconds = 60;
  int realtime = 30;
  int commit_window_ms = 200;
  uint64_t seed = 20261125;
  bool fsync = true;
  std::string phases = "fast,burst,spread";
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
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

int64_t Ns(Clock::duration d) { return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count(); }

std::string LoadAverage() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a + " / " + b + " / " + c;
}

// p50 / p99 / max in milliseconds; sorts v.
std::string Percentiles(std::vector<int64_t>& v) {
  if (v.empty()) return "n/a (none)";
  std::sort(v.begin(), v.end());
  auto at = [&](double p) { return v[std::min(v.size() - 1, static_cast<size_t>(p / 100 * v.size()))] / 1e6; };
  return fmt::format("p50 {:.3f} ms, p99 {:.3f} ms, max {:.3f} ms (n = {})", at(50), at(99), v.back() / 1e6,
                     v.size());
}

// The plant: one asset per source, `tags` uint16 registers each, one chart per tag.
std::string PlantToml(const Options& o, const std::string& dir) {
  std::string t = fmt::format("[plant]\ndata_dir = \"{}\"\n\n[store]\npath = \"{}/plantfloor.db\"\nfsync = {}\n\n",
                              dir, dir, o.fsync ? "true" : "false");
  for (int a = 0; a < o.assets; ++a) {
    t += fmt::format("[[assets]]\nid = \"m{:03}\"\narea = \"area{}\"\nline = \"line{}\"\n\n", a, a % 10, a % 10);
    t += fmt::format("[[sources]]\nname = \"plc{:03}\"\ntype = \"modbus\"\nendpoint = \"tcp://127.0.0.1:{}\"\n"
                     "asset = \"m{:03}\"\n\n",
                     a, 15000 + a, a);
    for (int i = 0; i < o.tags; ++i)
      t += fmt::format("[[sources.tags]]\nname = \"m{:03}.t{:03}\"\naddress = \"{}\"\ntype = \"uint16\"\n\n", a, i,
                       40001 + i);
  }
  for (int a = 0; a < o.assets; ++a)
    for (int i = 0; i < o.tags; ++i) {
      int k = a * o.tags + i;
      bool imr = k % 2 == 0;
      t += fmt::format("[[spc.charts]]\ntag = \"m{:03}.t{:03}\"\nchart = \"{}\"\nsubgroup_size = {}\nrules = \"nelson\"\n"
                       "center = {}\nsigma = {}\n\n",
                       a, i, imr ? "imr" : "xbar_r", imr ? 1 : 5, 100 + k % 17, 1 + (k % 5) * 0.5);
    }
  return t;
}

struct Stats {
  std::vector<int64_t> sample, alert, raise;  // ns, arrival to end of processing / to the Evaluate
  std::vector<int64_t> work;                  // ns, OnSample + Evaluate of one sample
  std::vector<int64_t> tick, commit;          // ns per turn / per commit
  std::vector<int64_t> snapshot, snapshot_bytes;  // TakeSnapshotIfChanged that returned one: ns, bytes
  int64_t events = 0, raises = 0, turns = 0, commit_failures = 0;
};

struct BusItem {
  Clock::time_point due;
  std::vector<pf::Sample> samples;
};

// The processor thread of Runtime, reduced to the SPC and alert path.
class Processor {
 public:
  Processor(const pf::PlantConfig& pc, pf::Store& store, pf::AlertService& alerts, pf::SpcService& spc,
            Clock::duration window)
      : store_(store), alerts_(alerts), spc_(spc), window_(window) {
    for (const pf::TagDef& t : pc.tags) filter_.Configure(t.id, t.store, t.deadband, t.max_store_interval);
    last_flush_ = Clock::now();
  }

  // HandleSamples for one bus item that arrived at item.due.
  void Handle(const BusItem& item, Stats& st) {
    static const pf::ProductionContext kNoContext;
    for (const pf::Sample& s : item.samples) {
      Clock::time_point a = Clock::now();
      if (filter_.Keep(s)) pending_.history.push_back(s);
      alerts_.OnSample(s, "", alert_events_);
      updates_.clear();
      spc_.OnSample(s, kNoContext, "", updates_, spc_events_);
      for (const pf::alerts::ConditionUpdate& u : updates_) {
        size_t before = alert_events_.size();
        alerts_.Evaluate(u, alert_events_);
        if (alert_events_.size() == before) continue;
        int64_t ns = Ns(Clock::now() - item.due);
        for (size_t e = before; e < alert_events_.size(); ++e) {
          st.alert.push_back(ns);
          ++st.events;
          if (alert_events_[e].message.rfind("raise", 0) == 0) st.raise.push_back(ns), ++st.raises;
        }
      }
      Clock::time_point b = Clock::now();
      st.work.push_back(Ns(b - a));
      st.sample.push_back(Ns(b - item.due));
    }
    Append(alert_events_);
    Append(spc_events_);
  }

  Clock::time_point last_tick_{};
  // TickAlerts, then the commit when the window passed (or `force`).
  void EndTurn(Stats& st, bool force) {
    Clock::time_point t0 = Clock::now();
    std::vector<pf::Event> events;
    Timestamp now = pf::Now();
    // As Runtime::TickAlerts: the time-driven part at most every 10 ms.
    if (Clock::now() - last_tick_ >= std::chrono::milliseconds(10)) {
      last_tick_ = Clock::now();
      alerts_.Tick(now, [](const std::string&) { return std::string(); }, events);
      std::vector<pf::alerts::ConditionUpdate> updates;
      std::vector<pf::Event> spc_events;
      spc_.Tick(now, updates, spc_events);
      for (const auto& u : updates) alerts_.Evaluate(u, events);
      Append(spc_events);
    }
    for (auto& [k, v] : spc_.TakeStateIfChanged()) pending_.state[k] = std::move(v);
    Append(events);
    Clock::time_point ts = Clock::now();
    if (auto state = alerts_.TakeStateIfChanged(); !state.empty()) {
      st.snapshot.push_back(Ns(Clock::now() - ts));
      int64_t bytes = 0;
      for (auto& [k, v] : state) {
        bytes += static_cast<int64_t>(v.size());
        pending_.state[k] = std::move(v);
      }
      st.snapshot_bytes.push_back(bytes);
    }
    Clock::time_point t1 = Clock::now();
    st.tick.push_back(Ns(t1 - t0));
    ++st.turns;
    if (pending_.empty() || (!force && t1 - last_flush_ < window_ && pending_.history.size() < 20'000)) return;
    pf::Status s = store_.Commit(pending_);
    Clock::time_point t2 = Clock::now();
    st.commit.push_back(Ns(t2 - t1));
    last_flush_ = t1;
    if (!s.ok()) {
      ++st.commit_failures;
      fmt::print("commit failed: {}\n", s.ToString());
    }
    pending_ = pf::CommitBatch();
  }

 private:
  void Append(std::vector<pf::Event>& events) {
    for (pf::Event& e : events) pending_.events.push_back(std::move(e));
    events.clear();
  }

  pf::Store& store_;
  pf::AlertService& alerts_;
  pf::SpcService& spc_;
  Clock::duration window_;
  pf::ChangeFilter filter_;
  pf::CommitBatch pending_;
  Clock::time_point last_flush_;
  std::vector<pf::Event> alert_events_, spc_events_;
  std::vector<pf::alerts::ConditionUpdate> updates_;
};

enum class Pattern { kFast, kBurst, kSpread };

struct Plant {
  std::string dir;
  pf::PlantConfig pc;
  std::unique_ptr<pf::Store> store;
  std::unique_ptr<pf::AlertService> alerts;
  std::unique_ptr<pf::SpcService> spc;
  int64_t rss_before_spc = 0, rss_after_spc = 0, rss_before_all = 0;
  std::vector<double> center, sigma;
};

pf::Result<Plant> MakePlant(const Options& o) {
  Plant p;
  p.dir = (std::filesystem::temp_directory_path() / fmt::format("spc_alert_latency_{}", ::getpid())).string();
  std::filesystem::remove_all(p.dir);
  std::filesystem::create_directories(p.dir);
  p.rss_before_all = ProcKb("VmRSS:");
  auto env = [](const std::string&, std::string*) { return false; };
  PF_ASSIGN_OR_RETURN(pf::ConfigNode root, pf::ParseConfigText(PlantToml(o, p.dir), "plant.toml", env));
  PF_ASSIGN_OR_RETURN(p.pc, pf::BuildPlantConfig(std::move(root)));
  // As Runtime::Create.
  pf::StoreOptions so;
  so.path = p.pc.store.path;
  so.fsync = p.pc.store.fsync;
  so.disk_budget_bytes = p.pc.store.disk_budget_bytes;
  so.retention = p.pc.history.retention;
  PF_ASSIGN_OR_RETURN(p.store, pf::Store::Open(so));
  for (const pf::TagDef& t : p.pc.tags) PF_RETURN_IF_ERROR(p.store->RegisterTag(t));
  PF_ASSIGN_OR_RETURN(p.alerts, pf::AlertService::Create(p.pc, *p.store));
  p.rss_before_spc = ProcKb("VmRSS:");
  PF_ASSIGN_OR_RETURN(p.spc, pf::SpcService::Create(p.pc, *p.store));
  p.rss_after_spc = ProcKb("VmRSS:");
  for (const pf::SpcChartConfig& c : p.pc.spc_charts) p.center.push_back(*c.center), p.sigma.push_back(*c.sigma);
  return p;
}

// The bus items of one second: one per asset due at `top` (burst, fast), or one per chart at its
// own phase (spread). Tag ids follow the TOML order, chart k watches tag k.
void MakeSecond(const Options& o, const Plant& p, Pattern pattern, Clock::time_point top, Timestamp source_top,
                bool shifted, std::mt19937_64& rng, std::vector<BusItem>* items) {
  std::normal_distribution<double> z(0, 1);
  int charts = o.assets * o.tags;
  items->clear();
  for (int k = 0; k < charts; ++k) {
    bool own_item = pattern == Pattern::kSpread || k % o.tags == 0;
    int64_t phase = pattern == Pattern::kSpread ? static_cast<int64_t>(k) * kSecondNs / charts : 0;
    if (own_item) items->push_back(BusItem{top + std::chrono::nanoseconds(phase), {}});
    pf::Sample s;
    s.tag = static_cast<pf::TagId>(k);
    double v = p.center[k] + p.sigma[k] * (z(rng) + (shifted && k % 10 == 3 ? 1.5 : 0));
    s.value = v;
    s.source_time = Timestamp{source_top.ns + phase};
    s.receive_time = s.source_time;
    items->back().samples.push_back(s);
  }
}

void PrintMemory(const Options& o, const Plant& p, const char* phase) {
  int charts = o.assets * o.tags;
  int64_t now = ProcKb("VmRSS:");
  fmt::print("{}: memory: RSS {:.1f} MB before the plant; +{:.1f} MB config, store, alert service; "
             "SpcService::Create +{:.0f} B per chart; after the phase {:.0f} B per chart above the state before "
             "SpcService::Create (alert engine state and pending batches included); peak RSS {:.1f} MB\n",
             phase, p.rss_before_all / 1024.0, (p.rss_before_spc - p.rss_before_all) / 1024.0,
             (p.rss_after_spc - p.rss_before_spc) * 1024.0 / charts, (now - p.rss_before_spc) * 1024.0 / charts,
             ProcKb("VmHWM:") / 1024.0);
}

void PrintStats(const char* phase, Stats& st) {
  fmt::print("{}: {} alert events ({} raises), {} processor turns, {} commits ({} failed)\n", phase, st.events,
             st.raises, st.turns, st.commit.size(), st.commit_failures);
  fmt::print("{}: sample-to-alert latency, every alert event: {}\n", phase, Percentiles(st.alert));
  fmt::print("{}: sample-to-alert latency, raises only: {}\n", phase, Percentiles(st.raise));
  fmt::print("{}: arrival to end of processing, every sample: {}\n", phase, Percentiles(st.sample));
  fmt::print("{}: OnSample + Evaluate of one sample: {}\n", phase, Percentiles(st.work));
  fmt::print("{}: TickAlerts per turn: {}\n", phase, Percentiles(st.tick));
  fmt::print("{}: Store::Commit (fsync) per commit: {}\n", phase, Percentiles(st.commit));
  if (!st.snapshot_bytes.empty())
    fmt::print("{}: alert engine snapshots (TickAlerts, when the engine changed): {} of {} turns, last {} bytes; "
               "time {}\n",
               phase, st.snapshot_bytes.size(), st.turns, st.snapshot_bytes.back(), Percentiles(st.snapshot));
}

int RunPhase(const Options& o, Pattern pattern) {
  const char* name = pattern == Pattern::kFast ? "fast" : pattern == Pattern::kBurst ? "burst" : "spread";
  auto plant = MakePlant(o);
  if (!plant.ok()) {
    fmt::print("{}: setup failed: {}\n", name, plant.status().ToString());
    return 1;
  }
  Plant& p = *plant;
  int charts = o.assets * o.tags;
  Processor proc(p.pc, *p.store, *p.alerts, *p.spc, std::chrono::milliseconds(o.commit_window_ms));
  Stats st;
  int seconds = pattern == Pattern::kFast ? o.seconds : o.realtime;
  st.sample.reserve(static_cast<size_t>(charts) * seconds);
  st.work.reserve(static_cast<size_t>(charts) * seconds);
  std::mt19937_64 rng(o.seed + static_cast<uint64_t>(pattern));
  std::vector<BusItem> items;
  Timestamp source0 = pf::Now();

  if (pattern == Pattern::kFast) {
    double busy = 0, cpu0 = CpuSeconds(), commit_s = 0;
    for (int s = 0; s < seconds; ++s) {
      Timestamp source_top{source0.ns + s * kSecondNs};
      MakeSecond(o, p, pattern, Clock::now(), source_top, s >= seconds / 2, rng, &items);
      Clock::time_point t0 = Clock::now();
      for (auto& item : items) item.due = t0;  // handed to the processor now
      for (size_t i = 0; i < items.size(); ++i) {
        proc.Handle(items[i], st);
        if ((i + 1) % kBusItemsPerTurn == 0 || i + 1 == items.size()) {
          size_t commits = st.commit.size();
          proc.EndTurn(st, i + 1 == items.size());
          if (st.commit.size() > commits) commit_s += st.commit.back() * 1e-9;
        }
      }
      busy += std::chrono::duration<double>(Clock::now() - t0).count();
    }
    double cpu = CpuSeconds() - cpu0;
    fmt::print("== fast: {} charts, {} simulated seconds, 100-sample bus items, one commit per second ==\n", charts,
               seconds);
    fmt::print("fast: {:.3f} s wall ({:.3f} s in Store::Commit), {:.3f} s CPU: {:.2f} % of one core at 1 Hz "
               "({:.2f} % without the commits' wall time)\n",
               busy, commit_s, cpu, 100 * busy / seconds, 100 * (busy - commit_s) / seconds);
  } else {
    fmt::print("== {}: {} charts at 1 Hz in real time for {} s, {} ==\n", name, charts, seconds,
               pattern == Pattern::kBurst ? "all samples due at the top of the second (one 100-sample item per asset)"
                                          : "chart k due at k/charts of the second (one-sample items)");
    Clock::time_point start = Clock::now() + std::chrono::milliseconds(200);
    std::vector<BusItem> next;
    MakeSecond(o, p, pattern, start, source0, true, rng, &items);
    double cpu0 = CpuSeconds();
    Clock::time_point last_turn = Clock::now();
    for (int s = 0; s < seconds; ++s) {
      // The next second's values are made ahead: they come off the bus, not out of this thread.
      if (s + 1 < seconds)
        MakeSecond(o, p, pattern, start + std::chrono::seconds(s + 1), Timestamp{source0.ns + (s + 1) * kSecondNs},
                   true, rng, &next);
      size_t i = 0;
      while (i < items.size()) {
        Clock::time_point now = Clock::now();
        if (items[i].due > now) {
          // PopBatch: wakes at the next arrival or after 20 ms with nothing (a turn of ticks only).
          Clock::time_point wake = std::min(items[i].due, last_turn + kBusWait);
          std::this_thread::sleep_until(wake);
          if (wake < items[i].due) {
            proc.EndTurn(st, false);
            last_turn = Clock::now();
          }
          continue;
        }
        size_t taken = 0;
        while (i < items.size() && items[i].due <= now && taken < kBusItemsPerTurn) proc.Handle(items[i++], st), ++taken;
        proc.EndTurn(st, false);
        last_turn = Clock::now();
      }
      items.swap(next);
    }
    Clock::time_point end = start + std::chrono::seconds(seconds);
    while (Clock::now() < end) {
      std::this_thread::sleep_until(std::min(end, last_turn + kBusWait));
      proc.EndTurn(st, false);
      last_turn = Clock::now();
    }
    double wall = std::chrono::duration<double>(Clock::now() - start).count(), cpu = CpuSeconds() - cpu0;
    fmt::print("{}: CPU {:.3f} s over {:.3f} s wall = {:.2f} % of one core (processor, ticks, commits and the "
               "bench's own value generation)\n",
               name, cpu, wall, 100 * cpu / wall);
  }
  proc.EndTurn(st, true);
  PrintStats(name, st);
  PrintMemory(o, p, name);
  p.spc.reset();
  p.alerts.reset();
  p.store.reset();
  std::filesystem::remove_all(p.dir);
  return st.raises > 0 ? 0 : 1;
}

int InChild(const Options& o, Pattern pattern) {
  std::fflush(stdout);
  pid_t pid = ::fork();
  if (pid == 0) {
    int rc = RunPhase(o, pattern);
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
    const char* v = i + 1 < argc ? argv[++i] : nullptr;
    if (!v) return false;
    if (a == "--assets") o->assets = std::atoi(v);
    else if (a == "--tags") o->tags = std::atoi(v);
    else if (a == "--seconds") o->seconds = std::atoi(v);
    else if (a == "--realtime") o->realtime = std::atoi(v);
    else if (a == "--commit-window-ms") o->commit_window_ms = std::atoi(v);
    else if (a == "--fsync") o->fsync = std::atoi(v) != 0;
    else if (a == "--seed") o->seed = std::strtoull(v, nullptr, 10);
    else if (a == "--phases") o->phases = v;
    else return false;
  }
  return o->assets >= 1 && o->assets <= 999 && o->tags >= 1 && o->tags <= 999 && o->seconds >= 1 &&
         o->realtime >= 0 && o->commit_window_ms >= 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!ParseArgs(argc, argv, &o)) {
    std::fprintf(stderr, "usage: spc_alert_latency_bench [--assets N] [--tags N per asset] [--seconds S] "
                         "[--realtime S] [--commit-window-ms MS] [--fsync 0|1] [--seed N] [--phases fast,burst,spread]\n");
    return 2;
  }
  pf::SetLogLevel("error");
  fmt::print("spc_alert_latency_bench: {} assets x {} tags = {} charts (half I-MR, half X̄-R n=5, nelson1-8); "
             "fast {} s, real time {} s per pattern; commit window {} ms; fsync {}; load average {}\n",
             o.assets, o.tags, o.assets * o.tags, o.seconds, o.realtime, o.commit_window_ms, o.fsync ? "on" : "off",
             LoadAverage());
  auto wanted = [&](const char* phase) { return o.phases.find(phase) != std::string::npos; };
  int rc = 0;
  if (wanted("fast")) rc |= InChild(o, Pattern::kFast);
  if (o.realtime > 0 && wanted("burst")) rc |= InChild(o, Pattern::kBurst);
  if (o.realtime > 0 && wanted("spread")) rc |= InChild(o, Pattern::kSpread);
  fmt::print("load average at the end {}; exit {}\n", LoadAverage(), rc ? 1 : 0);
  return rc ? 1 : 0;
}
