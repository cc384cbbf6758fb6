// The durable outbox and the disk budget through Store: two uplinks, out-of-order acks, cursors
// across reopen, deletion after every uplink acked, Rewind, ids never reused, commit atomicity,
// the eviction order and an exact loss ledger.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <map>
#include <set>

#include "core/metrics.h"
#include "store/store.h"
#include "testing.h"

namespace pf {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000'000'000;

TagDef Tag(TagId id, std::string name, std::string asset = "press7") {
  TagDef t;
  t.id = id;
  t.name = std::move(name);
  t.asset_id = std::move(asset);
  t.unit = "C";
  t.source = "plc1";
  return t;
}

Sample S(TagId tag, int64_t i, double v) {
  Sample s;
  s.tag = tag;
  s.value = v;
  s.source_time = Timestamp::FromNs(kT0 + i * 10'000'000);
  s.receive_time = s.source_time + Duration(1000);
  s.seq = static_cast<uint64_t>(i);
  return s;
}

Event Ev(std::string id, std::string kind, int64_t i) {
  Event e;
  e.id = std::move(id);
  e.asset_id = "press7";
  e.source = "spc:press7.temp";
  e.kind = std::move(kind);
  e.severity = "high";
  e.message = "rule 1";
  e.start = e.end = Timestamp::FromNs(kT0 + i * 10'000'000);
  return e;
}

class OutboxTest : public ::testing::Test {
 protected:
  std::unique_ptr<Store> Open(uint64_t budget = 0, MetricsRegistry* metrics = nullptr) {
    StoreOptions o;
    o.path = dir_.path() + "/plant.db";
    o.fsync = false;
    o.disk_budget_bytes = budget;
    o.ballast_bytes = 0;
    o.metrics = metrics;
    auto s = Store::Open(o);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    auto store = std::move(s).value();
    EXPECT_TRUE(store->RegisterTag(Tag(0, "press7.temp")).ok());
    EXPECT_TRUE(store->RegisterTag(Tag(1, "press7.pressure")).ok());
    return store;
  }
  static std::vector<uint64_t> Ids(const std::vector<OutboxRecord>& r) {
    std::vector<uint64_t> out;
    for (const auto& x : r) out.push_back(x.id);
    return out;
  }
  static CommitBatch Forward(int64_t from, int64_t n) {
    CommitBatch b;
    for (int64_t i = from; i < from + n; ++i) {
      b.history.push_back(S(static_cast<TagId>(i % 2), i, static_cast<double>(i)));
      b.forward.push_back(b.history.back());
    }
    return b;
  }
  testing::TempDir dir_;
};

TEST_F(OutboxTest, NothingQueuedWithoutUplink) {
  auto store = Open();
  ASSERT_TRUE(store->Commit(Forward(0, 4)).ok());
  ASSERT_TRUE(store->outbox().RegisterUplink("hub").ok());
  auto recs = store->outbox().Peek("hub", 100, 1 << 20);
  ASSERT_TRUE(recs.ok());
  EXPECT_TRUE(recs->empty());
  EXPECT_EQ(store->outbox().Peek("nope", 1, 1).status().code(), StatusCode::kNotFound);
}

TEST_F(OutboxTest, CommitWritesHistoryAndOutboxTogether) {
  auto store = Open();
  ASSERT_TRUE(store->outbox().RegisterUplink("hub").ok());
  CommitBatch b = Forward(0, 6);
  b.events.push_back(Ev("e1", "alert", 3));
  b.events.push_back(Ev("e2", "label", 4));
  b.events.push_back(Ev("e3", "limit_change", 5));
  ASSERT_TRUE(store->Commit(b).ok());
  auto hist = store->history().Query("press7.temp", Timestamp::FromNs(0), Timestamp::FromNs(INT64_MAX));
  ASSERT_TRUE(hist.ok());
  ASSERT_EQ(hist->size(), 3u);
  auto recs = store->outbox().Peek("hub", 100, 1 << 20);
  ASSERT_TRUE(recs.ok()) << recs.status().ToString();
  ASSERT_EQ(recs->size(), 9u);
  std::vector<uint64_t> want = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  EXPECT_EQ(Ids(*recs), want);
  size_t temp = 0;
  for (size_t i = 0; i < 6; ++i) {
    const auto& s = std::get<OutboxSample>((*recs)[i].body);
    EXPECT_EQ(s.seq, i);
    EXPECT_EQ(s.asset, "press7");
    EXPECT_EQ(s.unit, "C");
    EXPECT_EQ(s.source, "plc1");
    EXPECT_EQ(s.receive_time.ns - s.source_time.ns, 1000);
    EXPECT_EQ(std::get<double>(s.value), static_cast<double>(i));
    if (s.tag == "press7.temp") {
      EXPECT_EQ(s.source_time, (*hist)[temp].source_time);
      EXPECT_EQ(s.value, (*hist)[temp].value);
      ++temp;
    }
  }
  EXPECT_EQ(temp, 3u);
  EXPECT_EQ((*recs)[6].type, RecordType::kAlert);
  EXPECT_EQ((*recs)[7].type, RecordType::kLabel);
  EXPECT_EQ((*recs)[8].type, RecordType::kEvent);
  EXPECT_EQ(std::get<Event>((*recs)[8].body).id, "e3");
  auto e1 = store->events().Get("e1");
  ASSERT_TRUE(e1.ok() && e1->has_value());

  // A failing batch writes nothing anywhere: a duplicate event id aborts the transaction.
  CommitBatch bad = Forward(100, 2);
  bad.events.push_back(Ev("e1", "alert", 100));
  Status s = store->Commit(bad);
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists) << s.ToString();
  EXPECT_TRUE(store->outbox().Peek("hub", 100, 1 << 20)->empty());
  hist = store->history().Query("press7.temp", Timestamp::FromNs(0), Timestamp::FromNs(INT64_MAX));
  EXPECT_EQ(hist->size(), 3u);
  CommitBatch unknown;
  unknown.forward.push_back(S(7, 1, 1.0));
  EXPECT_EQ(store->Commit(unknown).code(), StatusCode::kFailedPrecondition);
}

