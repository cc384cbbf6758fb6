#include "store/schema.h"

#include <array>

#include "core/time.h"
#include "store/sqlite_db.h"

namespace pf::store {
namespace {

struct Migration {
  int version;
  const char* description;
  const char* sql;
};

constexpr std::array<Migration, 5> kMigrations = {{
    {1, "tags, samples, events",
     R"sql(
CREATE TABLE IF NOT EXISTS schema_version(
  version INTEGER PRIMARY KEY, applied_ns INTEGER NOT NULL, description TEXT NOT NULL);
CREATE TABLE tags(
  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, asset TEXT NOT NULL DEFAULT '',
  unit TEXT NOT NULL DEFAULT '', description TEXT NOT NULL DEFAULT '', source TEXT NOT NULL DEFAULT '');
CREATE TABLE samples(
  tag INTEGER NOT NULL, t INTEGER NOT NULL, v, q INTEGER NOT NULL, seq INTEGER NOT NULL,
  rd INTEGER NOT NULL, PRIMARY KEY(tag, t)) WITHOUT ROWID;
CREATE TABLE events(
  id TEXT NOT NULL UNIQUE, schema_version INTEGER NOT NULL,
  asset TEXT NOT NULL, source TEXT NOT NULL, start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL,
  kind TEXT NOT NULL, severity TEXT NOT NULL, message TEXT NOT NULL, payload TEXT NOT NULL,
  model_version TEXT NOT NULL, operator TEXT NOT NULL, comment TEXT NOT NULL,
  refers_to TEXT NOT NULL, context TEXT NOT NULL);
CREATE INDEX events_start ON events(start_ns, id);
)sql"},
    {2, "outbox, uplinks, ledger",
     R"sql(
CREATE TABLE outbox(
  id INTEGER PRIMARY KEY AUTOINCREMENT, type INTEGER NOT NULL, tag INTEGER, t INTEGER NOT NULL,
  v, q INTEGER NOT NULL DEFAULT 0, seq INTEGER NOT NULL DEFAULT 0, rd INTEGER NOT NULL DEFAULT 0,
  ref TEXT, ct INTEGER NOT NULL, bytes INTEGER NOT NULL);
CREATE INDEX outbox_ref ON outbox(ref) WHERE ref IS NOT NULL;
CREATE TABLE uplinks(name TEXT PRIMARY KEY, cursor INTEGER NOT NULL);
CREATE TABLE ledger(
  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, recorded INTEGER NOT NULL,
  asset TEXT NOT NULL, tag TEXT NOT NULL, type INTEGER NOT NULL, from_ns INTEGER NOT NULL,
  to_ns INTEGER NOT NULL, count INTEGER NOT NULL, first_record INTEGER NOT NULL,
  last_record INTEGER NOT NULL, reason TEXT NOT NULL, upstream_loss INTEGER NOT NULL);
)sql"},
    {3, "recent: the history's staging table in arrival order",
     R"sql(
CREATE TABLE recent(
  id INTEGER PRIMARY KEY, tag INTEGER NOT NULL, t INTEGER NOT NULL, v, q INTEGER NOT NULL,
  seq INTEGER NOT NULL, rd INTEGER NOT NULL);
)sql"},
    {4, "state: small key-value state of modules (the alert engine's snapshot)",
     R"sql(
CREATE TABLE state(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
)sql"},
    {5, "events_refers_to: the events (labels, alert transitions) that follow up an alert",
     R"sql(
CREATE INDEX events_refers_to ON events(refers_to) WHERE refers_to <> '';
)sql"},
}};

Result<int> UserVersion(Database& db) {
  PF_ASSIGN_OR_RETURN(StatementRef st, db.Prepare("PRAGMA user_version"));
  PF_ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row) return Internal("sqlite '{}': PRAGMA user_version returned no row", db.path());
  return static_cast<int>(st->Int(0));
}

Status Apply(Database& db, const Migration& m) {
  PF_RETURN_IF_ERROR_CTX(db.Exec(m.sql), "schema migration to version {}", m.version);
  PF_ASSIGN_OR_RETURN(StatementRef st, db.Prepare(
      "INSERT INTO schema_version(version, applied_ns, description) VALUES(?1, ?2, ?3)"));
  st->BindInt(1, m.version);
  st->BindInt(2, Now().ns);
  st->BindText(3, m.description);
  PF_RETURN_IF_ERROR(st->Run());
  return db.Exec(fmt::format("PRAGMA user_version={}", m.version));
}

}  // namespace

Status Migrate(Database& db) {
  Transaction tx(db);
  PF_RETURN_IF_ERROR(tx.Begin());
  PF_ASSIGN_OR_RETURN(int version, UserVersion(db));
  if (version > kSchemaVersion)
    return FailedPrecondition("sqlite '{}': schema version {} is newer than this build knows ({})", db.path(),
                              version, kSchemaVersion);
  for (const Migration& m : kMigrations)
    if (m.version > version) PF_RETURN_IF_ERROR(Apply(db, m));
  return tx.Commit();
}

}  // namespace pf::store
