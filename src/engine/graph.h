#pragma once
// The engine's graph IR: what an imported ONNX model becomes before any pass or kernel sees it.
//
// A Graph owns its nodes (kept in a topological order once SortTopologically() succeeded),
// its constant tensors (initializers and Constant nodes, by value name) and the declared
// graph inputs/outputs. Value names are the ONNX names; "" in a node's inputs is an omitted
// optional input. Plain value type; not thread-safe for concurrent mutation.
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/tensor.h"

namespace pf::engine {

struct Attribute {
  enum class Kind { kInt, kFloat, kString, kInts, kFloats, kTensor };
  Kind kind = Kind::kInt;
  int64_t i = 0;
  float f = 0.0f;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<float> floats;
  std::optional<Tensor> t;
};

struct Node {
  std::string name;     // may be "" in ONNX files; Label() then uses the first output
  std::string op_type;  // "Conv"
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  std::map<std::string, Attribute> attrs;

  // "node 'conv1' (Conv)"
  std::string Label() const;
  bool Has(const std::string& attr) const { return attrs.count(attr) != 0; }
  int64_t Int(const std::string& attr, int64_t def) const;
  float Float(const std::string& attr, float def) const;
  std::string Str(const std::string& attr, const std::string& def) const;
  std::vector<int64_t> Ints(const std::string& attr, std::vector<int64_t> def = {}) const;
  // The i-th input name, or "" when absent.
  const std::string& Input(size_t k) const;
};

// A declared graph input or output. Unknown (symbolic) dimensions are -1.
struct ValueInfo {
  std::string name;
  DType dtype = DType::kFloat;
  Shape shape;
};

struct Graph {
  int64_t opset = 0;  // the default ('' / ai.onnx) domain's opset
  std::vector<Node> nodes;
  std::map<std::string, Tensor> constants;  // initializers and Constant node outputs
  std::vector<ValueInfo> inputs;            // graph inputs that are not initializers
  std::vector<ValueInfo> outputs;
  // Loads a deferred constant (Tensor::deferred) by name; set by the importer when asked to defer
  // (ImportOptions::defer_8bit_elements), so weights are held as 8-bit bytes rather than int64
  // elements until a kernel takes them. Copies of the graph share the source.
  std::function<Result<Tensor>(const std::string& name)> load_deferred;

  // Reorders nodes so every node comes after the producers of its inputs (Kahn's algorithm,
  // stable for an already-sorted graph). Errors: a cycle (names a node on it), an input that no
  // node, graph input or constant produces, a value produced twice.
  Status SortTopologically();
  // Loads constant `name` if it is deferred (no-op otherwise, and for names that are not constants).
  Status MaterializeConstant(const std::string& name);
};

}  // namespace pf::engine
