// AlertEngine::Snapshot / TakeSnapshotDelta / Restore: the engine state as versioned JSON, so alert
// state survives kill -9 (the caller stores it with the transitions of the same call in one
// commit): whole, or incrementally as a global part and one document per changed condition.
#include <algorithm>

#include <nlohmann/json.hpp>

#include "alerts/alert_engine.h"

namespace pf::alerts {

using nlohmann::json;

namespace {
constexpr int kSnapshotVersion = 1;  // the whole state in one document (Snapshot)
constexpr int kDeltaVersion = 2;     // the global part of the incremental state (TakeSnapshotDelta)
}  // namespace

// Reads and writes the parts of the engine's state (friend of AlertEngine).
struct SnapshotCodec {
  static json ConditionJson(const AlertEngine::Condition& c) {
    json activations = json::array();
    for (Timestamp t : c.activations) activations.push_back(t.ns);
    return {
        {"asset", c.asset},
        {"cause", c.cause},
        {"source", c.source},
        {"priority", PriorityName(c.priority)},
        {"raw", c.raw},
        {"raw_since", c.raw_since.ns},
        {"last_update", c.last_update.ns},
        {"debounced", c.debounced},
        {"life", AlertStateName(c.life)},
        {"alert_id", c.alert_id},
        {"raised_at", c.raised_at.ns},
        {"acked_by", c.acked_by},
        {"acked_at", c.acked_at.ns},
        {"chattering", c.chattering},
        {"activations", activations},
        {"shelved", c.shelved},
        {"shelve_expiry", c.shelve_expiry.ns},
        {"shelve_reason", c.shelve_reason},
        {"shelved_by", c.shelved_by},
        {"suppressed", c.suppressed},
        {"value", c.value},
        {"machine_state", c.machine_state},
        {"message", c.message},
    };
  }

  // Throws json::exception on a missing or mistyped field.
  static Status AddCondition(AlertEngine& engine, const json& cj) {
    AlertEngine::Condition c;
    c.asset = cj.at("asset").get<std::string>();
    c.cause = cj.at("cause").get<std::string>();
    c.source = cj.at("source").get<std::string>();
    auto priority = ParsePriority(cj.at("priority").get<std::string>());
    auto life = ParseAlertState(cj.at("life").get<std::string>());
    if (!priority || !life || static_cast<int>(*life) > static_cast<int>(AlertState::kRtnUnacked))
      return DataLoss("alerts snapshot: condition '{}/{}': bad priority or state", c.asset, c.cause);
    c.priority = *priority;
    c.life = *life;
    c.raw = cj.at("raw").get<bool>();
    c.raw_since = Timestamp{cj.at("raw_since").get<int64_t>()};
    c.last_update = Timestamp{cj.at("last_update").get<int64_t>()};
    c.debounced = cj.at("debounced").get<bool>();
    c.alert_id = cj.at("alert_id").get<std::string>();
    c.raised_at = Timestamp{cj.at("raised_at").get<int64_t>()};
    c.acked_by = cj.at("acked_by").get<std::string>();
    c.acked_at = Timestamp{cj.at("acked_at").get<int64_t>()};
    c.chattering = cj.at("chattering").get<bool>();
    for (const auto& t : cj.at("activations")) c.activations.push_back(Timestamp{t.get<int64_t>()});
    c.shelved = cj.at("shelved").get<bool>();
    c.shelve_expiry = Timestamp{cj.at("shelve_expiry").get<int64_t>()};
    c.shelve_reason = cj.at("shelve_reason").get<std::string>();
    c.shelved_by = cj.at("shelved_by").get<std::string>();
    c.suppressed = cj.at("suppressed").get<bool>();
    c.value = cj.at("value").get<double>();
    c.machine_state = cj.at("machine_state").get<std::string>();
    c.message = cj.at("message").get<std::string>();
    AlertEngine::Key key{c.asset, c.cause};
    if (!engine.conditions_.emplace(key, std::move(c)).second)
      return DataLoss("alerts snapshot: condition '{}/{}' appears twice", key.first, key.second);
    return Status::Ok();
  }

