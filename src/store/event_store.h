#pragma once
// Events (and labels, which are events of kind "label") in SQLite, with cursor paging.
// Shares the database file of the history store when given the same path. Thread-safe.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/model.h"
#include "core/status.h"

namespace pf {

struct EventQuery {
  std::optional<std::string> asset_id;
  std::optional<std::string> kind;
  std::optional<std::string> source;
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
  ~EventStore();
  Status Append(const Event& e);
  Result<EventPage> Query(const EventQuery& q) const;
  Result<std::optional<Event>> Get(const std::string& id) const;
  struct Impl;

 private:
  explicit EventStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Event <-> JSON object text (the versioned schema in docs/schema.md).
std::string EventToJson(const Event& e);

}  // namespace pf
