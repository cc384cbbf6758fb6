// Power-cut tests: the database is written through FaultVfs (store/testing/fault_vfs.h), the power
// is cut at a random write (inside a commit, a checkpoint or a WAL restart), and the files are
// reopened with the normal VFS: the database must open, pass PRAGMA integrity_check, hold every
// transaction whose COMMIT returned SQLITE_OK and no part of any other.
//
// Second part: the same property for the real plantfloor Store (store/store.h): history and outbox
// written in one transaction, acknowledged records deleted, cursors persisted in batches.
// Note to "outbox": the Store case opens Store through FaultVfs with StoreOptions::vfs, which
// faultvfs added to store.h / store.cpp (passed on as DatabaseOptions::vfs in sqlite_db.{h,cpp}).
// Please keep that field when you change those files.
//
// The seed is printed; rerun one with PF_POWER_CUT_SEED=<seed>. PF_POWER_CUT_ITERATIONS overrides
// the number of iterations (default 120).
#include <sqlite3.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/time.h"
#include "store/store.h"
#include "store/testing/fault_vfs.h"
#include "testing.h"

namespace pf::store::testing {
namespace {

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

uint64_t TestSeed() {
  static const uint64_t seed = EnvOr("PF_POWER_CUT_SEED", std::random_device{}());
  return seed;
}

// A raw sqlite3 connection that fails the test on unexpected errors.
class Conn {
 public:
  Conn(const std::string& path, const char* vfs) {
    rc_ = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs);
    sqlite3_extended_result_codes(db_, 1);
  }
  ~Conn() { Close(); }
  void Close() {
    if (db_) sqlite3_close_v2(db_);
    db_ = nullptr;
  }
  int open_rc() const { return rc_; }
  sqlite3* db() { return db_; }
  int Exec(const std::string& sql) { return sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr); }
  std::string Text(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    std::string out = "<prepare failed>";
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) return out + sqlite3_errmsg(db_);
    out = sqlite3_step(st) == SQLITE_ROW ? reinterpret_cast<const char*>(sqlite3_column_text(st, 0)) : "<no row>";
    sqlite3_finalize(st);
    return out;
  }
  int64_t Int(const std::string& sql) { return std::strtoll(Text(sql).c_str(), nullptr, 10); }

 private:
  sqlite3* db_ = nullptr;
  int rc_ = SQLITE_OK;
};

// Deterministic row contents, so a torn or stale page shows up as a wrong payload.
std::string Payload(uint64_t iteration, int64_t txn, int k, size_t len) {
  std::string out = fmt::format("i{}t{}k{}:", iteration, txn, k);
  while (out.size() < len) out.push_back(static_cast<char>('a' + (out.size() * 7 + txn + k) % 26));
  out.resize(len);
  return out;
}

struct PlannedTxn {
  int rows = 0;
  std::vector<size_t> sizes;
  bool committed = false;  // COMMIT returned SQLITE_OK
};

constexpr const char* kSchema =
    "CREATE TABLE rows(iter INTEGER, txn INTEGER, k INTEGER, payload BLOB, PRIMARY KEY(iter, txn, k));"
    "CREATE TABLE progress(id INTEGER PRIMARY KEY, last_txn INTEGER);"
    "INSERT INTO progress VALUES(1, 0);";

// Opens `path` through `vfs` in WAL mode and creates the schema; the setup is synced before return.
void CreateWalSchema(Conn& c, int autocheckpoint, const char* then_synchronous = "FULL") {
  ASSERT_EQ(c.open_rc(), SQLITE_OK) << sqlite3_errmsg(c.db());
  ASSERT_EQ(c.Text("PRAGMA journal_mode=WAL"), "wal");
  ASSERT_EQ(c.Exec("PRAGMA synchronous=FULL"), SQLITE_OK);
  ASSERT_EQ(c.Exec(fmt::format("PRAGMA wal_autocheckpoint={}", autocheckpoint)), SQLITE_OK);
  ASSERT_EQ(c.Exec(kSchema), SQLITE_OK) << sqlite3_errmsg(c.db());
  ASSERT_EQ(c.Exec(fmt::format("PRAGMA synchronous={}", then_synchronous)), SQLITE_OK);
}

