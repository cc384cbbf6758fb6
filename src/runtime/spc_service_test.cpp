// SpcService over a real store: samples become points and alert conditions, limits from the config
// are version 1, proposals wait for an approval, every state-changing route goes through the auth
// hook, keyed limits follow the production context, and the registry is restored from the store.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "runtime/config_loader.h"
#include "runtime/spc_service.h"
#include "testing.h"

namespace pf {
namespace {

using nlohmann::json;

constexpr const char* kConfig = R"(
[[assets]]
id = "press7"
area = "pressing"
line = "line1"
[[sources]]
name = "plc1"
type = "modbus"
endpoint = "tcp://127.0.0.1:5020"
asset = "press7"
[[sources.tags]]
name = "press7.bore"
address = "40001"
type = "uint16"
[[spc.charts]]
name = "bore"
tag = "press7.bore"
rules = "nelson1,nelson2"
center = 10.0
sigma = 1.0
key_by = "product"
)";

class SpcApi : public ::testing::Test {
 protected:
  void SetUp() override {
    auto env = [](const std::string&, std::string*) { return false; };
    auto root = ParseConfigText(kConfig, "plant.toml", env);
    ASSERT_TRUE(root.ok()) << root.status().ToString();
    auto pc = BuildPlantConfig(std::move(*root));
    ASSERT_TRUE(pc.ok()) << pc.status().ToString();
    pc_ = std::move(*pc);
    StoreOptions so;
    so.path = dir_.path() + "/plant.db";
    so.fsync = false;
    auto store = Store::Open(so);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    Make();
  }

  void Make() {
    auto svc = SpcService::Create(pc_, *store_);
    ASSERT_TRUE(svc.ok()) << svc.status().ToString();
    svc_ = std::move(*svc);
    ApiServerOptions ao;
    ao.auth = [this](const AuthRequest& r) {
      routes_checked_.push_back(r.route);
      return refuse_ ? PermissionDenied("quality engineer role required") : Status::Ok();
    };
    api_ = std::make_unique<ApiServer>(ao, nullptr);
    ASSERT_TRUE(svc_->AddRoutes(*api_, [this](std::vector<Event> events) { return Commit(std::move(events)); }).ok());
  }

  // Like the runtime: events and the changed registries in one commit.
  Status Commit(std::vector<Event> events) {
    CommitBatch batch;
    batch.events = events;
    batch.state = svc_->TakeStateIfChanged();
    for (Event& e : events) emitted_.push_back(std::move(e));
    return store_->Commit(batch);
  }

  std::pair<int, json> Call(const std::string& method, const std::string& path, const std::string& body = "") {
    ApiRequest r;
    r.method = method;
    r.body = body;
    ApiResponse resp = api_->Handle(std::move(r), path);
    return {resp.status, json::parse(resp.body, nullptr, false)};
  }

  void Feed(double v, const std::string& product, std::vector<alerts::ConditionUpdate>& updates) {
    Sample s;
    s.tag = 0;
    s.value = v;
    s.source_time = s.receive_time = Timestamp::FromSeconds(1e9 + static_cast<double>(++t_));
    ProductionContext ctx;
    if (!product.empty()) ctx["product"] = product;
    std::vector<Event> events;
    svc_->OnSample(s, ctx, "", updates, events);
    for (Event& e : events) emitted_.push_back(std::move(e));
  }

