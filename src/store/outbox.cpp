#include "store/outbox_impl.h"

#include <algorithm>

#include "core/log.h"
#include "store/event_rows.h"
#include "store/sample_codec.h"

namespace pf {

std::string_view RecordTypeName(RecordType t) {
  switch (t) {
    case RecordType::kSample: return "sample";
    case RecordType::kEvent: return "event";
    case RecordType::kAlert: return "alert";
    case RecordType::kLabel: return "label";
    case RecordType::kLedger: return "ledger";
  }
  return "unknown";
}

namespace store {

uint64_t SampleRecordBytes(const Sample& s) {
  // rowid, type, tag, t, q, seq, rd, ct, bytes as varints plus the b-tree cell overhead.
  constexpr uint64_t kFixed = 48;
  if (const auto* text = std::get_if<std::string>(&s.value)) return kFixed + text->size();
  return kFixed;
}

uint64_t EventRecordBytes(const Event& e) {
  constexpr uint64_t kFixed = 160;  // the outbox row, the events row's integers and its index entries
  return kFixed + 2 * e.id.size() + e.asset_id.size() + e.source.size() + e.kind.size() + e.severity.size() +
         e.message.size() + e.payload_json.size() + e.model_version.size() + e.operator_name.size() +
         e.comment.size() + e.refers_to.size();
}

LedgerEntry ReadLedgerRow(const Statement& st) {
  LedgerEntry e;
  e.id = st.Text(0);
  e.recorded = Timestamp::FromNs(st.Int(1));
  e.asset = st.Text(2);
  e.tag = st.Text(3);
  e.evicted_type = static_cast<RecordType>(st.Int(4));
  e.from = Timestamp::FromNs(st.Int(5));
  e.to = Timestamp::FromNs(st.Int(6));
  e.count = static_cast<uint64_t>(st.Int(7));
  e.first_record = static_cast<uint64_t>(st.Int(8));
  e.last_record = static_cast<uint64_t>(st.Int(9));
  e.reason = st.Text(10);
  e.upstream_loss = st.Int(11) != 0;
  return e;
}

namespace {

constexpr const char* kSelectRecords =
    "SELECT o.id, o.type, o.bytes, o.t, o.v, o.q, o.seq, o.rd, o.ref, g.name, g.asset, g.unit, g.source "
    "FROM outbox o LEFT JOIN tags g ON g.id = o.tag WHERE o.id > ?1 ORDER BY o.id LIMIT ?2";

Result<LedgerEntry> GetLedgerRow(Database& db, const std::string& id) {
  PF_ASSIGN_OR_RETURN(StatementRef st, db.Prepare(std::string("SELECT ") + kLedgerColumns + " FROM ledger WHERE id = ?1"));
  st->BindText(1, id);
  PF_ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row) return DataLoss("ledger entry '{}' is referenced by the outbox but missing", id);
  return ReadLedgerRow(*st);
}

}  // namespace

Outbox::Outbox(std::shared_ptr<Connection> conn, OutboxOptions options)
    : conn_(std::move(conn)), db_(*conn_->db), options_(std::move(options)), last_flush_ns_(MonotonicNs()) {}

Outbox::~Outbox() {
  if (options_.metrics) options_.metrics->RemoveCallbacks(this);
  std::lock_guard lock(conn_->mu);
  if (Status s = FlushLocked(); !s.ok()) PF_LOG_WARN("outbox '{}': final flush: {}", options_.path, s.ToString());
}

Result<std::unique_ptr<Outbox>> Outbox::Open(std::shared_ptr<Connection> conn, OutboxOptions options) {
  std::unique_ptr<Outbox> out(new Outbox(std::move(conn), std::move(options)));
  {
    std::lock_guard lock(out->conn_->mu);
    PF_RETURN_IF_ERROR(out->LoadLocked());
  }
  std::vector<std::string> names;
  for (auto& [name, u] : out->uplinks_) names.push_back(name);
  for (const std::string& name : names) out->Watch(name);
  return out;
}

Status Outbox::LoadLocked() {
  PF_ASSIGN_OR_RETURN(StatementRef st, db_.Prepare("SELECT name, cursor FROM uplinks ORDER BY name"));
  for (;;) {
    PF_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) return Status::Ok();
    Uplink& u = uplinks_[st->Text(0)];
    u.cursor = u.persisted = u.read_pos = static_cast<uint64_t>(st->Int(1));
  }
}