// One transaction: its rows and the progress counter. Returns the first failing sqlite code.
int WriteTxn(Conn& c, uint64_t iteration, int64_t txn, const PlannedTxn& plan) {
  int rc = c.Exec("BEGIN IMMEDIATE");
  if (rc != SQLITE_OK) return rc;
  sqlite3_stmt* st = nullptr;
  rc = sqlite3_prepare_v2(c.db(), "INSERT INTO rows VALUES(?,?,?,?)", -1, &st, nullptr);
  for (int k = 0; rc == SQLITE_OK && k < plan.rows; ++k) {
    std::string p = Payload(iteration, txn, k, plan.sizes[k]);
    sqlite3_bind_int64(st, 1, static_cast<int64_t>(iteration));
    sqlite3_bind_int64(st, 2, txn);
    sqlite3_bind_int(st, 3, k);
    sqlite3_bind_blob(st, 4, p.data(), static_cast<int>(p.size()), SQLITE_TRANSIENT);
    rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_extended_errcode(c.db());
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  if (rc == SQLITE_OK) rc = c.Exec(fmt::format("UPDATE progress SET last_txn={} WHERE id=1", txn));
  if (rc == SQLITE_OK) rc = c.Exec("COMMIT");
  if (rc != SQLITE_OK) c.Exec("ROLLBACK");
  return rc;
}

struct Found {
  int64_t transactions = 0;     // transactions present after the cut
  int64_t lost_committed = 0;   // of them, COMMIT returned ok but they are gone
};

// Reopens with the normal VFS and checks integrity, atomicity, contents and (when expect_durable)
// that every transaction whose COMMIT returned ok is present.
Found Verify(const std::string& path, uint64_t iteration, const std::vector<PlannedTxn>& plans,
             const std::string& where, bool expect_durable = true) {
  SCOPED_TRACE(where);
  Conn c(path, nullptr);
  EXPECT_EQ(c.open_rc(), SQLITE_OK) << sqlite3_errmsg(c.db());
  EXPECT_EQ(c.Text("PRAGMA integrity_check"), "ok");
  std::map<int64_t, std::map<int, std::string>> found;
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(c.db(), "SELECT iter, txn, k, payload FROM rows", -1, &st, nullptr), SQLITE_OK)
      << sqlite3_errmsg(c.db());
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    EXPECT_EQ(static_cast<uint64_t>(sqlite3_column_int64(st, 0)), iteration);
    const char* blob = static_cast<const char*>(sqlite3_column_blob(st, 3));
    found[sqlite3_column_int64(st, 1)][sqlite3_column_int(st, 2)] =
        std::string(blob ? blob : "", static_cast<size_t>(sqlite3_column_bytes(st, 3)));
  }
  EXPECT_EQ(rc, SQLITE_DONE) << sqlite3_errmsg(c.db());
  sqlite3_finalize(st);

  Found out;
  out.transactions = static_cast<int64_t>(found.size());
  int64_t last_found = found.empty() ? 0 : found.rbegin()->first;
  for (const auto& [txn, rows] : found) {
    if (txn < 1 || txn > static_cast<int64_t>(plans.size())) {
      ADD_FAILURE() << "transaction " << txn << " was never written";
      continue;
    }
    const PlannedTxn& plan = plans[static_cast<size_t>(txn - 1)];
    EXPECT_EQ(rows.size(), static_cast<size_t>(plan.rows)) << "partial transaction " << txn;
    for (const auto& [k, payload] : rows)
      EXPECT_EQ(payload, Payload(iteration, txn, k, plan.sizes[static_cast<size_t>(k)])) << "txn " << txn;
  }
  for (size_t i = 0; i < plans.size(); ++i) {
    int64_t txn = static_cast<int64_t>(i) + 1;
    if (plans[i].committed && found.count(txn) == 0) ++out.lost_committed;
    if (plans[i].committed && expect_durable) {
      EXPECT_EQ(found.count(txn), 1u) << "committed transaction " << txn << " lost";
    }
    if (txn < last_found) {
      EXPECT_EQ(found.count(txn), 1u) << "hole before transaction " << last_found;
    }
  }
  EXPECT_EQ(c.Int("SELECT last_txn FROM progress WHERE id=1"), last_found);
  return out;
}

class PowerCutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto vfs = FaultVfs::Register("faultvfs_test");
    ASSERT_TRUE(vfs.ok()) << vfs.status().ToString();
    vfs_ = std::move(vfs).value();
  }
  void Reregister(FaultVfsOptions options) {
    vfs_.reset();
    auto vfs = FaultVfs::Register("faultvfs_test", options);
    ASSERT_TRUE(vfs.ok()) << vfs.status().ToString();
    vfs_ = std::move(vfs).value();
  }
  pf::testing::TempDir dir_;
  std::unique_ptr<FaultVfs> vfs_;
};

TEST_F(PowerCutTest, RegisterTwiceIsAlreadyExists) {
  auto again = FaultVfs::Register("faultvfs_test");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(again.status().message(), "faultvfs 'faultvfs_test': a VFS of that name is registered");
}

// The shim is not vacuous: with synchronous=OFF nothing is ever synced, so every commit since the
// synced setup is gone after a cut, and the database is still intact.
TEST_F(PowerCutTest, UnsyncedCommitsAreLostWithSynchronousOff) {
  std::string path = dir_.path() + "/off.db";
  std::vector<PlannedTxn> plans(20);
  {
    Conn c(path, vfs_->name().c_str());
    CreateWalSchema(c, 1000);
    ASSERT_EQ(c.Exec("PRAGMA synchronous=OFF"), SQLITE_OK);
    for (size_t i = 0; i < plans.size(); ++i) {
      plans[i].rows = 2;
      plans[i].sizes = {100, 300};
      ASSERT_EQ(WriteTxn(c, 0, static_cast<int64_t>(i) + 1, plans[i]), SQLITE_OK);
      plans[i].committed = false;  // committed, but never synced: a cut may take it (and does)
    }
    EXPECT_EQ(c.Int("SELECT count(*) FROM rows"), 40);
    EXPECT_GT(vfs_->unsynced_changes(), 0u);
    ASSERT_TRUE(vfs_->PowerCut().ok());
    EXPECT_EQ(c.Exec("INSERT INTO rows VALUES(0, 99, 0, 'x')"), SQLITE_IOERR_WRITE);
  }
  PowerCutReport report = vfs_->last_report();
  EXPECT_EQ(report.files_reverted, 1u);  // the WAL; the database file was not touched since setup
  EXPECT_GT(report.bytes_reverted, 40u * 100);
  EXPECT_EQ(Verify(path, 0, plans, "synchronous=OFF").transactions, 0);
}

// The same commits with synchronous=FULL and a cut after the last one: all of them survive.
TEST_F(PowerCutTest, SyncedCommitsSurviveACutWithSynchronousFull) {
  std::string path = dir_.path() + "/full.db";
  std::vector<PlannedTxn> plans(20);
  {
    Conn c(path, vfs_->name().c_str());
    CreateWalSchema(c, 1000);
    for (size_t i = 0; i < plans.size(); ++i) {
      plans[i].rows = 2;
      plans[i].sizes = {100, 300};
      ASSERT_EQ(WriteTxn(c, 0, static_cast<int64_t>(i) + 1, plans[i]), SQLITE_OK);
      plans[i].committed = true;
    }
    EXPECT_EQ(vfs_->unsynced_changes(), 0u);
    ASSERT_TRUE(vfs_->PowerCut().ok());
  }
  EXPECT_EQ(vfs_->last_report().files_reverted, 0u);
  EXPECT_EQ(Verify(path, 0, plans, "synchronous=FULL").transactions, 20);
}

// A database created and never synced (synchronous=OFF: no fsync, so no directory sync either)
// does not survive the cut at all.
TEST_F(PowerCutTest, FileNeverSyncedNorDirectorySyncedVanishes) {
  std::string path = dir_.path() + "/new.db";
  {
    Conn c(path, vfs_->name().c_str());
    ASSERT_EQ(c.Exec("PRAGMA synchronous=OFF"), SQLITE_OK);
    ASSERT_EQ(c.Text("PRAGMA journal_mode=WAL"), "wal");
    ASSERT_EQ(c.Exec(kSchema), SQLITE_OK);
    ASSERT_TRUE(std::filesystem::exists(path));
    ASSERT_TRUE(vfs_->PowerCut().ok());
  }
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(path + "-wal"));
  EXPECT_EQ(vfs_->last_report().files_removed, 2u);
}

