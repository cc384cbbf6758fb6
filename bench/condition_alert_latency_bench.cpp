// Condition-monitoring sample-to-alert latency through the runtime's own path (issue 7).
//
// What runs: a generated plant TOML (8 waveform tags of one mqtt_waveform source that is never
// started, one [[condition.monitors]] per tag: 6205 bearing at 1797 rpm, 1 s windows, a kurtogram
// every 10 windows, alerts on source time) goes through BuildPlantConfig; then, as Runtime::Create
// does, a real Store (temp dir, fsync on), AlertService::Create and ConditionService::Create. One
// thread plays the processor (Runtime::ProcessLoop / HandleCondition): each 0.1 s source block
// (2560 samples at 25.6 kHz) of each channel arrives on the wall clock, all 8 in step (one DAQ);
// ConditionService::OnBlock runs, the derived samples go to AlertService::OnSample and into the
// history batch, each condition update to AlertService::Evaluate with its evidence merged into the
// alert events' payload, then the alert tick and Store::Commit when the 200 ms commit window passed,
// on the same thread, as the runtime does.
// The signal: per channel, a 1x line and white noise, and during fault episodes an outer-race impact
// train (BPFO of the 6205 at 1797 rpm) ringing a 3.2 kHz resonance; channel c is faulty from
// 12 + 3c s for 25 s, healthy again for 20 s, and so on, so bearing alerts raise and clear.
// Latency: from the arrival of the source block that completed the window (its due time on the
// wall clock) to the return of the Evaluate that turned it into an alert event ("decided"), and to
// the end of the Store::Commit that made the event durable ("durable"). The alert cannot come
// earlier than the window that shows it: the window length (1 s) and diagnosis_blocks (3 windows)
// are time to evidence, not latency, and are not in these figures.
// CPU: process CPU time over the run / wall time (share of one core, 8 channels, all of the path).
// Memory: peak RSS and RSS before ConditionService::Create.
// Exit code 0 when alerts were raised and every commit succeeded, 1 otherwise.
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/config.h"
#include "core/log.h"
#include "runtime/alert_service.h"
#include "runtime/condition_service.h"
#include "runtime/config_loader.h"
#include "runtime/plant_config.h"
#include "store/store.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kChannels = 8;
constexpr double kFs = 25600;
constexpr size_t kChunk = 2560;  // 0.1 s source blocks
constexpr double kRpm = 1797;

int64_t ProcKb(const char* key) {
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

std::string Percentiles(std::vector<int64_t> v) {
  if (v.empty()) return "n/a (none)";
  std::sort(v.begin(), v.end());
  auto at = [&](double p) { return v[std::min(v.size() - 1, static_cast<size_t>(p / 100 * v.size()))] / 1e6; };
  return fmt::format("p50 {:.2f} ms, p99 {:.2f} ms, max {:.2f} ms (n = {})", at(50), at(99), v.back() / 1e6, v.size());
}

std::string PlantToml(const std::string& dir) {
  std::string t = fmt::format(
      "[plant]\ndata_dir = \"{0}\"\n\n[store]\npath = \"{0}/plantfloor.db\"\nfsync = true\n\n[alerts]\nclock = \"source\"\n\n"
      "[[assets]]\nid = \"fan\"\narea = \"utilities\"\nline = \"air\"\n\n"
      "[[sources]]\nname = \"daq\"\ntype = \"mqtt_waveform\"\nbroker = \"tcp://127.0.0.1:1\"\ntopic = \"daq/blocks\"\n"
      "asset = \"fan\"\n\n",
      dir);
  for (int c = 0; c < kChannels; ++c) t += fmt::format("[[sources.tags]]\nname = \"fan.ch{}\"\nchannel = {}\n\n", c, c);
  for (int c = 0; c < kChannels; ++c)
    t += fmt::format("[[condition.monitors]]\nname = \"ch{0}\"\ntag = \"fan.ch{0}\"\nrpm = {1}\nbearing = \"6205\"\n"
                     "sample_rate = {2}\nkurtogram_blocks = 10\ndiagnosis_blocks = 3\nbaseline_blocks = 30\n\n",
                     c, kRpm, kFs);
  return t;
}

// Channel c's signal source: continuous phase across blocks.
class Signal {
 public:
  explicit Signal(int c) : c_(c), rng_(1000 + c), noise_(0.0, 0.05) {}
  bool Faulty(double t) const {
    const double start = 12 + 3 * c_;
    if (t < start) return false;
    return std::fmod(t - start, 45.0) < 25.0;
  }
  void Fill(std::vector<float>& out) {
    const double fr = kRpm / 60, bpfo = 3.5848 * fr;
    out.resize(kChunk);
    for (size_t i = 0; i < kChunk; ++i, ++n_) {
      const double t = static_cast<double>(n_) / kFs;
      double v = 0.2 * std::sin(2 * std::numbers::pi * fr * t + c_) + noise_(rng_);
      if (Faulty(t)) {
        const double since = std::fmod(t, 1.0 / bpfo);  // time since the last impact
        v += 1.5 * std::exp(-since * 900) * std::sin(2 * std::numbers::pi * 3200 * since);
      }
      out[i] = static_cast<float>(v);
    }
  }
  int64_t samples() const { return n_; }

 private:
  int c_;
  int64_t n_ = 0;
  std::mt19937 rng_;
  std::normal_distribution<double> noise_;
};

struct Pending {
  Clock::time_point due;
};

}  // namespace

