// Store-and-forward benchmark (issue 3): sustained samples/s through pf::Store (history + outbox,
// fsync on) and one MqttUplink to a local mosquitto, beside raw SQLite inserts of the same rows in
// the same run. Everything (this process, its threads and the mosquitto it starts) is pinned to ONE
// CPU with sched_setaffinity; the affinity is inherited by the broker because it is set before the
// broker is forked.
//
// Each phase runs in a forked child so that its peak RSS (VmHWM) and its /proc/self/io write_bytes
// are its own; the child reports one JSON line through a pipe.
//
// Phases:
//   store+uplink  commit windows of --rows rows (history AND forward) every --window-ms; the
//                 producer waits while the outbox holds more than --max-depth unacknowledged
//                 records (backpressure), so the sustained rate is what store + uplink + broker
//                 manage together. Measured after --warmup s for --seconds s: samples committed
//                 and acknowledged (PUBACK) per second, max outbox depth, bytes written.
//   store only    the same commits, history + forward, no uplink registered (outbox not written):
//                 what the store alone sustains with the same windows, back to back.
//   raw sqlite    plain sqlite3, WAL, synchronous=FULL, one transaction per window of --rows rows
//                 into (tag, t, v), without and with PRIMARY KEY(tag, t), back to back.
//
// Exit code 0 when every phase ran and the store+uplink phase delivered everything it committed
// in order (acknowledged == committed once drained); 1 otherwise.
#include <sched.h>
#include <signal.h>
#include <sqlite3.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/log.h"
#include "core/metrics.h"
#include "store/store.h"
#include "uplink/mqtt_uplink.h"

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;
using namespace std::chrono_literals;

struct Options {
  int cpu = 0;
  int tags = 100;
  int rows = 20000;           // rows per commit window (all tags, rows / tags samples each)
  int window_ms = 200;
  double seconds = 20;
  double warmup = 3;
  uint64_t max_depth = 50000;  // outbox records before the producer waits (bound: + one window)
  int max_inflight = 256;
  int batch = 512;
  std::string dir;             // temp dir; default mkdtemp under /tmp
  std::string mosquitto = "/usr/sbin/mosquitto";
  // A QoS 1 subscriber process (the hub's side), pinned with everything else; "" = none.
  std::string subscriber = "/usr/bin/mosquitto_sub";
  std::vector<std::string> phases{"store_uplink", "store_only", "raw_nopk", "raw_pk"};
};

constexpr int64_t kT0 = 1'700'000'000'000'000'000;

// ---- process helpers ----------------------------------------------------------------------

uint64_t ProcIoWriteBytes() {
  std::ifstream f("/proc/self/io");
  std::string key;
  uint64_t v = 0;
  while (f >> key >> v)
    if (key == "write_bytes:") return v;
  return 0;
}

double VmHwmMiB() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

void ResetPeakRss() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
}