// The directory model matters: in rollback-journal (DELETE) mode the commit point is unlinking the
// journal, and SQLite syncs the directory after it only with synchronous=EXTRA. With FULL the
// journal comes back after the cut and rolls the committed transaction back; with EXTRA it stays.
TEST_F(PowerCutTest, DeleteJournalCommitNeedsSynchronousExtra) {
  for (const char* level : {"FULL", "EXTRA"}) {
    SCOPED_TRACE(level);
    vfs_->Reset();
    std::string path = dir_.path() + "/delete_" + level + ".db";
    {
      Conn c(path, vfs_->name().c_str());
      ASSERT_EQ(c.Exec(fmt::format("PRAGMA synchronous={}", level)), SQLITE_OK);
      ASSERT_EQ(c.Exec(kSchema), SQLITE_OK);
      ASSERT_EQ(c.Exec("UPDATE progress SET last_txn=7 WHERE id=1"), SQLITE_OK);
      ASSERT_TRUE(vfs_->PowerCut().ok());
    }
    Conn c(path, nullptr);
    ASSERT_EQ(c.open_rc(), SQLITE_OK);
    EXPECT_EQ(c.Text("PRAGMA integrity_check"), "ok");
    if (std::string(level) == "FULL") {
      EXPECT_EQ(vfs_->last_report().files_restored, 1u);
      EXPECT_EQ(c.Int("SELECT last_txn FROM progress WHERE id=1"), 0);
    } else {
      EXPECT_EQ(vfs_->last_report().files_restored, 0u);
      EXPECT_EQ(c.Int("SELECT last_txn FROM progress WHERE id=1"), 7);
    }
  }
}

TEST_F(PowerCutTest, CutAfterWritesFailsThatWriteAndEveryLaterOne) {
  std::string path = dir_.path() + "/arm.db";
  std::vector<PlannedTxn> plans(4, PlannedTxn{1, {50}, false});
  {
    Conn c(path, vfs_->name().c_str());
    CreateWalSchema(c, 1000);
    uint64_t before = vfs_->writes();
    ASSERT_EQ(WriteTxn(c, 0, 1, plans[0]), SQLITE_OK);
    plans[0].committed = true;
    const uint64_t per_commit = vfs_->writes() - before;  // WAL frames of one small commit
    ASSERT_GE(per_commit, 1u);
    vfs_->CutAfterWrites(per_commit + 1);
    ASSERT_EQ(WriteTxn(c, 0, 2, plans[1]), SQLITE_OK);  // writes 1..per_commit: applied
    plans[1].committed = true;
    EXPECT_FALSE(vfs_->cut());
    EXPECT_EQ(WriteTxn(c, 0, 3, plans[2]), SQLITE_IOERR_WRITE);  // its first write cuts
    EXPECT_TRUE(vfs_->cut());
    EXPECT_TRUE(vfs_->cut_status().ok());
    EXPECT_EQ(WriteTxn(c, 0, 4, plans[3]), SQLITE_IOERR_WRITE);
    EXPECT_EQ(vfs_->writes(), before + 2 * per_commit + 1);  // later refusals are not counted
  }
  EXPECT_EQ(Verify(path, 0, plans, "armed cut").transactions, 2);
}

struct RandomRunTotals {
  uint64_t cuts = 0, committed = 0, failed_commits = 0, torn_pieces = 0, lost_committed = 0;
};

