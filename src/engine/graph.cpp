#include "engine/graph.h"

#include <deque>
#include <set>

namespace pf::engine {

std::string Node::Label() const {
  std::string n = name.empty() && !outputs.empty() ? outputs[0] : name;
  return fmt::format("node '{}' ({})", n, op_type);
}

int64_t Node::Int(const std::string& attr, int64_t def) const {
  auto it = attrs.find(attr);
  return it == attrs.end() ? def : it->second.i;
}

float Node::Float(const std::string& attr, float def) const {
  auto it = attrs.find(attr);
  return it == attrs.end() ? def : it->second.f;
}

std::string Node::Str(const std::string& attr, const std::string& def) const {
  auto it = attrs.find(attr);
  return it == attrs.end() ? def : it->second.s;
}

std::vector<int64_t> Node::Ints(const std::string& attr, std::vector<int64_t> def) const {
  auto it = attrs.find(attr);
  return it == attrs.end() ? def : it->second.ints;
}

const std::string& Node::Input(size_t k) const {
  static const std::string kEmpty;
  return k < inputs.size() ? inputs[k] : kEmpty;
}

Status Graph::SortTopologically() {
  std::map<std::string, size_t> producer;
  for (size_t n = 0; n < nodes.size(); ++n) {
    for (const auto& out : nodes[n].outputs) {
      if (out.empty()) continue;
      if (producer.count(out) || constants.count(out)) {
        return InvalidArgument("{}: value '{}' is produced more than once", nodes[n].Label(), out);
      }
      producer[out] = n;
    }
  }
  std::set<std::string> sources;
  for (const auto& in : inputs) sources.insert(in.name);
  for (const auto& [name, _] : constants) sources.insert(name);

  std::vector<int> pending(nodes.size(), 0);
  std::vector<std::vector<size_t>> users(nodes.size());
  for (size_t n = 0; n < nodes.size(); ++n) {
    for (const auto& in : nodes[n].inputs) {
      if (in.empty() || sources.count(in)) continue;
      auto it = producer.find(in);
      if (it == producer.end()) {
        return InvalidArgument("{}: input '{}' is not a graph input, an initializer or any node's output",
                               nodes[n].Label(), in);
      }
      ++pending[n];
      users[it->second].push_back(n);
    }
  }
  std::deque<size_t> ready;
  for (size_t n = 0; n < nodes.size(); ++n) {
    if (pending[n] == 0) ready.push_back(n);
  }
  std::vector<Node> sorted;
  sorted.reserve(nodes.size());
  std::vector<bool> done(nodes.size(), false);
  while (!ready.empty()) {
    size_t n = ready.front();
    ready.pop_front();
    done[n] = true;
    sorted.push_back(nodes[n]);
    for (size_t u : users[n]) {
      if (--pending[u] == 0) ready.push_back(u);
    }
  }
  if (sorted.size() != nodes.size()) {
    for (size_t n = 0; n < nodes.size(); ++n) {
      if (!done[n]) return InvalidArgument("{}: the graph has a cycle through this node", nodes[n].Label());
    }
  }
  nodes = std::move(sorted);
  return Status::Ok();
}

Status Graph::MaterializeConstant(const std::string& name) {
  auto it = constants.find(name);
  if (it == constants.end() || !it->second.deferred) return Status::Ok();
  if (!load_deferred) return FailedPrecondition("constant '{}' is deferred but its source is gone", name);
  PF_ASSIGN_OR_RETURN(Tensor t, load_deferred(name));
  if (t.dtype != it->second.dtype || t.shape != it->second.shape) {
    return Internal("constant '{}': the deferred load gave {} {}, the graph said {} {}", name, DTypeName(t.dtype),
                    ShapeToString(t.shape), DTypeName(it->second.dtype), ShapeToString(it->second.shape));
  }
  it->second = std::move(t);  // in place: pointers to the Tensor stay valid
  return Status::Ok();
}

}  // namespace pf::engine