TEST_F(OutboxTest, TwoUplinksOutOfOrderAcksCursorsAndDeletion) {
  {
    auto store = Open();
    OutboxReader& ob = store->outbox();
    ASSERT_TRUE(ob.RegisterUplink("a").ok());
    ASSERT_TRUE(ob.RegisterUplink("b").ok());
    ASSERT_TRUE(store->Commit(Forward(0, 10)).ok());
    auto ra = ob.Peek("a", 4, 1 << 20);
    ASSERT_EQ(Ids(*ra), (std::vector<uint64_t>{1, 2, 3, 4}));
    auto ra2 = ob.Peek("a", 4, 1 << 20);  // the read position moved: the next ones
    ASSERT_EQ(Ids(*ra2), (std::vector<uint64_t>{5, 6, 7, 8}));
    // Out of order: 2, 3 before 1; the prefix 1..3 is only contiguous once 1 arrives.
    ASSERT_TRUE(ob.Ack("a", 2).ok());
    ASSERT_TRUE(ob.Ack("a", 3).ok());
    EXPECT_EQ(ob.Stats("a").depth, 8u);
    ASSERT_TRUE(ob.Ack("a", 1).ok());
    ASSERT_TRUE(ob.Ack("a", 6).ok());
    EXPECT_EQ(ob.Stats("a").depth, 6u);  // 4, 5, 7, 8, 9, 10
    EXPECT_EQ(ob.Stats("a").acknowledged, 4u);
    EXPECT_EQ(ob.Stats("b").depth, 10u);
    auto rb = ob.Peek("b", 100, 1 << 20);
    ASSERT_EQ(rb->size(), 10u);
    for (uint64_t id = 1; id <= 5; ++id) ASSERT_TRUE(ob.Ack("b", id).ok());
    ASSERT_TRUE(store->FlushAcks().ok());
    // Deleted: what both acknowledged (1..3). Cursor a = 3, b = 5.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_.path() + "/plant.db").c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "SELECT min(id), count(*) FROM outbox", -1, &st, nullptr);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int64(st, 0), 4);
    EXPECT_EQ(sqlite3_column_int64(st, 1), 7);
    sqlite3_finalize(st);
    sqlite3_close(db);
  }
  // Reopen: the persisted cursors (contiguous prefixes) are where reading resumes.
  auto store = Open();
  OutboxReader& ob = store->outbox();
  ASSERT_TRUE(ob.RegisterUplink("a").ok());  // idempotent, keeps the cursor
  EXPECT_EQ(Ids(*ob.Peek("a", 100, 1 << 20)), (std::vector<uint64_t>{4, 5, 6, 7, 8, 9, 10}));
  EXPECT_EQ(Ids(*ob.Peek("b", 100, 1 << 20)), (std::vector<uint64_t>{6, 7, 8, 9, 10}));
  for (uint64_t id = 4; id <= 10; ++id) ASSERT_TRUE(ob.Ack("a", id).ok());
  for (uint64_t id = 10; id >= 6; --id) ASSERT_TRUE(ob.Ack("b", id).ok());
  EXPECT_EQ(ob.Stats("a").depth, 0u);
  EXPECT_EQ(ob.Stats("b").depth, 0u);
  ASSERT_TRUE(store->FlushAcks().ok());
  // Ids are never reused: after everything was deleted and the store reopened, the next is 11.
  store.reset();
  store = Open();
  ASSERT_TRUE(store->Commit(Forward(10, 1)).ok());
  EXPECT_EQ(Ids(*store->outbox().Peek("a", 100, 1 << 20)), (std::vector<uint64_t>{11}));
  // A new uplink starts at the oldest record still in the outbox.
  ASSERT_TRUE(store->outbox().RegisterUplink("c").ok());
  EXPECT_EQ(Ids(*store->outbox().Peek("c", 100, 1 << 20)), (std::vector<uint64_t>{11}));
}

