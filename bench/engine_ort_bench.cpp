// Inference engine beside ONNX Runtime 1.30 (issue 8 acceptance): latency and memory on the model
// set of scripts/make_engine_models.py, single thread, batch 1, in one run.
//
// Per model and variant (fp32, int8), smallest model file first, in a fresh forked process with a
// fresh node peer (so allocator state and lazily initialized runtimes start clean on both sides):
// both engines load the model, run
// --warmup requests each, then --runs interleaved requests (one plantfloor, one ONNX Runtime through
// tests/support/ort/ort_runner.js). Latency: plantfloor's around Session::Run (the reference
// interpreter when the build has no Session), ONNX Runtime's around session.run inside node.
// Reported: median and p99 of each, and the ratio plantfloor / ONNX Runtime (< 1: plantfloor faster).
// Memory: plantfloor's peak RSS (VmHWM, reset with /proc/self/clear_refs before each model) minus
// its RSS before loading the model, beside node's peak minus its RSS before creating the session.
// The ISA is the machine's unless ONEDNN_MAX_CPU_ISA says otherwise (it limits oneDNN only, so
// under AVX2 ONNX Runtime still runs at the native ISA). Prints a table, then one JSON document.
// Exits 77 when node/onnxruntime-node or Debian's python3-onnx is missing.
#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "ort/ort_client.h"

namespace {

using pf::ort::ModelEntry;

struct Row {
  std::string label;
  double macs_m = 0;
  double pf_p50 = 0, pf_p99 = 0, ort_p50 = 0, ort_p99 = 0;  // ms
  double pf_mem = 0, ort_mem = 0;                          // MiB
  int runs = 0;
};

double Quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(q * (v.size() - 1) + 0.5));
  return v[k];
}

pf::Result<Row> BenchOne(pf::ort::OrtPeer& peer, const std::string& dir, const ModelEntry& e, int warmup, int runs,
                         bool peak_reset) {
  Row row;
  row.label = e.Label();
  row.macs_m = e.macs / 1e6;
  row.runs = runs;
  const std::string path = dir + "/" + e.file;
  const std::string input = dir + "/" + e.inputs.front();
  PF_ASSIGN_OR_RETURN(pf::engine::Tensor x, pf::ort::ReadNpyFloat(input));
  const pf::engine::TensorMap feeds{{e.input, x}};

  ::malloc_trim(0);
  if (peak_reset) pf::ort::ResetPeakRss();
  const int64_t pf_before = pf::ort::ProcStatusBytes("VmRSS");
  double pf_mem = 0;
  std::vector<double> pf_ms, ort_ms;
  {
    PF_ASSIGN_OR_RETURN(auto model, pf::ort::PfModel::Load(path));
    PF_ASSIGN_OR_RETURN(auto loaded, peer.Command("load " + path));
    const int64_t ort_before = std::atoll(loaded.at(0).c_str());
    PF_RETURN_IF_ERROR(peer.Command("input " + e.input + " " + input).status());
    for (int k = 0; k < warmup + runs; ++k) {
      const auto t0 = std::chrono::steady_clock::now();
      PF_ASSIGN_OR_RETURN(auto out, model->Run(feeds));
      const auto t1 = std::chrono::steady_clock::now();
      PF_ASSIGN_OR_RETURN(auto r, peer.Command("run"));
      if (k < warmup) continue;
      pf_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      ort_ms.push_back(std::atof(r.at(0).c_str()) / 1e6);
    }
    pf_mem = static_cast<double>(pf::ort::ProcStatusBytes("VmHWM") - pf_before);
    PF_ASSIGN_OR_RETURN(auto rss, peer.Command("rss"));
    row.ort_mem = (std::atof(rss.at(0).c_str()) - static_cast<double>(ort_before)) / (1 << 20);
    std::cerr << e.Label() << ": " << model->Summary() << "\n";
  }
  row.pf_mem = pf_mem / (1 << 20);
  row.pf_p50 = Quantile(pf_ms, 0.5);
  row.pf_p99 = Quantile(pf_ms, 0.99);
  row.ort_p50 = Quantile(ort_ms, 0.5);
  row.ort_p99 = Quantile(ort_ms, 0.99);
  return row;
}

// Runs BenchOne in a forked child with its own ONNX Runtime peer, so that each model starts from a
// fresh process on both sides (allocator state, lazily initialized runtimes, peak RSS). The parent
// never runs a model itself (OpenMP and oneDNN state must not exist before fork()).
pf::Result<Row> InChild(const std::string& dir, const ModelEntry& e, int warmup, int runs, bool peak_reset) {
  int fds[2];
  if (::pipe(fds) != 0) return pf::Internal("{}: pipe failed", e.Label());
  const pid_t pid = ::fork();
  if (pid < 0) return pf::Internal("{}: fork failed", e.Label());
  if (pid == 0) {
    ::close(fds[0]);
    nlohmann::json j;
    pf::Result<Row> row = pf::Internal("not run");
    {
      auto peer = pf::ort::OrtPeer::Start();  // its destructor stops node
      row = peer.ok() ? BenchOne(**peer, dir, e, warmup, runs, peak_reset) : pf::Result<Row>(peer.status());
    }
    if (row.ok()) {
      j = {{"pf_p50", row->pf_p50}, {"pf_p99", row->pf_p99}, {"ort_p50", row->ort_p50}, {"ort_p99", row->ort_p99},
           {"pf_mem", row->pf_mem}, {"ort_mem", row->ort_mem}};
    } else {
      j = {{"error", row.status().ToString()}};
    }
    const std::string text = j.dump();
    [[maybe_unused]] auto n = ::write(fds[1], text.data(), text.size());
    ::close(fds[1]);
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) text.append(buf, n);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (text.empty()) return pf::Internal("{}: the benchmark child died (status {})", e.Label(), status);
  const auto j = nlohmann::json::parse(text);
  if (j.contains("error")) return pf::Internal("{}", j["error"].get<std::string>());
  Row row;
  row.label = e.Label();
  row.macs_m = e.macs / 1e6;
  row.runs = runs;
  row.pf_p50 = j["pf_p50"];
  row.pf_p99 = j["pf_p99"];
  row.ort_p50 = j["ort_p50"];
  row.ort_p99 = j["ort_p99"];
  row.pf_mem = j["pf_mem"];
  row.ort_mem = j["ort_mem"];
  return row;
}

