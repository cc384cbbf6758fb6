#include "store/sqlite_db.h"

#include <sqlite3.h>

#include <filesystem>

#include "store/schema.h"

namespace pf::store {

StatusCode SqliteStatusCode(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
      return StatusCode::kUnavailable;
    case SQLITE_FULL:
      return StatusCode::kResourceExhausted;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return StatusCode::kDataLoss;
    case SQLITE_CONSTRAINT:
      return StatusCode::kAlreadyExists;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return StatusCode::kPermissionDenied;
    default:
      return StatusCode::kInternal;
  }
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

void Statement::BindNull(int i) { sqlite3_bind_null(stmt_, i); }
void Statement::BindInt(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
void Statement::BindDouble(int i, double v) { sqlite3_bind_double(stmt_, i, v); }
void Statement::BindText(int i, std::string_view v) {
  sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

Result<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  sqlite3* db = sqlite3_db_handle(stmt_);
  Status s(SqliteStatusCode(sqlite3_extended_errcode(db)),
           fmt::format("sqlite '{}': {}: {} (code {})", *db_path_, sqlite3_sql(stmt_), sqlite3_errmsg(db),
                       sqlite3_extended_errcode(db)));
  sqlite3_reset(stmt_);
  return s;
}

Status Statement::Run() {
  for (;;) {
    PF_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return Status::Ok();
  }
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int Statement::ColumnType(int i) const { return sqlite3_column_type(stmt_, i); }
bool Statement::IsNull(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }
int64_t Statement::Int(int i) const { return sqlite3_column_int64(stmt_, i); }
double Statement::Double(int i) const { return sqlite3_column_double(stmt_, i); }
std::string Statement::Text(int i) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, i));
  int n = sqlite3_column_bytes(stmt_, i);
  return p ? std::string(p, static_cast<size_t>(n)) : std::string();
}

Status Database::Error(std::string_view what, int rc) const {
  const char* msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  return Status(SqliteStatusCode(rc), fmt::format("sqlite '{}': {}: {} (code {})", path_, what, msg, rc));
}

namespace {
Status CreateParent(const std::string& path) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) return Status::Ok();
  std::error_code ec;
  std::filesystem::create_directories(parent, ec);
  if (ec) return Unavailable("sqlite '{}': cannot create folder '{}': {}", path, parent.string(), ec.message());
  return Status::Ok();
}
}  // namespace

Result<std::unique_ptr<Database>> Database::Open(const DatabaseOptions& options) {
  if (options.path.empty()) return InvalidArgument("sqlite: empty database path");
  PF_RETURN_IF_ERROR(CreateParent(options.path));
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(options.path.c_str(), &raw,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           options.vfs.empty() ? nullptr : options.vfs.c_str());
  std::unique_ptr<Database> db(new Database(raw, options.path));
  if (rc != SQLITE_OK) return db->Error("open", rc);
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, options.busy_timeout_ms);
  PF_RETURN_IF_ERROR(db->Exec("PRAGMA journal_mode=WAL"));
  PF_RETURN_IF_ERROR(db->Exec(options.synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"));
  // Bounds the WAL file left behind after a checkpoint (the disk is an eMMC that wears).
  PF_RETURN_IF_ERROR(db->Exec("PRAGMA journal_size_limit=67108864"));
  PF_RETURN_IF_ERROR(db->Exec("PRAGMA foreign_keys=ON"));
  PF_RETURN_IF_ERROR(Migrate(*db));
  return db;
}

Database::~Database() {
  statements_.clear();  // finalize before close
  if (db_) sqlite3_close(db_);
}

Status Database::Exec(std::string_view sql) {
  std::string text(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return Status::Ok();
  std::string msg = err ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  return Status(SqliteStatusCode(rc), fmt::format("sqlite '{}': {}: {} (code {})", path_, text, msg, rc));
}

Result<StatementRef> Database::Prepare(std::string_view sql) {
  std::string key(sql);
  auto it = statements_.find(key);
  if (it != statements_.end()) {
    it->second->Reset();
    return StatementRef(it->second.get());
  }
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, key.c_str(), static_cast<int>(key.size()), SQLITE_PREPARE_PERSISTENT,
                              &stmt, nullptr);
  if (rc != SQLITE_OK) return Error(fmt::format("prepare '{}'", key), rc);
  auto owned = std::make_unique<Statement>(stmt, &path_);
  Statement* out = owned.get();
  statements_.emplace(std::move(key), std::move(owned));
  return StatementRef(out);
}

int64_t Database::Changes() const { return sqlite3_changes64(db_); }

Transaction::~Transaction() {
  if (open_) db_.Exec("ROLLBACK").IgnoreError();
}

Status Transaction::Begin(bool immediate) {
  PF_RETURN_IF_ERROR(db_.Exec(immediate ? "BEGIN IMMEDIATE" : "BEGIN"));
  open_ = true;
  return Status::Ok();
}

Status Transaction::Commit() {
  PF_RETURN_IF_ERROR(db_.Exec("COMMIT"));
  open_ = false;
  return Status::Ok();
}

}  // namespace pf::store
