#pragma once
// The C++ side of the ONNX Runtime peer (ort_runner.js beside this file) and what the engine's
// parity test and benchmark share: the generated model set (scripts/make_engine_models.py and its
// models.json), plantfloor's side of a model (engine::Session where the build has it, else the
// reference interpreter), .npy input/output, and the process's RSS.
//
// Header-only; include it from a target linked with pf_engine, nlohmann_json and fmt.
// OrtPeer owns one node child process: one thread at a time per OrtPeer. The free functions are
// thread-safe except ResetPeakRss (process-wide).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "engine/interpreter.h"
#include "engine/onnx_import.h"
#include "engine/tensor.h"
#ifdef PF_HAVE_ENGINE_SESSION
#include "engine/session.h"
#endif
#ifdef PF_HAVE_ENGINE_NPY
#include "engine/npy.h"
#endif

namespace pf::ort {

// ---------------------------------------------------------------------------------------- paths
inline std::string SourceDir() {
  if (const char* s = std::getenv("PF_SOURCE_DIR")) return s;
#ifdef PF_SOURCE_DIR_DEFAULT
  return PF_SOURCE_DIR_DEFAULT;
#else
  return ".";
#endif
}
inline std::string RunnerJs() { return SourceDir() + "/tests/support/ort/ort_runner.js"; }
// "" when onnxruntime-node is not installed (scripts/install.sh installs it).
inline std::string MissingPeer() {
  const std::string pkg = SourceDir() + "/tests/support/ort/node_modules/onnxruntime-node";
  if (!std::filesystem::exists(pkg)) return pkg + " (run scripts/install.sh)";
  if (std::system("command -v node >/dev/null 2>&1") != 0) return "node on PATH";
  return "";
}

// ---------------------------------------------------------------------------------------- memory
// A field of /proc/self/status in bytes ("VmHWM", "VmRSS"); 0 when absent.
inline int64_t ProcStatusBytes(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) return std::atoll(line.c_str() + key.size() + 1) * 1024;
  }
  return 0;
}
// Resets VmHWM to the current RSS (Linux >= 4.0). False when not allowed: then VmHWM is the
// process's lifetime peak and models must be measured in ascending size.
inline bool ResetPeakRss() {
  std::ofstream f("/proc/self/clear_refs");
  if (!f) return false;
  f << "5";
  f.flush();
  return static_cast<bool>(f);
}

// ---------------------------------------------------------------------------------------- .npy
// float32 .npy (what the model set's inputs and ORT's outputs are).
inline Result<engine::Tensor> ReadNpyFloat(const std::string& path) {
#ifdef PF_HAVE_ENGINE_NPY
  PF_ASSIGN_OR_RETURN(engine::Tensor t, engine::ReadNpyFile(path));
  if (!t.is_float()) return InvalidArgument("{}: dtype {} is not float32", path, engine::DTypeName(t.dtype));
  return t;
#else
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("{}: cannot open", path);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) return InvalidArgument("{}: byte 0: not a .npy file", path);
  const int major = static_cast<unsigned char>(bytes[6]);
  size_t start = major == 1 ? 10 : 12;
  if (bytes.size() < start) return InvalidArgument("{}: byte 8: truncated header length", path);
  size_t len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
  if (major != 1) {
    len |= (static_cast<size_t>(static_cast<unsigned char>(bytes[10])) << 16) |
           (static_cast<size_t>(static_cast<unsigned char>(bytes[11])) << 24);
  }
  if (bytes.size() < start + len) return InvalidArgument("{}: byte {}: header of {} bytes is truncated", path, start, len);
  const std::string header = bytes.substr(start, len);
  if (header.find("'<f4'") == std::string::npos) return InvalidArgument("{}: byte {}: dtype is not '<f4': {}", path, start, header);
  if (header.find("'fortran_order': False") == std::string::npos) {
    return InvalidArgument("{}: byte {}: fortran_order arrays are not supported", path, start);
  }
  const size_t open = header.find('(', header.find("'shape'"));
  const size_t close = header.find(')', open);
  if (open == std::string::npos || close == std::string::npos) return InvalidArgument("{}: byte {}: no shape", path, start);
  engine::Shape shape;
  std::stringstream dims(header.substr(open + 1, close - open - 1));
  std::string d;
  while (std::getline(dims, d, ',')) {
    if (d.find_first_of("0123456789") != std::string::npos) shape.push_back(std::atoll(d.c_str()));
  }
  const int64_t n = engine::NumElements(shape);
  const size_t data = start + len;
  if (bytes.size() - data != static_cast<size_t>(n) * 4) {
    return InvalidArgument("{}: byte {}: {} data bytes, shape {} needs {}", path, data, bytes.size() - data,
                           engine::ShapeToString(shape), n * 4);
  }
  engine::Tensor t = engine::Tensor::Float(shape);
  std::memcpy(t.f.data(), bytes.data() + data, n * 4);
  return t;
