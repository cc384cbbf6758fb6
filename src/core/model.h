#pragma once
// The asset and event contracts (docs/schema.md). Plain data; the runtime owns the instances.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/sample.h"
#include "core/time.h"

namespace pf {

// ISA-95 levels. Every tag, event, alert and label belongs to exactly one asset.
struct Asset {
  std::string id;  // unique, e.g. "press7"
  std::string site, area, line;
  std::string name;           // display name
  std::string template_name;  // the asset template it was instantiated from ("" = none)
  std::string description;
  std::string Path() const { return site + "/" + area + "/" + line + "/" + id; }
};

// What a tag means for the production context; kNone is an ordinary measurement.
enum class ContextRole : uint8_t { kNone = 0, kProduct, kRecipe, kBatch, kMachineState, kOther };
std::string_view ContextRoleName(ContextRole r);
std::optional<ContextRole> ParseContextRole(std::string_view name);

// How the history store keeps a tag.
enum class StoreMode : uint8_t { kOnChange = 0, kAll, kNone };

struct TagDef {
  TagId id = 0;
  std::string name;      // unique: "<asset>.<tag>" when instantiated from a template
  std::string asset_id;  // the asset it belongs to
  std::string unit;
  std::string description;
  std::string source;    // name of the source that produces it
  bool derived = false;  // computed by plantfloor (monitor, model) from the source's tags, not read from it
  ContextRole context = ContextRole::kNone;
  std::string context_key;     // name stamped on events ("product", "recipe", ... or custom)
  StoreMode store = StoreMode::kOnChange;
  double deadband = 0;         // absolute; a new value is stored when |v - last stored| > deadband
  Duration max_store_interval{0};  // store at least this often even without change (0 = never forced)
};

// A tag set defined once and instantiated per machine.
struct TagTemplate {
  std::string name;  // short name, e.g. "temperature"
  std::string unit, description;
  ContextRole context = ContextRole::kNone;
  double deadband = 0;
};
struct AssetTemplate {
  std::string name;
  std::vector<TagTemplate> tags;
};

// Production context of one asset at one time: role key -> value, e.g. {"product": "P-100"}.
using ProductionContext = std::map<std::string, std::string>;

// Events and labels share one versioned schema. A label is an event whose kind is "label"
// (an operator verdict or a maintenance record) and which points at the event it labels.
struct Event {
  static constexpr int kSchemaVersion = 1;
  int schema_version = kSchemaVersion;
  std::string id;        // unique, sortable: time-ordered
  std::string asset_id;
  std::string source;    // who raised it: "replay:energy", "spc:press7.temp", "operator"
  Timestamp start;
  Timestamp end;         // == start for an instant
  std::string kind;      // "source_status", "alert", "label", "limit_change", ...
  std::string severity;  // "info", "low", "medium", "high"
  std::string message;
  std::string payload_json = "{}";  // kind-specific details, a JSON object
  std::string model_version;        // model or chart version that produced it ("" = none)
  std::string operator_name;        // who, for operator actions
  std::string comment;
  std::string refers_to;            // id of the event this one labels or follows up
  ProductionContext context;        // stamped by the runtime from the asset's context tags
};

// A new, time-ordered, unique id: 16 hex digits of ns time + 8 of a process counter.
std::string NewEventId(Timestamp t);

}  // namespace pf
