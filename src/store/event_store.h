#pragma once
// Events (and labels, which are events of kind "label") in SQLite, with cursor paging.
// Shares the database file of the history store when given the same path (its own connection;
// WAL lets both work at once). Thread-safe: calls are serialised inside.
//
// Append refuses (kInvalidArgument) an empty id or kind, end before start, and a payload_json that
// is not a JSON object; a duplicate id is kAlreadyExists and writes nothing.
// Query returns events newest first by (start, id); cursor is the opaque next_cursor of the previous
// page, and a page never repeats or skips an event even when events are appended meanwhile (new
// ones older than the cursor appear on later pages). limit must be 1..10000 (kInvalidArgument).
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/model.h"
#include "core/status.h"

namespace pf {
namespace store {
struct Connection;
}
class Store;

struct EventQuery {
  std::optional<std::string> asset_id;
  std::optional<std::string> kind;
  std::optional<std::string> source;
  std::optional<std::string> refers_to;  // the events that follow up (label) this event id
  std::optional<Timestamp> from, to;  // on start time, [from, to)
  std::string cursor;                 // opaque; "" = from the newest
  size_t limit = 100;
};

struct EventPage {
  std::vector<Event> events;  // newest first
  std::string next_cursor;    // "" when there is no more
};

class EventStore {
 public:
  static Result<std::unique_ptr<EventStore>> Open(const std::string& path);
  // Over a connection shared with other stores (store/store.h).
  static Result<std::unique_ptr<EventStore>> OpenShared(std::shared_ptr<store::Connection> conn);
  ~EventStore();
  Status Append(const Event& e);
  Result<EventPage> Query(const EventQuery& q) const;
  Result<std::optional<Event>> Get(const std::string& id) const;
  struct Impl;

 private:
  friend class Store;
  explicit EventStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Event <-> JSON object text (the versioned schema in docs/schema.md). Field names: schema_version,
// id, asset, source, start, end (RFC 3339 UTC with ms), kind, severity, message, payload (object),
// model_version, operator, comment, refers_to, context (object of strings). store/event_json.h has
// the nlohmann::json forms.
std::string EventToJson(const Event& e);
// Parses one event object, e.g. a REST body. Required: asset, source, start, kind. Optional (default):
// schema_version (1), id (""), end (= start), severity ("info"; info|low|medium|high), message,
// model_version, operator, comment, refers_to (""), payload ({}), context ({}); null = absent.
// Unknown fields are refused. Errors are kInvalidArgument naming the field and what was expected:
// "event json: field 'start': expected an RFC 3339 time string, got number".
Result<Event> EventFromJson(std::string_view json);

}  // namespace pf
