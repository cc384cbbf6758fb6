// AlertEngine::Snapshot / Restore: the engine state as versioned JSON, so alert state survives
// kill -9 (the caller stores the snapshot with the transitions of the same call in one commit).
#include <algorithm>

#include <nlohmann/json.hpp>

#include "alerts/alert_engine.h"

namespace pf::alerts {

using nlohmann::json;

namespace {
constexpr int kSnapshotVersion = 1;
}  // namespace

std::string AlertEngine::Snapshot() const {
  json conditions = json::array();
  for (const auto& [key, c] : conditions_) {
    json activations = json::array();
    for (Timestamp t : c.activations) activations.push_back(t.ns);
    conditions.push_back({
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
    });
  }
  json j = {{"version", kSnapshotVersion},
            {"next_seq", next_seq_},
            {"max_shelve_ns", max_shelve_.count()},
            {"conditions", conditions},
            {"floods", flood_.ToJson()}};
  return j.dump();
}

Result<AlertEngine> AlertEngine::Restore(AlertEngineConfig config, const std::string& snapshot) {
  PF_ASSIGN_OR_RETURN(AlertEngine engine, Create(std::move(config)));
  try {
    json j = json::parse(snapshot);
    int version = j.at("version").get<int>();
    if (version != kSnapshotVersion)
      return DataLoss("alerts snapshot: version {} is not supported (this build reads {})", version, kSnapshotVersion);
    engine.next_seq_ = j.at("next_seq").get<uint64_t>();
    engine.max_shelve_ = Duration(j.at("max_shelve_ns").get<int64_t>());
    for (const auto& cj : j.at("conditions")) {
      Condition c;
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
      Key key{c.asset, c.cause};
      if (!engine.conditions_.emplace(key, std::move(c)).second)
        return DataLoss("alerts snapshot: condition '{}/{}' appears twice", key.first, key.second);
    }
    PF_RETURN_IF_ERROR(engine.flood_.FromJson(j.at("floods")));
  } catch (const json::exception& e) {
    return DataLoss("alerts snapshot: {}", e.what());
  }
  return engine;
}

}  // namespace pf::alerts