class RandomCutTest : public PowerCutTest {
 public:
  // `iterations` runs of: WAL schema (synced), random transactions with `synchronous`, a cut at a
  // random write (every odd iteration torn), verification with the normal VFS.
  RandomRunTotals Run(const char* synchronous, uint64_t iterations, bool expect_durable) {
    const uint64_t seed = TestSeed();
    std::printf("power cut seed %llu (rerun with PF_POWER_CUT_SEED=%llu), synchronous=%s, %llu iterations\n",
                static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed), synchronous,
                static_cast<unsigned long long>(iterations));
    std::mt19937_64 rng(seed);
    RandomRunTotals totals;
    for (uint64_t it = 0; it < iterations; ++it) {
      SCOPED_TRACE(fmt::format("seed {} iteration {}", seed, it));
      Reregister(FaultVfsOptions{it % 2 == 1, rng(), 512});
      std::string path = fmt::format("{}/raw{}.db", dir_.path(), it);
      std::vector<PlannedTxn> plans;
      {
        Conn c(path, vfs_->name().c_str());
        CreateWalSchema(c, static_cast<int>(2 + rng() % 15), synchronous);
        if (HasFatalFailure()) return totals;
        vfs_->CutAfterWrites(1 + rng() % 160);
        for (int64_t txn = 1; txn <= 120 && !vfs_->cut(); ++txn) {
          PlannedTxn plan;
          plan.rows = static_cast<int>(1 + rng() % 4);
          for (int k = 0; k < plan.rows; ++k) plan.sizes.push_back(16 + rng() % 1500);
          plans.push_back(plan);
          int rc = WriteTxn(c, it, txn, plans.back());
          plans.back().committed = rc == SQLITE_OK;
          if (rc != SQLITE_OK) {
            EXPECT_EQ(rc & 0xff, SQLITE_IOERR) << sqlite3_errstr(rc);
            ++totals.failed_commits;
            break;
          }
          ++totals.committed;
        }
        if (vfs_->cut()) ++totals.cuts;
        EXPECT_TRUE(vfs_->PowerCut().ok());
        EXPECT_TRUE(vfs_->cut_status().ok()) << vfs_->cut_status().ToString();
        totals.torn_pieces += vfs_->last_report().pieces_kept;
      }
      totals.lost_committed += static_cast<uint64_t>(Verify(path, it, plans, synchronous, expect_durable).lost_committed);
      if (HasFailure()) return totals;
      for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
    }
    std::printf("%llu commits returned ok; %llu cuts at a random write: %llu failed a transaction, %llu hit the "
                "checkpoint after a commit; %llu torn pieces kept; %llu committed transactions lost\n",
                static_cast<unsigned long long>(totals.committed), static_cast<unsigned long long>(totals.cuts),
                static_cast<unsigned long long>(totals.failed_commits),
                static_cast<unsigned long long>(totals.cuts - totals.failed_commits),
                static_cast<unsigned long long>(totals.torn_pieces),
                static_cast<unsigned long long>(totals.lost_committed));
    return totals;
  }
};

// The main property: >= 100 seeded iterations, each cut at a random write (inside a commit, a
// checkpoint or a WAL restart), half of them torn.
TEST_F(RandomCutTest, EveryCommittedTransactionSurvivesRawSqlite) {
  const uint64_t iterations = EnvOr("PF_POWER_CUT_ITERATIONS", 120);
  RandomRunTotals t = Run("FULL", iterations, /*expect_durable=*/true);
  EXPECT_EQ(t.lost_committed, 0u);
  EXPECT_GE(t.cuts, iterations * 9 / 10);  // the armed cut nearly always lands inside writing
  EXPECT_GT(t.failed_commits, 0u);         // some cuts fail a transaction ...
  EXPECT_GT(t.cuts - t.failed_commits, 0u);  // ... others land in a checkpoint after a commit
  EXPECT_GT(t.torn_pieces, 0u);
}

// The harness can see a loss: in WAL mode synchronous=NORMAL does not sync at COMMIT, so some
// committed transactions are lost (still atomically, the database intact).
TEST_F(RandomCutTest, CommittedTransactionsAreLostWithSynchronousNormal) {
  RandomRunTotals t = Run("NORMAL", 30, /*expect_durable=*/false);
  EXPECT_GT(t.lost_committed, 0u);
}

// ---- the plantfloor Store ----

TagDef StoreTag(TagId id, std::string name) {
  TagDef t;
  t.id = id;
  t.name = std::move(name);
  t.asset_id = "press7";
  t.unit = "C";
  t.source = "plc1";
  return t;
}

