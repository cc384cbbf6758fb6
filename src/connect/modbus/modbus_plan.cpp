#include "connect/modbus/modbus_plan.h"

#include <algorithm>
#include <numeric>

namespace pf::modbus {

Result<std::vector<ReadBlock>> PlanBlocks(std::span<const PlanItem> items, const PlanOptions& options) {
  std::vector<size_t> order(items.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (items[a].table != items[b].table) return items[a].table < items[b].table;
    return items[a].offset < items[b].offset;
  });
  std::vector<ReadBlock> blocks;
  int block_end = 0;  // one past the last register of the current block
  for (size_t idx : order) {
    const PlanItem& it = items[idx];
    int limit = IsBitTable(it.table) ? options.max_bits : options.max_registers;
    int end = it.offset + it.count;
    if (it.count == 0 || it.count > limit)
      return InvalidArgument("{} {}: {} {} per item, limit is {}", TableLongName(it.table), it.offset, it.count,
                             IsBitTable(it.table) ? "bits" : "registers", limit);
    if (end > 65536)
      return InvalidArgument("{} {} + {} runs past offset 65535", TableLongName(it.table), it.offset, it.count);
    bool joins = !blocks.empty() && blocks.back().table == it.table && it.offset <= block_end + options.max_gap &&
                 std::max(end, block_end) - blocks.back().start <= limit;
    if (joins) {
      block_end = std::max(end, block_end);
      blocks.back().count = static_cast<uint16_t>(block_end - blocks.back().start);
      blocks.back().items.push_back(idx);
    } else {
      blocks.push_back(ReadBlock{it.table, it.offset, it.count, {idx}});
      block_end = end;
    }
  }
  return blocks;
}

}  // namespace pf::modbus
