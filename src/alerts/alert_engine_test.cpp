#include "alerts/alert_engine.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace pf::alerts {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using S = AlertState;

const Timestamp kT0 = Timestamp::FromSeconds(1'767'592'800);  // 2026-01-05T06:00:00Z
Timestamp Ms(int64_t ms) { return kT0 + milliseconds(ms); }
Timestamp Sec(int64_t s) { return kT0 + seconds(s); }

ConditionUpdate U(const std::string& asset, const std::string& cause, bool active, Timestamp t,
                  const std::string& machine_state = "running", const std::string& source = "threshold:test") {
  ConditionUpdate u;
  u.asset = asset;
  u.cause = cause;
  u.source = source;
  u.active = active;
  u.value = active ? 95 : 85;
  u.time = t;
  u.machine_state = machine_state;
  return u;
}

std::vector<AlertTransition> Feed(AlertEngine& e, const ConditionUpdate& u) {
  auto out = e.Evaluate(u);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return out.ok() ? out->transitions : std::vector<AlertTransition>{};
}

std::vector<std::string> Actions(const std::vector<AlertTransition>& ts) {
  std::vector<std::string> a;
  for (const auto& t : ts) a.push_back(t.action);
  return a;
}

void ExpectTransition(const AlertTransition& t, const std::string& action, S from, S to, Timestamp time) {
  EXPECT_EQ(t.action, action);
  EXPECT_EQ(t.from, from) << AlertStateName(t.from);
  EXPECT_EQ(t.to, to) << AlertStateName(t.to);
  EXPECT_EQ(t.time, time) << FormatRfc3339(t.time) << " vs " << FormatRfc3339(time);
}

AlertEngineConfig Config() {
  AlertEngineConfig c;
  c.asset_area = {{"press7", "pressing"}, {"paint1", "painting"}};
  c.area_position = {{"pressing", "press_desk"}};
  return c;
}

TEST(AlertEngine, RaiseAckClear) {
  AlertEngine e(Config());
  auto raise = Feed(e, U("press7", "temp.high", true, Sec(0)));
  ASSERT_EQ(raise.size(), 1u);
  ExpectTransition(raise[0], "raise", S::kNormal, S::kActiveUnacked, Sec(0));
  const std::string id = raise[0].alert_id;
  EXPECT_EQ(id, fmt::format("{:016x}{:08x}", Sec(0).ns, 1));
  EXPECT_EQ(raise[0].area, "pressing");
  EXPECT_EQ(raise[0].position, "press_desk");
  EXPECT_EQ(raise[0].priority, Priority::kLow);
  EXPECT_EQ(raise[0].value, 95);

  EXPECT_TRUE(Feed(e, U("press7", "temp.high", true, Sec(2))).empty());  // same occurrence, no record
  auto ack = e.Ack(id, "maria", "checking cooling", Sec(5));
  ASSERT_TRUE(ack.ok());
  ASSERT_EQ(ack->transitions.size(), 1u);
  ExpectTransition(ack->transitions[0], "ack", S::kActiveUnacked, S::kActiveAcked, Sec(5));
  EXPECT_EQ(ack->transitions[0].who, "maria");
  EXPECT_EQ(ack->transitions[0].reason, "checking cooling");
  EXPECT_EQ(ack->transitions[0].alert_id, id);
  EXPECT_EQ(e.Ack(id, "maria", "", Sec(6)).status().message(),
            fmt::format("alert '{}' is already acknowledged (by maria at 2026-01-05T06:00:05.000Z)", id));
  EXPECT_EQ(e.Find(id)->state, S::kActiveAcked);

  auto clear = Feed(e, U("press7", "temp.high", false, Sec(10)));
  ASSERT_EQ(clear.size(), 1u);
  ExpectTransition(clear[0], "clear", S::kActiveAcked, S::kNormal, Sec(10));
  EXPECT_EQ(clear[0].alert_id, id);
  EXPECT_TRUE(e.Current().empty());
  EXPECT_EQ(e.Ack(id, "maria", "", Sec(11)).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(e.Ack(id, "maria", "", Sec(11)).status().message(),
            fmt::format("alert '{}' is not current (unknown, or already cleared)", id));
}

TEST(AlertEngine, ReturnToNormalUnackedThenReactivateAndAck) {
  AlertEngine e(Config());
  const std::string id = Feed(e, U("press7", "temp.high", true, Sec(0)))[0].alert_id;
  auto rtn = Feed(e, U("press7", "temp.high", false, Sec(10)));
  ASSERT_EQ(rtn.size(), 1u);
  ExpectTransition(rtn[0], "rtn", S::kActiveUnacked, S::kRtnUnacked, Sec(10));
  auto again = Feed(e, U("press7", "temp.high", true, Sec(20)));
  ASSERT_EQ(again.size(), 1u);
  ExpectTransition(again[0], "reactivate", S::kRtnUnacked, S::kActiveUnacked, Sec(20));
  EXPECT_EQ(again[0].alert_id, id);  // the same occurrence
  Feed(e, U("press7", "temp.high", false, Sec(30)));
  auto ack = e.Ack(id, "li", "seen", Sec(40));
  ASSERT_TRUE(ack.ok());
  ExpectTransition(ack->transitions.at(0), "ack", S::kRtnUnacked, S::kNormal, Sec(40));
  EXPECT_TRUE(e.Current().empty());
  auto next = Feed(e, U("press7", "temp.high", true, Sec(50)));
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].action, "raise");
  EXPECT_NE(next[0].alert_id, id);
}

