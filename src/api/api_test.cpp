// ApiServer over real sockets: a fake RuntimeView (test double for the runtime), real
// HistoryStore/EventStore in a temporary folder, a real server on port 0 and httplib::Client.
#include <atomic>
#include <cstdio>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "api/api_server.h"
#include "api/http.h"
#include "api/router.h"
#include "api/routes.h"
#include "testing.h"

namespace pf {
namespace {

using nlohmann::json;

Timestamp T(const char* text) { return ParseRfc3339(text).value(); }

TagDef Def(TagId id, std::string name, std::string asset, std::string unit, std::string source) {
  TagDef d;
  d.id = id;
  d.name = std::move(name);
  d.asset_id = std::move(asset);
  d.unit = std::move(unit);
  d.source = std::move(source);
  return d;
}

class FakeRuntime : public RuntimeView {
 public:
  FakeRuntime() {
    assets_ = {Asset{"press7", "plant1", "forming", "line2", "Press 7", "press", "1200 t press"},
               Asset{"oven2", "plant1", "curing", "line2", "Oven 2", "", ""}};
    TagSnapshot temp;
    temp.def = Def(0, "press7.temp", "press7", "degC", "plc1");
    temp.def.description = "die temperature";
    temp.latest = Sample{.tag = 0, .value = 71.5, .source_time = T("2026-03-01T08:00:09Z"),
                         .receive_time = T("2026-03-01T08:00:09.250Z"), .seq = 42,
                         .quality = Quality::kUncertain, .sub = QualitySub::kStale};
    temp.samples = 10;
    TagSnapshot pressure;
    pressure.def = Def(1, "press7.pressure", "press7", "bar", "plc1");
    TagSnapshot oven;
    oven.def = Def(2, "oven2.temp", "oven2", "degC", "replay1");
    oven.latest = Sample{.tag = 2, .value = int64_t{180}, .source_time = T("2026-03-01T08:00:00Z"),
                         .receive_time = T("2026-03-01T08:00:00Z"), .seq = 7};
    oven.samples = 1;
    tags_ = {temp, pressure, oven};
  }
  std::vector<Asset> Assets() const override { return assets_; }
  std::vector<TagSnapshot> Tags() const override { return tags_; }
  std::optional<TagSnapshot> FindTag(std::string_view name) const override {
    for (const auto& t : tags_)
      if (t.def.name == name) return t;
    return std::nullopt;
  }
  std::vector<SourceHealth> Sources() const override {
    std::lock_guard lk(mu_);
    return sources_;
  }
  ProductionContext Context(std::string_view asset_id) const override {
    if (asset_id == "press7") return {{"product", "P-100"}, {"recipe", "R7"}};
    return {};
  }
  Timestamp StartedAt() const override { return T("2026-03-01T07:00:00Z"); }
  void SetSources(std::vector<SourceHealth> s) {
    std::lock_guard lk(mu_);
    sources_ = std::move(s);
  }
  const std::vector<TagSnapshot>& tags() const { return tags_; }

 private:
  std::vector<Asset> assets_;
  std::vector<TagSnapshot> tags_;
  mutable std::mutex mu_;
  std::vector<SourceHealth> sources_;
};

class ApiServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string db = dir_.path() + "/plantfloor.db";
    HistoryOptions ho;
    ho.path = db;
    history_ = std::move(HistoryStore::Open(ho).value());
    events_ = std::move(EventStore::Open(db).value());
    for (const auto& t : runtime_.tags()) ASSERT_TRUE(history_->RegisterTag(t.def).ok());
    std::vector<Sample> samples;
    for (int i = 0; i < 10; ++i) {
      Timestamp t = T("2026-03-01T08:00:00Z") + std::chrono::seconds(i);
      samples.push_back(Sample{.tag = 0, .value = 70.0 + i * 0.5, .source_time = t, .receive_time = t,
                               .seq = static_cast<uint64_t>(i + 1)});
    }
    ASSERT_TRUE(history_->Append(samples).ok());