int Main(int argc, char** argv) {
  int runs = 200, warmup = 20;
  std::string only;
  for (int k = 1; k + 1 < argc; k += 2) {
    const std::string a = argv[k];
    if (a == "--runs") runs = std::atoi(argv[k + 1]);
    else if (a == "--warmup") warmup = std::atoi(argv[k + 1]);
    else if (a == "--models") only = argv[k + 1];  // comma-separated labels, e.g. mlp_int8,cnn1d_fp32
    else {
      std::cerr << "usage: engine_ort_bench [--runs N] [--warmup N] [--models a,b]\n";
      return 2;
    }
  }
  if (const std::string missing = pf::ort::MissingPeer(); !missing.empty() ||
      std::system("/usr/bin/python3 -c 'import onnx, numpy' >/dev/null 2>&1") != 0) {
    std::cerr << "SKIPPED: ONNX Runtime peer or python3-onnx missing " << missing << "\n";
    return 77;
  }
  const char* isa_env = std::getenv("ONEDNN_MAX_CPU_ISA");
  const std::string isa = isa_env && *isa_env ? isa_env : "native";
  const char* bin = std::getenv("PF_BINARY_DIR");
  // One directory per ISA so that the two ctest entries never write the same files.
  const std::string dir = std::string(bin ? bin : ".") + "/engine_models_bench" + (isa_env && *isa_env ? "_" + isa : "");
  auto models = pf::ort::GenerateModels(dir);
  if (!models.ok()) {
    std::cerr << models.status().ToString() << "\n";
    return 1;
  }
  std::sort(models->begin(), models->end(), [](const ModelEntry& a, const ModelEntry& b) { return a.bytes < b.bytes; });
  const bool peak_reset = pf::ort::ResetPeakRss();
  std::vector<Row> rows;
  for (const ModelEntry& e : *models) {
    if (!only.empty() && ("," + only + ",").find("," + e.Label() + ",") == std::string::npos) continue;
    auto row = InChild(dir, e, warmup, runs, peak_reset);
    if (!row.ok()) {
      std::cerr << e.Label() << ": " << row.status().ToString() << "\n";
      return 1;
    }
    rows.push_back(*row);
  }

  fmt::print("engine vs ONNX Runtime 1.30: 1 thread, batch 1, {} interleaved runs after {} warm-up; plantfloor: {}, "
             "oneDNN ISA {}; ONNX Runtime at the native ISA{}\n",
             runs, warmup, pf::ort::PfModel::Kind(), isa, peak_reset ? "" : "; peak RSS is process-lifetime");
  fmt::print("{:<24} {:>8} {:>10} {:>10} {:>10} {:>10} {:>7} {:>10} {:>10} {:>6}\n", "model", "M MACs", "pf p50 ms",
             "pf p99 ms", "ort p50 ms", "ort p99 ms", "ratio", "pf MiB", "ort MiB", "mem");
  nlohmann::json j = nlohmann::json::array();
  for (const Row& r : rows) {
    const double ratio = r.pf_p50 / r.ort_p50;
    const double mem = r.ort_mem > 0 ? r.pf_mem / r.ort_mem : 0;
    fmt::print("{:<24} {:>8.1f} {:>10.3f} {:>10.3f} {:>10.3f} {:>10.3f} {:>7.2f} {:>10.1f} {:>10.1f} {:>6.2f}\n", r.label,
               r.macs_m, r.pf_p50, r.pf_p99, r.ort_p50, r.ort_p99, ratio, r.pf_mem, r.ort_mem, mem);
    j.push_back({{"model", r.label}, {"macs_m", r.macs_m}, {"runs", r.runs}, {"pf_p50_ms", r.pf_p50},
                 {"pf_p99_ms", r.pf_p99}, {"ort_p50_ms", r.ort_p50}, {"ort_p99_ms", r.ort_p99}, {"ratio_p50", ratio},
                 {"pf_peak_rss_mib", r.pf_mem}, {"ort_peak_rss_mib", r.ort_mem}});
  }
  nlohmann::json doc = {{"bench", "engine_ort"}, {"isa", isa}, {"plantfloor", pf::ort::PfModel::Kind()},
                        {"threads", 1}, {"runs", runs}, {"warmup", warmup}, {"peak_rss_reset", peak_reset},
                        {"models", j}};
  std::cout << doc.dump() << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Main(argc, argv); }
