#include "store/event_store.h"

#include <cstdio>
#include <mutex>
#include <variant>

#include <nlohmann/json.hpp>

#include "core/time.h"
#include "store/connection.h"
#include "store/event_rows.h"
#include "store/sqlite_db.h"

namespace pf {
namespace {

using nlohmann::json;
using store::StatementRef;

constexpr size_t kMaxLimit = 10000;

// Cursor: "e1" + 16 hex digits of the start ns + the id's bytes in hex. Opaque to callers.
std::string EncodeCursor(const Event& e) {
  std::string out = fmt::format("e1{:016x}", static_cast<uint64_t>(e.start.ns));
  for (unsigned char c : e.id) out += fmt::format("{:02x}", c);
  return out;
}

bool HexValue(char c, unsigned& v) {
  if (c >= '0' && c <= '9') v = static_cast<unsigned>(c - '0');
  else if (c >= 'a' && c <= 'f') v = static_cast<unsigned>(c - 'a' + 10);
  else return false;
  return true;
}

Result<std::pair<int64_t, std::string>> DecodeCursor(const std::string& cursor) {
  Status bad = InvalidArgument("event query: malformed cursor '{}'", cursor);
  if (cursor.size() < 20 || cursor.size() % 2 != 0 || cursor.compare(0, 2, "e1") != 0) return bad;
  uint64_t start = 0;
  for (size_t i = 2; i < 18; ++i) {
    unsigned v;
    if (!HexValue(cursor[i], v)) return bad;
    start = start << 4 | v;
  }
  std::string id;
  for (size_t i = 18; i < cursor.size(); i += 2) {
    unsigned hi, lo;
    if (!HexValue(cursor[i], hi) || !HexValue(cursor[i + 1], lo)) return bad;
    id.push_back(static_cast<char>(hi << 4 | lo));
  }
  return std::pair{static_cast<int64_t>(start), std::move(id)};
}

using Param = std::variant<int64_t, std::string>;

}  // namespace

namespace store {

namespace {
std::string ContextJson(const ProductionContext& context) {
  json j = json::object();
  for (const auto& [k, v] : context) j[k] = v;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

Status ValidateEvent(const Event& e) {
  if (e.id.empty()) return InvalidArgument("event store: event of kind '{}' has an empty id", e.kind);
  if (e.kind.empty()) return InvalidArgument("event store: event '{}' has an empty kind", e.id);
  if (e.end < e.start)
    return InvalidArgument("event store: event '{}': end {} is before start {}", e.id, FormatRfc3339(e.end),
                           FormatRfc3339(e.start));
  json payload = json::parse(e.payload_json, nullptr, /*allow_exceptions=*/false);
  if (payload.is_discarded() || !payload.is_object())
    return InvalidArgument("event store: event '{}': payload_json is not a JSON object: '{}'", e.id, e.payload_json);
  return Status::Ok();
}

Result<Event> ReadEventRow(const Statement& st) {
  Event e;
  e.id = st.Text(0);
  e.schema_version = static_cast<int>(st.Int(1));
  e.asset_id = st.Text(2);
  e.source = st.Text(3);
  e.start = Timestamp::FromNs(st.Int(4));
  e.end = Timestamp::FromNs(st.Int(5));
  e.kind = st.Text(6);
  e.severity = st.Text(7);
  e.message = st.Text(8);
  e.payload_json = st.Text(9);
  e.model_version = st.Text(10);
  e.operator_name = st.Text(11);
  e.comment = st.Text(12);
  e.refers_to = st.Text(13);
  json context = json::parse(st.Text(14), nullptr, /*allow_exceptions=*/false);
  if (context.is_discarded() || !context.is_object())
    return DataLoss("event store: event '{}': stored context is not a JSON object", e.id);
  for (auto it = context.begin(); it != context.end(); ++it)
    if (it->is_string()) e.context[it.key()] = it->get<std::string>();
  return e;
}


Status InsertEventRow(Database& db, const Event& e) {
  PF_ASSIGN_OR_RETURN(StatementRef st, db.Prepare(fmt::format(
      "INSERT INTO events({}) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)", kEventColumns)));
  st->BindText(1, e.id);
  st->BindInt(2, e.schema_version);
  st->BindText(3, e.asset_id);
  st->BindText(4, e.source);
  st->BindInt(5, e.start.ns);
  st->BindInt(6, e.end.ns);
  st->BindText(7, e.kind);
  st->BindText(8, e.severity);
  st->BindText(9, e.message);
  st->BindText(10, e.payload_json);
  st->BindText(11, e.model_version);
  st->BindText(12, e.operator_name);
  st->BindText(13, e.comment);
  st->BindText(14, e.refers_to);
  st->BindText(15, ContextJson(e.context));
  Status s = st->Run();
  if (s.code() == StatusCode::kAlreadyExists)
    return AlreadyExists("event store: event id '{}' already exists", e.id);
  return s.WithContext(fmt::format("event store: append '{}'", e.id));
}

Result<std::optional<Event>> GetEventRow(Database& db, const std::string& id) {
  PF_ASSIGN_OR_RETURN(StatementRef st, db.Prepare(fmt::format("SELECT {} FROM events WHERE id = ?1", kEventColumns)));
  st->BindText(1, id);
  PF_ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row) return std::optional<Event>{};
  PF_ASSIGN_OR_RETURN(Event e, ReadEventRow(*st));
  return std::optional<Event>(std::move(e));
}

}  // namespace store

struct EventStore::Impl {
  std::shared_ptr<store::Connection> conn;  // conn->mu serialises every call
};

EventStore::EventStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EventStore::~EventStore() = default;

Result<std::unique_ptr<EventStore>> EventStore::Open(const std::string& path) {
  auto conn = std::make_shared<store::Connection>();
  PF_ASSIGN_OR_RETURN(conn->db, store::Database::Open({.path = path}));
  return OpenShared(std::move(conn));
}

Result<std::unique_ptr<EventStore>> EventStore::OpenShared(std::shared_ptr<store::Connection> conn) {
  if (!conn || !conn->db) return InvalidArgument("event store: no open connection given");
  auto impl = std::make_unique<Impl>();
  impl->conn = std::move(conn);
  return std::unique_ptr<EventStore>(new EventStore(std::move(impl)));
}

Status EventStore::Append(const Event& e) {
  PF_RETURN_IF_ERROR(store::ValidateEvent(e));
  std::lock_guard lock(impl_->conn->mu);
  return store::InsertEventRow(*impl_->conn->db, e);
}

Result<EventPage> EventStore::Query(const EventQuery& q) const {
  if (q.limit == 0 || q.limit > kMaxLimit)
    return InvalidArgument("event query: limit must be 1..{}, got {}", kMaxLimit, q.limit);
  std::string sql = fmt::format("SELECT {} FROM events WHERE 1", store::kEventColumns);
  std::vector<Param> params;
  auto add = [&](std::string_view clause, Param p) {
    sql += clause;
    params.push_back(std::move(p));
  };
  if (q.from) add(" AND start_ns >= ?", q.from->ns);
  if (q.to) add(" AND start_ns < ?", q.to->ns);
  if (!q.cursor.empty()) {
    PF_ASSIGN_OR_RETURN(auto cursor, DecodeCursor(q.cursor));
    add(" AND (start_ns, id) < (?", cursor.first);
    add(", ?)", std::move(cursor.second));
  }
  if (q.asset_id) add(" AND asset = ?", *q.asset_id);
  if (q.kind) add(" AND kind = ?", *q.kind);
  if (q.source) add(" AND source = ?", *q.source);
  if (q.refers_to) add(" AND refers_to = ?", *q.refers_to);
  add(" ORDER BY start_ns DESC, id DESC LIMIT ?", static_cast<int64_t>(q.limit + 1));

  std::lock_guard lock(impl_->conn->mu);
  PF_ASSIGN_OR_RETURN(StatementRef st, impl_->conn->db->Prepare(sql));
  for (size_t i = 0; i < params.size(); ++i) {
    int index = static_cast<int>(i + 1);
    if (auto* n = std::get_if<int64_t>(&params[i])) st->BindInt(index, *n);
    else st->BindText(index, std::get<std::string>(params[i]));
  }
  EventPage page;
  for (;;) {
    PF_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    if (page.events.size() == q.limit) {  // one more exists: the page is full
      page.next_cursor = EncodeCursor(page.events.back());
      break;
    }
    PF_ASSIGN_OR_RETURN(Event e, store::ReadEventRow(*st));
    page.events.push_back(std::move(e));
  }
  return page;
}

Result<std::optional<Event>> EventStore::Get(const std::string& id) const {
  std::lock_guard lock(impl_->conn->mu);
  return store::GetEventRow(*impl_->conn->db, id);
}

}  // namespace pf