// CPU seconds (user + system) of a process from /proc/<pid>/stat.
double CpuSeconds(pid_t pid) {
  std::ifstream f(fmt::format("/proc/{}/stat", pid));
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  size_t p = s.rfind(')');
  if (p == std::string::npos) return 0;
  std::istringstream in(s.substr(p + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

uint64_t DbBytes(const std::string& path) {
  uint64_t n = 0;
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::error_code ec;
    auto s = std::filesystem::file_size(path + suffix, ec);
    if (!ec) n += s;
  }
  return n;
}

// ---- the broker ---------------------------------------------------------------------------

struct Broker {
  pid_t pid = -1;
  int port = 0;
  pid_t sub_pid = -1;
};

// mosquitto_sub -q 1 on every plantfloor topic, output discarded: the broker must deliver each
// record with QoS 1 to a consumer, as it would to the hub's bridge.
pid_t StartSubscriber(const Options& o, int port) {
  if (o.subscriber.empty()) return -1;
  pid_t pid = ::fork();
  if (pid == 0) {
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(null, 2);
    std::string p = std::to_string(port);
    ::execl(o.subscriber.c_str(), "mosquitto_sub", "-h", "127.0.0.1", "-p", p.c_str(), "-q", "1", "-t",
            "plantfloor/#", "-i", "bench-hub", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  std::this_thread::sleep_for(300ms);
  return pid;
}

int FreePort() {
  // Ports from a range unlikely to collide; checked by bind in mosquitto itself (we retry).
  return 20000 + static_cast<int>(::getpid() % 20000);
}

bool Listening(int port) {
  std::string cmd = fmt::format("exec 3<>/dev/tcp/127.0.0.1/{} 2>/dev/null", port);
  return std::system(fmt::format("bash -c '{}' 2>/dev/null", cmd).c_str()) == 0;
}

Broker StartBroker(const Options& o) {
  Broker b;
  for (int attempt = 0; attempt < 5 && b.pid < 0; ++attempt) {
    int port = FreePort() + attempt * 7;
    std::string conf = o.dir + "/mosquitto.conf";
    std::ofstream(conf) << fmt::format("listener {} 127.0.0.1\nallow_anonymous true\npersistence false\n", port);
    pid_t pid = ::fork();
    if (pid == 0) {
      int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 1);
      ::dup2(null, 2);
      ::execl(o.mosquitto.c_str(), "mosquitto", "-c", conf.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 50; ++i) {
      std::this_thread::sleep_for(50ms);
      if (Listening(port)) {
        b.pid = pid;
        b.port = port;
        break;
      }
      int st = 0;
      if (::waitpid(pid, &st, WNOHANG) == pid) break;  // exited: port taken, try another
    }
    if (b.pid < 0) {
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
    }
  }
  return b;
}

// ---- rows ---------------------------------------------------------------------------------

pf::TagDef Tag(int i) {
  pf::TagDef t;
  t.id = static_cast<pf::TagId>(i + 1);
  t.name = fmt::format("line1.press{}.temp", i);
  t.asset_id = fmt::format("line1.press{}", i);
  t.unit = "degC";
  t.source = "plc1";
  t.store = pf::StoreMode::kAll;
  return t;
}

// Window n: rows / tags samples per tag, 1 ms apart, numbered per tag.
std::vector<pf::Sample> WindowSamples(const Options& o, int64_t n) {
  int per_tag = std::max(1, o.rows / o.tags);
  std::vector<pf::Sample> v;
  v.reserve(static_cast<size_t>(per_tag) * o.tags);
  for (int k = 0; k < per_tag; ++k)
    for (int i = 0; i < o.tags; ++i) {
      pf::Sample s;
      s.tag = static_cast<pf::TagId>(i + 1);
      int64_t idx = n * per_tag + k;
      s.value = 20.0 + 0.01 * static_cast<double>((idx * 7 + i) % 1000);
      s.source_time = pf::Timestamp::FromNs(kT0 + idx * 1'000'000);
      s.receive_time = s.source_time + pf::Duration(250'000);
      s.seq = static_cast<uint64_t>(idx + 1);
      v.push_back(s);
    }
  return v;
}

// ---- phases -------------------------------------------------------------------------------

json Fail(const std::string& what) { return json{{"error", what}}; }

json RunStore(const Options& o, int broker_port, bool with_uplink) {
  pf::MetricsRegistry metrics;
  pf::StoreOptions so;
  so.path = o.dir + (with_uplink ? "/plant_uplink.db" : "/plant_only.db");
  so.fsync = true;
  so.metrics = &metrics;
  auto store = pf::Store::Open(so);
  if (!store.ok()) return Fail(store.status().ToString());
  for (int i = 0; i < o.tags; ++i)
    if (auto s = (*store)->RegisterTag(Tag(i)); !s.ok()) return Fail(s.ToString());

  std::unique_ptr<pf::MqttUplink> uplink;
  if (with_uplink) {
    pf::uplink::MqttUplinkConfig c;
    c.name = "hub";
    c.broker = fmt::format("tcp://127.0.0.1:{}", broker_port);
    c.device = "edge1";
    c.client_id = fmt::format("plantfloor-bench-{}", ::getpid());
    c.max_inflight = o.max_inflight;
    c.batch = o.batch;
    auto u = pf::MqttUplink::Create(c, (*store)->outbox(), metrics);
    if (!u.ok()) return Fail(u.status().ToString());
    uplink = std::move(u).value();
    if (auto s = uplink->Start(); !s.ok()) return Fail(s.ToString());
    for (int i = 0; i < 100 && !uplink->GetState().connected; ++i) std::this_thread::sleep_for(50ms);
    if (!uplink->GetState().connected) return Fail("uplink did not connect: " + uplink->GetState().last_error);
  }

  uint64_t committed = 0;
  auto acked = [&] { return uplink ? uplink->GetState().acked : 0; };
  // Committed minus acknowledged (no resends on one healthy connection): cheap, unlike
  // OutboxReader::Stats, which counts the outbox rows with SQL.
  auto depth = [&] { return uplink ? committed - std::min(committed, acked()) : 0; };
  const auto window = std::chrono::milliseconds(o.window_ms);
  const auto start = Clock::now();
  const auto measure_from = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.warmup));
  const auto end = measure_from + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  bool measuring = false;
  uint64_t committed0 = 0, acked0 = 0, io0 = 0, max_depth = 0, waits = 0;
  double cpu0 = 0;
  Clock::time_point t0;
  std::vector<double> commit_ms;
  auto next = start;
  for (int64_t n = 0;; ++n) {
    auto now = Clock::now();
    if (!measuring && now >= measure_from) {
      measuring = true;
      t0 = now;
      committed0 = committed;
      acked0 = acked();
      io0 = ProcIoWriteBytes();
      cpu0 = CpuSeconds(::getpid());
    }
    if (now >= end) break;
    if (with_uplink) {
      // Backpressure: never let the outbox grow past max_depth.
      while (depth() > o.max_depth && Clock::now() < end) {
        ++waits;
        std::this_thread::sleep_for(5ms);
      }
      max_depth = std::max<uint64_t>(max_depth, depth());
    }
    if (next > Clock::now()) std::this_thread::sleep_until(next);
    next = std::max(next + window, Clock::now() - window);  // late windows are not made up twice
    pf::CommitBatch b;
    b.history = WindowSamples(o, n);
    if (with_uplink) b.forward = b.history;
    auto c0 = Clock::now();
    if (auto s = (*store)->Commit(b); !s.ok()) return Fail("commit: " + s.ToString());
    if (measuring) commit_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - c0).count());
    committed += b.history.size();
    if (uplink) uplink->Wake();
  }
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  uint64_t io = ProcIoWriteBytes() - io0;
  double cpu = CpuSeconds(::getpid()) - cpu0;
  uint64_t acked_window = acked() - acked0;
  uint64_t committed_window = committed - committed0;
  // Drain: everything committed must be acknowledged.
  bool drained = true;
  if (uplink) {
    auto deadline = Clock::now() + 60s;
    while (depth() > 0 && Clock::now() < deadline) std::this_thread::sleep_for(20ms);
    drained = depth() == 0 && acked() == committed && (*store)->outbox().Stats("hub").depth == 0;
    uplink->Stop();
  }
  std::sort(commit_ms.begin(), commit_ms.end());
  double p50 = commit_ms.empty() ? 0 : commit_ms[commit_ms.size() / 2];
  double p99 = commit_ms.empty() ? 0 : commit_ms[commit_ms.size() * 99 / 100];
  (void)(*store)->FlushAcks();
  json r{{"seconds", secs},
         {"committed_per_s", committed_window / secs},
         {"acked_per_s", acked_window / secs},
         {"committed", committed},
         {"acked_total", acked()},
         {"drained", drained},
         {"max_depth", max_depth},
         {"backpressure_waits", waits},
         {"write_bytes", io},
         {"write_bytes_per_sample", committed_window ? static_cast<double>(io) / committed_window : 0.0},
         {"db_bytes", DbBytes(so.path)},
         {"cpu_s", cpu},
         {"commit_ms_p50", p50},
         {"commit_ms_p99", p99},
         {"windows", commit_ms.size()}};
  store->reset();
  r["db_bytes_after_close"] = DbBytes(so.path);
  r["db_bytes_per_sample"] = committed ? static_cast<double>(DbBytes(so.path)) / committed : 0.0;
  return r;
}

json RunRaw(const Options& o, bool pk, uint64_t total_rows) {
  std::string path = o.dir + (pk ? "/raw_pk.db" : "/raw_nopk.db");
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) return Fail("sqlite3_open " + path);
  auto exec = [&](const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string e = err ? err : "?";
      sqlite3_free(err);
      return e;
    }
    return std::string();
  };
  for (const char* sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL"})
    if (auto e = exec(sql); !e.empty()) return Fail(e);
  if (auto e = exec(pk ? "CREATE TABLE s(tag INTEGER NOT NULL, t INTEGER NOT NULL, v REAL, PRIMARY KEY(tag, t))"
                       : "CREATE TABLE s(tag INTEGER NOT NULL, t INTEGER NOT NULL, v REAL)");
      !e.empty())
    return Fail(e);
  sqlite3_stmt* ins = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO s(tag, t, v) VALUES(?1, ?2, ?3)", -1, &ins, nullptr);
  uint64_t io0 = ProcIoWriteBytes();
  double cpu0 = CpuSeconds(::getpid());
  auto t0 = Clock::now();
  uint64_t rows = 0;
  std::vector<double> commit_ms;
  for (int64_t n = 0; rows < total_rows; ++n) {
    std::vector<pf::Sample> w = WindowSamples(o, n);
    auto c0 = Clock::now();
    exec("BEGIN");
    for (const pf::Sample& s : w) {
      sqlite3_bind_int64(ins, 1, static_cast<int64_t>(s.tag));
      sqlite3_bind_int64(ins, 2, s.source_time.ns);
      sqlite3_bind_double(ins, 3, std::get<double>(s.value));
      if (sqlite3_step(ins) != SQLITE_DONE) return Fail(sqlite3_errmsg(db));
      sqlite3_reset(ins);
    }
    if (auto e = exec("COMMIT"); !e.empty()) return Fail(e);
    commit_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - c0).count());
    rows += w.size();
  }
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  uint64_t io = ProcIoWriteBytes() - io0;
  double cpu = CpuSeconds(::getpid()) - cpu0;
  sqlite3_finalize(ins);
  sqlite3_close(db);
  std::sort(commit_ms.begin(), commit_ms.end());
  return json{{"seconds", secs},
              {"committed_per_s", rows / secs},
              {"committed", rows},
              {"write_bytes", io},
              {"write_bytes_per_sample", static_cast<double>(io) / rows},
              {"db_bytes_after_close", DbBytes(path)},
              {"db_bytes_per_sample", static_cast<double>(DbBytes(path)) / rows},
              {"cpu_s", cpu},
              {"commit_ms_p50", commit_ms[commit_ms.size() / 2]},
              {"commit_ms_p99", commit_ms[commit_ms.size() * 99 / 100]},
              {"windows", commit_ms.size()}};
}

