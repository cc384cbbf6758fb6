#pragma once
// Event <-> nlohmann::json, for the API that embeds events in larger documents. The text forms
// (EventToJson, EventFromJson) are in store/event_store.h; the field contract is written there.
#include <nlohmann/json.hpp>

#include "core/model.h"
#include "core/status.h"

namespace pf {

// payload_json that is not valid JSON (never the case for events from EventStore, which validates
// on Append) is emitted as a JSON string so nothing is lost.
nlohmann::json EventToJsonObject(const Event& e);
Result<Event> EventFromJsonObject(const nlohmann::json& j);

}  // namespace pf