    ApiServerOptions options;
    options.port = 0;
    options.auth = [this](const AuthRequest& a) -> Status {
      ++auth_calls_;
      EXPECT_EQ(a.route, "/api/v1/alerts/{id}/ack");
      EXPECT_EQ(a.remote_addr, "127.0.0.1");
      auto it = a.headers.find("x-operator");
      if (it == a.headers.end())
        return PermissionDenied("{} {}: no operator signed in (from {})", a.method, a.path, "test");
      return Status::Ok();
    };
    server_ = std::make_unique<ApiServer>(options, &metrics_);
    ApiSources sources;
    sources.runtime = &runtime_;
    sources.history = history_.get();
    sources.events = events_.get();
    sources.metrics = &metrics_;
    ASSERT_TRUE(AddBuiltinRoutes(*server_, sources).ok());
    ASSERT_TRUE(server_
                    ->AddRoute("POST", "/api/v1/alerts/{id}/ack",
                               [this](const ApiRequest& r) {
                                 ++handler_calls_;
                                 return ApiResponse::Json({{"acked", r.Param("id")}, {"body", r.body}});
                               },
                               true)
                    .ok());
    ASSERT_TRUE(server_->Start().ok());
    ASSERT_GT(server_->port(), 0);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
  }

  // GET that must answer `status`; returns the parsed JSON body.
  json Get(const std::string& target, int status = 200) {
    auto res = client_->Get(target.c_str());
    EXPECT_TRUE(res) << target << ": " << httplib::to_string(res.error());
    if (!res) return {};
    EXPECT_EQ(res->status, status) << target << ": " << res->body;
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/json") << target;
    return json::parse(res->body);
  }

  void AppendEvents(int n) {
    for (int i = 0; i < n; ++i) {
      Event e;
      e.start = e.end = T("2026-03-01T08:00:00Z") + std::chrono::seconds(i);
      e.id = NewEventId(e.start);
      e.asset_id = i % 2 ? "press7" : "oven2";
      e.source = "spc:press7.temp";
      e.kind = i % 5 == 0 ? "alert" : "source_status";
      e.severity = "info";
      e.message = fmt::format("event {}", i);
      ASSERT_TRUE(events_->Append(e).ok());
    }
  }

  pf::testing::TempDir dir_;
  FakeRuntime runtime_;
  MetricsRegistry metrics_;
  std::unique_ptr<HistoryStore> history_;
  std::unique_ptr<EventStore> events_;
  std::unique_ptr<ApiServer> server_;
  std::unique_ptr<httplib::Client> client_;
  std::atomic<int> auth_calls_{0};
  std::atomic<int> handler_calls_{0};
};

TEST_F(ApiServerTest, HealthReportsDegradedWhileASourceIsDown) {
  runtime_.SetSources({SourceHealth{"plc1", "modbus", true, false, "", 2, T("2026-03-01T08:00:09Z")},
                       SourceHealth{"plc2", "modbus", false, false, "connect 127.0.0.1:1502: refused", 5, {}},
                       SourceHealth{"replay1", "replay", false, true, "", 0, T("2026-03-01T08:00:00Z")}});
  json h = Get("/api/v1/health");
  EXPECT_EQ(h["status"], "degraded");
  EXPECT_EQ(h["started_at"], "2026-03-01T07:00:00.000000000Z");
  EXPECT_EQ(h["version"], "0.1.0");
  EXPECT_GT(h["uptime_s"].get<double>(), 0.0);
  ASSERT_EQ(h["sources"].size(), 3u);
  EXPECT_EQ(h["sources"][0],
            json({{"name", "plc1"}, {"type", "modbus"}, {"connected", true}, {"finished", false},
                  {"last_error", nullptr}, {"reconnects", 2}, {"last_success", "2026-03-01T08:00:09.000000000Z"}}));
  EXPECT_EQ(h["sources"][1]["last_error"], "connect 127.0.0.1:1502: refused");
  EXPECT_EQ(h["sources"][1]["last_success"], nullptr);

  // A finished replay is not a fault: with plc2 back, the process is healthy.
  runtime_.SetSources({SourceHealth{"plc1", "modbus", true, false, "", 2, T("2026-03-01T08:00:09Z")},
                       SourceHealth{"replay1", "replay", false, true, "", 0, T("2026-03-01T08:00:00Z")}});
  EXPECT_EQ(Get("/api/v1/health")["status"], "ok");
  auto head = client_->Head("/api/v1/health");  // HEAD is answered by the GET route
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->body, "");
}

