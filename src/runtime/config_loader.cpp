#include "runtime/config_loader.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <toml++/toml.h>

namespace pf {
namespace {

std::string ChildPath(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

Result<ConfigNode> Convert(const toml::node& n, const std::string& path, const std::string& file,
                           const EnvLookup& env) {
  ConfigNode out;
  out.path = path;
  out.loc = {file, static_cast<int>(n.source().begin.line)};
  if (auto* t = n.as_table()) {
    out.kind = ConfigNode::Kind::kTable;
    for (auto&& [k, v] : *t) {
      std::string key(k.str());
      PF_ASSIGN_OR_RETURN(ConfigNode child, Convert(v, ChildPath(path, key), file, env));
      out.fields.emplace_back(key, std::move(child));
    }
  } else if (auto* a = n.as_array()) {
    out.kind = ConfigNode::Kind::kArray;
    for (size_t i = 0; i < a->size(); ++i) {
      PF_ASSIGN_OR_RETURN(ConfigNode child, Convert(*a->get(i), fmt::format("{}[{}]", path, i), file, env));
      out.items.push_back(std::move(child));
    }
  } else if (auto* s = n.as_string()) {
    out.kind = ConfigNode::Kind::kString;
    bool changed = false;
    auto expanded = ExpandEnv(s->get(), env, &changed);
    if (!expanded.ok()) return ConfigError(out, expanded.status().message());
    out.s = std::move(*expanded);
    out.expanded = changed;
  } else if (auto* i = n.as_integer()) {
    out.kind = ConfigNode::Kind::kInt;
    out.i = i->get();
  } else if (auto* d = n.as_floating_point()) {
    out.kind = ConfigNode::Kind::kDouble;
    out.d = d->get();
  } else if (auto* b = n.as_boolean()) {
    out.kind = ConfigNode::Kind::kBool;
    out.b = b->get();
  } else {
    // dates and times: kept as their TOML text so a module can parse them if it wants to
    out.kind = ConfigNode::Kind::kString;
    std::ostringstream os;
    if (auto* dt = n.as_date_time()) os << *dt;
    else if (auto* da = n.as_date()) os << *da;
    else if (auto* ti = n.as_time()) os << *ti;
    out.s = os.str();
  }
  return out;
}

}  // namespace

EnvLookup ProcessEnv() {
  return [](const std::string& name, std::string* value) {
    const char* v = std::getenv(name.c_str());
    if (!v) return false;
    *value = v;
    return true;
  };
}

Result<std::string> ExpandEnv(const std::string& s, const EnvLookup& env, bool* changed) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '$') {
      out += s[i];
      continue;
    }
    if (i + 1 < s.size() && s[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    if (i + 1 >= s.size() || s[i + 1] != '{') {
      out += '$';
      continue;
    }
    size_t close = s.find('}', i + 2);
    if (close == std::string::npos)
      return InvalidArgument("unterminated '${{' in \"{}\"; write ${{NAME}} or ${{NAME:-default}}", s);
    std::string inner = s.substr(i + 2, close - i - 2);
    std::string name = inner, def;
    bool has_def = false;
    if (size_t p = inner.find(":-"); p != std::string::npos) {
      name = inner.substr(0, p);
      def = inner.substr(p + 2);
      has_def = true;
    }
    if (name.empty() || name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") !=
                            std::string::npos)
      return InvalidArgument("'${{{}}}' is not a valid variable reference; names are letters, digits and _", inner);
    std::string value;
    if (env(name, &value) && !(has_def && value.empty())) {
      out += value;
    } else if (has_def) {
      out += def;
    } else {
      return InvalidArgument("environment variable {} is not set and has no default (write ${{{}:-value}} for one)",
                             name, name);
    }
    if (changed) *changed = true;
    i = close;
  }
  return out;
}

Result<ConfigNode> ParseConfigText(const std::string& text, const std::string& file, const EnvLookup& env) {
  toml::table root;
  try {
    root = toml::parse(text, file);
  } catch (const toml::parse_error& e) {
    return InvalidArgument("{}:{}: TOML syntax error: {}", file, e.source().begin.line, e.description());
  }
  return Convert(root, "", file, env);
}

Result<ConfigNode> LoadConfigFile(const std::string& path, const EnvLookup& env) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open config file '{}'", path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseConfigText(ss.str(), path, env);
}

}  // namespace pf