int main(int argc, char** argv) {
  int seconds = 90;
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--seconds" && i + 1 < argc) seconds = std::atoi(argv[++i]);
  pf::SetLogLevel("warn");
  const std::string dir = (std::filesystem::temp_directory_path() / fmt::format("cond_alert_latency_{}", ::getpid())).string();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto env = [](const std::string&, std::string*) { return false; };
  auto root = pf::ParseConfigText(PlantToml(dir), "plant.toml", env);
  if (!root.ok()) return fmt::print("config: {}\n", root.status().ToString()), 1;
  auto pc = pf::BuildPlantConfig(std::move(*root));
  if (!pc.ok()) return fmt::print("config: {}\n", pc.status().ToString()), 1;
  pf::StoreOptions so;
  so.path = pc->store.path;
  so.fsync = pc->store.fsync;
  so.disk_budget_bytes = pc->store.disk_budget_bytes;
  so.retention = pc->history.retention;
  auto store = pf::Store::Open(so);
  if (!store.ok()) return fmt::print("store: {}\n", store.status().ToString()), 1;
  for (const pf::TagDef& t : pc->tags)
    if (auto s = (*store)->RegisterTag(t); !s.ok()) return fmt::print("store: {}\n", s.ToString()), 1;
  auto alerts = pf::AlertService::Create(*pc, **store);
  if (!alerts.ok()) return fmt::print("alerts: {}\n", alerts.status().ToString()), 1;
  const int64_t rss_before = ProcKb("VmRSS:");
  auto cond = pf::ConditionService::Create(*pc, **store);
  if (!cond.ok()) return fmt::print("condition: {}\n", cond.status().ToString()), 1;
  const int64_t rss_after = ProcKb("VmRSS:");
  std::vector<pf::TagId> tags(kChannels);
  for (const pf::TagDef& t : pc->tags)
    for (int c = 0; c < kChannels; ++c)
      if (t.name == fmt::format("fan.ch{}", c)) tags[c] = t.id;

  std::vector<Signal> signals;
  for (int c = 0; c < kChannels; ++c) signals.emplace_back(c);
  std::vector<int64_t> decided, durable, block_work, commits;
  std::vector<Clock::time_point> pending_due;  // one per alert event in the pending batch
  int raises = 0, events = 0, commit_failures = 0;
  pf::CommitBatch pending;
  std::vector<float> chunk;
  const auto t_start = Clock::now();
  const double cpu0 = CpuSeconds();
  const pf::Timestamp source0 = pf::Now();
  Clock::time_point last_flush = t_start, last_tick = t_start;
  const int blocks = static_cast<int>(seconds * kFs / kChunk);
  for (int b = 0; b < blocks; ++b) {
    const Clock::time_point due = t_start + std::chrono::nanoseconds(static_cast<int64_t>(b + 1) * 100'000'000);
    std::this_thread::sleep_until(due);  // the block is complete at its last sample
    for (int c = 0; c < kChannels; ++c) {
      const auto a = Clock::now();
      pf::Block block;
      block.tag = tags[c];
      block.sample_rate_hz = kFs;
      block.seq = static_cast<uint64_t>(b);
      block.start_time = pf::Timestamp{source0.ns + static_cast<int64_t>(static_cast<double>(signals[c].samples()) * 1e9 / kFs)};
      signals[c].Fill(chunk);
      block.values = chunk;
      pf::ConditionService::Output out;
      (*cond)->OnBlock(block, out);
      std::vector<pf::Event> alert_events;
      for (pf::Sample& s : out.samples) {
        (*alerts)->OnSample(s, "", alert_events);
        pending.history.push_back(std::move(s));
      }
      for (pf::apps::ConditionChange& ch : out.conditions) {
        const size_t first = alert_events.size();
        (*alerts)->Evaluate(ch.update, alert_events);
        if (ch.evidence_json.empty()) continue;
        auto evidence = nlohmann::json::parse(ch.evidence_json, nullptr, false);
        for (size_t i = first; i < alert_events.size(); ++i) {
          auto payload = nlohmann::json::parse(alert_events[i].payload_json, nullptr, false);
          if (!payload.is_object() || payload.value("cause", "") != ch.update.cause) continue;
          payload["evidence"] = evidence;
          alert_events[i].payload_json = payload.dump();
        }
      }
      const int64_t ns = Ns(Clock::now() - due);
      for (pf::Event& e : alert_events) {
        decided.push_back(ns);
        ++events;
        raises += e.message.rfind("raise", 0) == 0;
        pending_due.push_back(due);
        pending.events.push_back(std::move(e));
      }
      for (pf::Event& e : out.events) pending.events.push_back(std::move(e));
      block_work.push_back(Ns(Clock::now() - a));
    }
    // TickAlerts and the commit window, as Runtime::ProcessLoop.
    if (Clock::now() - last_tick >= std::chrono::milliseconds(10)) {
      last_tick = Clock::now();
      std::vector<pf::Event> tick_events;
      (*alerts)->Tick(pf::Now(), [](const std::string&) { return std::string(); }, tick_events);
      for (pf::Event& e : tick_events) pending.events.push_back(std::move(e));
    }
    for (auto& [k, v] : (*cond)->TakeStateIfChanged()) pending.state[k] = std::move(v);
    for (auto& [k, v] : (*alerts)->TakeStateIfChanged()) pending.state[k] = std::move(v);
    const auto t1 = Clock::now();
    if (!pending.empty() && t1 - last_flush >= std::chrono::milliseconds(200)) {
      pf::Status s = (*store)->Commit(pending);
      const auto t2 = Clock::now();
      commits.push_back(Ns(t2 - t1));
      last_flush = t1;
      if (!s.ok()) ++commit_failures, fmt::print("commit failed: {}\n", s.ToString());
      for (const auto& d : pending_due) durable.push_back(Ns(t2 - d));
      pending_due.clear();
      pending = pf::CommitBatch();
    }
  }
  const double wall = std::chrono::duration<double>(Clock::now() - t_start).count();
  const double cpu = CpuSeconds() - cpu0;
  fmt::print("condition alert latency: {} channels at {:.1f} kHz, 0.1 s source blocks, 1 s windows, kurtogram every 10 windows, "
             "{} s real time\n", kChannels, kFs / 1000, seconds);
  fmt::print("alert events: {} ({} raises), commits {} ({} failed)\n", events, raises, commits.size(), commit_failures);
  fmt::print("block arrival -> alert event decided (Evaluate returned): {}\n", Percentiles(decided));
  fmt::print("block arrival -> alert event durable (Store::Commit returned, fsync): {}\n", Percentiles(durable));
  fmt::print("processing of one channel's 0.1 s block (OnBlock + alerts): {}\n", Percentiles(block_work));
  fmt::print("Store::Commit: {}\n", Percentiles(commits));
  fmt::print("CPU: {:.1f} % of one core for the whole path (process CPU {:.2f} s over {:.1f} s)\n", 100 * cpu / wall, cpu, wall);
  fmt::print("memory: RSS {:.1f} MB before ConditionService::Create, +{:.1f} MB for {} monitors; peak RSS {:.1f} MB\n",
             rss_before / 1024.0, (rss_after - rss_before) / 1024.0, kChannels, ProcKb("VmHWM:") / 1024.0);
  std::filesystem::remove_all(dir);
  return raises > 0 && commit_failures == 0 ? 0 : 1;
}