TEST_F(ApiServerTest, AssetsListPagesAndDetail) {
  json page1 = Get("/api/v1/assets?limit=1");
  ASSERT_EQ(page1["items"].size(), 1u);
  EXPECT_EQ(page1["items"][0]["id"], "oven2");  // ordered by id
  EXPECT_EQ(page1["items"][0]["template"], nullptr);
  ASSERT_TRUE(page1["next_cursor"].is_string());
  json page2 = Get("/api/v1/assets?limit=1&cursor=" + page1["next_cursor"].get<std::string>());
  ASSERT_EQ(page2["items"].size(), 1u);
  EXPECT_EQ(page2["items"][0],
            json({{"id", "press7"}, {"name", "Press 7"}, {"site", "plant1"}, {"area", "forming"},
                  {"line", "line2"}, {"path", "plant1/forming/line2/press7"}, {"template", "press"},
                  {"description", "1200 t press"}, {"tags", {"press7.pressure", "press7.temp"}}}));
  EXPECT_EQ(page2["next_cursor"], nullptr);

  json one = Get("/api/v1/assets/press7");
  EXPECT_EQ(one["path"], "plant1/forming/line2/press7");
  EXPECT_EQ(one["context"], json({{"product", "P-100"}, {"recipe", "R7"}}));

  EXPECT_EQ(Get("/api/v1/assets/press9", 404),
            json({{"code", "not_found"}, {"message", "asset 'press9' is not defined"}, {"field", nullptr}}));
}

TEST_F(ApiServerTest, TagsCarryLatestValueQualityAndTimes) {
  json all = Get("/api/v1/tags");
  ASSERT_EQ(all["items"].size(), 3u);
  EXPECT_EQ(all["items"][0]["name"], "oven2.temp");
  EXPECT_EQ(all["items"][0]["value"], 180);
  EXPECT_EQ(all["next_cursor"], nullptr);

  json press = Get("/api/v1/tags?asset=press7");
  ASSERT_EQ(press["items"].size(), 2u);
  EXPECT_EQ(press["items"][0]["name"], "press7.pressure");
  EXPECT_EQ(press["items"][0]["value"], nullptr);
  EXPECT_EQ(press["items"][0]["quality"], nullptr);
  EXPECT_EQ(press["items"][0]["samples"], 0);

  json expected = {{"name", "press7.temp"},
                   {"asset", "press7"},
                   {"unit", "degC"},
                   {"description", "die temperature"},
                   {"source", "plc1"},
                   {"value", 71.5},
                   {"quality", "uncertain"},
                   {"quality_sub", "stale"},
                   {"source_time", "2026-03-01T08:00:09.000000000Z"},
                   {"receive_time", "2026-03-01T08:00:09.250000000Z"},
                   {"seq", 42},
                   {"samples", 10}};
  EXPECT_EQ(press["items"][1], expected);
  EXPECT_EQ(Get("/api/v1/tags/press7.temp"), expected);
  EXPECT_EQ(Get("/api/v1/tags/press7%2Etemp"), expected);  // path params are percent-decoded
}

TEST_F(ApiServerTest, HistoryRawThenBucketsWhenAboveMaxPoints) {
  const std::string base = "/api/v1/tags/press7.temp/history?from=2026-03-01T08:00:00Z&to=2026-03-01T08:00:10Z";
  json raw = Get(base);
  EXPECT_EQ(raw["mode"], "raw");
  EXPECT_EQ(raw["truncated"], false);
  EXPECT_EQ(raw["unit"], "degC");
  ASSERT_EQ(raw["points"].size(), 10u);
  EXPECT_EQ(raw["points"][0], json({{"time", "2026-03-01T08:00:00.000000000Z"}, {"value", 70.0},
                                    {"quality", "good"}, {"quality_sub", "none"},
                                    {"receive_time", "2026-03-01T08:00:00.000000000Z"}, {"seq", 1}}));
  EXPECT_EQ(raw["points"][9]["value"], 74.5);

  // 10 points fit in 10: still raw.
  EXPECT_EQ(Get(base + "&max_points=10")["mode"], "raw");

  json b = Get(base + "&max_points=5");
  EXPECT_EQ(b["mode"], "buckets");
  EXPECT_EQ(b["max_points"], 5);
  ASSERT_EQ(b["buckets"].size(), 5u);
  // 2 s buckets of 2 points each: [70.0, 70.5], ..., [74.0, 74.5].
  EXPECT_EQ(b["buckets"][0]["start"], "2026-03-01T08:00:00.000000000Z");
  EXPECT_EQ(b["buckets"][0]["end"], "2026-03-01T08:00:02.000000000Z");
  EXPECT_EQ(b["buckets"][0]["count"], 2);
  EXPECT_EQ(b["buckets"][0]["min"], 70.0);
  EXPECT_EQ(b["buckets"][0]["max"], 70.5);
  EXPECT_EQ(b["buckets"][0]["first"], 70.0);
  EXPECT_EQ(b["buckets"][0]["last"], 70.5);
  EXPECT_EQ(b["buckets"][0]["mean"], 70.25);
  EXPECT_EQ(b["buckets"][4]["max"], 74.5);
  EXPECT_EQ(b["buckets"][4]["max_time"], "2026-03-01T08:00:09.000000000Z");

  // A range with no samples is an empty raw list, not an error.
  json empty = Get("/api/v1/tags/press7.temp/history?from=2026-03-01T09:00:00Z&to=2026-03-01T10:00:00Z");
  EXPECT_EQ(empty["points"], json::array());
}

