#pragma once
// Graph passes: rewrite an imported Graph into the form the optimized engine runs.
//
// Contract: Optimize() changes `g` in place and leaves it runnable by RunReference with the same
// outputs (fp32 passes: equal up to float rounding; the QDQ -> QLinear rewrite: within one
// quantization step of the output, because the quantized ops accumulate in int32 exactly where the
// QDQ graph rounds an fp32 result). Fusions are expressed with ordinary nodes carrying "pf_"
// attributes that the reference kernels honour:
//   - Conv / Gemm / MatMul / QLinearConv / QLinearMatMul / PfQLinearGemm / PfQLinearAdd:
//     pf_activation ("Relu", "Clip", "LeakyRelu", "HardSigmoid", "HardSwish", "Sigmoid", "Tanh")
//     with pf_min / pf_max (Clip) and pf_alpha / pf_beta (LeakyRelu, HardSigmoid). On quantized
//     ops the activation applies to the real accumulator value before requantization.
//   - fp32 Conv: pf_sum = 1 adds one extra LAST input (the output's shape) after the bias and
//     before the activation: y = act(conv(x) + b + s). Omitted optional inputs stay "".
//   - BatchNormalization after a Conv is folded into new weight/bias constants.
//   - QDQ patterns become QLinearConv, QLinearMatMul (standard ONNX), PfQLinearGemm
//     (a, a_scale, a_zp, w, w_scale, w_zp, y_scale, y_zp, bias int32 or "", attr transB) and
//     PfQLinearAdd (a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp) and, for DQ ->
//     GlobalAveragePool -> Q, PfQLinearGlobalAveragePool (x, x_scale, x_zp, y_scale, y_zp), as
//     ONNX Runtime fuses them (arithmetic: ops_quant.cpp). Int32 bias is
//     round(b / (x_scale * w_scale[c])). A pattern that does not match exactly stays unfused.
// Passes run in this order: constant folding (DequantizeLinear kept while the QDQ rewrite is on),
// BatchNorm folding, QDQ rewrite, dead node removal, constant folding of the DequantizeLinear
// nodes no pattern took, Add fusion, activation fusion, dead node removal, topological sort,
// then shape inference as a check. The QDQ and Add passes need static shapes: on a graph with
// a dynamic input dimension they are skipped. Optimizing an optimized graph changes nothing.
//
// Thread-safety: a pure function of its arguments; concurrent calls on different graphs are safe.
#include <string>

#include "core/status.h"
#include "engine/graph.h"

namespace pf::engine {

struct PassOptions {
  bool fold_constants = true;
  bool fold_batchnorm = true;
  bool fuse_activation = true;
  bool fuse_add = true;
  bool qdq_to_qlinear = true;
  bool remove_dead = true;
  // Conv/Gemm/MatMul whose constant int8 weights exceed this magnitude keep their QDQ form and run
  // in fp32 (DequantizeLinear -> op -> QuantizeLinear). 127: no limit. 64 on CPUs without VNNI,
  // where u8 x s8 products of wider weights saturate (engine/dnnl_kernels.h): the fp32 form stays
  // within a quantization step of the integer result, where 7-bit requantization would not.
  int int8_weight_limit = 127;
};

struct PassReport {
  int folded_constants = 0;   // nodes evaluated at load time (their outputs became constants)
  int folded_batchnorms = 0;  // BatchNormalization nodes merged into a Conv
  int fused_activations = 0;  // activation nodes merged into their producer as pf_activation
  int fused_adds = 0;         // Add nodes merged into a Conv as pf_sum
  int qlinear_nodes = 0;      // quantized nodes created from QDQ patterns
  int removed_nodes = 0;      // nodes whose outputs reach no graph output
  int wide_weight_nodes = 0;  // QDQ patterns left in fp32: weights beyond PassOptions::int8_weight_limit
  // "folded_constants=3 folded_batchnorms=1 ..."
  std::string ToString() const;
};

// Runs the enabled passes on `g`. Errors: the graph is invalid before (sorting or shape
// inference fails) or a pass broke it (kInternal, naming the pass and node).
Result<PassReport> Optimize(Graph& g, const PassOptions& options = {});

}  // namespace pf::engine
