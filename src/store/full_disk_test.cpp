// Full disk: the Store on a 4 MiB tmpfs with a budget larger than the tmpfs, a filler file that
// takes the remaining space, a writer that keeps committing. Needs root for mount (else skipped).
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/metrics.h"
#include "store/store.h"
#include "testing.h"

namespace pf {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000'000'000;

// Fills path with 64 KiB chunks until the file system says ENOSPC; returns the bytes written.
uint64_t FillUntilFull(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::vector<char> chunk(4096, 'f');
  uint64_t n = 0;
  while (std::fwrite(chunk.data(), 1, chunk.size(), f) == chunk.size() && std::fflush(f) == 0) n += chunk.size();
  std::fclose(f);
  return n;
}

std::string IntegrityCheck(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) return "cannot open";
  sqlite3_stmt* st = nullptr;
  std::string out = "no row";
  if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

class Tmpfs {
 public:
  explicit Tmpfs(const std::string& dir) : dir_(dir) {
    std::filesystem::create_directories(dir);
    mounted_ = ::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=4m") == 0;
    if (!mounted_) error_ = std::strerror(errno);
  }
  ~Tmpfs() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }

 private:
  std::string dir_;
  bool mounted_ = false;
  std::string error_;
};

TEST(FullDiskTest, EvictsInOrderKeepsCommittingAndRecovers) {
  testing::TempDir tmp;
  const std::string mnt = tmp.path() + "/tmpfs";
  Tmpfs fs(mnt);
  if (!fs.mounted()) {
    std::fprintf(stderr, "skipped: mount -t tmpfs needs root (%s)\n", fs.error().c_str());
    std::exit(testing::kSkipReturnCode);
  }
  const std::string path = mnt + "/plant.db";
  std::set<uint64_t> received, other;
  std::string ballast;
  MetricsRegistry metrics;
  {
    StoreOptions o;
    o.path = path;
    o.disk_budget_bytes = 64 << 20;  // far above the tmpfs: only ENOSPC stops it
    o.ballast_bytes = 256 << 10;
    o.wal_autocheckpoint_pages = 64;
    o.metrics = &metrics;
    auto opened = Store::Open(o);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    std::unique_ptr<Store> store = std::move(opened).value();
    ballast = path + ".ballast";
    ASSERT_TRUE(std::filesystem::exists(ballast));
    for (TagId id = 0; id < 4; ++id) {
      TagDef t;
      t.id = id;
      t.name = fmt::format("press7.t{}", id);
      t.asset_id = "press7";
      ASSERT_TRUE(store->RegisterTag(t).ok());
    }
    ASSERT_TRUE(store->outbox().RegisterUplink("hub").ok());
    int64_t next = 0;
    uint64_t committed = 0;
    auto commit = [&]() {
      CommitBatch b;
      for (int i = 0; i < 200; ++i, ++next) {
        Sample s;
        s.tag = static_cast<TagId>(next % 4);
        s.value = static_cast<double>(next);
        s.seq = static_cast<uint64_t>(next);
        s.source_time = s.receive_time = Timestamp::FromNs(kT0 + next * 1'000'000);
        b.history.push_back(s);
        b.forward.push_back(s);
      }
      Status s = store->Commit(b);
      if (s.ok()) committed += b.forward.size();
      return s;
    };
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(commit().ok());
    uint64_t filled = FillUntilFull(mnt + "/filler");
    ASSERT_GT(filled, 0u);
    int ok = 0, exhausted = 0;
    for (int i = 0; i < 150; ++i) {
      Status s = commit();
      if (s.ok()) ++ok;
      else {
        if (exhausted == 0) std::fprintf(stderr, "first refusal: %s\n", s.ToString().c_str());
        ASSERT_EQ(s.code(), StatusCode::kResourceExhausted) << s.ToString();
        ++exhausted;
      }
    }
    EXPECT_GE(ok, 140) << "commits must keep succeeding after eviction (" << exhausted << " refused)";
    EXPECT_GE(metrics.Value("pf_store_ballast_released_total"), 1.0) << "the ballast goes when the disk is full";
    auto ledger = store->Ledger();
    ASSERT_TRUE(ledger.ok());
    ASSERT_FALSE(ledger->empty());
    // Order: local history first, then outbox samples; never the other way round.
    bool seen_upstream = false;
    for (const LedgerEntry& e : *ledger) {
      if (e.reason == "disk_budget") seen_upstream = true;
      else EXPECT_EQ(e.reason, "history_budget");
      EXPECT_EQ(e.evicted_type, RecordType::kSample);
    }
    EXPECT_EQ(ledger->front().reason, "history_budget");
    EXPECT_TRUE(seen_upstream) << "the hub never read: outbox samples must have been evicted too";
    // Space comes back: the store recovers and the ballast is made again.
    std::filesystem::remove(mnt + "/filler");
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(commit().ok());
    EXPECT_TRUE(std::filesystem::exists(ballast));
    // What the hub gets plus what the ledger says it lost is everything ever forwarded.
    uint64_t max_id = 0, upstream_lost = 0;
    for (const LedgerEntry& e : *store->Ledger())
      if (e.upstream_loss) upstream_lost += e.count;
    for (;;) {
      auto recs = store->outbox().Peek("hub", 2000, 1 << 24);
      ASSERT_TRUE(recs.ok()) << recs.status().ToString();
      if (recs->empty()) break;
      for (const auto& r : *recs) {
        (r.type == RecordType::kSample ? received : other).insert(r.id);
        max_id = std::max(max_id, r.id);
        ASSERT_TRUE(store->outbox().Ack("hub", r.id).ok());
      }
    }
    uint64_t missing = 0;
    for (uint64_t id = 1; id <= max_id; ++id)
      if (!received.count(id) && !other.count(id)) ++missing;
    EXPECT_EQ(missing, upstream_lost);
    EXPECT_EQ(received.size() + upstream_lost, committed);
  }
  EXPECT_EQ(IntegrityCheck(path), "ok");
}

}  // namespace
}  // namespace pf
