// The plantfloor binary: `run` is the daemon, the other subcommands are tools.
#include <unistd.h>
#include <cstdlib>

#include <csignal>
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <string_view>

#include "cli/anomaly_cmd.h"
#include "cli/inspect_cmd.h"
#include "cli/modbus_cmd.h"
#include "cli/model_cmd.h"
#include "cli/opcua_cmd.h"
#include "cli/spc_cmd.h"
#include "cli/vib_cmd.h"
#include "core/log.h"
#include "runtime/config_loader.h"
#include "runtime/plant_config.h"
#include "runtime/runtime.h"
#include "runtime/service_notify.h"

namespace pf {
namespace {

constexpr int kExitConfig = 2;
constexpr int kExitRuntime = 1;

Result<PlantConfig> LoadPlant(const std::string& path) {
  PF_ASSIGN_OR_RETURN(ConfigNode root, LoadConfigFile(path));
  return BuildPlantConfig(std::move(root));
}

int Check(const std::string& path) {
  auto pc = LoadPlant(path);
  if (!pc.ok()) {
    std::cerr << "error: " << pc.status().message() << "\n";
    return kExitConfig;
  }
  MetricsRegistry scratch;
  auto sources = CreateSources(*pc, scratch);
  if (!sources.ok()) {
    std::cerr << "error: " << sources.status().message() << "\n";
    return kExitConfig;
  }
  std::cout << fmt::format("config OK: {} assets, {} templates, {} tags, {} sources ({} enabled)\n", pc->assets.size(),
                           pc->templates.size(), pc->tags.size(), pc->sources.size(), sources->size());
  return 0;
}

// A failed notification is logged, never fatal: the plant keeps running without its supervisor's view.
void Notify(const Status& st) {
  if (!st.ok()) PF_LOG_WARN("{}", st.message());
}
void Notify(const Result<bool>& r) { Notify(r.status()); }

std::string RunningStatus(const Runtime& rt) {
  const PlantConfig& c = rt.config();
  std::string api = rt.api_port() ? fmt::format("API on {}:{}", c.api.host, rt.api_port()) : "API off";
  return fmt::format("running: {} sources, {} tags, {}", c.sources.size(), c.tags.size(), api);
}

// 200 ms, or less when the watchdog needs pings more often than every 400 ms.
timespec LoopTick(const ServiceNotifier& service) {
  std::chrono::microseconds tick = std::chrono::milliseconds(200);
  if (service.keepalive_interval().count() > 0) tick = std::min(tick, service.keepalive_interval() / 2);
  tick = std::max(tick, std::chrono::microseconds(1000));
  return timespec{static_cast<time_t>(tick.count() / 1'000'000), static_cast<long>(tick.count() % 1'000'000) * 1000};
}

int Run(const std::string& path, const std::string& log_level) {
  auto pc = LoadPlant(path);
  if (!pc.ok()) {
    std::cerr << "error: " << pc.status().message() << "\n";
    return kExitConfig;
  }
  SetLogLevel(log_level.empty() ? pc->runtime.log_level : log_level);
  // Signals are taken by this thread only: block them before any other thread exists.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  ServiceNotifier service = ServiceNotifier::FromEnvironment();
  Notify(service.SetStatus("starting"));
  MetricsRegistry metrics;
  auto rt = Runtime::Create(std::move(*pc), metrics);
  if (!rt.ok()) {
    std::cerr << "error: " << rt.status().message() << "\n";
    Notify(service.SetStatus("failed: " + rt.status().message()));
    return rt.status().code() == StatusCode::kInvalidArgument ? kExitConfig : kExitRuntime;
  }
  Status started = (*rt)->Start();
  if (!started.ok()) {
    std::cerr << "error: " << started.message() << "\n";
    Notify(service.SetStatus("failed: " + started.message()));
    (*rt)->Stop();
    return kExitRuntime;
  }
  if ((*rt)->api_port()) PF_LOG_INFO("API on http://{}:{}/api/v1/health", (*rt)->config().api.host, (*rt)->api_port());
  Notify(service.Ready(RunningStatus(**rt)));
  const timespec tick = LoopTick(service);
  bool was_alive = true;
  for (;;) {
    // The watchdog is fed only while the processor turns too: a hung processor (the thread that
    // commits what the sources read) stops the pings and systemd restarts the service.
    bool alive = (*rt)->Alive();
    if (alive) Notify(service.KeepAlive());
    if (alive != was_alive)
      alive ? PF_LOG_WARN("processor thread turns again: watchdog fed")
            : PF_LOG_ERROR("processor thread has not turned for several commit windows: watchdog not fed");
    was_alive = alive;
    int sig = sigtimedwait(&set, nullptr, &tick);
    if (sig == SIGINT || sig == SIGTERM) {
      PF_LOG_INFO("signal {}: shutting down", sig);
      Notify(service.Stopping(fmt::format("stopping: signal {}", sig)));
      break;
    }
    if ((*rt)->ShouldExit()) {
      PF_LOG_INFO("every source finished: shutting down");
      Notify(service.Stopping("stopping: every source finished"));
      break;
    }
  }
  (*rt)->Stop();
  return 0;
}

}  // namespace
}  // namespace pf

int main(int argc, char** argv) {
  // Inference threads (oneDNN's OpenMP) must sleep between runs instead of spinning against sensor
  // ingestion. libgomp reads OMP_WAIT_POLICY once, when it is loaded (before main), so a process
  // started without it re-executes itself once with it set (PF_NO_REEXEC=1 turns this off).
  if (!std::getenv("OMP_WAIT_POLICY") && !std::getenv("PF_NO_REEXEC")) {
    ::setenv("OMP_WAIT_POLICY", "passive", 1);
    ::execv("/proc/self/exe", argv);
    // execv failed (no /proc): go on with libgomp's default policy; Session warns about it.
  }
  // Tools print their results (often JSON) on stdout: their log lines go to stderr. The daemon keeps
  // spdlog's default (stdout, which journald captures).
  if (argc < 2 || std::string_view(argv[1]) != "run") {
    spdlog::set_default_logger(
        std::make_shared<spdlog::logger>("", std::make_shared<spdlog::sinks::stderr_color_sink_mt>()));
  }
  CLI::App app{"plantfloor: the edge runtime for manufacturing AI"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "plantfloor 0.1.0");

  std::string config, log_level;
  auto* run = app.add_subcommand("run", "run the plant: sources, history, API (stops on SIGTERM/SIGINT)");
  run->add_option("--config,-c", config, "TOML configuration file")->required();
  run->add_option("--log-level", log_level, "trace, debug, info, warn, error (overrides the file)");

  auto* check = app.add_subcommand("check", "validate a configuration without connecting to anything");
  check->add_option("--config,-c", config, "TOML configuration file")->required();

  auto* ref = app.add_subcommand("config-reference", "print every configuration key as Markdown");

  pf::AddModbusCommands(app);
  pf::AddOpcuaCommands(app);
  pf::AddSpcCommand(app);
  pf::AddVibCommand(app);
  pf::AddModelCommand(app);
  pf::AddInspectCommand(app);
  pf::AddAnomalyCommand(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (*run) return pf::Run(config, log_level);
  if (*check) return pf::Check(config);
  if (*ref) {
    std::cout << pf::ConfigReferenceMarkdown();
    return 0;
  }
  return 0;  // `modbus read`, `opcua`, `spc`, `vib` and `model` ran in their callbacks and exited with their own codes
}
