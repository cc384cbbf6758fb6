// OPC UA subscription benchmark (issue 6): one node-opcua server (tests/support/opcua_test_server.js)
// with --items Double variables each changing every --interval ms, and two clients subscribing to
// all of them with the same publishing/sampling interval, queue size 1 and timestamps Both:
// plantfloor's Subscription (this binary re-executed in --client mode, so that its CPU and peak RSS
// are its own) and node-opcua's ClientSubscription (bench/opcua_node_client.js). One after the other
// for --seconds each after --warmup s, --runs times; then (--both) both at once. Reported per run:
// notifications/s received, client CPU s per 10,000 notifications (the client's own getrusage /
// process.cpuUsage over its measured window; /proc/<pid>/stat read by this process when the client
// announces the window's start and end is printed beside as a check), peak RSS (wait4's ru_maxrss of the child), the server's CPU share over the
// same window (/proc/<pid>/stat utime+stime), and the node-opcua / plantfloor CPU ratio; the medians
// of the runs at the end.
//
// The server must keep up: with --calibrate the intervals --intervals (ascending) are tried in turn
// with the plantfloor client for 6 s each and the first at which the server stays under
// --max-server-cpu of one core is used (shown); without it --interval is used as given.
//
// Exit 0 when every run delivered notifications with no sequence gap, 1 otherwise; 77 (skipped)
// without node or node-opcua under $PEERS_HOME.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "connect/opcua/client.h"
#include "connect/opcua/subscription.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

struct Options {
  int items = 2000;
  int interval_ms = 100;
  double seconds = 20;
  double warmup = 3;
  int runs = 3;
  bool both = true;
  bool calibrate = true;
  std::vector<int> intervals = {100, 200, 500, 1000};
  double max_server_cpu = 0.70;
  std::string server_js = PF_OPCUA_TEST_SERVER_JS;
  std::string node_client_js = PF_OPCUA_NODE_CLIENT_JS;
  // --client mode (the plantfloor child)
  std::string client_url;
};

double CpuSeconds(const rusage& r) {
  return r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6 + r.ru_stime.tv_sec + r.ru_stime.tv_usec / 1e6;
}

// ---- the plantfloor client (child process) ----

int RunPlantfloorClient(const Options& o) {
  using namespace pf::opcua;
  const auto t0 = Clock::now();
  ClientOptions co;
  co.endpoint_url = o.client_url;
  auto c = Client::Connect(co);
  if (!c.ok()) {
    std::cerr << "plantfloor client: " << c.status().ToString() << "\n";
    return 1;
  }
  SubscriptionOptions so;
  so.publishing_interval_ms = o.interval_ms;
  so.lifetime_count = 100;
  so.max_keep_alive_count = 10;
  auto sub = Subscription::Create(**c, so);
  if (!sub.ok()) {
    std::cerr << "plantfloor client: " << sub.status().ToString() << "\n";
    return 1;
  }
  std::vector<MonitorRequest> reqs(o.items);
  for (int i = 0; i < o.items; ++i) {
    reqs[i].node = NodeId::String(1, fmt::format("Bench.{:05d}", i));
    reqs[i].sampling_interval_ms = o.interval_ms;
    reqs[i].queue_size = 1;
  }
  auto items = (*sub)->Monitor(reqs);
  if (!items.ok()) {
    std::cerr << "plantfloor client: " << items.status().ToString() << "\n";
    return 1;
  }
  int bad_items = 0;
  for (const auto& it : *items) bad_items += it.status.IsBad();
  const double setup = std::chrono::duration<double>(Clock::now() - t0).count();

  long count = 0, gaps = 0;
  auto poll_until = [&](Clock::time_point end) -> bool {
    while (Clock::now() < end) {
      auto r = (*sub)->Poll(std::chrono::seconds(5));
      if (!r.ok()) {
        std::cerr << "plantfloor client: " << r.status().ToString() << "\n";
        return false;
      }
      if (r->kind == PublishResult::Kind::kGap) ++gaps;
      count += static_cast<long>(r->changes.size());
    }
    return true;
  };
  if (!poll_until(Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.warmup)))) return 1;
  rusage r0{}, r1{};
  getrusage(RUSAGE_SELF, &r0);
  const long n0 = count;
  const auto w0 = Clock::now();
  std::printf("WINDOW start\n");
  std::fflush(stdout);
  if (!poll_until(w0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds)))) return 1;
  getrusage(RUSAGE_SELF, &r1);
  const auto w1 = Clock::now();
  const long n1 = count;
  std::printf("WINDOW end\n");
  std::fflush(stdout);
  json out{{"client", "plantfloor"}, {"notifications", n1 - n0},
           {"window_s", std::chrono::duration<double>(w1 - w0).count()}, {"cpu_s", CpuSeconds(r1) - CpuSeconds(r0)},
           {"max_rss_kb", r1.ru_maxrss}, {"setup_s", setup}, {"gaps", gaps}, {"bad_items", bad_items}};
  (void)(*sub)->Close();
  (*c)->Close();
  std::printf("%s\n", out.dump().c_str());
  std::fflush(stdout);
  return 0;
}

