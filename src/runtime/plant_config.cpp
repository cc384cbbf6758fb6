#include "runtime/plant_config.h"

#include "uplink/uplink_config.h"

#include <algorithm>
#include <filesystem>
#include <cctype>
#include <array>
#include <set>

namespace pf {
namespace {

constexpr FieldSpec kRootSpec[] = {
    {"plant", FieldType::kTable, false, "", "plant-wide settings"},
    {"api", FieldType::kTable, false, "", "the REST API"},
    {"history", FieldType::kTable, false, "", "the history of samples"},
    {"store", FieldType::kTable, false, "", "the database: history, events, outbox; group commit and disk budget"},
    {"uplinks", FieldType::kTableArray, false, "", "where the outbox is forwarded (MQTT brokers)"},
    {"templates", FieldType::kTableArray, false, "", "asset templates: a tag set defined once"},
    {"assets", FieldType::kTableArray, false, "", "the ISA-95 asset model (site/area/line/asset)"},
    {"sources", FieldType::kTableArray, false, "", "connections to machines and files"},
    {"alerts", FieldType::kTable, false, "", "alert engine settings and threshold rules"},
    {"spc", FieldType::kTable, false, "", "live control charts on tags"},
    {"condition", FieldType::kTable, false, "", "vibration condition monitors on waveform tags"},
    {"models", FieldType::kTableArray, false, "", "models on live tags (see [[models]])"},
    {"vision", FieldType::kTableArray, false, "", "vision inspection stations (see [[vision]])"},
};
constexpr FieldSpec kPlantSpec[] = {
    {"name", FieldType::kString, false, "plant", "plant name, shown by the API"},
    {"site", FieldType::kString, false, "site", "default ISA-95 site of every asset"},
    {"data_dir", FieldType::kString, false, "var/plantfloor", "folder for the history database and state"},
    {"log_level", FieldType::kString, false, "info", "trace, debug, info, warn, error"},
    {"queue_capacity", FieldType::kInt, false, "1024", "sample batches the bus holds before sources are paused"},
    {"exit_when_sources_finish", FieldType::kBool, false, "false",
     "stop the process once every finite source (replay) has delivered everything"},
};
constexpr FieldSpec kApiSpec[] = {
    {"enabled", FieldType::kBool, false, "true", "serve the REST API"},
    {"listen", FieldType::kString, false, "127.0.0.1:8080", "host:port; port 0 picks a free port"},
};
constexpr FieldSpec kHistorySpec[] = {
    {"retention", FieldType::kDuration, false, "30d", "samples older than this are deleted"},
    {"retention_check", FieldType::kDuration, false, "10m", "how often retention runs"},
};
constexpr FieldSpec kStoreSpec[] = {
    {"path", FieldType::kString, false, "<data_dir>/plantfloor.db", "the SQLite file (history, events, outbox)"},
    {"fsync", FieldType::kBool, false, "true",
     "fsync every commit: a commit that returned survives a power cut (false risks the last commits)"},
    {"commit_window", FieldType::kDuration, false, "200ms",
     "group commit: what arrived in this window is committed in one transaction"},
    {"disk_budget", FieldType::kBytes, false, "0 (none)",
     "hard cap for the database; when reached: history samples, then outbox samples, then events are "
     "evicted, each eviction recorded in the loss ledger"},
};

constexpr FieldSpec kTemplateSpec[] = {
    {"name", FieldType::kString, true, "", "template name, referenced by assets"},
    {"description", FieldType::kString, false, "", "free text"},
    {"tags", FieldType::kTableArray, true, "",
     "tag templates: common tag keys (without asset) plus the source's tag keys (address, column, ...)"},
};
constexpr FieldSpec kAssetSpec[] = {
    {"id", FieldType::kString, true, "", "unique asset id, e.g. press7"},
    {"site", FieldType::kString, false, "<plant.site>", "ISA-95 site"},
    {"area", FieldType::kString, true, "", "ISA-95 area"},
    {"line", FieldType::kString, true, "", "ISA-95 line (or work cell)"},
    {"name", FieldType::kString, false, "<id>", "display name"},
    {"description", FieldType::kString, false, "", "free text"},
    {"template", FieldType::kString, false, "", "instantiate this template's tags as <id>.<tag>"},
    {"source", FieldType::kString, false, "", "the source that reads the template's tags (required with template)"},
};
constexpr FieldSpec kCommonSourceSpec[] = {
    {"name", FieldType::kString, true, "", "unique source name"},
    {"type", FieldType::kString, true, "", "connector type (modbus, replay)"},
    {"asset", FieldType::kString, false, "", "default asset of this source's tags"},
    {"enabled", FieldType::kBool, false, "true", "false keeps the source configured but not started"},
    {"tags", FieldType::kTableArray, false, "", "the tags this source reads"},
};
constexpr FieldSpec kCommonTagSpec[] = {
    {"name", FieldType::kString, true, "", "unique tag name, e.g. press7.temperature"},
    {"asset", FieldType::kString, false, "<source.asset>", "the asset the tag belongs to"},
    {"unit", FieldType::kString, false, "", "engineering unit"},
    {"description", FieldType::kString, false, "", "free text"},
    {"deadband", FieldType::kDouble, false, "0", "store a new value only when it moved more than this"},
    {"context", FieldType::kString, false, "none",
     "production context role: product, recipe, batch, machine_state, other (stamped on events)"},
    {"context_key", FieldType::kString, false, "<context>", "key under which the context value is stamped"},
    {"store", FieldType::kString, false, "on_change", "on_change, all or none"},
    {"max_store_interval", FieldType::kDuration, false, "0", "store at least this often even without change"},
};

constexpr FieldSpec kAlertsSpec[] = {
    {"positions", FieldType::kTable, false, "{}",
     "area -> operator position, e.g. { pressing = \"console1\" } (default: the area is the position)"},
    {"chatter_count", FieldType::kInt, false, "5", "more activations than this within chatter_window flag an alert chattering"},
    {"chatter_window", FieldType::kDuration, false, "60s", "window of the chattering count"},
    {"flood_count", FieldType::kInt, false, "10", "more alerts than this within flood_window on one position is a flood"},
    {"flood_window", FieldType::kDuration, false, "10m", "window of the flood count"},
    {"max_shelve", FieldType::kDuration, false, "7d", "longest allowed shelve"},
    {"clock", FieldType::kString, false, "wall",
     "wall: delays, shelve expiries and stats periods run on the wall clock; source: on the newest source time of the "
     "samples the rules watch (for replayed history)"},
    {"cause_codes", FieldType::kStringArray, false, "built-in list",
     "coded causes for operator feedback and maintenance failure modes (replaces the built-in list: "
     "bearing_outer_race, bearing_inner_race, bearing_ball, bearing_cage, unbalance, misalignment, looseness, "
     "lubrication, gear_wear, belt_wear, cavitation, electrical, overheating, leakage, blockage, wear, breakage, "
     "sensor_fault, process_upset, operator_error, other)"},
    {"rules", FieldType::kTableArray, false, "", "threshold rules on tags (see [[alerts.rules]])"},
};

std::vector<FieldSpec> Merge(std::span<const FieldSpec> a, std::span<const FieldSpec> b) {
  std::vector<FieldSpec> out(a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

std::vector<FieldSpec> WithoutKey(std::span<const FieldSpec> a, std::string_view key) {
  std::vector<FieldSpec> out;
  for (const auto& f : a)
    if (f.key != key) out.push_back(f);
  return out;
}

const ConfigNode& EmptyTable() {
  static const ConfigNode kEmpty = [] {
    ConfigNode n;
    n.kind = ConfigNode::Kind::kTable;
    return n;
  }();
  return kEmpty;
}

const ConfigNode& Sub(const ConfigNode& root, std::string_view key) {
  const ConfigNode* n = root.Find(key);
  return n ? *n : EmptyTable();
}

std::vector<const ConfigNode*> Items(const ConfigNode& root, std::string_view key) {
  std::vector<const ConfigNode*> out;
  if (const ConfigNode* n = root.Find(key))
    for (const auto& it : n->items) out.push_back(&it);
  return out;
}

Status ReadRuntime(const ConfigNode& root, PlantConfig& pc, std::string& site) {
  ConfigReader r(Sub(root, "plant"), kPlantSpec);
  PF_RETURN_IF_ERROR(r.Check());
  PF_ASSIGN_OR_RETURN(pc.runtime.plant_name, r.String("name", "plant"));
  PF_ASSIGN_OR_RETURN(site, r.String("site", "site"));

  PF_ASSIGN_OR_RETURN(pc.runtime.data_dir, r.String("data_dir", "var/plantfloor"));
  static constexpr std::array<std::string_view, 7> kLevels = {"trace", "debug", "info", "warn",
                                                              "error", "critical", "off"};
  PF_ASSIGN_OR_RETURN(pc.runtime.log_level, r.Enum("log_level", "info", kLevels));
  PF_ASSIGN_OR_RETURN(int64_t cap, r.IntIn("queue_capacity", 1024, 1, 1'000'000));
  pc.runtime.queue_capacity = static_cast<size_t>(cap);
  PF_ASSIGN_OR_RETURN(pc.runtime.exit_when_sources_finish, r.Bool("exit_when_sources_finish", false));

  ConfigReader a(Sub(root, "api"), kApiSpec);
  PF_RETURN_IF_ERROR(a.Check());
  PF_ASSIGN_OR_RETURN(pc.api.enabled, a.Bool("enabled", true));
  PF_ASSIGN_OR_RETURN(std::string listen, a.String("listen", "127.0.0.1:8080"));
  auto hp = ParseListenAddress(listen);
  if (!hp.ok()) return a.Error("listen", hp.status().message());
  pc.api.host = hp->first;
  pc.api.port = hp->second;

  ConfigReader h(Sub(root, "history"), kHistorySpec);
  PF_RETURN_IF_ERROR(h.Check());
  PF_ASSIGN_OR_RETURN(pc.history.retention, h.Dur("retention", pc.history.retention));
  PF_ASSIGN_OR_RETURN(pc.history.retention_check, h.Dur("retention_check", pc.history.retention_check));
  if (pc.history.retention.count() <= 0) return h.Error("retention", "retention must be longer than 0");

  ConfigReader st(Sub(root, "store"), kStoreSpec);
  PF_RETURN_IF_ERROR(st.Check());
  PF_ASSIGN_OR_RETURN(pc.store.path, st.String("path", ""));
  if (pc.store.path.empty()) pc.store.path = pc.runtime.data_dir + "/plantfloor.db";
  PF_ASSIGN_OR_RETURN(pc.store.fsync, st.Bool("fsync", true));
  PF_ASSIGN_OR_RETURN(pc.store.commit_window, st.Dur("commit_window", pc.store.commit_window));
  if (pc.store.commit_window.count() <= 0) return st.Error("commit_window", "the commit window must be longer than 0");
  PF_ASSIGN_OR_RETURN(pc.store.disk_budget_bytes, st.Bytes("disk_budget", 0));
  if (pc.store.disk_budget_bytes != 0 && pc.store.disk_budget_bytes < (4u << 20))
    return st.Error("disk_budget", fmt::format("a disk budget below 4 MiB cannot hold the database's own structure, got {} bytes",
                                               pc.store.disk_budget_bytes));
  return Status::Ok();
}

// Fills the common fields of a tag from its table (a source tag or a template tag).
Status ReadTagCommon(const ConfigReader& r, TagDef& t) {
  PF_ASSIGN_OR_RETURN(t.unit, r.String("unit"));
  PF_ASSIGN_OR_RETURN(t.description, r.String("description"));
  PF_ASSIGN_OR_RETURN(t.deadband, r.Double("deadband", 0));
  if (t.deadband < 0) return r.Error("deadband", fmt::format("a deadband must be >= 0, got {}", t.deadband));
  static constexpr std::array<std::string_view, 6> kRoles = {"none", "product", "recipe", "batch",
                                                             "machine_state", "other"};
  PF_ASSIGN_OR_RETURN(std::string role, r.Enum("context", "none", kRoles));
  t.context = *ParseContextRole(role);
  PF_ASSIGN_OR_RETURN(t.context_key, r.String("context_key", t.context == ContextRole::kNone ? "" : role));
  static constexpr std::array<std::string_view, 3> kModes = {"on_change", "all", "none"};
  PF_ASSIGN_OR_RETURN(std::string mode, r.Enum("store", "on_change", kModes));
  t.store = mode == "all" ? StoreMode::kAll : mode == "none" ? StoreMode::kNone : StoreMode::kOnChange;
  PF_ASSIGN_OR_RETURN(t.max_store_interval, r.Dur("max_store_interval", Duration(0)));
  return Status::Ok();
}

std::string AssetList(const PlantConfig& pc) {
  std::vector<std::string> ids;
  for (const auto& a : pc.assets) ids.push_back(a.id);
  if (ids.empty()) return "no assets are declared: add an [[assets]] table";
  return fmt::format("declared assets: {}", fmt::join(ids, ", "));
}

struct Builder {
  PlantConfig& pc;
  std::map<std::string, const ConfigNode*> tag_names;  // name -> where first defined

  Status AddTag(SourceConfig& src, const ConfigNode& node, const ConfigReader& r, std::string name,
                std::string asset_id) {
    if (auto it = tag_names.find(name); it != tag_names.end()) {
      const ConfigNode* name_node = node.Find("name");
      return ConfigError(name_node ? *name_node : node,
                         fmt::format("duplicate tag '{}' (first defined at {})", name, it->second->loc.ToString()));
    }
    if (!pc.FindAsset(asset_id)) {
      const ConfigNode* an = node.Find("asset");
      std::string msg = fmt::format("unknown asset '{}'; {}", asset_id, AssetList(pc));
      return an ? ConfigError(*an, msg) : ConfigErrorKey(node, "asset", msg);
    }
    TagDef t;
    t.id = static_cast<TagId>(pc.tags.size());
    t.name = name;
    t.asset_id = asset_id;
    t.source = src.name;
    PF_RETURN_IF_ERROR(ReadTagCommon(r, t));
    tag_names[name] = &node;
    src.tags.push_back({t.id, t.name, t.asset_id, &node});
    pc.tags.push_back(std::move(t));
    return Status::Ok();
  }
};

// [alerts]: engine settings, operator positions per area, and the rules (each on a declared tag).
Status ReadAlerts(const ConfigNode& root, PlantConfig& pc, const std::map<std::string, const ConfigNode*>& tag_names) {
  AlertsConfig& ac = pc.alerts;
  const ConfigNode& table = Sub(root, "alerts");
  ConfigReader r(table, kAlertsSpec);
  PF_RETURN_IF_ERROR(r.Check());
  alerts::AlertEngineConfig& ec = ac.engine;
  PF_ASSIGN_OR_RETURN(int64_t chatter, r.IntIn("chatter_count", ec.chatter_count, 1, 1'000'000));
  ec.chatter_count = static_cast<int>(chatter);
  PF_ASSIGN_OR_RETURN(ec.chatter_window, r.Dur("chatter_window", ec.chatter_window));
  if (ec.chatter_window.count() <= 0) return r.Error("chatter_window", "must be longer than 0");
  PF_ASSIGN_OR_RETURN(int64_t flood, r.IntIn("flood_count", ec.flood_count, 1, 1'000'000));
  ec.flood_count = static_cast<int>(flood);
  PF_ASSIGN_OR_RETURN(ec.flood_window, r.Dur("flood_window", ec.flood_window));
  if (ec.flood_window.count() <= 0) return r.Error("flood_window", "must be longer than 0");
  PF_ASSIGN_OR_RETURN(ac.max_shelve, r.Dur("max_shelve", ac.max_shelve));
  if (ac.max_shelve.count() <= 0) return r.Error("max_shelve", "must be longer than 0");
  PF_ASSIGN_OR_RETURN(std::string clock, r.String("clock", "wall"));
  if (clock != "wall" && clock != "source")
    return r.Error("clock", fmt::format("unknown clock '{}'; expected wall or source", clock));
  ac.source_clock = clock == "source";
  PF_ASSIGN_OR_RETURN(std::vector<std::string> codes, r.Strings("cause_codes"));
  if (r.Node("cause_codes")) {
    std::set<std::string> seen;
    for (const std::string& c : codes) {
      bool ok = !c.empty() && c.size() <= 64 &&
                std::all_of(c.begin(), c.end(), [](char ch) { return std::islower(static_cast<unsigned char>(ch)) ||
                                                                    std::isdigit(static_cast<unsigned char>(ch)) || ch == '_'; });
      if (!ok) return r.Error("cause_codes", fmt::format("'{}' is not a code: use 1-64 of a-z, 0-9 and _", c));
      if (!seen.insert(c).second) return r.Error("cause_codes", fmt::format("duplicate code '{}'", c));
    }
    if (codes.empty()) return r.Error("cause_codes", "must not be empty");
    ac.cause_codes = std::move(codes);
  }
  std::set<std::string> areas;
  for (const Asset& a : pc.assets) {
    ec.asset_area[a.id] = a.area;
    areas.insert(a.area);
  }
  if (const ConfigNode* positions = r.Node("positions")) {
    for (const ConfigField& f : positions->fields) {
      if (!areas.count(f.first))
        return ConfigError(f.second, fmt::format("unknown area '{}'; areas of the declared assets: {}", f.first,
                                                 areas.empty() ? "none" : fmt::format("{}", fmt::join(areas, ", "))));
      if (f.second.kind != ConfigNode::Kind::kString || f.second.s.empty())
        return ConfigError(f.second, fmt::format("expected a non-empty string (operator position), got {}", f.second.Describe()));
      ec.area_position[f.first] = f.second.s;
    }
  }
  std::map<std::string, const ConfigNode*> sources;  // rule source -> where first defined
  for (const ConfigNode* rn : Items(table, "rules")) {
    PF_ASSIGN_OR_RETURN(alerts::ThresholdRuleConfig rule, alerts::ReadThresholdRule(*rn));
    if (!tag_names.count(rule.tag)) {
      std::string msg = fmt::format("unknown tag '{}'; a rule watches a tag declared under [[sources.tags]] or a template",
                                    rule.tag);
      std::string nearest;
      size_t best = 4;  // suggest only close names
      for (const auto& [name, _] : tag_names)
        if (size_t d = EditDistance(name, rule.tag); d < best) best = d, nearest = name;
      if (!nearest.empty()) msg += fmt::format(" (did you mean '{}'?)", nearest);
      const ConfigNode* tn = rn->Find("tag");
      return tn ? ConfigError(*tn, msg) : ConfigErrorKey(*rn, "tag", msg);
    }
    if (!pc.FindAsset(rule.asset)) {
      std::string msg = fmt::format("unknown asset '{}'; {}", rule.asset, AssetList(pc));
      const ConfigNode* an = rn->Find("asset");
      return an ? ConfigError(*an, msg) : ConfigErrorKey(*rn, "asset", msg);
    }
    std::string source = rule.Source();
    if (auto it = sources.find(source); it != sources.end())
      return ConfigError(*rn, fmt::format("duplicate rule '{}' (first defined at {})", source, it->second->loc.ToString()));
    sources[source] = rn;
    ec.sources[source] = rule.ToConditionConfig();
    ac.rules.push_back(std::move(rule));
  }
  if (Status v = ec.Validate(); !v.ok()) return ConfigError(table, v.message());
  return Status::Ok();
}

// [[spc.charts]]: each on a declared tag and an asset; its alerts get an engine source config.
Status ReadSpc(const ConfigNode& root, PlantConfig& pc) {
  const ConfigNode& table = Sub(root, "spc");
  ConfigReader r(table, SpcSpec());
  PF_RETURN_IF_ERROR(r.Check());
  std::map<std::string, const ConfigNode*> names;
  for (const ConfigNode* cn : Items(table, "charts")) {
    PF_ASSIGN_OR_RETURN(SpcChartConfig c, ReadSpcChart(*cn));
    auto tag = std::find_if(pc.tags.begin(), pc.tags.end(), [&](const TagDef& t) { return t.name == c.tag; });
    if (tag == pc.tags.end()) {
      std::string msg = fmt::format("unknown tag '{}'; a chart watches a tag declared under [[sources.tags]] or a template", c.tag);
      std::string nearest;
      size_t best = 4;
      for (const TagDef& t : pc.tags)
        if (size_t d = EditDistance(t.name, c.tag); d < best) best = d, nearest = t.name;
      if (!nearest.empty()) msg += fmt::format(" (did you mean '{}'?)", nearest);
      return ConfigError(*cn->Find("tag"), msg);
    }
    if (c.asset.empty()) c.asset = tag->asset_id;
    if (c.asset.empty() || !pc.FindAsset(c.asset)) {
      std::string msg = fmt::format("unknown asset '{}'; {}", c.asset, AssetList(pc));
      const ConfigNode* an = cn->Find("asset");
      return an ? ConfigError(*an, msg) : ConfigErrorKey(*cn, "asset", msg);
    }
    if (auto it = names.find(c.name); it != names.end())
      return ConfigError(*cn, fmt::format("duplicate chart name '{}' (first defined at {}); give each chart a name",
                                          c.name, it->second->loc.ToString()));
    names[c.name] = cn;
    alerts::ConditionConfig cc;
    cc.priority = c.priority;
    cc.suppress_in_states = c.suppress_in_states;
    pc.alerts.engine.sources["spc:" + c.name] = cc;
    pc.spc_charts.push_back(std::move(c));
  }
  return Status::Ok();
}

// Why a tag cannot carry an overall value (one number per sample); "" when it can. Derived tags
// are numbers; a source tag is not when its source delivers waveform blocks or its type says
// string or bool (a Modbus coil or discrete input without a type is a bool).
std::string NotScalar(const PlantConfig& pc, const TagDef& tag) {
  auto src = std::find_if(pc.sources.begin(), pc.sources.end(), [&](const SourceConfig& s) { return s.name == tag.source; });
  if (src == pc.sources.end()) return "";
  auto st = std::find_if(src->tags.begin(), src->tags.end(), [&](const SourceTagConfig& t) { return t.id == tag.id; });
  if (st == src->tags.end() || !st->node) return "";  // a derived tag
  if (src->type == "mqtt_waveform") return fmt::format("carries waveform blocks (source '{}' is mqtt_waveform)", src->name);
  if (src->type == "replay")
    if (const ConfigNode* f = src->node ? src->node->Find("format") : nullptr; f && f->s == "waveform")
      return fmt::format("carries waveform blocks (source '{}' replays format = \"waveform\")", src->name);
  const ConfigNode* type = st->node->Find("type");
  if (type && type->kind == ConfigNode::Kind::kString && (type->s == "string" || type->s == "bool"))
    return fmt::format("is a {} tag (type = \"{}\" at {})", type->s, type->s, type->loc.ToString());
  if (src->type == "modbus" && !type)
    if (const ConfigNode* a = st->node->Find("address"); a && a->kind == ConfigNode::Kind::kString)
      if (a->s.rfind("co:", 0) == 0 || a->s.rfind("di:", 0) == 0 ||
          ((a->s.size() == 5 || a->s.size() == 6) && (a->s[0] == '0' || a->s[0] == '1')) ||
          a->s.find('.') != std::string::npos || st->node->Find("bit"))
        return fmt::format("is a bool tag (Modbus address '{}' reads a bit)", a->s);
  return "";
}

// [[condition.monitors]]: each on a declared waveform tag (and speed tag); declares the derived
// tags "<tag>.<suffix>" (before the alert rules and charts are read, so they can watch them) and
// gives the monitor's alerts an engine source config.
Status ReadCondition(const ConfigNode& root, PlantConfig& pc, std::map<std::string, const ConfigNode*>& tag_names) {
  const ConfigNode& table = Sub(root, "condition");
  ConfigReader r(table, ConditionSpec());
  PF_RETURN_IF_ERROR(r.Check());
  std::map<std::string, const ConfigNode*> names;
  auto find_tag = [&](const std::string& name) {
    return std::find_if(pc.tags.begin(), pc.tags.end(), [&](const TagDef& t) { return t.name == name; });
  };
  for (const ConfigNode* cn : Items(table, "monitors")) {
    PF_ASSIGN_OR_RETURN(ConditionMonitorEntry e, ReadConditionMonitor(*cn));
    apps::ConditionMonitorConfig& c = e.monitor;
    for (const std::string* key : {&c.tag, &e.speed_tag}) {
      if (key->empty() || find_tag(*key) != pc.tags.end()) continue;
      std::string msg = fmt::format("unknown tag '{}'; a monitor watches tags declared under [[sources.tags]] or a template", *key);
      std::string nearest;
      size_t best = 4;
      for (const TagDef& t : pc.tags)
        if (size_t d = EditDistance(t.name, *key); d < best) best = d, nearest = t.name;
      if (!nearest.empty()) msg += fmt::format(" (did you mean '{}'?)", nearest);
      return ConfigError(*cn->Find(key == &c.tag ? "tag" : "speed_tag"), msg);
    }
    const TagDef wave = *find_tag(c.tag);
    if (c.asset.empty()) c.asset = wave.asset_id;
    if (c.asset.empty() || !pc.FindAsset(c.asset)) {
      std::string msg = fmt::format("unknown asset '{}'; {}", c.asset, AssetList(pc));
      const ConfigNode* an = cn->Find("asset");
      return an ? ConfigError(*an, msg) : ConfigErrorKey(*cn, "asset", msg);
    }
    if (auto it = names.find(c.name); it != names.end())
      return ConfigError(*cn, fmt::format("duplicate monitor name '{}' (first defined at {}); give each monitor a name",
                                          c.name, it->second->loc.ToString()));
    names[c.name] = cn;
    for (int d = 0; d < apps::kDerivedCount; ++d) {
      TagDef t;
      t.id = static_cast<TagId>(pc.tags.size());
      t.name = fmt::format("{}.{}", c.tag, apps::DerivedSuffix(static_cast<apps::Derived>(d)));
      if (tag_names.count(t.name))
        return ConfigError(*cn, fmt::format("derived tag '{}' of monitor '{}' is already declared", t.name, c.name));
      t.asset_id = c.asset;
      t.unit = std::string(apps::DerivedUnit(static_cast<apps::Derived>(d)));
      t.description = fmt::format("{} of {} (condition monitor '{}')", apps::DerivedSuffix(static_cast<apps::Derived>(d)),
                                  c.tag, c.name);
      t.source = wave.source;
      t.derived = true;
      tag_names[t.name] = cn;
      pc.tags.push_back(std::move(t));
    }
    alerts::ConditionConfig cc;
    cc.priority = c.priorities.bearing;
    cc.suppress_in_states = e.suppress_in_states;
    pc.alerts.engine.sources["condition:" + c.name] = cc;
    pc.condition_monitors.push_back(std::move(e));
  }
  for (const ConfigNode* cn : Items(table, "overall")) {
    PF_ASSIGN_OR_RETURN(OverallMonitorEntry e, ReadOverallMonitor(*cn));
    apps::OverallMonitorConfig& c = e.monitor;
    for (const std::string* key : {&c.tag, &e.speed_tag}) {
      if (key->empty() || find_tag(*key) != pc.tags.end()) continue;
      std::string msg = fmt::format("unknown tag '{}'; an overall monitor watches tags declared under [[sources.tags]] or a "
                                    "template", *key);
      std::string nearest;
      size_t best = 4;
      for (const TagDef& t : pc.tags)
        if (size_t d = EditDistance(t.name, *key); d < best) best = d, nearest = t.name;
      if (!nearest.empty()) msg += fmt::format(" (did you mean '{}'?)", nearest);
      return ConfigError(*cn->Find(key == &c.tag ? "tag" : "speed_tag"), msg);
    }
    const TagDef tag = *find_tag(c.tag);
    if (std::string why = NotScalar(pc, tag); !why.empty())
      return ConfigError(*cn->Find("tag"), fmt::format("tag '{}' {}; an overall monitor needs a numeric tag (velocity RMS "
                                                       "in mm/s)", c.tag, why));
    if (c.asset.empty()) c.asset = tag.asset_id;
    if (c.asset.empty() || !pc.FindAsset(c.asset)) {
      std::string msg = fmt::format("unknown asset '{}'; {}", c.asset, AssetList(pc));
      const ConfigNode* an = cn->Find("asset");
      return an ? ConfigError(*an, msg) : ConfigErrorKey(*cn, "asset", msg);
    }
    if (auto it = names.find(c.name); it != names.end())
      return ConfigError(*cn, fmt::format("duplicate monitor name '{}' (first defined at {}); give each monitor a name",
                                          c.name, it->second->loc.ToString()));
    names[c.name] = cn;
    for (int d = 0; d < apps::kOverallDerivedCount; ++d) {
      const auto which = static_cast<apps::OverallDerived>(d);
      TagDef t;
      t.id = static_cast<TagId>(pc.tags.size());
      t.name = fmt::format("{}.{}", c.tag, apps::OverallDerivedSuffix(which));
      if (tag_names.count(t.name))
        return ConfigError(*cn, fmt::format("derived tag '{}' of overall monitor '{}' is already declared", t.name, c.name));
      t.asset_id = c.asset;
      t.description = fmt::format("{} of {} (overall monitor '{}')", apps::OverallDerivedSuffix(which), c.tag, c.name);
      t.source = tag.source;
      t.derived = true;
      tag_names[t.name] = cn;
      pc.tags.push_back(std::move(t));
    }
    alerts::ConditionConfig cc;
    cc.priority = c.priorities.zone_d;
    cc.suppress_in_states = e.suppress_in_states;
    pc.alerts.engine.sources["condition:" + c.name] = cc;
    pc.condition_overall.push_back(std::move(e));
  }
  return Status::Ok();
}

}  // namespace

const Asset* PlantConfig::FindAsset(std::string_view id) const {
  for (const auto& a : assets)
    if (a.id == id) return &a;
  return nullptr;
}

std::span<const FieldSpec> RootSpec() { return kRootSpec; }
std::span<const FieldSpec> PlantSpec() { return kPlantSpec; }
std::span<const FieldSpec> ApiSpec() { return kApiSpec; }
std::span<const FieldSpec> HistorySpec() { return kHistorySpec; }
std::span<const FieldSpec> StoreSpec() { return kStoreSpec; }
std::span<const FieldSpec> AssetSpec() { return kAssetSpec; }
std::span<const FieldSpec> TemplateSpec() { return kTemplateSpec; }
std::span<const FieldSpec> CommonSourceSpec() { return kCommonSourceSpec; }
std::span<const FieldSpec> CommonTagSpec() { return kCommonTagSpec; }
std::span<const FieldSpec> AlertsSpec() { return kAlertsSpec; }

// [[models]]: each model is loaded here (so `plantfloor check` proves that its bindings fit), its
// input tags must be declared, and its outputs become tags "<name>.<output>..." (before the alert
// rules and charts are read, so they can watch them).
Status ReadModels(const ConfigNode& root, PlantConfig& pc, std::map<std::string, const ConfigNode*>& tag_names) {
  std::map<std::string, const ConfigNode*> names;
  for (const ConfigNode* mn : Items(root, "models")) {
    const std::string base = std::filesystem::path(mn->loc.file).parent_path().string();
    PF_ASSIGN_OR_RETURN(ModelEntry e, ReadModel(*mn, base));
    if (auto it = names.find(e.app.name); it != names.end())
      return ConfigError(*mn, fmt::format("duplicate model name '{}' (first defined at {})", e.app.name, it->second->loc.ToString()));
    names[e.app.name] = mn;
    std::string first_asset, source;
    for (const auto& b : e.app.inputs)
      for (const std::string& tag : b.tags) {
        auto t = std::find_if(pc.tags.begin(), pc.tags.end(), [&](const TagDef& d) { return d.name == tag; });
        if (t == pc.tags.end())
          return ConfigError(*mn, fmt::format("input '{}': unknown tag '{}'; a model reads tags declared under "
                                              "[[sources.tags]], a template or a monitor's derived tags", b.input, tag));
        // Waveform and string tags cannot feed a model input; a bool tag can (0 / 1).
        if (std::string why = NotScalar(pc, *t); !why.empty() && why.find("bool") == std::string::npos)
          return ConfigError(*mn, fmt::format("input '{}': tag '{}' {}", b.input, tag, why));
        if (first_asset.empty()) first_asset = t->asset_id, source = t->source;
      }
    if (e.asset.empty()) e.asset = first_asset;
    if (!pc.FindAsset(e.asset)) return ConfigErrorKey(*mn, "asset", fmt::format("unknown asset '{}'; {}", e.asset, AssetList(pc)));
    for (size_t k = 0; k < e.output_names.size(); ++k) {
      TagDef t;
      t.id = static_cast<TagId>(pc.tags.size());
      t.name = e.output_names[k];
      if (tag_names.count(t.name))
        return ConfigError(*mn, fmt::format("output tag '{}' of model '{}' is already declared", t.name, e.app.name));
      t.asset_id = e.asset;
      t.description = fmt::format("output of model '{}'", e.app.name);
      t.source = source;
      t.derived = true;
      tag_names[t.name] = mn;
      pc.tags.push_back(std::move(t));
    }
    pc.models.push_back(std::move(e));
  }
  return Status::Ok();
}

// [[vision]]: each station's model is loaded here (`plantfloor check` proves it fits), its asset and
// part-id tag must exist, and it declares its tags "<name>.verdict" ... (runtime/vision_config.h),
// stored for every part, before the alert rules and charts are read so they can watch them.
Status ReadVisions(const ConfigNode& root, PlantConfig& pc, std::map<std::string, const ConfigNode*>& tag_names) {
  std::map<std::string, const ConfigNode*> names, folders;
  std::map<std::pair<std::string, int>, const ConfigNode*> ports;  // verdict register maps (port 0: a free one, never a clash)
  for (const ConfigNode* vn : Items(root, "vision")) {
    const std::string base = std::filesystem::path(vn->loc.file).parent_path().string();
    PF_ASSIGN_OR_RETURN(VisionEntry e, ReadVision(*vn, base));
    if (auto it = names.find(e.name); it != names.end())
      return ConfigErrorKey(*vn, "name", fmt::format("duplicate station name '{}' (first defined at {})", e.name, it->second->loc.ToString()));
    names[e.name] = vn;
    std::error_code ec;
    std::string dir = std::filesystem::weakly_canonical(e.station.folder.dir, ec).string();
    if (ec) dir = e.station.folder.dir;
    if (e.station.modbus_port > 0) {
      // Two listeners clash on one port when their addresses are equal or one is a wildcard.
      const auto clash = [](const std::string& a, const std::string& b) {
        const auto any = [](const std::string& h) { return h.empty() || h == "0.0.0.0" || h == "::" || h == "[::]"; };
        return a == b || any(a) || any(b);
      };
      if (pc.api.enabled && pc.api.port == e.station.modbus_port && clash(pc.api.host, e.station.modbus_host))
        return ConfigErrorKey(*vn, "modbus_listen", fmt::format("port {} is the API's ([api] listen)", e.station.modbus_port));
      for (const auto& [other, node] : ports)
        if (other.second == e.station.modbus_port && clash(other.first, e.station.modbus_host))
          return ConfigErrorKey(*vn, "modbus_listen", fmt::format("port {} is taken by the station at {}", e.station.modbus_port,
                                                                   node->loc.ToString()));
      ports[{e.station.modbus_host, e.station.modbus_port}] = vn;
    }
    if (auto it = folders.find(dir); it != folders.end())
      return ConfigErrorKey(*vn, "watch", fmt::format("folder '{}' is watched by the station at {} already", dir,
                                                       it->second->loc.ToString()));
    folders[dir] = vn;
    if (!pc.FindAsset(e.asset)) return ConfigErrorKey(*vn, "asset", fmt::format("unknown asset '{}'; {}", e.asset, AssetList(pc)));
    if (!e.part_id_tag.empty()) {
      auto t = std::find_if(pc.tags.begin(), pc.tags.end(), [&](const TagDef& d) { return d.name == e.part_id_tag; });
      if (t == pc.tags.end() || t->derived)
        return ConfigErrorKey(*vn, "part_id_tag", fmt::format("{} tag '{}'; the part id is read from a tag declared under "
                                                              "[[sources.tags]] (a PLC register, an OPC UA node)",
                                                              t == pc.tags.end() ? "unknown" : "derived", e.part_id_tag));
    }
    static constexpr std::pair<const char*, const char*> kTags[] = {
        {"verdict", "1 accept, 2 reject, 3 uncertain"},
        {"class", "class index + 1 of the deciding ROI, 0 none"},
        {"confidence", "confidence of the deciding ROI, 0..1"},
        {"latency_ms", "image arrival to verdict, ms"},
    };
    for (const auto& [suffix, what] : kTags) {
      TagDef t;
      t.id = static_cast<TagId>(pc.tags.size());
      t.name = fmt::format("{}.{}", e.name, suffix);
      if (tag_names.count(t.name))
        return ConfigErrorKey(*vn, "name", fmt::format("tag '{}' of station '{}' is already declared", t.name, e.name));
      t.asset_id = e.asset;
      t.description = fmt::format("vision station '{}': {}", e.name, what);
      t.unit = std::string_view(suffix) == "latency_ms" ? "ms" : "";
      t.source = "vision:" + e.name;
      t.derived = true;
      t.store = StoreMode::kAll;  // every part, also a verdict equal to the last one
      tag_names[t.name] = vn;
      pc.tags.push_back(std::move(t));
    }
    pc.vision.push_back(std::move(e));
  }
  return Status::Ok();
}

Result<PlantConfig> BuildPlantConfig(ConfigNode root_in) {
  PlantConfig pc;
  auto root_ptr = std::make_shared<const ConfigNode>(std::move(root_in));
  pc.root = root_ptr;
  const ConfigNode& root = *root_ptr;
  PF_RETURN_IF_ERROR(ConfigReader(root, kRootSpec).Check());
  std::string default_site;
  PF_RETURN_IF_ERROR(ReadRuntime(root, pc, default_site));

  // Templates.
  std::map<std::string, const ConfigNode*> templates;
  for (const ConfigNode* tn : Items(root, "templates")) {
    ConfigReader r(*tn, kTemplateSpec);
    PF_RETURN_IF_ERROR(r.Check());
    PF_ASSIGN_OR_RETURN(std::string name, r.String("name"));
    if (templates.count(name))
      return r.Error("name", fmt::format("duplicate template '{}' (first defined at {})", name,
                                         templates[name]->loc.ToString()));
    templates[name] = tn;
    AssetTemplate at;
    at.name = name;
    std::set<std::string> tag_names;
    for (const ConfigNode* tt : Items(*tn, "tags")) {
      const ConfigNode* nn = tt->Find("name");
      if (!nn || nn->kind != ConfigNode::Kind::kString)
        return ConfigErrorKey(*tt, "name", "missing required key (a string; the tag's short name)");
      if (!tag_names.insert(nn->s).second)
        return ConfigError(*nn, fmt::format("duplicate tag '{}' in template '{}'", nn->s, name));
      at.tags.push_back({nn->s, "", "", ContextRole::kNone, 0});
    }
    pc.templates.push_back(std::move(at));
  }

  // Assets.
  for (const ConfigNode* an : Items(root, "assets")) {
    ConfigReader r(*an, kAssetSpec);
    PF_RETURN_IF_ERROR(r.Check());
    Asset a;
    PF_ASSIGN_OR_RETURN(a.id, r.String("id"));
    if (a.id.empty() || a.id.find_first_of(" /\t") != std::string::npos)
      return r.Error("id", fmt::format("an asset id must be non-empty without spaces or '/', got \"{}\"", a.id));
    if (pc.FindAsset(a.id)) return r.Error("id", fmt::format("duplicate asset '{}'", a.id));
    PF_ASSIGN_OR_RETURN(a.site, r.String("site", default_site));
    PF_ASSIGN_OR_RETURN(a.area, r.String("area"));
    PF_ASSIGN_OR_RETURN(a.line, r.String("line"));
    PF_ASSIGN_OR_RETURN(a.name, r.String("name", a.id));
    PF_ASSIGN_OR_RETURN(a.description, r.String("description"));
    PF_ASSIGN_OR_RETURN(a.template_name, r.String("template"));
    if (!a.template_name.empty() && !templates.count(a.template_name)) {
      std::vector<std::string> names;
      for (const auto& [n, _] : templates) names.push_back(n);
      return r.Error("template", fmt::format("unknown template '{}'; declared templates: {}", a.template_name,
                                             names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "))));
    }
    pc.assets.push_back(std::move(a));
  }

  // Sources and their tags.
  Builder b{pc, {}};
  std::set<std::string> source_names;
  for (const ConfigNode* sn : Items(root, "sources")) {
    const ConfigNode* type_node = sn->Find("type");
    if (!type_node) return ConfigErrorKey(*sn, "type", "missing required key (a string; connector type)");
    if (type_node->kind != ConfigNode::Kind::kString)
      return ConfigError(*type_node, fmt::format("expected a string, got {}", type_node->Describe()));
    const ConnectorInfo* c = FindConnector(type_node->s);
    if (!c) {
      std::vector<std::string_view> types;
      for (const auto& ci : Connectors()) types.push_back(ci.type);
      return ConfigError(*type_node, fmt::format("unknown source type '{}'; known types: {}", type_node->s,
                                                 fmt::join(types, ", ")));
    }
    auto spec = Merge(kCommonSourceSpec, c->source_spec);
    ConfigReader r(*sn, spec);
    PF_RETURN_IF_ERROR(r.Check());
    SourceConfig src;
    PF_ASSIGN_OR_RETURN(src.name, r.String("name"));
    if (!source_names.insert(src.name).second)
      return r.Error("name", fmt::format("duplicate source '{}'", src.name));
    src.type = type_node->s;
    src.connector = c;
    src.node = sn;
    PF_ASSIGN_OR_RETURN(src.enabled, r.Bool("enabled", true));
    PF_ASSIGN_OR_RETURN(std::string default_asset, r.String("asset"));
    auto tag_spec = Merge(kCommonTagSpec, c->tag_spec);
    for (const ConfigNode* tn : Items(*sn, "tags")) {
      ConfigReader tr(*tn, tag_spec);
      PF_RETURN_IF_ERROR(tr.Check());
      PF_ASSIGN_OR_RETURN(std::string name, tr.String("name"));
      PF_ASSIGN_OR_RETURN(std::string asset, tr.String("asset", default_asset));
      if (asset.empty())
        return ConfigErrorKey(*tn, "asset", "missing: every tag belongs to an asset; set asset on the tag or on its source");
      PF_RETURN_IF_ERROR(b.AddTag(src, *tn, tr, name, asset));
    }
    pc.sources.push_back(std::move(src));
  }

  // Uplinks: validated against their type's keys; created by the runtime.
  std::set<std::string> uplink_names;
  for (const ConfigNode* un : Items(root, "uplinks")) {
    const ConfigNode* type_node = un->Find("type");
    if (!type_node) return ConfigErrorKey(*un, "type", "missing required key (a string; uplink type: mqtt)");
    if (type_node->kind != ConfigNode::Kind::kString || type_node->s != "mqtt")
      return ConfigError(*type_node, fmt::format("unknown uplink type {}; known types: mqtt", type_node->Describe()));
    ConfigReader r(*un, uplink::MqttUplinkSpec());
    PF_RETURN_IF_ERROR(r.Check());
    // Semantics too (broker URL, qos, TLS files readable): `check` must catch them.
    PF_RETURN_IF_ERROR(uplink::ParseMqttUplinkConfig(*un).status());
    UplinkConfig u;
    PF_ASSIGN_OR_RETURN(u.name, r.String("name"));
    if (!uplink_names.insert(u.name).second) return r.Error("name", fmt::format("duplicate uplink '{}'", u.name));
    u.type = type_node->s;
    u.node = un;
    pc.uplinks.push_back(std::move(u));
  }

  // Template instantiation: <asset>.<tag> read by the asset's source.
  for (const ConfigNode* an : Items(root, "assets")) {
    ConfigReader r(*an, kAssetSpec);
    PF_ASSIGN_OR_RETURN(std::string id, r.String("id"));
    PF_ASSIGN_OR_RETURN(std::string tmpl, r.String("template"));
    PF_ASSIGN_OR_RETURN(std::string source, r.String("source"));
    if (tmpl.empty()) {
      if (!source.empty()) return r.Error("source", "source is only used with template (it reads the template's tags)");
      continue;
    }
    if (source.empty()) return r.Error("source", "missing: an asset with a template needs the source that reads its tags");
    auto it = std::find_if(pc.sources.begin(), pc.sources.end(), [&](const SourceConfig& s) { return s.name == source; });
    if (it == pc.sources.end()) return r.Error("source", fmt::format("unknown source '{}'", source));
    auto tag_spec = WithoutKey(Merge(kCommonTagSpec, it->connector->tag_spec), "asset");
    for (const ConfigNode* tt : Items(*templates[tmpl], "tags")) {
      ConfigReader tr(*tt, tag_spec);
      PF_RETURN_IF_ERROR(tr.Check());
      PF_RETURN_IF_ERROR(b.AddTag(*it, *tt, tr, id + "." + tt->Find("name")->s, id));
    }
  }
  PF_RETURN_IF_ERROR(ReadCondition(root, pc, b.tag_names));
  PF_RETURN_IF_ERROR(ReadModels(root, pc, b.tag_names));
  PF_RETURN_IF_ERROR(ReadVisions(root, pc, b.tag_names));
  PF_RETURN_IF_ERROR(ReadAlerts(root, pc, b.tag_names));
  PF_RETURN_IF_ERROR(ReadSpc(root, pc));
  return pc;
}

Result<std::vector<std::unique_ptr<Source>>> CreateSources(const PlantConfig& pc, MetricsRegistry& metrics) {
  std::vector<std::unique_ptr<Source>> out;
  for (const auto& s : pc.sources) {
    if (!s.enabled) continue;
    PF_ASSIGN_OR_RETURN(auto src, s.connector->create(*s.node, s.tags, metrics));
    out.push_back(std::move(src));
  }
  return out;
}

std::string ConfigReferenceMarkdown() {
  std::string out =
      "# plantfloor configuration reference\n\n"
      "Generated by `plantfloor config-reference` from the tables the validator uses (a golden test keeps\n"
      "docs/config-keys.md equal to it). Files are TOML; `${VAR}` and `${VAR:-default}` expand inside strings.\n"
      "Durations: `250ms`, `5s`, `10m`, `2h`, `30d` or integer milliseconds.\n\n";
  auto section = [&](std::string_view title, std::span<const FieldSpec> spec) {
    out += fmt::format("### {}\n\n{}\n", title, SpecToMarkdown(spec));
  };
  section("top level", kRootSpec);
  section("[plant]", kPlantSpec);
  section("[api]", kApiSpec);
  section("[history]", kHistorySpec);
  section("[store]", kStoreSpec);
  section("[[uplinks]] type = \"mqtt\"", uplink::MqttUplinkSpec());
  section("[[templates]]", kTemplateSpec);
  section("[[assets]]", kAssetSpec);
  section("[[sources]] (every type)", kCommonSourceSpec);
  section("[[sources.tags]] (every type)", kCommonTagSpec);
  section("[alerts]", kAlertsSpec);
  section("[[alerts.rules]]", alerts::ThresholdRuleSpec());
  section("[spc]", SpcSpec());
  section("[[spc.charts]]", SpcChartSpec());
  section("[condition]", ConditionSpec());
  section("[[condition.monitors]]", ConditionMonitorSpec());
  section("[[condition.overall]]", OverallMonitorSpec());
  section("[[models]]", ModelSpec());
  section("[[models.inputs]]", ModelInputSpec());
  section("[[vision]]", VisionSpec());
  for (const auto& c : Connectors()) {
    out += fmt::format("### type = \"{}\"\n\n{}\n\n", c.type, c.help);
    section(fmt::format("[[sources]] type = \"{}\"", c.type), c.source_spec);
    section(fmt::format("[[sources.tags]] of type = \"{}\"", c.type), c.tag_spec);
  }
  return out;
}

}  // namespace pf