TEST_F(OutboxTest, RewindResendsExactlyTheUnacked) {
  auto store = Open();
  OutboxReader& ob = store->outbox();
  ASSERT_TRUE(ob.RegisterUplink("hub").ok());
  ASSERT_TRUE(store->Commit(Forward(0, 8)).ok());
  ASSERT_EQ(ob.Peek("hub", 6, 1 << 20)->size(), 6u);
  ASSERT_TRUE(ob.Ack("hub", 1).ok());
  ASSERT_TRUE(ob.Ack("hub", 2).ok());
  ASSERT_TRUE(ob.Ack("hub", 4).ok());  // out of order: 3 is missing, so 4 is sent again
  ob.Rewind("hub");
  EXPECT_EQ(Ids(*ob.Peek("hub", 100, 1 << 20)), (std::vector<uint64_t>{3, 4, 5, 6, 7, 8}));
  // max_bytes: stops before the limit but always returns one record.
  ob.Rewind("hub");
  EXPECT_EQ(ob.Peek("hub", 100, 1)->size(), 1u);
  EXPECT_EQ(ob.Peek("hub", 100, 100)->size(), 2u);  // 48 bytes each
}

TEST_F(OutboxTest, MetricsReportDepthBytesAndAcks) {
  MetricsRegistry m;
  auto store = Open(0, &m);
  ASSERT_TRUE(store->outbox().RegisterUplink("hub").ok());
  ASSERT_TRUE(store->Commit(Forward(0, 5)).ok());
  ASSERT_EQ(store->outbox().Peek("hub", 2, 1 << 20)->size(), 2u);
  ASSERT_TRUE(store->outbox().Ack("hub", 1).ok());
  std::string text = m.RenderPrometheus();
  EXPECT_NE(text.find("pf_outbox_depth{uplink=\"hub\"} 4"), std::string::npos) << text;
  EXPECT_NE(text.find("pf_outbox_bytes 240"), std::string::npos) << text;
  EXPECT_EQ(m.Value("pf_outbox_acked_total", {{"uplink", "hub"}}), 1.0);
  EXPECT_GT(m.Value("pf_store_bytes"), 0.0);
}

// --- disk budget ---

