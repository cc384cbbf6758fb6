#pragma once
// Post-training static quantization (issue 9 item 2): an fp32 ONNX model becomes a standard QDQ
// ONNX model (QuantizeLinear/DequantizeLinear around the quantized tensors; ONNX Runtime runs it
// too) that engine::Session turns into int8 kernels.
//
// What is quantized:
//   - weights of Conv, Gemm and MatMul with a constant fp32 weight: s8, symmetric (zero point 0),
//     per tensor or per output channel (Conv axis 0; Gemm axis 0 with transB = 1, else 1; MatMul
//     axis 1), within [-127, 127], or [-64, 64] with reduce_range (weights that cannot saturate the
//     u8 x s8 products of CPUs without VNNI, see dnnl_kernels.h);
//   - activations: u8, asymmetric, on the activation inputs of Conv, Gemm, MatMul, Add,
//     GlobalAveragePool and MaxPool and on their outputs (after a Relu or Clip that is their only
//     consumer); a MaxPool output takes its input's parameters (so it runs on the 8-bit tensor).
//     Graph outputs stay fp32. Biases stay fp32 (the session quantizes them at load).
// Calibration: the fp32 model runs (engine::Session) on every calibration input with the tensors
// above as extra outputs; the range of each comes from
//   minmax      the observed minimum and maximum (0 always inside the range);
//   percentile  the `percentile` and 100 - `percentile` percentiles of a uniform sample of up to
//               2^20 values per tensor;
//   entropy     the clipping threshold of the positive side that minimises the KL divergence between
//               the 2048-bin histogram and its 255-level quantization (the TensorRT method), for the
//               upper bound; the lower bound as for minmax.
// The manifest (metadata_props "pf.manifest") keeps its content with model_sha256 updated to the new
// graph. Errors: not an fp32 ONNX model, an opset below 13 (per-channel DequantizeLinear needs 13),
// no calibration input, inputs that do not fit the model (names the input and file).
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "engine/interpreter.h"  // TensorMap
#include "engine/tensor.h"

namespace pf::engine {

struct QuantizeOptions {
  std::string method = "minmax";  // minmax | percentile | entropy
  double percentile = 99.99;      // percentile method: the upper percentile kept (lower: 100 - p)
  bool per_channel = false;
  bool reduce_range = false;      // weights within [-64, 64]
};

struct QuantizeReport {
  int quantized_weights = 0;      // Conv/Gemm/MatMul weights written as s8
  int quantized_activations = 0;  // activation tensors given a QuantizeLinear/DequantizeLinear pair
  int calibration_inputs = 0;
  std::vector<std::string> notes;  // what stayed fp32 and why
};

// `calibration`: one TensorMap per calibration sample (every model input by name).
Result<std::string> QuantizeModel(std::string_view fp32_model, const std::vector<TensorMap>& calibration,
                                  const QuantizeOptions& options, QuantizeReport* report = nullptr);

}  // namespace pf::engine