  testing::TempDir dir_;
  PlantConfig pc_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<SpcService> svc_;
  std::unique_ptr<ApiServer> api_;
  std::vector<Event> emitted_;
  std::vector<std::string> routes_checked_;
  bool refuse_ = false;
  int t_ = 0;
};

TEST_F(SpcApi, ViolationsBecomeAlertConditionsThatClear) {
  std::vector<alerts::ConditionUpdate> updates;
  Feed(10.5, "", updates);
  EXPECT_TRUE(updates.empty()) << "an in-control point reports nothing";
  Feed(14.0, "", updates);  // beyond UCL 13: nelson1
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].asset, "press7");
  EXPECT_EQ(updates[0].source, "spc:bore");
  EXPECT_EQ(updates[0].cause, "bore.i.nelson1");
  EXPECT_TRUE(updates[0].active);
  EXPECT_EQ(updates[0].value, 14.0);
  // MR 3.5 is below the MR chart's UCL D4(2) d2(2) sigma = 3.267 * 1.128 = 3.686.
  updates.clear();
  Feed(10.2, "", updates);  // the I point is back in control; the moving range 3.8 is above 3.686
  ASSERT_EQ(updates.size(), 2u);
  EXPECT_EQ(updates[0].cause, "bore.mr.nelson1");
  EXPECT_TRUE(updates[0].active);
  EXPECT_DOUBLE_EQ(updates[0].value, 3.8);
  EXPECT_EQ(updates[1].cause, "bore.i.nelson1");
  EXPECT_FALSE(updates[1].active);
  updates.clear();
  Feed(9.0, "", updates);  // below the center (breaks the same-side run); moving range 1.2
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].cause, "bore.mr.nelson1");
  EXPECT_FALSE(updates[0].active) << "back within the rules";
  // Nine in a row above the center: nelson2 at the ninth.
  updates.clear();
  for (int i = 0; i < 8; ++i) Feed(10.3, "", updates);
  EXPECT_TRUE(updates.empty());
  Feed(10.3, "", updates);
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].cause, "bore.i.nelson2");
  EXPECT_TRUE(updates[0].active);
  auto [status, chart] = Call("GET", "/api/v1/spc/charts/bore");
  ASSERT_EQ(status, 200);
  EXPECT_EQ(chart["violations"]["nelson1"], 2) << chart.dump();
  EXPECT_EQ(chart["violations"]["nelson2"], 1) << chart.dump();
  EXPECT_EQ(chart["points"], 13);
  EXPECT_EQ(chart["limits"]["version"], 1);
  EXPECT_EQ(chart["limits"]["decided_by"], "config");
  EXPECT_EQ(chart["limits"]["ucl"], 13.0);
}

TEST_F(SpcApi, EveryStateChangingRouteGoesThroughTheAuthHook) {
  refuse_ = true;
  EXPECT_EQ(Call("POST", "/api/v1/spc/charts/bore/limits", R"({"who": "eva", "why": "x", "center": 1, "sigma": 1})").first, 403);
  EXPECT_EQ(Call("POST", "/api/v1/spc/charts/bore/limits/1/approve", R"({"who": "eva", "why": "x"})").first, 403);
  EXPECT_EQ(Call("POST", "/api/v1/spc/charts/bore/limits/1/reject", R"({"who": "eva", "why": "x"})").first, 403);
  EXPECT_EQ(routes_checked_, (std::vector<std::string>{"/api/v1/spc/charts/{name}/limits",
                                                       "/api/v1/spc/charts/{name}/limits/{version}/approve",
                                                       "/api/v1/spc/charts/{name}/limits/{version}/reject"}));
  EXPECT_TRUE(emitted_.empty());
  EXPECT_EQ(Call("GET", "/api/v1/spc/charts").first, 200) << "reads are not checked";
  EXPECT_EQ(routes_checked_.size(), 3u);
}