// Writes n samples per commit over both tags until the store has evicted, with one uplink that
// consumes (Peek + Ack into a set) only sometimes.
TEST_F(OutboxTest, BudgetEvictsInOrderWithAnExactLedger) {
  MetricsRegistry m;
  constexpr uint64_t kBudget = 600 * 1024;
  auto store = Open(kBudget, &m);
  OutboxReader& ob = store->outbox();
  ASSERT_TRUE(ob.RegisterUplink("hub").ok());
  std::set<uint64_t> received, other;  // other: alert, label and ledger records
  std::set<std::string> forwarded_ledger;
  uint64_t max_id = 0;
  int64_t next = 0;
  // Alerts early on, never acknowledged: they must survive every eviction.
  CommitBatch first = Forward(next, 10);
  next += 10;
  first.events.push_back(Ev("alert-1", "alert", 1));
  first.events.push_back(Ev("label-1", "label", 2));
  first.events.push_back(Ev("event-1", "limit_change", 3));
  ASSERT_TRUE(store->Commit(first).ok());
  // An ordinary event the consumer reaches only late: while outbox samples can still be evicted,
  // it must survive (samples go before events).
  bool late_event_received = false;
  uint64_t late_event_id = 0;
  for (int round = 0; round < 120; ++round) {
    CommitBatch batch = Forward(next, 500);
    if (round == 15) batch.events.push_back(Ev("event-late", "limit_change", 4));
    ASSERT_TRUE(store->Commit(batch).ok()) << round;
    next += 500;
    if (round % 10 == 0) {  // the consumer keeps up only now and then; its broker acks all
      auto recs = ob.Peek("hub", 300, 1 << 20);
      ASSERT_TRUE(recs.ok()) << recs.status().ToString();
      for (const auto& r : *recs) {
        if (r.type == RecordType::kEvent && std::get<Event>(r.body).id == "event-late") {
        late_event_received = true;
        late_event_id = r.id;
      }
        if (r.type == RecordType::kSample || r.type == RecordType::kEvent) received.insert(r.id);
        else other.insert(r.id);
        if (r.type != RecordType::kAlert && r.type != RecordType::kLabel) ASSERT_TRUE(ob.Ack("hub", r.id).ok());
      }
    }
    // A hard cap: after every commit the store is back under the budget (WAL included).
    auto used = store->BytesUsed();
    ASSERT_TRUE(used.ok());
    ASSERT_LE(*used, kBudget) << "round " << round;
  }
  auto ledger = store->Ledger();
  ASSERT_TRUE(ledger.ok());
  ASSERT_FALSE(ledger->empty());
  // Order: history samples were evicted before any outbox record; alert and label never.
  bool saw_outbox = false;
  uint64_t history_lost = 0, upstream_lost = 0;
  for (const LedgerEntry& e : *ledger) {
    EXPECT_NE(e.evicted_type, RecordType::kAlert);
    EXPECT_NE(e.evicted_type, RecordType::kLabel);
    if (e.reason == "history_budget") {
      EXPECT_FALSE(e.upstream_loss);
      EXPECT_EQ(e.first_record, 0u);
      history_lost += e.count;
    } else {
      ASSERT_EQ(e.reason, "disk_budget");
      EXPECT_TRUE(e.upstream_loss);
      saw_outbox = true;
      upstream_lost += e.count;
      EXPECT_LE(e.first_record, e.last_record);
      EXPECT_LE(e.from, e.to);
    }
  }
  EXPECT_GT(history_lost, 0u);
  EXPECT_TRUE(saw_outbox);
  // Outbox samples were always there to evict, so no event was: the stated order, samples first.
  for (const LedgerEntry& e : *ledger)
    if (e.upstream_loss) EXPECT_EQ(e.evicted_type, RecordType::kSample) << "an event went before the samples";
  auto temp = store->history().Query("press7.temp", Timestamp::FromNs(0), Timestamp::FromNs(INT64_MAX));
  ASSERT_TRUE(temp.ok());
  auto pres = store->history().Query("press7.pressure", Timestamp::FromNs(0), Timestamp::FromNs(INT64_MAX));
  // History kept only the newest: what is left plus what the ledger says it lost is everything.
  EXPECT_EQ(temp->size() + pres->size() + history_lost, static_cast<uint64_t>(next));
  // Drain everything that is left; every sample id not received must be in the ledger, exactly.
  ob.Rewind("hub");
  for (;;) {
    auto recs = ob.Peek("hub", 1000, 1 << 24);
    ASSERT_TRUE(recs.ok());
    if (recs->empty()) break;
    for (const auto& r : *recs) {
      if (r.type == RecordType::kEvent && std::get<Event>(r.body).id == "event-late") {
        late_event_received = true;
        late_event_id = r.id;
      }
      if (r.type == RecordType::kSample || r.type == RecordType::kEvent) received.insert(r.id);
      else other.insert(r.id);
      if (r.type == RecordType::kLedger) forwarded_ledger.insert(std::get<LedgerEntry>(r.body).id);
      max_id = std::max(max_id, r.id);
      ASSERT_TRUE(ob.Ack("hub", r.id).ok());
    }
  }
  EXPECT_TRUE(late_event_received) << "the late ordinary event survived the evictions";
  // ... and not merely because it was young: samples committed after it were evicted before it.
  bool newer_samples_evicted = false;
  for (const LedgerEntry& e : *ledger)
    if (e.upstream_loss && e.last_record > late_event_id) newer_samples_evicted = true;
  EXPECT_TRUE(newer_samples_evicted) << "no sample newer than the event (record " << late_event_id << ") was evicted";
  // Every id up to the last is received, or an alert/label/ledger record, or evicted and then
  // inside exactly one upstream-loss ledger range: the ledger counts what is missing, exactly.
  uint64_t missing = 0;
  for (uint64_t id = 1; id <= max_id; ++id) {
    if (received.count(id) || other.count(id)) continue;
    ++missing;
    int covering = 0;
    for (const LedgerEntry& e : *ledger)
      if (e.upstream_loss && id >= e.first_record && id <= e.last_record) ++covering;
    EXPECT_GE(covering, 1) << "record " << id << " is missing upstream and in no ledger entry";
  }
  EXPECT_EQ(missing, upstream_lost);
  // Ledger entries travel like data: every one of them was forwarded (not evicted).
  EXPECT_EQ(forwarded_ledger.size(), ledger->size());
  EXPECT_EQ(m.Value("pf_outbox_evicted_total", {{"type", "sample"}}) + m.Value("pf_outbox_evicted_total", {{"type", "event"}}),
            static_cast<double>(upstream_lost));
  EXPECT_EQ(store->outbox().Stats("hub").evicted, upstream_lost);
  EXPECT_EQ(m.Value("pf_ledger_entries_total"), static_cast<double>(ledger->size()));
  auto alert = store->events().Get("alert-1");
  ASSERT_TRUE(alert.ok());
  EXPECT_TRUE(alert->has_value());
}

