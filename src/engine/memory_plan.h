#pragma once
// Static memory plan: one arena for all intermediate tensors of a graph, offsets fixed at load
// time so that inference allocates nothing.
//
// Contract: given each tensor's byte size and the node indices of its first and last use
// (inclusive), PlanMemory assigns 64-byte aligned offsets such that no two tensors whose
// [first_use, last_use] intervals intersect overlap in the arena. Greedy best-fit: tensors are
// placed by size, largest first, each at the lowest-waste gap that is free during its whole
// lifetime. The arena is at most the sum of the (aligned) sizes and at least the largest live
// set. Tensors with bytes == 0 get offset 0 and take no space. Names must be unique.
//
// Thread-safety: a pure function; safe to call concurrently.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace pf::engine {

struct TensorLifetime {
  std::string name;
  int64_t bytes = 0;
  int first_use = 0;  // node index that produces (or first reads) the tensor
  int last_use = 0;   // last node index that reads it (inclusive)
};

struct MemoryPlan {
  int64_t arena_bytes = 0;
  std::map<std::string, int64_t> offset;  // 64-byte aligned
};

inline constexpr int64_t kArenaAlignment = 64;

MemoryPlan PlanMemory(const std::vector<TensorLifetime>& tensors);

}  // namespace pf::engine
