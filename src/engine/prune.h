#pragma once
// Structured pruning (issue 9 item 3): whole output channels of convolutions leave the graph, so
// the dense kernels do less work (zeroed weights would gain nothing). For each Conv (group 1, fp32
// initializer weights, optional bias) whose output reaches exactly one weighted consumer through
// per-channel ops only, the `channels` fraction of its output channels with the smallest L1 norm
// of weights is removed there and in everything downstream of it:
//   per-channel ops passed through: Relu, LeakyRelu, Clip, Sigmoid, Tanh, HardSigmoid, HardSwish,
//   BatchNormalization (its parameters sliced), MaxPool, AveragePool, GlobalAveragePool, and a
//   Flatten after a global pool;
//   the consumer: a Conv (group 1; its input channels sliced), or a Gemm / MatMul with a constant
//   weight reading the pooled channels as features (its input rows sliced).
// Every value on the path must have one reader and must not be a graph output, and the weights must
// not be shared. Other convolutions stay whole (listed in the report). The manifest (if any) keeps
// its content with model_sha256 updated. The pruned model needs fine-tuning to recover accuracy
// (scripts/train/neu_finetune.py).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace pf::engine {

struct PruneOptions {
  double channels = 0.3;  // fraction of each prunable conv's output channels removed (0 < f < 1)
};

struct PruneReport {
  int pruned_convs = 0;
  int64_t channels_before = 0, channels_after = 0;  // over the pruned convs
  std::vector<std::string> notes;                   // convolutions left whole, and why
};

Result<std::string> PruneModel(std::string_view fp32_model, const PruneOptions& options, PruneReport* report = nullptr);

}  // namespace pf::engine
