#include "store/event_store.h"

#include <gtest/gtest.h>

#include <set>

#include "store/history.h"
#include "testing.h"

namespace pf {
namespace {

constexpr int64_t kMs = 1'000'000;
const Timestamp kT0 = Timestamp::FromMs(1'780'000'000'000);

Event MakeEvent(int i, std::string asset = "press7", std::string kind = "alert", std::string source = "spc:press7.temp") {
  Event e;
  e.start = kT0 + Duration(i * 1000 * kMs);
  e.end = e.start + Duration(250 * kMs);
  e.id = NewEventId(e.start);
  e.asset_id = std::move(asset);
  e.kind = std::move(kind);
  e.source = std::move(source);
  e.severity = "medium";
  e.message = "event " + std::to_string(i);
  e.payload_json = R"({"rule":"WE1","value":3.5})";
  e.model_version = "chart-3";
  e.operator_name = "ana";
  e.comment = "checked";
  e.refers_to = "0000000000000001abcdef01";
  e.context = {{"product", "P-100"}, {"batch", "B7"}};
  return e;
}

void ExpectSameEvent(const Event& a, const Event& b) {
  EXPECT_EQ(a.schema_version, b.schema_version);
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.asset_id, b.asset_id);
  EXPECT_EQ(a.source, b.source);
  EXPECT_EQ(a.start, b.start);
  EXPECT_EQ(a.end, b.end);
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.severity, b.severity);
  EXPECT_EQ(a.message, b.message);
  EXPECT_EQ(a.payload_json, b.payload_json);
  EXPECT_EQ(a.model_version, b.model_version);
  EXPECT_EQ(a.operator_name, b.operator_name);
  EXPECT_EQ(a.comment, b.comment);
  EXPECT_EQ(a.refers_to, b.refers_to);
  EXPECT_EQ(a.context, b.context);
}

class EventStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = EventStore::Open(path_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }
  pf::testing::TempDir dir_;
  std::string path_ = dir_.path() + "/plantfloor.db";
  std::unique_ptr<EventStore> store_;
};

TEST_F(EventStoreTest, AppendGetRoundTripsEveryField) {
  Event e = MakeEvent(1);
  e.start = Timestamp::FromNs(kT0.ns + 123'456'789);  // nanoseconds survive the store
  ASSERT_TRUE(store_->Append(e).ok());
  auto got = store_->Get(e.id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_TRUE(got->has_value());
  ExpectSameEvent(**got, e);
  auto missing = store_->Get("nope");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
}

TEST_F(EventStoreTest, AppendRefusesDuplicatesAndInvalidEvents) {
  Event e = MakeEvent(1);
  ASSERT_TRUE(store_->Append(e).ok());
  Status dup = store_->Append(e);
  EXPECT_EQ(dup.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(dup.message(), "event store: event id '" + e.id + "' already exists");

  Event bad = MakeEvent(2);
  bad.payload_json = "[1,2]";
  Status s = store_->Append(bad);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "event store: event '" + bad.id + "': payload_json is not a JSON object: '[1,2]'");
  bad = MakeEvent(3);
  bad.end = bad.start - Duration(kMs);
  EXPECT_EQ(store_->Append(bad).code(), StatusCode::kInvalidArgument);
  bad = MakeEvent(4);
  bad.id.clear();
  EXPECT_EQ(store_->Append(bad).message(), "event store: event of kind 'alert' has an empty id");
}

TEST_F(EventStoreTest, PagingOver250EventsGivesThreePagesWithoutDuplicatesOrGaps) {
  std::vector<Event> all;
  for (int i = 0; i < 250; ++i) {
    // Pairs of events share a start time so the id breaks the tie.
    Event e = MakeEvent(i / 2);
    all.push_back(e);
    ASSERT_TRUE(store_->Append(e).ok());
  }
  std::sort(all.begin(), all.end(), [](const Event& a, const Event& b) {
    return a.start != b.start ? a.start > b.start : a.id > b.id;
  });
  EventQuery q;
  q.limit = 100;
  std::vector<std::string> seen;
  std::vector<size_t> sizes;
  for (int page = 0; page < 10; ++page) {
    auto r = store_->Query(q);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    sizes.push_back(r->events.size());
    for (const Event& e : r->events) seen.push_back(e.id);
    if (r->next_cursor.empty()) break;
    q.cursor = r->next_cursor;
  }
  EXPECT_EQ(sizes, (std::vector<size_t>{100, 100, 50}));
  ASSERT_EQ(seen.size(), 250u);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(seen[i], all[i].id) << i;  // newest first, in order
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 250u);
}

TEST_F(EventStoreTest, FiltersCombine) {
  for (int i = 0; i < 30; ++i) {
    std::string asset = i % 2 ? "press7" : "oven2";
    std::string kind = i % 3 ? "alert" : "label";
    std::string source = i % 5 ? "spc" : "operator";
    ASSERT_TRUE(store_->Append(MakeEvent(i, asset, kind, source)).ok());
  }
  auto count = [&](EventQuery q) {
    auto r = store_->Query(q);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->events.size() : size_t{0};
  };
  EventQuery q;
  q.asset_id = "press7";
  EXPECT_EQ(count(q), 15u);
  q.kind = "label";  // odd i divisible by 3: 3, 9, 15, 21, 27
  EXPECT_EQ(count(q), 5u);
  q.source = "operator";  // of those, divisible by 5: 15
  EXPECT_EQ(count(q), 1u);
  EventQuery range;
  range.from = kT0 + Duration(10'000 * kMs);  // i >= 10
  range.to = kT0 + Duration(20'000 * kMs);    // i < 20
  auto r = store_->Query(range);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->events.size(), 10u);
  EXPECT_EQ(r->events.front().message, "event 19");
  EXPECT_EQ(r->events.back().message, "event 10");
  EXPECT_TRUE(r->next_cursor.empty());
}

TEST_F(EventStoreTest, RefusesBadCursorAndLimit) {
  EventQuery q;
  q.cursor = "not-a-cursor";
  auto r = store_->Query(q);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "event query: malformed cursor 'not-a-cursor'");
  q.cursor.clear();
  q.limit = 0;
  EXPECT_EQ(store_->Query(q).status().message(), "event query: limit must be 1..10000, got 0");
}

TEST_F(EventStoreTest, SharesTheDatabaseFileWithHistoryAndSurvivesReopen) {
  HistoryOptions o;
  o.path = path_;
  auto history = HistoryStore::Open(o);
  ASSERT_TRUE(history.ok()) << history.status().ToString();
  TagDef tag;
  tag.name = "press7.temp";
  ASSERT_TRUE((*history)->RegisterTag(tag).ok());
  Event e = MakeEvent(5);
  ASSERT_TRUE(store_->Append(e).ok());
  std::vector<Sample> samples(1);
  samples[0].value = 1.0;
  ASSERT_TRUE((*history)->Append(samples).ok());
  store_.reset();
  auto reopened = EventStore::Open(path_);
  ASSERT_TRUE(reopened.ok());
  auto got = (*reopened)->Get(e.id);
  ASSERT_TRUE(got.ok() && got->has_value());
  ExpectSameEvent(**got, e);
}

}  // namespace
}  // namespace pf
