#include "core/config.h"

#include <cctype>

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

namespace pf {

std::string ConfigLocation::ToString() const {
  if (line <= 0) return file;
  return fmt::format("{}:{}", file, line);
}

const ConfigNode* ConfigNode::Find(std::string_view key) const {
  if (kind != Kind::kTable) return nullptr;
  for (const auto& [k, v] : fields)
    if (k == key) return &v;
  return nullptr;
}

std::string_view ConfigNode::KindName(Kind k) {
  switch (k) {
    case Kind::kNull: return "nothing";
    case Kind::kBool: return "a boolean";
    case Kind::kInt: return "an integer";
    case Kind::kDouble: return "a number";
    case Kind::kString: return "a string";
    case Kind::kArray: return "an array";
    case Kind::kTable: return "a table";
  }
  return "?";
}

std::string ConfigNode::Describe() const {
  switch (kind) {
    case Kind::kBool: return fmt::format("a boolean ({})", b);
    case Kind::kInt: return fmt::format("an integer ({})", i);
    case Kind::kDouble: return fmt::format("a number ({})", d);
    case Kind::kString: {
      std::string v = s.size() > 40 ? s.substr(0, 40) + "..." : s;
      return fmt::format("a string (\"{}\")", v);
    }
    default: return std::string(KindName(kind));
  }
}

Status ConfigError(const ConfigNode& node, std::string_view message) {
  return InvalidArgument("{}: {}: {}", node.loc.ToString(), node.path, message);
}

Result<std::pair<std::string, int>> ParseListenAddress(std::string_view text) {
  const std::string listen(text);
  const size_t colon = listen.rfind(':');
  int port = -1;
  if (colon != std::string::npos && colon > 0 && colon + 1 < listen.size() && colon + 6 >= listen.size()) {
    port = 0;
    for (size_t i = colon + 1; i < listen.size() && port >= 0; ++i)
      port = std::isdigit(static_cast<unsigned char>(listen[i])) ? port * 10 + (listen[i] - '0') : -1;
  }
  if (port < 0 || port > 65535)
    return InvalidArgument("expected host:port with a port from 0 to 65535, got \"{}\"", listen);
  return std::pair<std::string, int>(listen.substr(0, colon), port);
}

Status ConfigErrorKey(const ConfigNode& table, std::string_view key, std::string_view message) {
  std::string path = table.path.empty() ? std::string(key) : fmt::format("{}.{}", table.path, key);
  return InvalidArgument("{}: {}: {}", table.loc.ToString(), path, message);
}

std::string_view FieldTypeName(FieldType t) {
  switch (t) {
    case FieldType::kBool: return "a boolean";
    case FieldType::kInt: return "an integer";
    case FieldType::kDouble: return "a number";
    case FieldType::kString: return "a string";
    case FieldType::kDuration: return "a duration (\"250ms\", \"5s\") or milliseconds";
    case FieldType::kStringArray: return "an array of strings";
    case FieldType::kIntArray: return "an array of integers";
    case FieldType::kDoubleArray: return "an array of numbers";
    case FieldType::kTable: return "a table";
    case FieldType::kTableArray: return "an array of tables";
    case FieldType::kAny: return "any value";
    case FieldType::kBytes: return "a size (\"512MB\", \"64KiB\") or bytes";
  }
  return "?";
}

Result<uint64_t> ParseByteSize(std::string_view s) {
  auto bad = [&] {
    return InvalidArgument("'{}' is not a size; expected a number with a unit: B, kB, MB, GB, KiB, MiB, GiB (e.g. 512MB)", s);
  };
  size_t i = 0;
  while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) ++i;
  if (i == 0) return bad();
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + i, v);
  if (ec != std::errc() || p != s.data() + i) return bad();
  std::string_view unit = s.substr(i);
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  double mult;
  if (unit.empty() || unit == "B") mult = 1;
  else if (unit == "kB" || unit == "KB") mult = 1e3;
  else if (unit == "MB") mult = 1e6;
  else if (unit == "GB") mult = 1e9;
  else if (unit == "TB") mult = 1e12;
  else if (unit == "KiB") mult = 1024.0;
  else if (unit == "MiB") mult = 1024.0 * 1024;
  else if (unit == "GiB") mult = 1024.0 * 1024 * 1024;
  else if (unit == "TiB") mult = 1024.0 * 1024 * 1024 * 1024;
  else return bad();
  double bytes = v * mult;
  if (bytes > 1.8e19) return bad();
  return static_cast<uint64_t>(bytes);
}

