#pragma once
// Internal to store/: one event row of the events table (store/schema.h), shared by EventStore and
// Store::Commit, which writes events inside its own transaction. The caller holds the connection's
// mutex.
#include <optional>
#include <string>

#include "core/model.h"
#include "core/status.h"
#include "store/sqlite_db.h"

namespace pf::store {

inline constexpr const char* kEventColumns =
    "id, schema_version, asset, source, start_ns, end_ns, kind, severity, message, payload, model_version, "
    "operator, comment, refers_to, context";

// kInvalidArgument for an empty id or kind, end before start, a payload that is not a JSON object.
Status ValidateEvent(const Event& e);
// Inserts a validated event; a duplicate id is kAlreadyExists.
Status InsertEventRow(Database& db, const Event& e);
// A row selected with kEventColumns in that order.
Result<Event> ReadEventRow(const Statement& st);
Result<std::optional<Event>> GetEventRow(Database& db, const std::string& id);

}  // namespace pf::store
