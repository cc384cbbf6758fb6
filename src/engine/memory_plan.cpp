// Static memory plan (engine/memory_plan.h): greedy best-fit by size, largest first.
#include "engine/memory_plan.h"

#include <algorithm>
#include <limits>

namespace pf::engine {
namespace {

int64_t AlignUp(int64_t v) { return (v + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment; }

struct Placed {
  int64_t offset;
  int64_t size;
  int first;
  int last;
};

}  // namespace

MemoryPlan PlanMemory(const std::vector<TensorLifetime>& tensors) {
  MemoryPlan plan;
  std::vector<size_t> order(tensors.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (tensors[a].bytes != tensors[b].bytes) return tensors[a].bytes > tensors[b].bytes;
    return tensors[a].first_use < tensors[b].first_use;
  });
  std::vector<Placed> placed;
  for (size_t k : order) {
    const TensorLifetime& t = tensors[k];
    const int64_t size = AlignUp(std::max<int64_t>(t.bytes, 0));
    if (size == 0) {
      plan.offset[t.name] = 0;
      continue;
    }
    // Blocks live at the same time as t, by offset.
    std::vector<Placed> live;
    for (const auto& p : placed) {
      if (p.first <= t.last_use && t.first_use <= p.last) live.push_back(p);
    }
    std::sort(live.begin(), live.end(), [](const Placed& a, const Placed& b) { return a.offset < b.offset; });
    // Best fit: the smallest gap between live blocks that holds `size`; else after the last one.
    int64_t best = -1;
    int64_t best_waste = std::numeric_limits<int64_t>::max();
    int64_t cursor = 0;
    for (const auto& p : live) {
      if (p.offset > cursor) {
        const int64_t gap = p.offset - cursor;
        if (gap >= size && gap - size < best_waste) {
          best = cursor;
          best_waste = gap - size;
        }
      }
      cursor = std::max(cursor, p.offset + p.size);
    }
    if (best < 0) best = cursor;
    placed.push_back({best, size, t.first_use, t.last_use});
    plan.offset[t.name] = best;
    plan.arena_bytes = std::max(plan.arena_bytes, best + size);
  }
  return plan;
}

}  // namespace pf::engine