TEST(AlertEngine, OnAndOffDelaysWithExactTimes) {
  AlertEngineConfig c = Config();
  c.defaults.on_delay = seconds(5);
  c.defaults.off_delay = seconds(3);
  AlertEngine e(c);
  EXPECT_TRUE(Feed(e, U("press7", "temp.high", true, Sec(0))).empty());
  EXPECT_TRUE(Feed(e, U("press7", "temp.high", false, Sec(4))).empty());  // a 4 s glitch: never raised
  EXPECT_TRUE(e.Tick(Sec(20)).transitions.empty());
  EXPECT_TRUE(Feed(e, U("press7", "temp.high", true, Sec(21))).empty());
  EXPECT_TRUE(e.Tick(Ms(25'999)).transitions.empty());
  auto raised = Feed(e, U("press7", "temp.high", true, Sec(30)));  // the delay elapsed at 26 s
  ASSERT_EQ(raised.size(), 1u);
  ExpectTransition(raised[0], "raise", S::kNormal, S::kActiveUnacked, Sec(26));
  EXPECT_TRUE(Feed(e, U("press7", "temp.high", false, Sec(40))).empty());
  EXPECT_TRUE(Feed(e, U("press7", "temp.high", true, Sec(42))).empty());  // back within the off delay
  EXPECT_TRUE(Feed(e, U("press7", "temp.high", false, Sec(50))).empty());
  EXPECT_TRUE(e.Tick(Ms(52'999)).transitions.empty());
  auto rtn = e.Tick(Sec(60)).transitions;
  ASSERT_EQ(rtn.size(), 1u);
  ExpectTransition(rtn[0], "rtn", S::kActiveUnacked, S::kRtnUnacked, Sec(53));
}

TEST(AlertEngine, DeduplicatesPerAssetAndCause) {
  AlertEngine e(Config());
  auto first = Feed(e, U("press7", "temp.high", true, Sec(0), "running", "threshold:press7.temp.high"));
  ASSERT_EQ(first.size(), 1u);
  // Another rule reporting the same asset and cause: the same condition, no second alert.
  EXPECT_TRUE(Feed(e, U("press7", "temp.high", true, Sec(1), "running", "spc:press7.temp")).empty());
  auto other_asset = Feed(e, U("paint1", "temp.high", true, Sec(2)));
  auto other_cause = Feed(e, U("press7", "temp.low", true, Sec(3)));
  ASSERT_EQ(other_asset.size(), 1u);
  ASSERT_EQ(other_cause.size(), 1u);
  EXPECT_EQ(other_asset[0].position, "painting");  // no position configured: the area
  std::vector<AlertView> current = e.Current();
  ASSERT_EQ(current.size(), 3u);
  EXPECT_EQ(current[0].alert_id, first[0].alert_id);
  EXPECT_EQ(current[0].source, "spc:press7.temp");  // the last reporter
}

TEST(AlertEngine, ShelveNeedsExpiryReasonAndWho) {
  AlertEngine e(Config());
  const std::string id = Feed(e, U("press7", "temp.high", true, Sec(0)))[0].alert_id;
  auto no_expiry = e.Shelve(id, "maria", "sensor being replaced", std::nullopt, Sec(1));
  EXPECT_EQ(no_expiry.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(no_expiry.status().message(),
            fmt::format("expires: shelving alert '{}' needs an expiry time (a shelve is always time-limited)", id));
  EXPECT_EQ(e.Shelve(id, "maria", "", Sec(100), Sec(1)).status().message(),
            fmt::format("reason: shelving alert '{}' needs a reason", id));
  EXPECT_EQ(e.Shelve(id, "", "x", Sec(100), Sec(1)).status().message(),
            fmt::format("who: shelving alert '{}' needs the operator's name", id));
  EXPECT_EQ(e.Shelve(id, "maria", "x", Sec(1), Sec(1)).status().message(),
            "expires: 2026-01-05T06:00:01.000Z is not after now (2026-01-05T06:00:01.000Z)");
  EXPECT_EQ(e.Shelve(id, "maria", "x", Sec(1) + std::chrono::hours(24 * 8), Sec(1)).status().message(),
            "expires: 2026-01-13T06:00:01.000Z is more than 7d ahead (the longest shelve)");
  EXPECT_EQ(e.Shelve("nope", "maria", "x", Sec(100), Sec(1)).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(e.Unshelve(id, "maria", Sec(1)).status().message(), fmt::format("alert '{}' is not shelved (it is unack)", id));
}

TEST(AlertEngine, ShelvedStaysSilentUntilExpiryThenComesBack) {
  AlertEngine e(Config());
  const std::string id = Feed(e, U("press7", "temp.high", true, Sec(0)))[0].alert_id;
  auto shelve = e.Shelve(id, "maria", "sensor being replaced", Sec(600), Sec(10));
  ASSERT_TRUE(shelve.ok());
  ASSERT_EQ(shelve->transitions.size(), 1u);
  ExpectTransition(shelve->transitions[0], "shelve", S::kActiveUnacked, S::kShelved, Sec(10));
  EXPECT_EQ(shelve->transitions[0].reason, "sensor being replaced");
  EXPECT_EQ(e.Find(id)->shelved_until, Sec(600));
  EXPECT_EQ(e.Ack(id, "li", "", Sec(11)).status().message(),
            fmt::format("alert '{}' is shelved; it cannot be acknowledged until it is back in service", id));
  // The condition toggles while shelved: not a single record.
  for (int s = 20; s < 590; s += 10) EXPECT_TRUE(Feed(e, U("press7", "temp.high", s % 20 == 0, Sec(s))).empty()) << s;
  EXPECT_TRUE(Feed(e, U("press7", "temp.high", true, Sec(595))).empty());
  EXPECT_TRUE(e.Tick(Sec(599)).transitions.empty());
  auto expired = e.Tick(Sec(605)).transitions;
  ASSERT_EQ(expired.size(), 1u);
  ExpectTransition(expired[0], "shelve_expired", S::kShelved, S::kActiveUnacked, Sec(600));
  EXPECT_EQ(expired[0].alert_id, id);
  EXPECT_FALSE(e.Find(id)->shelved_until.has_value());

  // Shelved, and the condition clears while shelved: at expiry the occurrence ends.
  ASSERT_TRUE(e.Shelve(id, "maria", "known", Sec(700), Sec(610)).ok());
  EXPECT_TRUE(Feed(e, U("press7", "temp.high", false, Sec(650))).empty());
  auto ended = e.Tick(Sec(700)).transitions;
  ASSERT_EQ(ended.size(), 1u);
  ExpectTransition(ended[0], "shelve_expired", S::kShelved, S::kNormal, Sec(700));
  EXPECT_TRUE(e.Current().empty());
}

TEST(AlertEngine, UnshelveByOperator) {
  AlertEngine e(Config());
  const std::string id = Feed(e, U("press7", "temp.high", true, Sec(0)))[0].alert_id;
  ASSERT_TRUE(e.Ack(id, "li", "", Sec(1)).ok());
  ASSERT_TRUE(e.Shelve(id, "li", "nuisance", Sec(3600), Sec(2)).ok());
  auto un = e.Unshelve(id, "li", Sec(100));
  ASSERT_TRUE(un.ok());
  ASSERT_EQ(un->transitions.size(), 1u);
  ExpectTransition(un->transitions[0], "unshelve", S::kShelved, S::kActiveAcked, Sec(100));  // keeps its ack
  EXPECT_EQ(un->transitions[0].who, "li");
}

TEST(AlertEngine, MachineStateSuppressesConfiguredAlerts) {
  AlertEngineConfig c = Config();
  c.sources["threshold:test"].suppress_in_states = {"stopped", "changeover", "maintenance"};
  AlertEngine e(c);
  // Stopped: the condition is active but no alert.
  EXPECT_TRUE(Feed(e, U("press7", "temp.low", true, Sec(0), "stopped")).empty());
  EXPECT_TRUE(Feed(e, U("press7", "temp.low", true, Sec(60), "maintenance")).empty());
  EXPECT_TRUE(e.Current().empty());
  // Back to running with the condition still active: raised now.
  auto raised = Feed(e, U("press7", "temp.low", true, Sec(120), "running"));
  ASSERT_EQ(raised.size(), 1u);
  ExpectTransition(raised[0], "raise", S::kNormal, S::kActiveUnacked, Sec(120));
  // An occurrence that is out of service by state.
  auto sup = Feed(e, U("press7", "temp.low", true, Sec(180), "changeover"));
  ASSERT_EQ(sup.size(), 1u);
  ExpectTransition(sup[0], "suppress", S::kActiveUnacked, S::kSuppressed, Sec(180));
  EXPECT_EQ(sup[0].reason, "machine state 'changeover'");
  auto back = Feed(e, U("press7", "temp.low", false, Sec(240), "running"));
  ASSERT_EQ(back.size(), 1u);
  ExpectTransition(back[0], "unsuppress", S::kSuppressed, S::kNormal, Sec(240));
  // A source without suppression is not affected by the state.
  EXPECT_EQ(Feed(e, U("press7", "oil.low", true, Sec(300), "stopped", "quality:press7.oil")).size(), 1u);
}

TEST(AlertEngine, ChatteringSignalIsOneOccurrence) {
  AlertEngine e(Config());
  // 500 crossings in 10 minutes: active at k*1.2 s, normal 0.6 s later, k = 0..499.
  std::vector<AlertTransition> all;
  for (int k = 0; k < 500; ++k) {
    for (auto& t : Feed(e, U("press7", "temp.high", true, Ms(k * 1200)))) all.push_back(t);
    for (auto& t : Feed(e, U("press7", "temp.high", false, Ms(k * 1200 + 600)))) all.push_back(t);
  }
  // Unacked: raise, then rtn/reactivate until the 6th activation (6 > 5 in 60 s) flags chattering
  // at 6.0 s; from then on the occurrence is latched.
  EXPECT_EQ(Actions(all), (std::vector<std::string>{"raise", "rtn", "reactivate", "rtn", "reactivate", "rtn",
                                                    "reactivate", "rtn", "reactivate", "rtn", "chattering",
                                                    "reactivate"}));
  ASSERT_EQ(all.size(), 12u);
  EXPECT_EQ(all[10].time, Ms(6000));
  EXPECT_EQ(all[10].reason, "6 activations within 1m");
  EXPECT_TRUE(all[11].chattering);
  for (const auto& t : all) EXPECT_EQ(t.alert_id, all[0].alert_id);
  // The last normal edge is at 599.4 s; the occurrence returns to normal 60 s later.
  EXPECT_TRUE(e.Tick(Ms(659'399)).transitions.empty());
  auto rtn = e.Tick(Sec(700)).transitions;
  ASSERT_EQ(rtn.size(), 1u);
  ExpectTransition(rtn[0], "rtn", S::kActiveUnacked, S::kRtnUnacked, Ms(659'400));
  EXPECT_TRUE(rtn[0].chattering);
}

TEST(AlertEngine, AckedChatteringOccurrenceIsNotClearedPerCrossing) {
  AlertEngine e(Config());
  std::string id;
  int raises = 0;
  for (int k = 0; k < 500; ++k) {
    for (auto& t : Feed(e, U("press7", "temp.high", true, Ms(k * 1200)))) {
      raises += t.action == "raise";
      if (t.action == "raise") id = t.alert_id;
    }
    if (k == 10) {
      ASSERT_TRUE(e.Ack(id, "li", "", Ms(k * 1200 + 100)).ok());
    }
    for (auto& t : Feed(e, U("press7", "temp.high", false, Ms(k * 1200 + 600)))) raises += t.action == "raise";
  }
  EXPECT_EQ(raises, 1);
  EXPECT_EQ(e.Find(id)->state, S::kActiveAcked);
  EXPECT_TRUE(e.Find(id)->chattering);
  auto clear = e.Tick(Sec(700)).transitions;
  ASSERT_EQ(clear.size(), 1u);
  ExpectTransition(clear[0], "clear", S::kActiveAcked, S::kNormal, Ms(659'400));
}

TEST(AlertEngine, FloodDetectedAndSummarised) {
  AlertEngineConfig c = Config();
  c.sources["threshold:hi"].priority = Priority::kHigh;
  AlertEngine e(c);
  std::vector<FloodRecord> floods;
  // 12 alerts 30 s apart on press_desk (asset press7, 12 causes); 2 of them high priority.
  for (int i = 0; i < 12; ++i) {
    auto out = e.Evaluate(U("press7", fmt::format("c{:02}", i), true, Sec(i * 30), "running",
                            i == 3 || i == 11 ? "threshold:hi" : "threshold:test"));
    ASSERT_TRUE(out.ok());
    for (auto& f : out->floods) floods.push_back(f);
    EXPECT_EQ(e.InFlood("press_desk"), i >= 10) << i;
  }
  ASSERT_TRUE(e.Evaluate(U("paint1", "x", true, Sec(200))).ok());
  EXPECT_FALSE(e.InFlood("painting"));
  ASSERT_EQ(floods.size(), 1u);
  EXPECT_FALSE(floods[0].ended);
  EXPECT_EQ(floods[0].position, "press_desk");
  EXPECT_EQ(floods[0].start, Sec(300));  // the 11th alert
  EXPECT_EQ(floods[0].count, 11);
  EXPECT_EQ(floods[0].high, 1);
  // The window holds 12 raises (0..330 s); it is back to 10 when the 2nd (30 s) leaves at 630 s.
  EXPECT_TRUE(e.Tick(Ms(629'999)).floods.empty());
  auto end = e.Tick(Sec(640)).floods;
  ASSERT_EQ(end.size(), 1u);
  const FloodRecord& f = end[0];
  EXPECT_TRUE(f.ended);
  EXPECT_EQ(f.start, Sec(300));
  EXPECT_EQ(f.end, Sec(630));
  EXPECT_EQ(f.count, 12);
  EXPECT_EQ(f.low, 10);
  EXPECT_EQ(f.medium, 0);
  EXPECT_EQ(f.high, 2);
  EXPECT_EQ(f.first, Sec(0));
  EXPECT_EQ(f.last, Sec(330));
  ASSERT_EQ(f.top.size(), 5u);
  EXPECT_EQ(f.top[0], (CauseCount{"press7", "c00", 1}));
  EXPECT_EQ(f.top[4], (CauseCount{"press7", "c04", 1}));
  EXPECT_FALSE(e.InFlood("press_desk"));
}

TEST(AlertEngine, SnapshotRestoreContinuesIdentically) {
  AlertEngineConfig c = Config();
  c.defaults.on_delay = seconds(2);
  c.defaults.off_delay = seconds(1);
  c.sources["threshold:s"].suppress_in_states = {"stopped"};
  AlertEngine a(c);
  auto step = [](AlertEngine& e, const ConditionUpdate& u) {
    auto out = e.Evaluate(u);
    EXPECT_TRUE(out.ok()) << out.status().ToString();
    return out.ok() ? *out : EngineOutput{};
  };
  // Mid-sequence state: a pending on-delay, a chattering occurrence, a shelved one, a suppressed
  // one, and a flood window half full.
  std::string shelved_id;
  for (int i = 0; i < 8; ++i) {
    auto out = step(a, U("press7", fmt::format("c{}", i), true, Sec(i)));
    for (auto& t : a.Tick(Sec(i) + seconds(2)).transitions)
      if (t.cause == "c0" && t.action == "raise") shelved_id = t.alert_id;
  }
  ASSERT_FALSE(shelved_id.empty());
  ASSERT_TRUE(a.Shelve(shelved_id, "li", "test", Sec(500), Sec(20)).ok());
  for (int k = 0; k < 10; ++k) {
    step(a, U("paint1", "chatter", true, Sec(30 + k * 4)));
    step(a, U("paint1", "chatter", false, Sec(32 + k * 4)));
  }
  step(a, U("press7", "sup", true, Sec(80), "running", "threshold:s"));
  step(a, U("press7", "sup", true, Sec(90), "stopped", "threshold:s"));
  step(a, U("press7", "pending", true, Sec(91)));

  std::string snap = a.Snapshot();
  auto b = AlertEngine::Restore(c, snap);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->Snapshot(), snap);

  // The incremental form, accumulated the way the store keeps it (the latest document per key),
  // restores the same engine; an unchanged engine has no delta.
  {
    AlertEngine inc = *AlertEngine::Create(c);
    std::map<std::string, std::string> kept;
    std::string global;
    std::optional<std::string> floods;
    auto take = [&] {
      if (auto d = inc.TakeSnapshotDelta()) {
        global = d->global;
        if (d->floods) floods = d->floods;
        for (auto& [k, v] : d->conditions) kept[k] = v;
      }
    };
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(inc.Evaluate(U("press7", fmt::format("c{}", i), true, Sec(i))).ok());
      take();
      inc.Tick(Sec(i) + seconds(2));
      take();
    }
    EXPECT_FALSE(inc.TakeSnapshotDelta().has_value()) << "nothing changed since the last take";
    ASSERT_TRUE(inc.Evaluate(U("press7", "c1", false, Sec(10))).ok());
    auto d = inc.TakeSnapshotDelta();
    ASSERT_TRUE(d.has_value());
    ASSERT_EQ(d->conditions.size(), 1u) << "only the changed condition is written";
    EXPECT_EQ(d->conditions[0].first, AlertEngine::ConditionStateKey("press7", "c1"));
    global = d->global;
    kept[d->conditions[0].first] = d->conditions[0].second;
    std::vector<std::string> docs;
    for (auto& [k, v] : kept) docs.push_back(v);
    auto back = AlertEngine::Restore(c, global, floods, docs);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    // Everything but the flood windows (kept only at a flood's start or end, see TakeSnapshotDelta).
    auto without_floods = [](const std::string& text) {
      auto j = nlohmann::json::parse(text);
      j.erase("floods");
      return j;
    };
    EXPECT_EQ(without_floods(back->Snapshot()), without_floods(inc.Snapshot()));
    EXPECT_EQ(AlertEngine::Restore(c, "{\"version\": 1}", std::nullopt, {}).status().message(),
              "alerts state: version 1 is not supported (this build reads 2)");
  }
  ASSERT_EQ(a.Current().size(), b->Current().size());

  // The same continuation on both gives the same records.
  std::vector<ConditionUpdate> rest = {U("press7", "pending", true, Sec(95)), U("press7", "sup", false, Sec(96), "running", "threshold:s"),
                                       U("paint1", "chatter", true, Sec(97)), U("press7", "c9", true, Sec(98)),
                                       U("press7", "c10", true, Sec(99)), U("press7", "c11", true, Sec(100))};
  for (const auto& u : rest) {
    EngineOutput x = step(a, u), y = step(*b, u);
    EXPECT_EQ(x.transitions, y.transitions) << u.cause;
    EXPECT_EQ(x.floods, y.floods) << u.cause;
  }
  EngineOutput x = a.Tick(Sec(1000)), y = b->Tick(Sec(1000));
  EXPECT_EQ(x.transitions, y.transitions);
  EXPECT_EQ(x.floods, y.floods);
  EXPECT_FALSE(x.transitions.empty());
  EXPECT_EQ(a.Snapshot(), b->Snapshot());

  EXPECT_EQ(AlertEngine::Restore(c, "{\"version\": 9}").status().message(),
            "alerts snapshot: version 9 is not supported (this build reads 1)");
  EXPECT_EQ(AlertEngine::Restore(c, "not json").status().code(), StatusCode::kDataLoss);
}

TEST(AlertEngine, RefusesBadInput) {
  AlertEngine e(Config());
  ASSERT_EQ(Feed(e, U("press7", "temp.high", true, Sec(10))).size(), 1u);
  auto old = e.Evaluate(U("press7", "temp.high", false, Sec(9)));
  EXPECT_EQ(old.status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(old.status().message(),
            "alerts: condition 'press7/temp.high': update at 2026-01-05T06:00:09.000Z is older than the last one at "
            "2026-01-05T06:00:10.000Z");
  EXPECT_EQ(e.Evaluate(U("", "temp.high", true, Sec(11))).status().message(),
            "alerts: update from 'threshold:test': asset is empty");
  AlertEngineConfig bad = Config();
  bad.chatter_count = 0;
  EXPECT_EQ(AlertEngine::Create(bad).status().message(), "alerts: chatter_count must be at least 1, got 0");
  EXPECT_EQ(e.Ack("x", "", "", Sec(12)).status().message(), "who: acknowledging alert 'x' needs the operator's name");
}

}  // namespace
}  // namespace pf::alerts