constexpr const char* kTags[] = {"press7.temp", "press7.pressure"};
constexpr int64_t kSampleStepNs = 1'000'000;

// A batch of samples numbered by their source (seq), each into the history and the outbox.
struct PlannedBatch {
  std::vector<uint64_t> seqs;
  bool committed = false;  // Store::Commit returned ok
};

CommitBatch MakeBatch(const std::vector<uint64_t>& seqs, int64_t t0) {
  CommitBatch b;
  for (uint64_t seq : seqs) {
    Sample s;
    s.tag = static_cast<TagId>(seq % 2);
    s.value = static_cast<double>(seq);
    s.source_time = Timestamp::FromNs(t0 + static_cast<int64_t>(seq) * kSampleStepNs);
    s.receive_time = s.source_time + Duration(1000);
    s.seq = seq;
    b.history.push_back(s);
    b.forward.push_back(s);
  }
  return b;
}

StoreOptions StoreOpts(const std::string& path, const std::string& vfs, int autocheckpoint, size_t ack_flush,
                       size_t staging_rows = 50000) {
  StoreOptions o;
  o.staging_rows = staging_rows;
  o.path = path;
  o.fsync = true;
  o.ballast_bytes = 0;
  o.wal_autocheckpoint_pages = autocheckpoint;
  o.ack_flush_count = ack_flush;
  o.ack_flush_interval = Duration(0);
  o.vfs = vfs;
  return o;
}

// Reopens with the normal VFS: integrity, every committed batch whole in the history, no partial
// batch, the outbox in order and holding exactly the history's samples minus acknowledged ones.
void VerifyStore(const std::string& path, const std::vector<PlannedBatch>& batches, const std::set<uint64_t>& acked,
                 int64_t t0) {
  {
    Conn raw(path, nullptr);
    ASSERT_EQ(raw.open_rc(), SQLITE_OK);
    ASSERT_EQ(raw.Text("PRAGMA integrity_check"), "ok");
  }
  auto opened = Store::Open(StoreOpts(path, "", 1000, 256));
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<Store> store = std::move(opened).value();
  std::map<uint64_t, double> history;
  for (const char* tag : kTags) {
    auto rows = store->history().Query(tag, Timestamp::FromNs(t0), Timestamp::FromNs(t0 + (int64_t{1} << 40)));
    ASSERT_TRUE(rows.ok()) << rows.status().ToString();
    for (const StoredSample& s : *rows) history[s.seq] = std::get<double>(s.value);
  }
  for (const auto& [seq, v] : history) EXPECT_EQ(v, static_cast<double>(seq));
  for (size_t b = 0; b < batches.size(); ++b) {
    size_t present = 0;
    for (uint64_t seq : batches[b].seqs) present += history.count(seq);
    if (batches[b].committed) {
      EXPECT_EQ(present, batches[b].seqs.size()) << "committed batch " << b << " lost samples";
    } else {
      EXPECT_TRUE(present == 0 || present == batches[b].seqs.size()) << "partial batch " << b;
    }
  }
  ASSERT_TRUE(store->outbox().RegisterUplink("hub").ok());
  auto recs = store->outbox().Peek("hub", 1 << 20, size_t{1} << 32);
  ASSERT_TRUE(recs.ok()) << recs.status().ToString();
  std::set<uint64_t> in_outbox;
  uint64_t last_id = 0, last_seq = 0;
  for (const OutboxRecord& r : *recs) {
    ASSERT_EQ(r.type, RecordType::kSample);
    const auto& s = std::get<OutboxSample>(r.body);
    EXPECT_GT(r.id, last_id);
    EXPECT_GT(s.seq, last_seq) << "outbox out of order at record " << r.id;
    last_id = r.id;
    last_seq = s.seq;
    EXPECT_EQ(s.tag, kTags[s.seq % 2]);
    EXPECT_EQ(std::get<double>(s.value), static_cast<double>(s.seq));
    EXPECT_EQ(history.count(s.seq), 1u) << "outbox record " << r.id << " without its history sample";
    in_outbox.insert(s.seq);
  }
  for (const auto& [seq, v] : history) {
    if (!in_outbox.count(seq)) {
      EXPECT_EQ(acked.count(seq), 1u) << "sample " << seq << " neither acknowledged nor queued";
    }
  }
}

