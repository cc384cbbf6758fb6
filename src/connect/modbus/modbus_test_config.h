#pragma once
// Test helper: builds ConfigNode tables by hand, as runtime/ would from TOML, with a fake location.
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "core/config.h"

namespace pf::modbus::testing {

using Field = std::pair<std::string, std::variant<int64_t, double, std::string, bool>>;

inline ConfigNode Table(const std::string& path, int line, const std::vector<Field>& fields) {
  ConfigNode t;
  t.kind = ConfigNode::Kind::kTable;
  t.loc = {"plant.toml", line};
  t.path = path;
  for (const auto& [key, value] : fields) {
    ConfigNode n;
    n.loc = {"plant.toml", line};
    n.path = path + "." + key;
    if (auto* i = std::get_if<int64_t>(&value)) n.kind = ConfigNode::Kind::kInt, n.i = *i;
    if (auto* d = std::get_if<double>(&value)) n.kind = ConfigNode::Kind::kDouble, n.d = *d;
    if (auto* s = std::get_if<std::string>(&value)) n.kind = ConfigNode::Kind::kString, n.s = *s;
    if (auto* b = std::get_if<bool>(&value)) n.kind = ConfigNode::Kind::kBool, n.b = *b;
    t.fields.emplace_back(key, std::move(n));
  }
  return t;
}

}  // namespace pf::modbus::testing