void Outbox::Watch(const std::string& name) {
  MetricsRegistry* m = options_.metrics;
  if (!m) return;
  Counter& acked = m->GetCounter("pf_outbox_acked_total", "outbox records acknowledged by the uplink since start",
                                 {{"uplink", name}});
  {
    std::lock_guard lock(conn_->mu);
    uplinks_[name].acked = &acked;
  }
  m->GaugeCallback("pf_outbox_depth", "outbox records not yet acknowledged by the uplink", {{"uplink", name}},
                   [this, name] { return static_cast<double>(Stats(name).depth); }, this);
  m->GaugeCallback("pf_outbox_oldest_age_seconds", "age of the oldest record the uplink has not acknowledged",
                   {{"uplink", name}},
                   [this, name] {
                     OutboxStats s = Stats(name);
                     return s.oldest.ns == 0 ? 0.0 : (Now() - s.oldest).count() * 1e-9;
                   },
                   this);
}

Status Outbox::RegisterUplink(const std::string& uplink) {
  if (uplink.empty()) return InvalidArgument("outbox '{}': empty uplink name", options_.path);
  {
    std::lock_guard lock(conn_->mu);
    if (uplinks_.count(uplink)) return Status::Ok();
    // The oldest record still here is the first it gets; with none, only what comes next.
    PF_ASSIGN_OR_RETURN(StatementRef st, db_.Prepare(
        "SELECT coalesce((SELECT min(id) - 1 FROM outbox), "
        "(SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0)"));
    PF_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) return Internal("outbox '{}': start cursor query returned no row", options_.path);
    uint64_t cursor = static_cast<uint64_t>(st->Int(0));
    PF_ASSIGN_OR_RETURN(StatementRef ins, db_.Prepare("INSERT INTO uplinks(name, cursor) VALUES(?1, ?2)"));
    ins->BindText(1, uplink);
    ins->BindInt(2, static_cast<int64_t>(cursor));
    PF_RETURN_IF_ERROR_CTX(ins->Run(), "outbox: register uplink '{}'", uplink);
    Uplink& u = uplinks_[uplink];
    u.cursor = u.persisted = u.read_pos = cursor;
  }
  Watch(uplink);
  return Status::Ok();
}

Result<Outbox::Uplink*> Outbox::Find(const std::string& uplink, std::string_view what) {
  auto it = uplinks_.find(uplink);
  if (it == uplinks_.end())
    return NotFound("outbox '{}': {}: uplink '{}' was never registered", options_.path, what, uplink);
  return &it->second;
}

Result<OutboxRecord> Outbox::DecodeLocked(const Statement& st) {
  OutboxRecord r;
  r.id = static_cast<uint64_t>(st.Int(0));
  int64_t type = st.Int(1);
  if (type < 1 || type > 5) return DataLoss("outbox record {} has an unknown type {}", r.id, type);
  r.type = static_cast<RecordType>(type);
  r.stored_bytes = static_cast<size_t>(st.Int(2));
  if (r.type == RecordType::kSample) {
    OutboxSample s;
    auto value = ReadSampleValue(st, 4, st.Int(5));
    if (!value.ok()) return value.status().WithContext(fmt::format("outbox record {}", r.id));
    if (st.IsNull(9)) return DataLoss("outbox record {}: its tag is missing from the tags table", r.id);
    s.value = std::move(value->value);
    s.quality = value->quality;
    s.sub = value->sub;
    s.source_time = Timestamp::FromNs(st.Int(3));
    s.seq = static_cast<uint64_t>(st.Int(6));
    s.receive_time = Timestamp::FromNs(st.Int(3) + st.Int(7));
    s.tag = st.Text(9);
    s.asset = st.Text(10);
    s.unit = st.Text(11);
    s.source = st.Text(12);
    r.body = std::move(s);
  } else if (r.type == RecordType::kLedger) {
    PF_ASSIGN_OR_RETURN(r.body, GetLedgerRow(db_, st.Text(8)));
  } else {
    std::string ref = st.Text(8);
    PF_ASSIGN_OR_RETURN(std::optional<Event> e, GetEventRow(db_, ref));
    if (!e) return DataLoss("outbox record {}: event '{}' is missing from the events table", r.id, ref);
    r.body = std::move(*e);
  }
  return r;
}