namespace {
bool ParseIntText(std::string_view s, int64_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}
bool ParseDoubleText(std::string_view s, double& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}
bool IsNumber(const ConfigNode& n) {
  if (n.kind == ConfigNode::Kind::kInt || n.kind == ConfigNode::Kind::kDouble) return true;
  double d;
  return n.kind == ConfigNode::Kind::kString && n.expanded && ParseDoubleText(n.s, d);
}
bool IsInt(const ConfigNode& n) {
  if (n.kind == ConfigNode::Kind::kInt) return true;
  int64_t i;
  return n.kind == ConfigNode::Kind::kString && n.expanded && ParseIntText(n.s, i);
}
bool IsBool(const ConfigNode& n) {
  if (n.kind == ConfigNode::Kind::kBool) return true;
  return n.kind == ConfigNode::Kind::kString && n.expanded && (n.s == "true" || n.s == "false");
}
bool AllItems(const ConfigNode& n, bool (*pred)(const ConfigNode&)) {
  return std::all_of(n.items.begin(), n.items.end(), pred);
}
}  // namespace

Status CheckType(const ConfigNode& node, FieldType type) {
  bool good = false;
  switch (type) {
    case FieldType::kBool: good = IsBool(node); break;
    case FieldType::kInt: good = IsInt(node); break;
    case FieldType::kDouble: good = IsNumber(node); break;
    case FieldType::kString: good = node.kind == ConfigNode::Kind::kString; break;
    case FieldType::kDuration: good = node.kind == ConfigNode::Kind::kString || IsInt(node); break;
    case FieldType::kStringArray:
      good = node.IsArray() && AllItems(node, [](const ConfigNode& n) { return n.kind == ConfigNode::Kind::kString; });
      break;
    case FieldType::kIntArray: good = node.IsArray() && AllItems(node, IsInt); break;
    case FieldType::kDoubleArray: good = node.IsArray() && AllItems(node, IsNumber); break;
    case FieldType::kTable: good = node.IsTable(); break;
    case FieldType::kTableArray:
      good = node.IsArray() && AllItems(node, [](const ConfigNode& n) { return n.IsTable(); });
      break;
    case FieldType::kAny: good = true; break;
    case FieldType::kBytes: good = node.kind == ConfigNode::Kind::kString || IsInt(node); break;
  }
  if (good) return Status::Ok();
  return ConfigError(node, fmt::format("expected {}, got {}", FieldTypeName(type), node.Describe()));
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

const FieldSpec* ConfigReader::SpecFor(std::string_view key) const {
  for (const auto& f : spec_)
    if (f.key == key) return &f;
  return nullptr;
}

Status ConfigReader::Check() const {
  if (!table_.IsTable()) return ConfigError(table_, fmt::format("expected a table, got {}", table_.Describe()));
  for (const auto& [key, node] : table_.fields) {
    const FieldSpec* f = SpecFor(key);
    if (!f) {
      std::string_view best;
      size_t best_d = 3;
      for (const auto& s : spec_) {
        size_t d = EditDistance(key, s.key);
        if (d < best_d) {
          best_d = d;
          best = s.key;
        }
      }
      std::string msg = fmt::format("unknown key '{}'", key);
      if (!best.empty()) msg += fmt::format(" (did you mean '{}'?)", best);
      std::vector<std::string_view> known;
      for (const auto& s : spec_) known.push_back(s.key);
      msg += fmt::format("; known keys: {}", fmt::join(known, ", "));
      return ConfigError(node, msg);
    }
    PF_RETURN_IF_ERROR(CheckType(node, f->type));
  }
  for (const auto& f : spec_)
    if (f.required && !table_.Find(f.key))
      return ConfigErrorKey(table_, f.key, fmt::format("missing required key ({}; {})", FieldTypeName(f.type), f.help));
  return Status::Ok();
}

Status ConfigReader::Error(std::string_view key, std::string_view message) const {
  if (const ConfigNode* n = table_.Find(key)) return ConfigError(*n, message);
  return ConfigErrorKey(table_, key, message);
}

Result<std::string> ConfigReader::String(std::string_view key, std::string def) const {
  const ConfigNode* n = table_.Find(key);
  if (!n) return def;
  PF_RETURN_IF_ERROR(CheckType(*n, FieldType::kString));
  return n->s;
}

Result<int64_t> ConfigReader::Int(std::string_view key, int64_t def) const {
  const ConfigNode* n = table_.Find(key);
  if (!n) return def;
  PF_RETURN_IF_ERROR(CheckType(*n, FieldType::kInt));
  if (n->kind == ConfigNode::Kind::kInt) return n->i;
  int64_t v = 0;
  ParseIntText(n->s, v);
  return v;
}

Result<int64_t> ConfigReader::IntIn(std::string_view key, int64_t def, int64_t min, int64_t max) const {
  PF_ASSIGN_OR_RETURN(int64_t v, Int(key, def));
  if (v < min || v > max) return Error(key, fmt::format("expected an integer from {} to {}, got {}", min, max, v));
  return v;
}

Result<double> ConfigReader::Double(std::string_view key, double def) const {
  const ConfigNode* n = table_.Find(key);
  if (!n) return def;
  PF_RETURN_IF_ERROR(CheckType(*n, FieldType::kDouble));
  if (n->kind == ConfigNode::Kind::kInt) return static_cast<double>(n->i);
  if (n->kind == ConfigNode::Kind::kDouble) return n->d;
  double v = 0;
  ParseDoubleText(n->s, v);
  return v;
}

Result<bool> ConfigReader::Bool(std::string_view key, bool def) const {
  const ConfigNode* n = table_.Find(key);
  if (!n) return def;
  PF_RETURN_IF_ERROR(CheckType(*n, FieldType::kBool));
  if (n->kind == ConfigNode::Kind::kBool) return n->b;
  return n->s == "true";
}

Result<Duration> ConfigReader::Dur(std::string_view key, Duration def) const {
  const ConfigNode* n = table_.Find(key);
  if (!n) return def;
  PF_RETURN_IF_ERROR(CheckType(*n, FieldType::kDuration));
  if (n->kind == ConfigNode::Kind::kInt) return Duration(n->i * 1'000'000);
  int64_t ms;
  if (ParseIntText(n->s, ms)) return Duration(ms * 1'000'000);
  auto d = ParseDuration(n->s);
  if (!d.ok()) return ConfigError(*n, d.status().message());
  if (d->count() < 0) return ConfigError(*n, "a duration must not be negative");
  return *d;
}

Result<uint64_t> ConfigReader::Bytes(std::string_view key, uint64_t def) const {
  const ConfigNode* n = table_.Find(key);
  if (!n) return def;
  PF_RETURN_IF_ERROR(CheckType(*n, FieldType::kBytes));
  if (n->kind == ConfigNode::Kind::kInt) {
    if (n->i < 0) return ConfigError(*n, "a size must not be negative");
    return static_cast<uint64_t>(n->i);
  }
  auto b = ParseByteSize(n->s);
  if (!b.ok()) return ConfigError(*n, b.status().message());
  return *b;
}

Result<std::vector<std::string>> ConfigReader::Strings(std::string_view key) const {
  const ConfigNode* n = table_.Find(key);
  std::vector<std::string> out;
  if (!n) return out;
  PF_RETURN_IF_ERROR(CheckType(*n, FieldType::kStringArray));
  for (const auto& it : n->items) out.push_back(it.s);
  return out;
}

Result<std::string> ConfigReader::Enum(std::string_view key, std::string def,
                                       std::span<const std::string_view> allowed) const {
  PF_ASSIGN_OR_RETURN(std::string v, String(key, def));
  for (auto a : allowed)
    if (a == v) return v;
  return Error(key, fmt::format("expected one of {}, got \"{}\"", fmt::join(allowed, ", "), v));
}

std::string SpecToMarkdown(std::span<const FieldSpec> spec) {
  std::string out = "| key | type | required | default | meaning |\n|---|---|---|---|---|\n";
  for (const auto& f : spec)
    out += fmt::format("| `{}` | {} | {} | {} | {} |\n", f.key, FieldTypeName(f.type), f.required ? "yes" : "no",
                       f.default_text.empty() ? "" : fmt::format("`{}`", f.default_text), f.help);
  return out;
}

}  // namespace pf
