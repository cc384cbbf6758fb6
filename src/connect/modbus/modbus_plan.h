#pragma once
// Block planner: merges the reads of many tags into few requests. Pure, thread-safe.
// Per table, items sorted by offset are merged while the gap between the end of the block and the
// next item is <= max_gap (registers or bits) and the block stays within the protocol limit
// (125 registers for function 3/4, 2000 bits for function 1/2). Overlapping items share a block.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "connect/modbus/modbus_address.h"
#include "core/status.h"

namespace pf::modbus {

constexpr int kMaxRegistersPerRequest = 125;
constexpr int kMaxBitsPerRequest = 2000;

struct PlanItem {
  Table table = Table::kHoldingRegister;
  uint16_t offset = 0;
  uint16_t count = 1;  // registers (or bits) the item reads
};

struct PlanOptions {
  int max_gap = 10;                           // unused registers a block may read to join two items
  int max_registers = kMaxRegistersPerRequest;  // 1..125
  int max_bits = kMaxBitsPerRequest;            // 1..2000
};

struct ReadBlock {
  Table table = Table::kHoldingRegister;
  uint16_t start = 0;
  uint16_t count = 0;
  std::vector<size_t> items;  // indexes into the planned item list
};

// Every item lands in exactly one block. InvalidArgument when an item alone exceeds the limit
// or runs past offset 65535.
Result<std::vector<ReadBlock>> PlanBlocks(std::span<const PlanItem> items, const PlanOptions& options);

}  // namespace pf::modbus