// Runs fn in a forked child; returns its JSON with its peak RSS.
template <typename Fn>
json InChild(Fn fn) {
  int fds[2];
  if (::pipe(fds) != 0) return Fail("pipe");
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    ResetPeakRss();
    json r = fn();
    r["peak_rss_mib"] = VmHwmMiB();
    std::string s = r.dump() + "\n";
    (void)!::write(fds[1], s.data(), s.size());
    ::close(fds[1]);
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int st = 0;
  ::waitpid(pid, &st, 0);
  if (out.empty()) return Fail(fmt::format("phase child exited with status {}", st));
  return json::parse(out, nullptr, false);
}

std::string Cell(const json& r, const char* key, const char* fmtspec = "{:.0f}") {
  if (!r.contains(key)) return "-";
  if (r[key].is_boolean()) return r[key].get<bool>() ? "yes" : "NO";
  return fmt::format(fmt::runtime(fmtspec), r[key].get<double>());
}

void Usage() {
  std::fprintf(stderr,
               "store_forward_bench [--cpu N] [--tags N] [--rows N] [--window-ms N] [--seconds S] [--warmup S]\n"
               "                    [--max-depth N] [--max-inflight N] [--batch N] [--dir D] [--mosquitto PATH]\n"
               "                    [--subscriber PATH|none]\n"
               "                    [--phases store_uplink,store_only,raw_nopk,raw_pk]\n");
}