  static json GlobalJson(const AlertEngine& e, int version) {
    return {{"version", version}, {"next_seq", e.next_seq_}, {"max_shelve_ns", e.max_shelve_.count()}};
  }

  // Throws json::exception on a missing or mistyped field.
  static void ReadGlobal(AlertEngine& e, const json& j) {
    e.next_seq_ = j.at("next_seq").get<uint64_t>();
    e.max_shelve_ = Duration(j.at("max_shelve_ns").get<int64_t>());
  }
};

std::string AlertEngine::ConditionStateKey(const std::string& asset, const std::string& cause) {
  return fmt::format("{}{}\x1f{}", kConditionStatePrefix, asset, cause);
}

void AlertEngine::MarkAllDirty() {
  global_dirty_ = true;
  floods_dirty_ = true;
  for (const auto& [key, c] : conditions_) dirty_.insert(key);
}

std::optional<AlertEngine::SnapshotDelta> AlertEngine::TakeSnapshotDelta() {
  if (!global_dirty_ && !floods_dirty_ && dirty_.empty()) return std::nullopt;
  SnapshotDelta d;
  d.global = SnapshotCodec::GlobalJson(*this, kDeltaVersion).dump();
  if (floods_dirty_) d.floods = flood_.ToJson().dump();
  floods_dirty_ = false;
  for (const Key& key : dirty_) {
    auto it = conditions_.find(key);
    if (it == conditions_.end()) continue;
    d.conditions.emplace_back(ConditionStateKey(key.first, key.second), SnapshotCodec::ConditionJson(it->second).dump());
  }
  dirty_.clear();
  global_dirty_ = false;
  return d;
}

std::string AlertEngine::Snapshot() const {
  json conditions = json::array();
  for (const auto& [key, c] : conditions_) conditions.push_back(SnapshotCodec::ConditionJson(c));
  json j = SnapshotCodec::GlobalJson(*this, kSnapshotVersion);
  j["floods"] = flood_.ToJson();
  j["conditions"] = conditions;
  return j.dump();
}

Result<AlertEngine> AlertEngine::Restore(AlertEngineConfig config, const std::string& snapshot) {
  PF_ASSIGN_OR_RETURN(AlertEngine engine, Create(std::move(config)));
  try {
    json j = json::parse(snapshot);
    int version = j.at("version").get<int>();
    if (version != kSnapshotVersion)
      return DataLoss("alerts snapshot: version {} is not supported (this build reads {})", version, kSnapshotVersion);
    for (const auto& cj : j.at("conditions")) PF_RETURN_IF_ERROR(SnapshotCodec::AddCondition(engine, cj));
    SnapshotCodec::ReadGlobal(engine, j);
    PF_RETURN_IF_ERROR(engine.flood_.FromJson(j.at("floods")));
  } catch (const json::exception& e) {
    return DataLoss("alerts snapshot: {}", e.what());
  }
  return engine;
}

Result<AlertEngine> AlertEngine::Restore(AlertEngineConfig config, const std::string& global,
                                         const std::optional<std::string>& floods,
                                         const std::vector<std::string>& conditions) {
  PF_ASSIGN_OR_RETURN(AlertEngine engine, Create(std::move(config)));
  try {
    json j = json::parse(global);
    int version = j.at("version").get<int>();
    if (version != kDeltaVersion)
      return DataLoss("alerts state: version {} is not supported (this build reads {})", version, kDeltaVersion);
    SnapshotCodec::ReadGlobal(engine, j);
    if (floods) PF_RETURN_IF_ERROR(engine.flood_.FromJson(json::parse(*floods)));
    for (const std::string& text : conditions) PF_RETURN_IF_ERROR(SnapshotCodec::AddCondition(engine, json::parse(text)));
  } catch (const json::exception& e) {
    return DataLoss("alerts state: {}", e.what());
  }
  return engine;
}

}  // namespace pf::alerts
