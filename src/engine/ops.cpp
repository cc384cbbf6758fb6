#include "engine/ops.h"

#include <algorithm>

#include "engine/ops_table.h"

namespace pf::engine {
namespace {
const std::vector<OpDef>& Table() {
  static const std::vector<OpDef> table = [] {
    std::vector<OpDef> t;
    op::RegisterElementwise(&t);
    op::RegisterMath(&t);
    op::RegisterNn(&t);
    op::RegisterLayout(&t);
    op::RegisterConvTranspose(&t);
    op::RegisterQuant(&t);
    return t;
  }();
  return table;
}
}  // namespace

const OpDef* FindOp(const std::string& op_type) {
  for (const auto& d : Table()) {
    if (op_type == d.op_type) return &d;
  }
  return nullptr;
}

bool IsSupportedOp(const std::string& op_type) { return FindOp(op_type) != nullptr; }

std::vector<std::string> SupportedOps() {
  std::vector<std::string> names;
  for (const auto& d : Table()) names.emplace_back(d.op_type);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace pf::engine