// ---- processes ----

struct Child {
  pid_t pid = -1;
  FILE* out = nullptr;  // the child's stdout
};

Child Spawn(const std::vector<std::string>& argv, const std::string& stderr_file) {
  int fds[2];
  if (pipe(fds) != 0) return {};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  posix_spawn_file_actions_addopen(&fa, 2, stderr_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  std::vector<char*> a;
  for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
  a.push_back(nullptr);
  Child c;
  if (posix_spawnp(&c.pid, a[0], &fa, nullptr, a.data(), environ) != 0) c.pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  c.out = fdopen(fds[0], "r");
  return c;
}

std::optional<std::string> ReadLine(FILE* f) {
  char buf[65536];
  if (!f || !std::fgets(buf, sizeof buf, f)) return std::nullopt;
  std::string s(buf);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// utime + stime of a process in seconds, from /proc/<pid>/stat (fields 14 and 15, after the ")").
double ProcCpu(pid_t pid) {
  std::ifstream f(fmt::format("/proc/{}/stat", pid));
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const auto p = s.rfind(')');
  if (p == std::string::npos) return -1;
  std::istringstream in(s.substr(p + 2));
  std::string field;
  double ut = 0, st = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) ut = std::stod(field);
    if (i == 15) st = std::stod(field);
  }
  return (ut + st) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

struct Server {
  pid_t pid = -1;
  int port = 0;
  std::string url, log;
};

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

Server StartServer(const Options& o, int interval_ms, const std::string& dir) {
  Server s;
  s.port = FreePort();
  s.log = dir + "/server.log";
  Child c = Spawn({"node", o.server_js, std::to_string(s.port), "--vars", std::to_string(o.items), "--interval",
                   std::to_string(interval_ms), "--pki", dir + "/pki"}, s.log);
  s.pid = c.pid;
  while (auto line = ReadLine(c.out)) {
    if (line->rfind("READY ", 0) == 0) {
      s.url = line->substr(6, line->find(' ', 6) - 6);
      break;
    }
  }
  // Keep draining the server's stdout so that it never blocks on a full pipe.
  std::thread([f = c.out] { while (ReadLine(f)) {} fclose(f); }).detach();
  return s;
}

void StopServer(Server& s) {
  if (s.pid <= 0) return;
  kill(s.pid, SIGTERM);
  int st;
  for (int i = 0; i < 50 && waitpid(s.pid, &st, WNOHANG) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (waitpid(s.pid, &st, WNOHANG) == 0) {
    kill(s.pid, SIGKILL);
    waitpid(s.pid, &st, 0);
  }
  s.pid = -1;
}

struct Result {
  json client;          // what the client printed
  double server_cpu = 0;   // server CPU share (of one core) over the client's window
  long rss_kb = 0;         // wait4 ru_maxrss
  double total_cpu_s = 0;  // wait4 user+system, whole life
  double proc_cpu_s = 0;   // /proc/<child>/stat utime+stime over the child's window (as the parent saw it)
  bool ok = false;
};

// Runs the given client commands at once; the server CPU is taken over the span from the first
// "WINDOW start" to the last "WINDOW end".
std::vector<Result> RunClients(const std::vector<std::vector<std::string>>& cmds, const Server& srv, const std::string& dir) {
  std::vector<Child> kids;
  for (const auto& cmd : cmds) kids.push_back(Spawn(cmd, dir + "/clients.log"));
  std::vector<Result> res(cmds.size());
  std::vector<std::thread> readers;
  std::mutex mu;
  int started = 0, ended = 0;
  double cpu0 = 0, cpu1 = 0;
  Clock::time_point t0, t1;
  for (size_t i = 0; i < kids.size(); ++i) {
    readers.emplace_back([&, i] {
      while (auto line = ReadLine(kids[i].out)) {
        std::lock_guard<std::mutex> l(mu);
        if (*line == "WINDOW start") {
          res[i].proc_cpu_s = -ProcCpu(kids[i].pid);
          if (started++ == 0) {
            cpu0 = ProcCpu(srv.pid);
            t0 = Clock::now();
          }
        } else if (*line == "WINDOW end") {
          res[i].proc_cpu_s += ProcCpu(kids[i].pid);
          if (++ended == static_cast<int>(kids.size())) {
            cpu1 = ProcCpu(srv.pid);
            t1 = Clock::now();
          }
        } else if (!line->empty() && line->front() == '{') {
          res[i].client = json::parse(*line, nullptr, false);
        }
      }
    });
  }
  for (size_t i = 0; i < kids.size(); ++i) {
    int st = 0;
    rusage ru{};
    wait4(kids[i].pid, &st, 0, &ru);
    readers[i].join();
    fclose(kids[i].out);
    res[i].rss_kb = ru.ru_maxrss;
    res[i].total_cpu_s = CpuSeconds(ru);
    res[i].ok = WIFEXITED(st) && WEXITSTATUS(st) == 0 && res[i].client.is_object();
  }
  const double span = std::chrono::duration<double>(t1 - t0).count();
  for (auto& r : res) r.server_cpu = span > 0 ? (cpu1 - cpu0) / span : 0;
  return res;
}

std::vector<std::string> PlantfloorCmd(const Options& o, const std::string& url, int interval, double seconds) {
  return {"/proc/self/exe", "--client", url, "--items", std::to_string(o.items), "--interval", std::to_string(interval),
          "--seconds", fmt::format("{}", seconds), "--warmup", fmt::format("{}", o.warmup)};
}
std::vector<std::string> NodeCmd(const Options& o, const std::string& url, int interval, double seconds) {
  return {"node", o.node_client_js, url, std::to_string(o.items), std::to_string(interval), fmt::format("{}", seconds),
          fmt::format("{}", o.warmup)};
}

double Rate(const Result& r) { return r.client.value("notifications", 0.0) / r.client.value("window_s", 1.0); }
// The child's own getrusage / process.cpuUsage over its window ("cpu_s", microseconds): plantfloor's
// window CPU is a few clock ticks, too coarse in /proc/<pid>/stat (10 ms ticks), which is printed
// beside it as a check.
double CpuPer10k(const Result& r) {
  const double n = r.client.value("notifications", 0.0);
  return n > 0 ? r.client.value("cpu_s", 0.0) / n * 10000 : 0;
}

void Print(const std::string& label, const Result& r) {
  std::cout << fmt::format("  {:<20} {:>7.0f} notif/s {:>7.4f} CPU s/10k (window CPU {:.3f} s; /proc {:.2f} s) "
                           "{:>6.1f} MB peak RSS  server {:>5.1f} % of a core  gaps {}{}\n",
                           label, Rate(r), CpuPer10k(r), r.client.value("cpu_s", 0.0), r.proc_cpu_s, r.rss_kb / 1024.0,
                           100 * r.server_cpu, r.client.value("gaps", 0), r.ok ? "" : "  FAILED");
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

int Usage(const char* why) {
  std::cerr << "opcua_subscribe_bench: " << why << "\n"
            << "usage: opcua_subscribe_bench [--items N] [--interval MS | --calibrate 100,200,500,1000] [--seconds S]\n"
            << "       [--warmup S] [--runs N] [--no-both] [--max-server-cpu 0.70] [--server JS] [--node-client JS]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string mode = "bench";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    try {
      if (a == "--client") { mode = "client"; o.client_url = next(); }
      else if (a == "--items") o.items = std::stoi(next());
      else if (a == "--interval") { o.interval_ms = std::stoi(next()); o.calibrate = false; }
      else if (a == "--calibrate") {
        o.calibrate = true;
        o.intervals.clear();
        std::stringstream s(next());
        for (std::string x; std::getline(s, x, ',');) o.intervals.push_back(std::stoi(x));
      }
      else if (a == "--seconds") o.seconds = std::stod(next());
      else if (a == "--warmup") o.warmup = std::stod(next());
      else if (a == "--runs") o.runs = std::stoi(next());
      else if (a == "--no-both") o.both = false;
      else if (a == "--max-server-cpu") o.max_server_cpu = std::stod(next());
      else if (a == "--server") o.server_js = next();
      else if (a == "--node-client") o.node_client_js = next();
      else return Usage(fmt::format("unknown argument '{}'", a).c_str());
    } catch (const std::exception&) {
      return Usage(fmt::format("argument '{}' needs a number", a).c_str());
    }
  }
  if (o.items <= 0 || o.seconds <= 0 || o.runs <= 0 || o.intervals.empty()) return Usage("values must be positive");
  if (mode == "client") return RunPlantfloorClient(o);

  signal(SIGPIPE, SIG_IGN);
  {
    const char* h = std::getenv("PEERS_HOME");
    const std::string home = h ? h : "/tmp/plantfloor-peers";
    if (!fs::exists(home + "/node_modules/node-opcua") || std::system("node --version > /dev/null 2>&1") != 0) {
      std::cerr << "SKIPPED: needs node and node-opcua under " << home << " (peers.sh install)\n";
      return 77;
    }
  }
  const fs::path dir = fs::temp_directory_path() / fmt::format("opcua_bench.{}", getpid());
  fs::create_directories(dir);
  std::cout << fmt::format("OPC UA subscription benchmark: {} items, {} s windows after {} s warm-up, {} runs; {} cores, {}\n",
                           o.items, o.seconds, o.warmup, o.runs, std::thread::hardware_concurrency(),
                           fs::path(o.server_js).filename().string());
  {
    std::ifstream la("/proc/loadavg");
    std::string l1, l5;
    la >> l1 >> l5;
    std::cout << "load average at start: " << l1 << " " << l5 << " (the server and clients share these cores with it)\n";
  }
  bool all_ok = true;

  // Pick the interval: the fastest at which the server stays under the CPU limit.
  int interval = o.interval_ms;
  if (o.calibrate) {
    interval = 0;
    for (int iv : o.intervals) {
      Server srv = StartServer(o, iv, dir.string());
      if (srv.url.empty()) {
        std::cerr << "server did not start; see " << srv.log << "\n";
        return 1;
      }
      Options q = o;
      q.warmup = 2;
      auto r = RunClients({PlantfloorCmd(q, srv.url, iv, 6)}, srv, dir.string());
      StopServer(srv);
      Print(fmt::format("calibrate {} ms", iv), r[0]);
      if (r[0].ok && r[0].server_cpu < o.max_server_cpu) {
        interval = iv;
        break;
      }
    }
    if (!interval) {
      std::cerr << "the server exceeds " << o.max_server_cpu * 100 << " % of a core at every interval tried\n";
      return 1;
    }
  }
  std::cout << fmt::format("interval {} ms: {} items -> at most {:.0f} notifications/s\n", interval, o.items,
                           o.items * 1000.0 / interval);

  Server srv = StartServer(o, interval, dir.string());
  if (srv.url.empty()) {
    std::cerr << "server did not start; see " << srv.log << "\n";
    return 1;
  }
  std::vector<double> pf_rate, pf_cpu, pf_rss, nd_rate, nd_cpu, nd_rss, ratio, srv_pf, srv_nd;
  for (int run = 1; run <= o.runs; ++run) {
    std::cout << "run " << run << "\n";
    auto p = RunClients({PlantfloorCmd(o, srv.url, interval, o.seconds)}, srv, dir.string())[0];
    Print("plantfloor", p);
    auto n = RunClients({NodeCmd(o, srv.url, interval, o.seconds)}, srv, dir.string())[0];
    Print("node-opcua", n);
    all_ok = all_ok && p.ok && n.ok && p.client.value("gaps", 0) == 0 && Rate(p) > 0 && Rate(n) > 0;
    pf_rate.push_back(Rate(p)); pf_cpu.push_back(CpuPer10k(p)); pf_rss.push_back(p.rss_kb / 1024.0);
    nd_rate.push_back(Rate(n)); nd_cpu.push_back(CpuPer10k(n)); nd_rss.push_back(n.rss_kb / 1024.0);
    srv_pf.push_back(p.server_cpu); srv_nd.push_back(n.server_cpu);
    if (CpuPer10k(p) > 0) ratio.push_back(CpuPer10k(n) / CpuPer10k(p));
    std::cout << fmt::format("  CPU per notification node-opcua / plantfloor = {:.2f}\n", ratio.empty() ? 0 : ratio.back());
  }
  if (o.both) {
    std::cout << "both at once\n";
    auto r = RunClients({PlantfloorCmd(o, srv.url, interval, o.seconds), NodeCmd(o, srv.url, interval, o.seconds)}, srv,
                        dir.string());
    Print("plantfloor (both)", r[0]);
    Print("node-opcua (both)", r[1]);
    if (CpuPer10k(r[0]) > 0) std::cout << fmt::format("  ratio {:.2f}\n", CpuPer10k(r[1]) / CpuPer10k(r[0]));
    all_ok = all_ok && r[0].ok && r[1].ok;
  }
  StopServer(srv);
  std::cout << fmt::format(
      "median of {} runs (interval {} ms, {} items):\n"
      "  plantfloor  {:.0f} notif/s, {:.4f} CPU s per 10k notifications, peak RSS {:.1f} MB, server {:.1f} %\n"
      "  node-opcua  {:.0f} notif/s, {:.4f} CPU s per 10k notifications, peak RSS {:.1f} MB, server {:.1f} %\n"
      "  ratio node-opcua/plantfloor CPU per notification: {:.2f}\n",
      o.runs, interval, o.items, Median(pf_rate), Median(pf_cpu), Median(pf_rss), 100 * Median(srv_pf), Median(nd_rate),
      Median(nd_cpu), Median(nd_rss), 100 * Median(srv_nd), Median(ratio));
  std::error_code ec;
  fs::remove_all(dir, ec);
  return all_ok ? 0 : 1;
}