Result<std::vector<OutboxRecord>> Outbox::Peek(const std::string& uplink, size_t max_records, size_t max_bytes) {
  std::lock_guard lock(conn_->mu);
  PF_ASSIGN_OR_RETURN(Uplink * u, Find(uplink, "peek"));
  std::vector<OutboxRecord> out;
  if (max_records == 0) return out;
  std::vector<std::pair<uint64_t, uint64_t>> taken;  // id, bytes
  {
    PF_ASSIGN_OR_RETURN(StatementRef st, db_.Prepare(kSelectRecords));
    st->BindInt(1, static_cast<int64_t>(u->read_pos));
    st->BindInt(2, static_cast<int64_t>(std::min<size_t>(max_records, 1 << 30)));
    size_t bytes = 0;
    for (;;) {
      PF_ASSIGN_OR_RETURN(bool row, st->Step());
      if (!row) break;
      size_t b = static_cast<size_t>(st->Int(2));
      if (!out.empty() && bytes + b > max_bytes) break;
      auto rec = DecodeLocked(*st);
      if (!rec.ok()) return rec.status().WithContext(fmt::format("outbox '{}': peek for '{}'", options_.path, uplink));
      bytes += b;
      taken.emplace_back(rec->id, b);
      out.push_back(std::move(rec).value());
    }
  }
  for (auto [id, b] : taken) u->in_flight.push_back({id, b, false});
  if (!taken.empty()) u->read_pos = taken.back().first;
  return out;
}

void Outbox::AdvanceLocked(Uplink& u) {
  while (!u.in_flight.empty() && u.in_flight.front().acked) {
    u.cursor = std::max(u.cursor, u.in_flight.front().id);
    u.in_flight.pop_front();
  }
  // Nothing in flight: everything handed out is acknowledged or gone.
  if (u.in_flight.empty()) u.cursor = std::max(u.cursor, u.read_pos);
}

Status Outbox::Ack(const std::string& uplink, uint64_t id) {
  std::lock_guard lock(conn_->mu);
  PF_ASSIGN_OR_RETURN(Uplink * u, Find(uplink, "ack"));
  if (id <= u->cursor) return Status::Ok();  // a duplicate acknowledgement
  auto it = std::lower_bound(u->in_flight.begin(), u->in_flight.end(), id,
                             [](const InFlight& f, uint64_t v) { return f.id < v; });
  // Not in flight: an acknowledgement from before a Rewind; the record is sent (and acked) again.
  if (it == u->in_flight.end() || it->id != id || it->acked) return Status::Ok();
  it->acked = true;
  ++u->acked_since_start;
  if (u->acked) u->acked->Inc();
  AdvanceLocked(*u);
  ++acks_since_flush_;
  return MaybeFlushLocked();
}

void Outbox::Rewind(const std::string& uplink) {
  std::lock_guard lock(conn_->mu);
  auto it = uplinks_.find(uplink);
  if (it == uplinks_.end()) return;
  it->second.in_flight.clear();
  it->second.read_pos = it->second.cursor;
}

OutboxStats Outbox::Stats(const std::string& uplink) const {
  std::lock_guard lock(conn_->mu);
  OutboxStats s;
  s.evicted = evicted_;
  auto it = uplinks_.find(uplink);
  if (it == uplinks_.end()) return s;
  const Uplink& u = it->second;
  s.acknowledged = u.acked_since_start;
  auto st = db_.Prepare("SELECT count(*), coalesce(sum(bytes), 0), (SELECT ct FROM outbox WHERE id > ?1 ORDER BY id LIMIT 1) "
                        "FROM outbox WHERE id > ?1");
  if (!st.ok()) return s;
  (*st)->BindInt(1, static_cast<int64_t>(u.cursor));
  auto row = (*st)->Step();
  if (!row.ok() || !*row) return s;
  s.depth = static_cast<uint64_t>((*st)->Int(0));
  s.bytes = static_cast<uint64_t>((*st)->Int(1));
  s.oldest = Timestamp::FromNs((*st)->IsNull(2) ? 0 : (*st)->Int(2));
  for (const InFlight& f : u.in_flight)  // acknowledged out of order: no longer pending
    if (f.acked) {
      --s.depth;
      s.bytes -= std::min(s.bytes, f.bytes);
    }
  return s;
}

Status Outbox::Flush() {
  std::lock_guard lock(conn_->mu);
  return FlushLocked();
}

Status Outbox::MaybeFlushLocked() {
  if (acks_since_flush_ == 0) return Status::Ok();
  if (acks_since_flush_ < options_.ack_flush_count &&
      MonotonicNs() - last_flush_ns_ < options_.ack_flush_interval.count())
    return Status::Ok();
  return FlushLocked();
}