TEST_F(OutboxTest, NothingEvictableIsResourceExhausted) {
  // 18 pages: the empty schema (17 pages of 4 KiB since the state table of version 4) plus one.
  auto store = Open(72 * 1024);
  ASSERT_TRUE(store->outbox().RegisterUplink("hub").ok());
  // Only alerts, never acknowledged: the budget cannot be met, the commit is refused.
  Status last;
  int i = 0;
  for (; i < 2000; ++i) {
    CommitBatch b;
    Event e = Ev(fmt::format("alert-{}", i), "alert", i);
    e.message = std::string(400, 'x');
    b.events.push_back(e);
    last = store->Commit(b);
    if (!last.ok()) break;
  }
  ASSERT_EQ(last.code(), StatusCode::kResourceExhausted) << last.ToString();
  EXPECT_NE(last.message().find("nothing more can be evicted"), std::string::npos) << last.message();
  // Acknowledging frees them: the same batch goes through.
  for (;;) {
    auto recs = store->outbox().Peek("hub", 1000, 1 << 24);
    if (recs->empty()) break;
    for (const auto& r : *recs) ASSERT_TRUE(store->outbox().Ack("hub", r.id).ok());
  }
  ASSERT_TRUE(store->FlushAcks().ok());
  CommitBatch b;
  b.events.push_back(Ev("alert-retry", "alert", i + 1));
  Status retry = store->Commit(b);
  EXPECT_TRUE(retry.ok()) << retry.ToString();
  // The acknowledged alerts were evicted from the history as local loss only.
  auto ledger = store->Ledger();
  ASSERT_FALSE(ledger->empty());
  EXPECT_EQ(ledger->front().reason, "history_budget");
  EXPECT_EQ(ledger->front().evicted_type, RecordType::kAlert);
  EXPECT_FALSE(ledger->front().upstream_loss);
}

}  // namespace
}  // namespace pf
