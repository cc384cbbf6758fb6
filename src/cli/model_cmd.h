#pragma once
// `plantfloor model`: look at, run and time an inference model (ONNX or XGBoost; engine/model.h).
//   plantfloor model inspect M [--json]
//       kind, file size and hash; ONNX: opset, operators with counts (unsupported ones marked),
//       inputs/outputs with shapes, parameter count, MACs per Conv/ConvTranspose/Gemm/MatMul/
//       QLinearConv/QLinearMatMul node and in total, the nodes that run int8 after the graph
//       passes (engine/passes.h: QLinearConv, QLinearMatMul, PfQLinearGemm, PfQLinearAdd);
//       XGBoost: features, outputs per row, rounds, objective; and the manifest.
//   plantfloor model run M --input x.npy [--input name=y.npy ...] --output out.npy [--json]
//       one input file per model input ("path" for a model with one input, else "name=path"), one
//       --output per output to save ("path" when the model has one output, else "name=path"); prints
//       every output's shape and (up to 16) values, with the manifest's class name of the argmax.
//   plantfloor model bench M [--threads 1] [--runs N] [--json]
//       random inputs of the declared shapes (-1 -> 1) and dtypes, warm-up runs (N/10, 1..10), then N
//       timed runs: p50/p99/mean/min latency in ms, and peak RSS minus the RSS before loading
//       (VmHWM after the runs minus VmRSS before, the peak reset through /proc/self/clear_refs).
// --reference runs the reference kernels (a Session without graph passes and without oneDNN).
// Exit codes: 0 done, 2 bad arguments or bad input (model, .npy, manifest: the message says where
// and what), 1 anything else (an output file cannot be written).
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace pf {

struct ModelArgs {
  std::string action;  // inspect | run | bench
  std::string model;
  std::vector<std::string> inputs;   // run: "path" or "name=path"
  std::vector<std::string> outputs;  // run: "path" or "name=path"
  bool json = false;
  int threads = 1;
  int runs = 200;
  bool reference = false;
  unsigned seed = 1;
  bool profile = false;  // bench: time per node (ONNX)
  // quantize
  std::string output_model;
  std::string calibration;              // directory of .npy inputs
  std::string eval;                     // directory of labelled .npy inputs (class name before the last '_')
  std::string method = "minmax";
  double percentile = 99.99;
  bool per_channel = false;
  std::optional<bool> reduce_range;     // unset: on when oneDNN's ISA here lacks VNNI
  int max_samples = 500;
  // prune
  double prune_channels = 0.3;
  // fit
  std::string fit_profile = "native";   // native | avx2 (oneDNN capped at AVX2: a fanless PC without VNNI)
  double budget_ms = 0;                 // p99 latency budget per inference
  double budget_mb = 0;                 // memory budget for the model (MiB)
  double used_mb = 0;                   // of the budget, already used by the running process
  std::string self_exe = "/proc/self/exe";  // the plantfloor binary that measures (tests set it)
  // distill (output_model: the student; eval as above)
  std::string teacher;                  // the teacher model (.onnx or any model LoadModel takes)
  std::string data;                     // directory of .npy feature rows, [F] or [1, F] or [N, F] per file
  std::string student = "trees";        // the student kind (only "trees")
  int rounds = 20, max_depth = 4, augment = 4;
  double eta = 0.3;
  double noise = 0.5, mix = 0.5;        // synthetic rows: noise in feature SDs, largest interpolation fraction
};

// Returns the exit code; the report to out, errors to err ("error: ..." lines).
int RunModelCommand(const ModelArgs& args, std::ostream& out, std::ostream& err);

// Registers `model inspect|run|bench` under app; callbacks exit with RunModelCommand's code.
void AddModelCommand(CLI::App& app);

}  // namespace pf