Status Outbox::FlushLocked() {
  bool dirty = false;
  uint64_t min_cursor = UINT64_MAX;
  for (auto& [name, u] : uplinks_) {
    dirty |= u.cursor != u.persisted;
    min_cursor = std::min(min_cursor, u.cursor);
  }
  acks_since_flush_ = 0;
  last_flush_ns_ = MonotonicNs();
  if (!dirty) return Status::Ok();
  Transaction tx(db_);
  PF_RETURN_IF_ERROR_CTX(tx.Begin(), "outbox '{}': flush acknowledgements", options_.path);
  for (auto& [name, u] : uplinks_) {
    if (u.cursor == u.persisted) continue;
    PF_ASSIGN_OR_RETURN(StatementRef st, db_.Prepare("UPDATE uplinks SET cursor = ?2 WHERE name = ?1"));
    st->BindText(1, name);
    st->BindInt(2, static_cast<int64_t>(u.cursor));
    PF_RETURN_IF_ERROR_CTX(st->Run(), "outbox '{}': persist cursor of '{}'", options_.path, name);
  }
  PF_ASSIGN_OR_RETURN(StatementRef del, db_.Prepare("DELETE FROM outbox WHERE id <= ?1"));
  del->BindInt(1, static_cast<int64_t>(min_cursor));
  PF_RETURN_IF_ERROR_CTX(del->Run(), "outbox '{}': delete acknowledged records", options_.path);
  PF_RETURN_IF_ERROR_CTX(tx.Commit(), "outbox '{}': flush acknowledgements", options_.path);
  for (auto& [name, u] : uplinks_) u.persisted = u.cursor;
  return Status::Ok();
}

bool Outbox::AckedByAllLocked(uint64_t id) const {
  if (uplinks_.empty()) return false;
  for (const auto& [name, u] : uplinks_) {
    if (id <= u.cursor) continue;
    auto it = std::lower_bound(u.in_flight.begin(), u.in_flight.end(), id,
                               [](const InFlight& f, uint64_t v) { return f.id < v; });
    if (it == u.in_flight.end() || it->id != id || !it->acked) return false;
  }
  return true;
}

void Outbox::OnEvictedLocked(const std::vector<uint64_t>& ids) {
  if (ids.empty()) return;
  evicted_ += ids.size();
  std::vector<uint64_t> sorted = ids;
  std::sort(sorted.begin(), sorted.end());
  for (auto& [name, u] : uplinks_) {
    std::erase_if(u.in_flight, [&](const InFlight& f) { return std::binary_search(sorted.begin(), sorted.end(), f.id); });
    AdvanceLocked(u);
  }
}

uint64_t Outbox::TotalBytesLocked() const {
  auto st = db_.Prepare("SELECT coalesce(sum(bytes), 0) FROM outbox");
  if (!st.ok()) return 0;
  auto row = (*st)->Step();
  return row.ok() && *row ? static_cast<uint64_t>((*st)->Int(0)) : 0;
}

Status Outbox::InsertLocked(RecordType type, Timestamp t, const std::string& ref, uint64_t bytes,
                            Timestamp commit_time) {
  PF_ASSIGN_OR_RETURN(StatementRef st, db_.Prepare(
      "INSERT INTO outbox(type, t, ref, ct, bytes) VALUES(?1, ?2, ?3, ?4, ?5)"));
  st->BindInt(1, static_cast<int64_t>(type));
  st->BindInt(2, t.ns);
  st->BindText(3, ref);
  st->BindInt(4, commit_time.ns);
  st->BindInt(5, static_cast<int64_t>(bytes));
  return st->Run();
}

Status Outbox::EnqueueSampleLocked(int64_t db_tag, const Sample& s, Timestamp commit_time) {
  PF_ASSIGN_OR_RETURN(StatementRef st, db_.Prepare(
      "INSERT INTO outbox(type, tag, t, v, q, seq, rd, ct, bytes) VALUES(1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"));
  st->BindInt(1, db_tag);
  st->BindInt(2, s.source_time.ns);
  st->BindInt(4, BindSampleValue(*st, 3, s.value, s.quality, s.sub));
  st->BindInt(5, static_cast<int64_t>(s.seq));
  st->BindInt(6, s.receive_time.ns - s.source_time.ns);
  st->BindInt(7, commit_time.ns);
  st->BindInt(8, static_cast<int64_t>(SampleRecordBytes(s)));
  return st->Run();
}

Status Outbox::EnqueueEventLocked(const Event& e, RecordType type, Timestamp commit_time) {
  return InsertLocked(type, e.start, e.id, EventRecordBytes(e), commit_time);
}

Status Outbox::EnqueueLedgerLocked(const LedgerEntry& entry, Timestamp commit_time) {
  return InsertLocked(RecordType::kLedger, entry.recorded, entry.id, kLedgerRecordBytes, commit_time);
}

}  // namespace store
}  // namespace pf