#endif
}

// ---------------------------------------------------------------------------------------- model set
struct ModelEntry {
  std::string model, variant, file, input, output;
  engine::Shape input_shape, output_shape;
  int64_t macs = 0, bytes = 0;
  double output_step = 0;  // int8: the output's quantization scale
  std::vector<std::string> inputs;  // .npy files, relative to the model directory
  std::string Label() const { return model + "_" + variant; }
};

// Runs scripts/make_engine_models.py into `dir` unless its models.json is newer than the script.
inline Result<std::vector<ModelEntry>> GenerateModels(const std::string& dir) {
  namespace fs = std::filesystem;
  const std::string script = SourceDir() + "/scripts/make_engine_models.py";
  const std::string index = dir + "/models.json";
  std::error_code ec;
  if (!fs::exists(index) || fs::last_write_time(index, ec) < fs::last_write_time(script, ec)) {
    fs::remove(index, ec);
    const std::string cmd = "/usr/bin/python3 '" + script + "' '" + dir + "' >'" + dir + ".log' 2>&1";
    fs::create_directories(dir, ec);
    if (std::system(cmd.c_str()) != 0 || !fs::exists(index)) {
      std::ifstream log(dir + ".log");
      std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
      return Internal("{} failed: {}", cmd, text);
    }
  }
  std::ifstream in(index);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    return InvalidArgument("{}: {}", index, e.what());
  }
  std::vector<ModelEntry> out;
  for (const auto& m : j.at("models")) {
    ModelEntry e;
    e.model = m.at("model");
    e.variant = m.at("variant");
    e.file = m.at("file");
    e.input = m.at("input");
    e.output = m.at("output");
    e.input_shape = m.at("input_shape").get<engine::Shape>();
    e.output_shape = m.at("output_shape").get<engine::Shape>();
    e.macs = m.at("macs");
    e.bytes = m.at("bytes");
    e.output_step = m.at("output_step");
    e.inputs = m.at("inputs").get<std::vector<std::string>>();
    out.push_back(std::move(e));
  }
  return out;
}

// ---------------------------------------------------------------------------------------- plantfloor
// plantfloor's side: engine::Session (passes, oneDNN kernels, memory plan) when the build has it,
// else the reference interpreter on the imported graph. PF_ENGINE_REFERENCE=1 in the environment
// forces the reference interpreter (to tell an engine bug from a peer difference).
class PfModel {
 public:
  static Result<std::unique_ptr<PfModel>> Load(const std::string& path) {
    engine::ImportOptions io;
#ifdef PF_HAVE_ENGINE_SESSION
    // A session loads 8-bit weights as it builds, as engine::OnnxModel does (the reference cannot).
    if (!ForceReference()) io.defer_8bit_elements = engine::kDeferWeightElements;
#endif
    PF_ASSIGN_OR_RETURN(engine::Graph g, engine::LoadModelFromFile(path, io));
    auto m = std::unique_ptr<PfModel>(new PfModel());
#ifdef PF_HAVE_ENGINE_SESSION
    if (!ForceReference()) {
      PF_ASSIGN_OR_RETURN(m->session_, engine::Session::Create(std::move(g)));
      return m;
    }
#endif
    m->graph_ = std::move(g);
    return m;
  }
  Result<engine::TensorMap> Run(const engine::TensorMap& inputs) {
#ifdef PF_HAVE_ENGINE_SESSION
    if (session_) {
      PF_ASSIGN_OR_RETURN(engine::RunResult r, session_->Run(inputs));
      return std::move(r.outputs);
    }
#endif
    return engine::RunReference(graph_, inputs);
  }
  // What runs plantfloor's side: "session" or "reference".
  static const char* Kind() {
#ifdef PF_HAVE_ENGINE_SESSION
    if (!ForceReference()) return "session";
#endif
    return "reference";
  }
  static bool ForceReference() {
    const char* e = std::getenv("PF_ENGINE_REFERENCE");
    return e && std::string(e) == "1";
  }
  // Session: the kernels chosen ("12 nodes: 9 dnnl, 3 other; arena ...").
  std::string Summary() const {
#ifdef PF_HAVE_ENGINE_SESSION
    if (!session_) return "reference interpreter";
    int dnnl = 0, other = 0;
    for (const auto& k : session_->NodeKernels()) (k.rfind("dnnl:", 0) == 0 ? dnnl : other)++;
    return fmt::format("{} nodes: {} dnnl, {} other; arena {} bytes", dnnl + other, dnnl, other, session_->arena_bytes());
#else
    return "reference interpreter";
#endif
  }

