#pragma once
// The one place where the store's SQLite schema is defined and migrated.
//
// The schema version is PRAGMA user_version; each applied migration is also recorded in the table
// schema_version(version, applied_ns, description) for diagnostics. Migrations run in order inside
// one BEGIN IMMEDIATE transaction, so two connections opening the same file at once (history and
// events share it) never apply a step twice. A database written by a newer build (user_version
// above kSchemaVersion) is refused with kFailedPrecondition rather than guessed at.
//
// Version 1:
//   tags(id, name UNIQUE, asset, unit, description, source)       name <-> stable db id
//   samples(tag, t, v, q, seq, rd) PRIMARY KEY(tag, t) WITHOUT ROWID
//     t   source time, UTC ns
//     v   the value, typed by sqlite storage class: REAL (double), INTEGER (int64, bool),
//         TEXT (string), NULL (no value, or NaN)
//     q   kind<<16 | quality<<8 | sub; kind 0 = as the storage class says, 1 = bool, 2 = NaN.
//         A good double has q = 0, which sqlite stores in zero bytes.
//     seq per-source sequence number
//     rd  receive time - source time, ns (small for live sources, so a short varint)
//     Same tag and source time twice: the later append replaces the earlier (keep last).
//   events(id UNIQUE, schema_version, asset, source, start_ns, end_ns, kind, severity,
//          message, payload, model_version, operator, comment, refers_to, context)
//     payload and context are JSON object text; index events_start(start_ns, id).
//
// Version 2 (the outbox, store/outbox.h; docs/outbox-schema.md):
//   outbox(id AUTOINCREMENT, type, tag, t, v, q, seq, rd, ref, ct, bytes)
//     id    record id, strictly increasing, never reused (AUTOINCREMENT)
//     type  RecordType: 1 sample, 2 event, 3 alert, 4 label, 5 ledger
//     tag   tags.id (samples); t v q seq rd as in samples (samples); t = start (events) or
//           recorded time (ledger)
//     ref   events.id (event, alert, label) or ledger.id (ledger); partial index outbox_ref
//     ct    commit time, UTC ns; bytes: approximate bytes the record stands for on disk
//   uplinks(name PRIMARY KEY, cursor)   every record id <= cursor is acknowledged (or evicted)
//   ledger(seq AUTOINCREMENT, id UNIQUE, recorded, asset, tag, type, from_ns, to_ns, count,
//          first_record, last_record, reason, upstream_loss)   store/outbox.h LedgerEntry
//
// Version 3 (history write amplification, docs/benchmarks.md "History write amplification fixed"):
//   recent(id INTEGER PRIMARY KEY, tag, t, v, q, seq, rd)   columns as in samples
//     The history's staging table in arrival order (id = rowid, no other index), so that a
//     commit appends to its last pages instead of dirtying one leaf page of samples per tag.
//     The same (tag, t) may appear several times, and also in samples: the row with the highest
//     id is the current one, and a staged row wins over samples (keep last). Compaction
//     (store/history_internal.h CompactLocked) moves every staged row into samples in one
//     transaction; readers see the union of both tables (store/history.cpp).
#include "core/status.h"

namespace pf::store {

class Database;

constexpr int kSchemaVersion = 5;

// Brings the database to kSchemaVersion.
Status Migrate(Database& db);

}  // namespace pf::store