TEST_F(ApiServerTest, ErrorBodiesNameTheField) {
  EXPECT_EQ(Get("/api/v1/tags/press7.nope/history", 404),
            json({{"code", "not_found"}, {"message", "tag 'press7.nope' is not defined"}, {"field", nullptr}}));
  EXPECT_EQ(Get("/api/v1/tags/press7.nope", 404)["message"], "tag 'press7.nope' is not defined");

  json bad_from = Get("/api/v1/tags/press7.temp/history?from=yesterday", 400);
  EXPECT_EQ(bad_from["code"], "invalid_argument");
  EXPECT_EQ(bad_from["field"], "from");
  EXPECT_EQ(bad_from["message"], ParseRfc3339("yesterday").status().message());
  EXPECT_EQ(bad_from["message"].get<std::string>().rfind("'yesterday' is not an RFC 3339 time", 0), 0u);

  EXPECT_EQ(Get("/api/v1/tags/press7.temp/history?from=2026-03-01T09:00:00Z&to=2026-03-01T08:00:00Z", 400),
            json({{"code", "invalid_argument"},
                  {"message", "'to' (2026-03-01T08:00:00.000000000Z) must be after 'from' (2026-03-01T09:00:00.000000000Z)"},
                  {"field", "to"}}));
  EXPECT_EQ(Get("/api/v1/tags/press7.temp/history?max_points=0", 400)["field"], "max_points");

  EXPECT_EQ(Get("/api/v1/events?limit=5000", 400),
            json({{"code", "invalid_argument"}, {"message", "limit must be an integer from 1 to 1000, got '5000'"},
                  {"field", "limit"}}));
  EXPECT_EQ(Get("/api/v1/assets?limit=ten", 400)["message"], "limit must be an integer from 1 to 1000, got 'ten'");
  EXPECT_EQ(Get("/api/v1/tags?cursor=*", 400)["field"], "cursor");

  EXPECT_EQ(Get("/api/v1/nothing/here", 404),
            json({{"code", "not_found"}, {"message", "no route for GET /api/v1/nothing/here"}, {"field", nullptr}}));
  EXPECT_EQ(Get("/api/v1/tags/bad%zzescape", 400)["code"], "invalid_argument");
}

TEST_F(ApiServerTest, EventsPageThroughAllWithoutDuplicates) {
  AppendEvents(250);
  std::set<std::string> seen;
  std::string cursor;
  std::vector<size_t> sizes;
  std::string previous_start = "9999";
  for (int page = 0; page < 10; ++page) {
    json body = Get("/api/v1/events?limit=100" + (cursor.empty() ? "" : "&cursor=" + cursor));
    sizes.push_back(body["items"].size());
    for (const auto& e : body["items"]) {
      EXPECT_TRUE(seen.insert(e["id"].get<std::string>()).second) << "duplicate " << e["id"];
      std::string start = e["start"].get<std::string>();
      EXPECT_LT(start, previous_start);  // newest first
      previous_start = start;
    }
    if (body["next_cursor"].is_null()) break;
    cursor = body["next_cursor"].get<std::string>();
  }
  EXPECT_EQ(sizes, (std::vector<size_t>{100, 100, 50}));
  EXPECT_EQ(seen.size(), 250u);

  json alerts = Get("/api/v1/events?kind=alert&limit=1000");
  EXPECT_EQ(alerts["items"].size(), 50u);
  EXPECT_EQ(alerts["next_cursor"], nullptr);
  for (const auto& e : alerts["items"]) EXPECT_EQ(e["kind"], "alert");

  json window = Get("/api/v1/events?asset=press7&from=2026-03-01T08:00:00Z&to=2026-03-01T08:00:10Z");
  ASSERT_EQ(window["items"].size(), 5u);  // odd seconds 1..9
  EXPECT_EQ(window["items"][0]["message"], "event 9");
  EXPECT_EQ(window["items"][0]["asset"], "press7");
}

