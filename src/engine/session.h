#pragma once
// Session: the optimized engine that apps and the CLI run models with.
//
// Create() does all the work that can be done once: the graph passes (engine/passes.h), static
// shape inference (every value's dtype and shape fixed), one kernel per node, and a static memory
// plan (engine/memory_plan.h) over every non-constant value at its native element size (float 4,
// u8/s8/bool 1, int32 4, int64 8) with ONE arena allocated here. Kernels, in order of preference:
//   "dnnl:"   oneDNN (engine/dnnl_kernels.h) for Conv / QLinearConv / Gemm / MatMul / QLinearMatMul /
//             PfQLinearGemm with constant weights, when use_dnnl; consecutive convolutions pass
//             activations in oneDNN's own layout, and so does a residual PfQLinearAdd between
//             them (reorders only at the chain's edges: reorders(); chain_layouts = false turns
//             this off);
//   "native:" plain loops in this file with the reference arithmetic, exact to it: per-tensor
//             QuantizeLinear / DequantizeLinear / PfQLinearAdd (same shapes), MaxPool (1-D/2-D),
//             GlobalAveragePool (float);
//   "copy:"   Reshape / Flatten / Squeeze / Unsqueeze / Identity (a byte copy);
//   "ref:"    the op table's reference kernel, for everything else.
// Run() then only checks the inputs, executes the kernels on the arena and copies the graph
// outputs out:
//   - dnnl, native and copy kernels read and write the arena directly and allocate no tensor
//     data (oneDNN 2.6's primitive execute still allocates its small argument maps: ~18 blocks
//     of <= 144 bytes per call, measured);
//   - reference-kernel nodes (reference_nodes() of them) go through Tensor: their inputs are
//     converted out of the arena and their outputs back in, which allocates;
//   - float and int64 graph inputs are read in place from the caller's tensors (not copied).
// Static shapes only (batch-1 edge models): a graph input dimension that is unknown (-1) is taken
// from SessionOptions::input_shapes, or else fixed to 1 with a logged note.
//
// Deadlines: Run(inputs, deadline) always completes; when the run took longer than the deadline
// the result is marked late and counted (runs(), late_runs(), and the metrics below); the caller
// chooses its fail-safe. Latency is measured with steady_clock over the whole Run().
//
// Threads: options.threads (default 1) is applied with omp_set_num_threads() on the calling
// thread before each run, so two Sessions with different thread counts can live in one process
// (each Run() sets its own count). OpenMP's wait policy must be passive so that idle OpenMP
// workers sleep instead of spinning against sensor ingestion: start the process with
// OMP_WAIT_POLICY=passive. libgomp reads that variable when it is loaded, before main(), so
// EnsurePassiveOpenMp() (called by Create) can only set it for libraries loaded later and warns
// once when the process did not start with it (measured: without it, libgomp spins 300000
// iterations after each parallel region; with it, 0).
//
// Metrics (optional SessionOptions::metrics, which must outlive the Session):
//   pf_model_latency_seconds{model=<model_name>} (histogram), pf_model_runs_total{model=...},
//   pf_model_late_total{model=...}.
//
// Thread-safety: one Run() at a time per Session (it owns one arena); distinct Sessions are
// independent and may run concurrently in one process.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/metrics.h"
#include "core/status.h"
#include "engine/graph.h"
#include "engine/interpreter.h"
#include "engine/passes.h"

namespace pf::engine {

struct SessionOptions {
  int threads = 1;          // OpenMP threads used by the kernels of this session (>= 1)
  bool optimize = true;     // run passes::Optimize with `passes`
  bool use_dnnl = true;     // oneDNN kernels for the heavy ops; false: their reference kernels
  bool chain_layouts = true;  // keep activations between oneDNN convolutions in oneDNN's layout
  PassOptions passes;
  // int8 weights requantized to 7 bits (oneDNN's remedy for u8 x s8 saturation on CPUs without
  // VNNI; an approximation of one weight step, see engine/dnnl_kernels.h). Unset: when the effective
  // ISA lacks VNNI (dnnl_kernels::Int8MaySaturate()), quantized ops whose weights fit 7 bits run
  // int8 (exact) and the others keep their QDQ form and run in fp32 (PassOptions::int8_weight_limit);
  // true: every int8 op runs with 7-bit weights (fast, approximate); false: 8-bit weights as given
  // (may saturate without VNNI).
  std::optional<bool> int8_reduce_range;
  // Concrete shapes for graph inputs with unknown (-1) dimensions, by input name.
  std::map<std::string, Shape> input_shapes;
  MetricsRegistry* metrics = nullptr;  // optional; must outlive the Session
  std::string model_name = "model";    // the `model` label of the metrics, and error context
  bool profile = false;                // time every node (node_time_ms); two clock reads per node
  // False: constants read only by oneDNN kernels (which copy them at Create) are released once
  // built, so weights are held once; graph() then keeps their dtype and shape only.
  bool keep_constants = false;
};

struct RunResult {
  TensorMap outputs;
  double latency_ms = 0;
  bool late = false;
};

class Session {
 public:
  // Takes the graph by value (it is rewritten by the passes). Errors: the graph does not
  // optimize or infer (names the node or input), an input shape in options does not fit the
  // declared one, a kernel cannot be created (names the node).
  static Result<std::unique_ptr<Session>> Create(Graph graph, const SessionOptions& options = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Runs the model. `inputs` must hold exactly the graph inputs with their dtype and shape
  // (errors name the input and show expected vs given). `deadline`, when given, marks the
  // result late if the run took longer (the run is never cut short).
  Result<RunResult> Run(const TensorMap& inputs, std::optional<std::chrono::nanoseconds> deadline = {});

  // After the passes, with static shapes; without keep_constants the weights copied into oneDNN
  // kernels hold no data here (RunReference on it says so).
  const Graph& graph() const;
  const PassReport& report() const;
  int64_t arena_bytes() const;  // the static plan's arena size
  int64_t released_constant_bytes() const;  // weights released after their oneDNN kernels copied them
  // Sum of the byte sizes of all planned values (what the arena would need without reuse).
  int64_t planned_bytes() const;
  // One entry per node of graph(): "dnnl:conv_int8", "ref:Softmax", "copy:Reshape",
  // "native:QuantizeLinear", ...
  std::vector<std::string> NodeKernels() const;
  // One entry per node: oneDNN's implementation ("brgconv:avx512_core_vnni"), "" for other kernels.
  std::vector<std::string> NodeImpls() const;
  int reference_nodes() const;  // nodes that run through the reference kernels (allocate per run)
  // Layout conversions per run between row-major and oneDNN-native buffers (at the edges of
  // chains of oneDNN convolutions; the kernels' Execute() may still reorder inside).
  int reorders() const;
  const std::vector<ValueInfo>& inputs() const;   // static shapes
  const std::vector<ValueInfo>& outputs() const;  // static shapes
  // With options.profile: per node of graph(), the total milliseconds spent in it over all runs.
  std::vector<double> node_time_ms() const;
  uint64_t runs() const;
  uint64_t late_runs() const;
  int threads() const;

  // Sets OMP_WAIT_POLICY=passive in the environment when unset (see the header comment); returns
  // whether the process started with OMP_WAIT_POLICY=passive. Idempotent, thread-safe.
  static bool EnsurePassiveOpenMp();

  struct Impl;  // internal to session.cpp (public so its kernel classes can name it)

 private:
  explicit Session(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pf::engine
