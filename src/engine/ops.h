#pragma once
// The operator table: for every ONNX op the engine runs, a shape function (static shape
// inference) and a reference fp32 kernel (plain C++, clarity over speed).
//
// Contract: Infer() sees only dtypes, shapes and, where an input is a constant, its value (Reshape,
// Slice, ... need those); it checks the inputs and attributes against the ONNX spec at `opset` and
// returns the outputs' dtypes and shapes. Run() gets the real tensors plus Infer()'s result for the
// same inputs and returns the outputs. An input that the node omits is nullptr. Errors name the node.
// kUnimplemented means "valid ONNX, outside what this engine supports" (a dtype, a mode).
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/graph.h"

namespace pf::engine {

struct TensorInfo {
  DType dtype = DType::kFloat;
  Shape shape;
  const Tensor* value = nullptr;  // set when the value is known (constant, or at run time)
};

using InferFn = Result<std::vector<TensorInfo>> (*)(const Node&, const std::vector<const TensorInfo*>&, int64_t opset);
using RunFn = Result<std::vector<Tensor>> (*)(const Node&, const std::vector<const Tensor*>&,
                                              const std::vector<TensorInfo>& outputs, int64_t opset);

struct OpDef {
  const char* op_type;
  InferFn infer;
  RunFn run;
};

// nullptr when the op is not in the table.
const OpDef* FindOp(const std::string& op_type);
bool IsSupportedOp(const std::string& op_type);
// Every op in the table, sorted.
std::vector<std::string> SupportedOps();

}  // namespace pf::engine