 private:
  PfModel() = default;
#ifdef PF_HAVE_ENGINE_SESSION
  std::unique_ptr<engine::Session> session_;
#endif
  engine::Graph graph_;
};

// ---------------------------------------------------------------------------------------- ORT peer
class OrtPeer {
 public:
  // Starts `node ort_runner.js`. Errors: pipes or fork fail, or the runner does not answer `rss`.
  static Result<std::unique_ptr<OrtPeer>> Start() { return StartCommand({"node", RunnerJs()}, "ort peer"); }
  // Any peer speaking the same line protocol (`rss` and `quit` at least), e.g. bench/pil_preprocess.py;
  // argv[0] is looked up on PATH. `name` prefixes its errors.
  static Result<std::unique_ptr<OrtPeer>> StartCommand(const std::vector<std::string>& argv, const std::string& name) {
    ::signal(SIGPIPE, SIG_IGN);
    int to_child[2], from_child[2];
    if (::pipe(to_child) != 0 || ::pipe(from_child) != 0) return Internal("{}: pipe failed", name);
    const pid_t pid = ::fork();
    if (pid < 0) return Internal("{}: fork failed", name);
    if (pid == 0) {
      ::dup2(to_child[0], 0);
      ::dup2(from_child[1], 1);
      ::close(to_child[0]); ::close(to_child[1]); ::close(from_child[0]); ::close(from_child[1]);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
    ::close(to_child[0]);
    ::close(from_child[1]);
    auto p = std::unique_ptr<OrtPeer>(new OrtPeer());
    p->name_ = name;
    p->pid_ = pid;
    p->in_ = to_child[1];
    p->out_ = ::fdopen(from_child[0], "r");
    PF_RETURN_IF_ERROR(p->Command("rss").status().WithContext(name + ": " + argv.back()));
    return p;
  }
  ~OrtPeer() {
    if (in_ >= 0) {
      const char q[] = "quit\n";
      [[maybe_unused]] auto n = ::write(in_, q, sizeof q - 1);
      ::close(in_);
    }
    if (out_) std::fclose(out_);
    if (pid_ > 0) ::waitpid(pid_, nullptr, 0);
  }
  OrtPeer(const OrtPeer&) = delete;
  OrtPeer& operator=(const OrtPeer&) = delete;

  // Sends one command line; returns the words after "ok". `err ...` and a dead peer are errors.
  Result<std::vector<std::string>> Command(const std::string& line) {
    const std::string l = line + "\n";
    if (::write(in_, l.data(), l.size()) != static_cast<ssize_t>(l.size())) {
      return Unavailable("{}: '{}': write failed (peer exited?)", name_, line);
    }
    char* buf = nullptr;
    size_t cap = 0;
    const ssize_t n = ::getline(&buf, &cap, out_);
    std::string reply = n > 0 ? std::string(buf, n) : "";
    std::free(buf);
    while (!reply.empty() && (reply.back() == '\n' || reply.back() == '\r')) reply.pop_back();
    if (n <= 0) return Unavailable("{}: '{}': no reply (peer exited)", name_, line);
    std::istringstream words(reply);
    std::string w;
    words >> w;
    if (w != "ok") return Internal("{}: '{}': {}", name_, line, reply);
    std::vector<std::string> out;
    while (words >> w) out.push_back(w);
    return out;
  }

 private:
  OrtPeer() = default;
  std::string name_ = "ort peer";
  pid_t pid_ = -1;
  int in_ = -1;
  FILE* out_ = nullptr;
};

// Index of the largest element (first on ties).
inline int64_t ArgMax(const engine::Tensor& t) {
  int64_t best = 0;
  for (int64_t k = 1; k < static_cast<int64_t>(t.f.size()); ++k) {
    if (t.f[k] > t.f[best]) best = k;
  }
  return best;
}

}  // namespace pf::ort