bool Parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) return false;
    std::string v = argv[++i];
    if (a == "--cpu") o.cpu = std::stoi(v);
    else if (a == "--tags") o.tags = std::stoi(v);
    else if (a == "--rows") o.rows = std::stoi(v);
    else if (a == "--window-ms") o.window_ms = std::stoi(v);
    else if (a == "--seconds") o.seconds = std::stod(v);
    else if (a == "--warmup") o.warmup = std::stod(v);
    else if (a == "--max-depth") o.max_depth = std::stoull(v);
    else if (a == "--max-inflight") o.max_inflight = std::stoi(v);
    else if (a == "--batch") o.batch = std::stoi(v);
    else if (a == "--dir") o.dir = v;
    else if (a == "--mosquitto") o.mosquitto = v;
    else if (a == "--subscriber") o.subscriber = v == "none" ? "" : v;
    else if (a == "--phases") {
      o.phases.clear();
      size_t p = 0;
      while (p <= v.size()) {
        size_t q = v.find(',', p);
        if (q == std::string::npos) q = v.size();
        o.phases.push_back(v.substr(p, q - p));
        p = q + 1;
      }
    } else return false;
  }
  return o.tags > 0 && o.rows >= o.tags && o.window_ms > 0 && o.seconds > 0;
}

bool Has(const Options& o, const std::string& phase) {
  return std::find(o.phases.begin(), o.phases.end(), phase) != o.phases.end();
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!Parse(argc, argv, o)) {
    Usage();
    return 2;
  }
  pf::SetLogLevel("warn");
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(o.cpu, &set);
  if (::sched_setaffinity(0, sizeof set, &set) != 0) {
    std::perror("sched_setaffinity");
    return 1;
  }
  bool own_dir = o.dir.empty();
  if (own_dir) {
    char tmpl[] = "/tmp/pf_sfbench_XXXXXX";
    if (!::mkdtemp(tmpl)) return 1;
    o.dir = tmpl;
  }
  std::printf("store_forward_bench: cpu %d, %d tags, %d rows per %d ms window, %.0f s (+%.0f s warmup), "
              "max outbox depth %llu, max_inflight %d, batch %d, dir %s, sqlite %s\n",
              o.cpu, o.tags, o.rows, o.window_ms, o.seconds, o.warmup, static_cast<unsigned long long>(o.max_depth),
              o.max_inflight, o.batch, o.dir.c_str(), sqlite3_libversion());
  std::fflush(stdout);

  Broker broker;
  json up, only, raw_nopk, raw_pk;
  double broker_cpu = 0;
  if (Has(o, "store_uplink")) {
    broker = StartBroker(o);
    if (broker.pid < 0) {
      std::fprintf(stderr, "could not start %s\n", o.mosquitto.c_str());
      return 1;
    }
    broker.sub_pid = StartSubscriber(o, broker.port);
    double c0 = CpuSeconds(broker.pid), s0 = broker.sub_pid > 0 ? CpuSeconds(broker.sub_pid) : 0;
    up = InChild([&] { return RunStore(o, broker.port, true); });
    broker_cpu = CpuSeconds(broker.pid) - c0;
    if (broker.sub_pid > 0) {
      up["subscriber_cpu_s"] = CpuSeconds(broker.sub_pid) - s0;
      ::kill(broker.sub_pid, SIGTERM);
      ::waitpid(broker.sub_pid, nullptr, 0);
    }
    ::kill(broker.pid, SIGTERM);
    ::waitpid(broker.pid, nullptr, 0);
    up["broker_cpu_s"] = broker_cpu;
    std::printf("store+uplink: %s\n", up.dump().c_str());
    std::fflush(stdout);
  }
  if (Has(o, "store_only")) {
    only = InChild([&] { return RunStore(o, 0, false); });
    std::printf("store only:   %s\n", only.dump().c_str());
    std::fflush(stdout);
  }
  // The raw inserts get as many rows as the store+uplink phase committed (at least 20 windows).
  uint64_t rows = std::max<uint64_t>(up.value("committed", uint64_t{0}), uint64_t(20) * o.rows);
  if (Has(o, "raw_nopk")) {
    raw_nopk = InChild([&] { return RunRaw(o, false, rows); });
    std::printf("raw no pk:    %s\n", raw_nopk.dump().c_str());
  }
  if (Has(o, "raw_pk")) {
    raw_pk = InChild([&] { return RunRaw(o, true, rows); });
    std::printf("raw (tag,t) pk: %s\n", raw_pk.dump().c_str());
  }

  std::printf("\n| %d tags, %d rows / %d ms window, 1 CPU, fsync on | store + uplink (e2e) | store only | raw SQLite, no key | raw SQLite, PK(tag,t) |\n",
              o.tags, o.rows, o.window_ms);
  std::printf("|---|---:|---:|---:|---:|\n");
  auto row = [&](const char* name, const char* key, const char* f) {
    std::printf("| %s | %s | %s | %s | %s |\n", name, Cell(up, key, f).c_str(), Cell(only, key, f).c_str(),
                Cell(raw_nopk, key, f).c_str(), Cell(raw_pk, key, f).c_str());
  };
  row("samples committed / s", "committed_per_s", "{:.0f}");
  row("samples acknowledged by the broker / s", "acked_per_s", "{:.0f}");
  row("commit p50 ms", "commit_ms_p50", "{:.1f}");
  row("commit p99 ms", "commit_ms_p99", "{:.1f}");
  row("max outbox depth (records)", "max_depth", "{:.0f}");
  row("bytes written per sample (write_bytes)", "write_bytes_per_sample", "{:.0f}");
  row("database bytes per sample after close", "db_bytes_per_sample", "{:.1f}");
  row("CPU s (this process) in window", "cpu_s", "{:.2f}");
  row("peak RSS MiB", "peak_rss_mib", "{:.1f}");
  if (!up.is_null()) std::printf("| mosquitto CPU s (whole phase) | %.2f | | | |\n", broker_cpu);
  if (up.contains("subscriber_cpu_s"))
    std::printf("| mosquitto_sub -q 1 CPU s (whole phase) | %.2f | | | |\n", up["subscriber_cpu_s"].get<double>());
  auto ratio = [&](const json& a, const char* ka, const json& b) {
    if (!a.contains(ka) || !b.contains("committed_per_s")) return;
    std::printf("ratio %s / raw: %.3f\n", ka, a[ka].get<double>() / b["committed_per_s"].get<double>());
  };
  if (!up.is_null()) {
    ratio(up, "acked_per_s", raw_nopk);
    ratio(up, "acked_per_s", raw_pk);
  }
  if (!only.is_null()) {
    ratio(only, "committed_per_s", raw_nopk);
    ratio(only, "committed_per_s", raw_pk);
  }
  if (own_dir) std::filesystem::remove_all(o.dir);

  bool ok = true;
  for (const json* r : {&up, &only, &raw_nopk, &raw_pk})
    if (!r->is_null() && (r->is_discarded() || r->contains("error"))) {
      std::fprintf(stderr, "phase failed: %s\n", r->dump().c_str());
      ok = false;
    }
  if (!up.is_null() && !up.value("drained", false)) {
    std::fprintf(stderr, "store+uplink: not everything committed was acknowledged after the run\n");
    ok = false;
  }
  return ok ? 0 : 1;
}