TEST_F(PowerCutTest, RandomCutsKeepEveryCommittedBatchInStore) {
  const uint64_t seed = TestSeed() ^ 0x5707e;
  const uint64_t iterations = EnvOr("PF_POWER_CUT_STORE_ITERATIONS", 100);
  std::printf("store power cut seed %llu (PF_POWER_CUT_SEED=%llu), %llu iterations\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(TestSeed()),
              static_cast<unsigned long long>(iterations));
  std::mt19937_64 rng(seed);
  const int64_t t0 = Now().ns - int64_t{3600} * 1'000'000'000;  // well inside the history retention
  uint64_t committed = 0, failed = 0, acks = 0, cuts = 0, compactions = 0;
  for (uint64_t it = 0; it < iterations; ++it) {
    SCOPED_TRACE(fmt::format("seed {} iteration {}", seed, it));
    Reregister(FaultVfsOptions{it % 2 == 1, rng(), 512});
    std::string path = fmt::format("{}/store{}.db", dir_.path(), it);
    std::vector<PlannedBatch> batches;
    std::set<uint64_t> acked;
    {
      // Staging thresholds of 1-24 rows: compactions (store/history_internal.h) run every few
      // commits, so cuts also land inside them.
      auto opened = Store::Open(StoreOpts(path, vfs_->name(), static_cast<int>(2 + rng() % 15), 1 + rng() % 4,
                                          1 + rng() % 24));
      ASSERT_TRUE(opened.ok()) << opened.status().ToString();
      std::unique_ptr<Store> store = std::move(opened).value();
      for (TagId id : {TagId{0}, TagId{1}}) ASSERT_TRUE(store->RegisterTag(StoreTag(id, kTags[id])).ok());
      ASSERT_TRUE(store->outbox().RegisterUplink("hub").ok());
      vfs_->CutAfterWrites(1 + rng() % 200);
      uint64_t next_seq = 1;
      for (int b = 0; b < 80 && !vfs_->cut(); ++b) {
        PlannedBatch plan;
        for (uint64_t n = 1 + rng() % 6; n > 0; --n) plan.seqs.push_back(next_seq++);
        const uint64_t staged_before = store->history().StagedSamples();
        Status st = store->Commit(MakeBatch(plan.seqs, t0));
        plan.committed = st.ok();
        batches.push_back(plan);
        if (!st.ok()) {
          EXPECT_TRUE(vfs_->cut()) << st.ToString();
          EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();  // SQLITE_IOERR
          ++failed;
          break;
        }
        ++committed;
        if (store->history().StagedSamples() < staged_before + plan.seqs.size()) ++compactions;
        if (rng() % 3 != 0) continue;
        auto recs = store->outbox().Peek("hub", 1 + rng() % 8, 1 << 20);
        if (!recs.ok()) break;
        for (const OutboxRecord& r : *recs) {
          if (!store->outbox().Ack("hub", r.id).ok()) break;
          acked.insert(std::get<OutboxSample>(r.body).seq);
          ++acks;
        }
      }
      if (vfs_->cut()) ++cuts;
      ASSERT_TRUE(vfs_->PowerCut().ok());
      ASSERT_TRUE(vfs_->cut_status().ok()) << vfs_->cut_status().ToString();
    }  // the Store closes after the cut: its last writes fail and must not crash it
    VerifyStore(path, batches, acked, t0);
    if (HasFailure()) return;
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  }
  std::printf("store: %llu commits returned ok, %llu failed at the cut, %llu acks, %llu cuts, %llu history "
              "compactions\n",
              static_cast<unsigned long long>(committed), static_cast<unsigned long long>(failed),
              static_cast<unsigned long long>(acks), static_cast<unsigned long long>(cuts),
              static_cast<unsigned long long>(compactions));
  EXPECT_GT(compactions, iterations / 4);
  EXPECT_GT(failed, 0u);
  EXPECT_GE(cuts, iterations * 8 / 10);
}

}  // namespace
}  // namespace pf::store::testing
