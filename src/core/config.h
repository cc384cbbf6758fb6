#pragma once
// A configuration tree independent of the file format, with the source location of every value,
// and spec-driven validation. runtime/ turns the TOML file into this tree; modules describe their
// keys once as a FieldSpec table (name, type, default, help) and read them through ConfigReader,
// so validation, defaults and docs come from one table and every error names file, line and key:
//   plant.toml:12: sources.plc1.port: expected an integer, got a string ("502x")
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "core/time.h"

namespace pf {

struct ConfigLocation {
  std::string file;
  int line = 0;
  std::string ToString() const;  // "plant.toml:12" ("plant.toml" when line is 0)
};

struct ConfigField;

class ConfigNode {
 public:
  enum class Kind { kNull, kBool, kInt, kDouble, kString, kArray, kTable };

  Kind kind = Kind::kNull;
  bool b = false;
  int64_t i = 0;
  double d = 0;
  std::string s;
  bool expanded = false;  // a string that came from ${VAR} expansion (may convert to a number)
  std::vector<ConfigNode> items;                         // kArray
  std::vector<ConfigField> fields;  // kTable, in file order
  ConfigLocation loc;
  std::string path;  // dotted key path: "sources.modbus[0].tags[2].address"

  const ConfigNode* Find(std::string_view key) const;
  bool IsTable() const { return kind == Kind::kTable; }
  bool IsArray() const { return kind == Kind::kArray; }
  static std::string_view KindName(Kind k);  // "an integer", "a string", ...
  std::string Describe() const;              // kind plus a short rendering of the value
};

// One key of a table. A named struct rather than std::pair, which may not hold the still
// incomplete ConfigNode (clang rejects it).
struct ConfigField {
  ConfigField(std::string k, ConfigNode v) : first(std::move(k)), second(std::move(v)) {}
  std::string first;
  ConfigNode second;
};

// "host:port" with a port from 0 to 65535 (0: a free one). InvalidArgument naming the text.
Result<std::pair<std::string, int>> ParseListenAddress(std::string_view text);

// "file:line: path: message", InvalidArgument.
Status ConfigError(const ConfigNode& node, std::string_view message);
// For a key that is missing from a table: "file:line: table.key: message".
Status ConfigErrorKey(const ConfigNode& table, std::string_view key, std::string_view message);

enum class FieldType {
  kBool, kInt, kDouble, kString, kDuration, kStringArray, kIntArray, kDoubleArray, kTable, kTableArray, kAny,
  kBytes,  // "512MB", "64KiB", "2GB" or an integer number of bytes
};
std::string_view FieldTypeName(FieldType t);

struct FieldSpec {
  std::string_view key;
  FieldType type;
  bool required = false;
  std::string_view default_text;  // documentation of the default ("" = none)
  std::string_view help;
};

// Reads one table against its spec. Construction does not validate; call Check() first.
class ConfigReader {
 public:
  ConfigReader(const ConfigNode& table, std::span<const FieldSpec> spec) : table_(table), spec_(spec) {}

  // Unknown keys (with the nearest known key suggested), wrong types, missing required keys.
  Status Check() const;

  bool Has(std::string_view key) const { return table_.Find(key) != nullptr; }
  const ConfigNode* Node(std::string_view key) const { return table_.Find(key); }
  const ConfigNode& table() const { return table_; }

  Result<std::string> String(std::string_view key, std::string def = "") const;
  Result<int64_t> Int(std::string_view key, int64_t def = 0) const;
  // Checks min <= value <= max and names the range in the error.
  Result<int64_t> IntIn(std::string_view key, int64_t def, int64_t min, int64_t max) const;
  Result<double> Double(std::string_view key, double def = 0) const;
  Result<bool> Bool(std::string_view key, bool def = false) const;
  // A duration string ("250ms", "5s") or an integer number of milliseconds.
  Result<Duration> Dur(std::string_view key, Duration def) const;
  Result<std::vector<std::string>> Strings(std::string_view key) const;
  // A byte size ("512MB", "1GiB", "64kB") or an integer number of bytes.
  Result<uint64_t> Bytes(std::string_view key, uint64_t def) const;
  // One of the allowed words, the error lists them.
  Result<std::string> Enum(std::string_view key, std::string def, std::span<const std::string_view> allowed) const;

  Status Error(std::string_view key, std::string_view message) const;

 private:
  const FieldSpec* SpecFor(std::string_view key) const;
  const ConfigNode& table_;
  std::span<const FieldSpec> spec_;
};

// Checks a node's type against a FieldType (numbers from ${VAR} strings are accepted).
Status CheckType(const ConfigNode& node, FieldType type);

// Markdown table of a spec for docs and `plantfloor config-reference`.
std::string SpecToMarkdown(std::span<const FieldSpec> spec);

// "512MB" (10^6), "512MiB" (2^20), "64kB"/"64KiB", "2GB"/"2GiB", "100B", "1000" -> bytes.
Result<uint64_t> ParseByteSize(std::string_view text);

// Edit distance, for "did you mean" suggestions.
size_t EditDistance(std::string_view a, std::string_view b);

}  // namespace pf
