#pragma once
// A thin adapter over the sqlite3 C API: one connection, cached prepared statements, RAII
// transactions. Every sqlite error becomes a Status whose message names the database file, what
// was being done and sqlite's own message. Not thread-safe: the owner serialises calls (the stores
// hold one mutex per connection).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace pf::store {

struct DatabaseOptions {
  std::string path;                // created with its parent folder when missing
  bool synchronous_full = false;   // synchronous=FULL (fsync each commit) instead of NORMAL
  int busy_timeout_ms = 5000;      // how long a writer waits for another connection's lock
  std::string vfs;                 // a registered sqlite VFS name ("" = the default); crash tests use
                                   // store/testing/fault_vfs.h (added by faultvfs)
};

// A prepared statement owned by its Database. Bind indexes are 1-based like sqlite's.
// The statement is reset and its bindings cleared by Database::Prepare before it is handed out.
class Statement {
 public:
  Statement(sqlite3_stmt* stmt, const std::string* db_path) : stmt_(stmt), db_path_(db_path) {}
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  void BindNull(int i);
  void BindInt(int i, int64_t v);
  void BindDouble(int i, double v);
  void BindText(int i, std::string_view v);
  // Steps once: true when a row is available, false when done.
  Result<bool> Step();
  // Steps until done (for INSERT/UPDATE/DELETE).
  Status Run();
  void Reset();

  int ColumnType(int i) const;  // SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT, SQLITE_BLOB, SQLITE_NULL
  bool IsNull(int i) const;
  int64_t Int(int i) const;
  double Double(int i) const;
  std::string Text(int i) const;

 private:
  sqlite3_stmt* stmt_;
  const std::string* db_path_;
};

// A borrowed cached statement; resets it (ending any read it holds open) when it goes away.
class StatementRef {
 public:
  explicit StatementRef(Statement* s) : s_(s) {}
  StatementRef(StatementRef&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
  StatementRef& operator=(StatementRef&&) = delete;
  ~StatementRef() {
    if (s_) s_->Reset();
  }
  Statement* operator->() const { return s_; }
  Statement& operator*() const { return *s_; }

 private:
  Statement* s_;
};

class Database {
 public:
  // Opens (creating when missing), sets WAL, synchronous, busy_timeout, foreign keys, and runs the
  // schema migrations (store/schema.h).
  static Result<std::unique_ptr<Database>> Open(const DatabaseOptions& options);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  Status Exec(std::string_view sql);
  // A cached prepared statement, reset and unbound; the reference must not outlive the Database
  // nor be held across another Prepare of the same SQL text.
  Result<StatementRef> Prepare(std::string_view sql);
  int64_t Changes() const;
  const std::string& path() const { return path_; }
  sqlite3* handle() { return db_; }
  // "sqlite 'path': <what>: <sqlite message> (code N)"
  Status Error(std::string_view what, int rc) const;

 private:
  Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
  std::unordered_map<std::string, std::unique_ptr<Statement>> statements_;
};

// BEGIN IMMEDIATE on construction via Begin(); ROLLBACK in the destructor unless committed.
class Transaction {
 public:
  explicit Transaction(Database& db) : db_(db) {}
  ~Transaction();
  Status Begin(bool immediate = true);
  Status Commit();

 private:
  Database& db_;
  bool open_ = false;
};

// Maps an sqlite result code to a Status code: busy/locked -> unavailable, full -> resource
// exhausted, corrupt/notadb -> data loss, constraint -> already exists, others -> internal.
StatusCode SqliteStatusCode(int rc);

}  // namespace pf::store