TEST_F(ApiServerTest, AuthHookRefusesStateChangingRouteBeforeItsHandler) {
  auto denied = client_->Post("/api/v1/alerts/a1/ack", "{}", "application/json");
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 403);
  EXPECT_EQ(json::parse(denied->body),
            json({{"code", "permission_denied"},
                  {"message", "POST /api/v1/alerts/a1/ack: no operator signed in (from test)"},
                  {"field", nullptr}}));
  EXPECT_EQ(handler_calls_.load(), 0);
  EXPECT_EQ(auth_calls_.load(), 1);

  // GET routes do not consult the hook.
  Get("/api/v1/tags");
  EXPECT_EQ(auth_calls_.load(), 1);

  httplib::Headers headers = {{"X-Operator", "anna"}};
  auto allowed = client_->Post("/api/v1/alerts/a%2F1/ack", headers, "ok", "text/plain");
  ASSERT_TRUE(allowed);
  EXPECT_EQ(allowed->status, 200);
  EXPECT_EQ(json::parse(allowed->body), json({{"acked", "a/1"}, {"body", "ok"}}));
  EXPECT_EQ(handler_calls_.load(), 1);
  EXPECT_EQ(auth_calls_.load(), 2);
}

TEST_F(ApiServerTest, MetricsRenderPrometheusTextWithApiCounters) {
  Get("/api/v1/health");
  Get("/api/v1/health");
  Get("/api/v1/tags/none", 404);
  Get("/nope", 404);
  metrics_.GetCounter("pf_samples_read_total", "samples read", {{"source", "plc1"}}).Inc(12);
  auto res = client_->Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  const std::string& text = res->body;
  EXPECT_NE(text.find("# TYPE pf_api_requests_total counter\n"), std::string::npos) << text;
  EXPECT_NE(text.find("pf_api_requests_total{code=\"200\",route=\"/api/v1/health\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("pf_api_requests_total{code=\"404\",route=\"/api/v1/tags/{name}\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("pf_api_requests_total{code=\"404\",route=\"unmatched\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE pf_api_request_seconds histogram\n"), std::string::npos);
  EXPECT_NE(text.find("pf_api_request_seconds_count{route=\"/api/v1/health\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("pf_samples_read_total{source=\"plc1\"} 12\n"), std::string::npos);
}

TEST_F(ApiServerTest, PayloadAboveLimitIsRefusedWithErrorBody) {
  httplib::Headers headers = {{"X-Operator", "anna"}};
  auto res = client_->Post("/api/v1/alerts/a1/ack", headers, std::string(2 << 20, 'x'), "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  EXPECT_EQ(json::parse(res->body)["code"], "resource_exhausted");
  EXPECT_EQ(handler_calls_.load(), 0);
}

TEST_F(ApiServerTest, ConcurrentClientsAreAllAnsweredAndCounted) {
  constexpr int kThreads = 4, kRequests = 100;
  std::atomic<int> ok{0};
  int64_t t0 = MonotonicNs();
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&] {
      httplib::Client c("127.0.0.1", server_->port());
      c.set_keep_alive(true);
      for (int n = 0; n < kRequests; ++n) {
        auto res = c.Get("/api/v1/tags/press7.temp");
        if (res && res->status == 200 && json::parse(res->body)["seq"] == 42) ++ok;
      }
    });
  for (auto& t : threads) t.join();
  double seconds = static_cast<double>(MonotonicNs() - t0) * 1e-9;
  EXPECT_EQ(ok.load(), kThreads * kRequests);
  EXPECT_EQ(metrics_.Value("pf_api_requests_total", {{"route", "/api/v1/tags/{name}"}, {"code", "200"}}),
            kThreads * kRequests);
  std::printf("api: %d GET /api/v1/tags/{name} from %d keep-alive clients in %.3f s (%.0f req/s)\n",
              kThreads * kRequests, kThreads, seconds, kThreads * kRequests / seconds);
}

TEST(ApiServerLifecycle, StopRightAfterStartAndPortInUse) {
  ApiServerOptions options;
  options.port = 0;
  ApiServer a(options, nullptr);
  ASSERT_TRUE(a.Start().ok());
  options.port = a.port();
  ApiServer b(options, nullptr);
  EXPECT_EQ(b.Start(), Unavailable("api: cannot bind 127.0.0.1:{} (in use or not permitted)", a.port()));
  a.Stop();
  a.Stop();  // idempotent
  EXPECT_EQ(a.AddRoute("GET", "/late", [](const ApiRequest&) { return ApiResponse{}; }, false), Status::Ok());
}

TEST(ApiServerRoutes, AddRouteRejectsUnguardedWritesDuplicatesAndBadPatterns) {
  ApiServer server(ApiServerOptions{}, nullptr);
  auto ok = [](const ApiRequest&) { return ApiResponse::Json({}); };
  EXPECT_EQ(server.AddRoute("POST", "/api/v1/x", ok, false),
            InvalidArgument("api: route POST /api/v1/x changes state and must go through the auth hook"));
  EXPECT_TRUE(server.AddRoute("GET", "/api/v1/x/{id}", ok, false).ok());
  EXPECT_EQ(server.AddRoute("GET", "/api/v1/x/{id}", ok, false).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(server.AddRoute("GET", "/api/v1/x/{id", ok, false),
            Status(StatusCode::kInvalidArgument,
                   "route pattern '/api/v1/x/{id': segment '{id' is not a {name} parameter"));
  EXPECT_EQ(server.AddRoute("TRACE", "/api/v1/y", ok, false).code(), StatusCode::kInvalidArgument);
}

TEST(ApiServerRoutes, HandleWithoutSocketsMapsStatusCodes) {
  ApiServer server(ApiServerOptions{}, nullptr);
  ASSERT_TRUE(server.AddRoute("GET", "/busy", [](const ApiRequest&) { return ApiResponse::Error(Unavailable("plc1 down")); }, false).ok());
  ASSERT_TRUE(server.AddRoute("GET", "/throws", [](const ApiRequest&) -> ApiResponse { throw std::runtime_error("boom"); }, false).ok());
  ApiRequest r;
  r.method = "GET";
  ApiResponse busy = server.Handle(r, "/busy");
  EXPECT_EQ(busy.status, 503);
  EXPECT_EQ(busy.body, R"({"code":"unavailable","field":null,"message":"plc1 down"})");
  ApiResponse thrown = server.Handle(r, "/throws");
  EXPECT_EQ(thrown.status, 500);
  EXPECT_EQ(json::parse(thrown.body)["message"], "GET /throws: handler failed: boom");
}

TEST(ApiHttp, StatusMappingCursorsAndPercentDecoding) {
  EXPECT_EQ(HttpStatusFor(StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatusFor(StatusCode::kNotFound), 404);
  EXPECT_EQ(HttpStatusFor(StatusCode::kPermissionDenied), 403);
  EXPECT_EQ(HttpStatusFor(StatusCode::kFailedPrecondition), 409);
  EXPECT_EQ(HttpStatusFor(StatusCode::kResourceExhausted), 429);
  EXPECT_EQ(HttpStatusFor(StatusCode::kUnavailable), 503);
  EXPECT_EQ(HttpStatusFor(StatusCode::kDataLoss), 500);
  for (std::string key : {"", "a", "ab", "abc", "press7.temp", "oven/2 \xff"})
    EXPECT_EQ(DecodeCursor(EncodeCursor(key)).value(), key);
  EXPECT_EQ(EncodeCursor("press7"), "cHJlc3M3");
  EXPECT_EQ(DecodeCursor("a").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(PercentDecode("a%2Fb%2ec").value(), "a/b.c");
  EXPECT_EQ(PercentDecode("50%").status(), InvalidArgument("'50%': invalid percent escape at offset 2"));
  auto segs = SplitPath("/api/v1/tags/a%2Fb/");
  ASSERT_TRUE(segs.ok());
  EXPECT_EQ(*segs, (std::vector<std::string>{"api", "v1", "tags", "a/b"}));
  auto p = RoutePattern::Parse("/api/v1/tags/{name}/history").value();
  std::map<std::string, std::string> params;
  EXPECT_TRUE(p.Match({"api", "v1", "tags", "a.b", "history"}, &params));
  EXPECT_EQ(params["name"], "a.b");
  EXPECT_FALSE(p.Match({"api", "v1", "tags", "a.b"}, &params));
}

}  // namespace
}  // namespace pf