TEST_F(SpcApi, KeyedProposalApprovedFollowsTheProductAndSurvivesARestart) {
  auto [s1, p] = Call("POST", "/api/v1/spc/charts/bore/limits",
                      R"({"who": "eva", "why": "product B runs hotter", "key": "B", "center": 20, "sigma": 2})");
  ASSERT_EQ(s1, 201) << p.dump();
  EXPECT_EQ(p["proposal"]["version"], 2);
  EXPECT_EQ(p["proposal"]["key"], "B");
  EXPECT_EQ(p["proposal"]["basis"], "given by the engineer");
  std::vector<alerts::ConditionUpdate> updates;
  Feed(20.0, "B", updates);
  ASSERT_EQ(updates.size(), 1u) << "a proposal is not active: B still uses the general limits (UCL 13)";
  EXPECT_EQ(updates[0].cause, "bore.i.nelson1");

  auto [s2, bad] = Call("POST", "/api/v1/spc/charts/bore/limits/9/approve", R"({"who": "eva", "why": "ok"})");
  EXPECT_EQ(s2, 404);
  EXPECT_EQ(bad["field"], "version");
  auto [s3, nowhy] = Call("POST", "/api/v1/spc/charts/bore/limits/2/approve", R"({"who": "eva"})");
  EXPECT_EQ(s3, 400);
  EXPECT_EQ(nowhy, json::parse(R"({"code": "invalid_argument", "field": "why",
                                   "message": "why: required: say why the limits change"})"));
  auto [s4, typo] = Call("POST", "/api/v1/spc/charts/bore/limits/2/approve", R"({"who": "eva", "wy": "ok"})");
  EXPECT_EQ(s4, 400);
  EXPECT_EQ(typo["field"], "wy");
  auto [s5, ok] = Call("POST", "/api/v1/spc/charts/bore/limits/2/approve", R"({"who": "eva", "why": "trial runs"})");
  ASSERT_EQ(s5, 200) << ok.dump();

  updates.clear();
  Feed(20.5, "B", updates);
  ASSERT_EQ(updates.size(), 1u) << "with B's own limits 20.5 is in control: the old condition clears";
  EXPECT_FALSE(updates[0].active);
  updates.clear();
  Feed(10.0, "A", updates);
  EXPECT_TRUE(updates.empty()) << "product A uses the general limits; no moving range across the product change";

  // The events and the registry are in the store: a new service restores both versions.
  ASSERT_EQ(emitted_.size(), 2u);
  EXPECT_EQ(emitted_[0].kind, "limit_change");
  EXPECT_EQ(json::parse(emitted_[1].payload_json)["action"], "approved");
  EXPECT_EQ(emitted_[1].operator_name, "eva");
  EXPECT_EQ(emitted_[1].comment, "trial runs");
  Make();
  auto [s6, limits] = Call("GET", "/api/v1/spc/charts/bore/limits");
  ASSERT_EQ(s6, 200);
  ASSERT_EQ(limits["versions"].size(), 2u) << limits.dump();
  EXPECT_EQ(limits["versions"][1]["status"], "approved");
  EXPECT_EQ(limits["versions"][1]["key"], "B");
  EXPECT_EQ(limits["versions"][0]["status"], "approved") << "the general version stays for other products";
}

TEST_F(SpcApi, ProposalErrorsNameTheField) {
  auto [s1, a] = Call("POST", "/api/v1/spc/charts/bore/limits", R"({"who": "eva", "why": "x", "center": 1})");
  EXPECT_EQ(s1, 400);
  EXPECT_EQ(a["field"], "sigma");
  auto [s2, b] = Call("POST", "/api/v1/spc/charts/bore/limits", R"({"who": "eva", "why": "x", "last": 5})");
  EXPECT_EQ(s2, 400);
  EXPECT_EQ(b["message"], "last: only 0 points are kept, asked for 5");
  auto [s3, c] = Call("POST", "/api/v1/spc/charts/bore/limits", R"({"why": "x", "center": 1, "sigma": 1})");
  EXPECT_EQ(s3, 400);
  EXPECT_EQ(c["field"], "who");
  auto [s4, d] = Call("POST", "/api/v1/spc/charts/bore/limits", R"({"who": "eva", "why": "x", "center": 1, "sigma": -1})");
  EXPECT_EQ(s4, 400);
  EXPECT_EQ(d["field"], "sigma");
  auto [s5, e] = Call("GET", "/api/v1/spc/charts/nope");
  EXPECT_EQ(s5, 404);
  EXPECT_EQ(e["field"], "name");
  EXPECT_TRUE(emitted_.empty());
}

}  // namespace
}  // namespace pf
