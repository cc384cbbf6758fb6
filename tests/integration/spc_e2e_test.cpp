// SPC live charts end to end on real data: Montgomery's piston-ring diameters
// (../shared/data/spc_qcc/pistonrings.csv, 40 subgroups of 5) replayed as a live tag through the
// plantfloor binary. An X̄-R chart with subgroup_size 5 takes its limits from a baseline of the first
// 25 subgroups (Phase I, approved by the configuration), and with rule 1 the live chart flags
// exactly the textbook's out-of-control subgroups 37, 38 and 39, which the alert engine raises as
// one alert. An engineer then proposes new limits over all 40 subgroups through the API and
// approves them; kill -9; after the restart the registry has both versions with who and why, the
// second active, and every proposal and approval is a stored "limit_change" event.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "core/time.h"
#include "e2e_process.h"
#include "testing.h"

namespace pf {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// The diameters in file order (200 values, subgroup after subgroup).
std::vector<std::string> Diameters(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // header: diameter,sample,trial
  std::vector<std::string> out;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(line.substr(0, line.find(',')));
  return out;
}

json WaitFor(int port, const std::string& path, const std::function<bool(const json&)>& done, std::chrono::seconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  json j;
  while (std::chrono::steady_clock::now() < end) {
    j = e2e::GetJson(port, path);
    if (!j.is_discarded() && done(j)) return j;
    std::this_thread::sleep_for(100ms);
  }
  return j;
}

TEST(SpcE2E, PistonRingsLiveChartFlagsTheTextbookSubgroupsAndLimitsAreGoverned) {
  std::string data = testing::SharedDir() + "/data/spc_qcc/pistonrings.csv";
  testing::RequireOrSkip(data, "the qcc piston-ring data of ../shared");
  std::vector<std::string> diameters = Diameters(data);
  ASSERT_EQ(diameters.size(), 200u);
  testing::TempDir dir;
  {
    std::ofstream csv(dir.path() + "/rings.csv");
    csv << "time,diameter\n";
    for (size_t i = 0; i < diameters.size(); ++i)  // one ring a minute
      csv << FormatRfc3339(Timestamp::FromSeconds(1'700'000'000.0 + 60.0 * static_cast<double>(i)), 0) << ','
          << diameters[i] << '\n';
  }
  int api_port = testing::FreePort();
  std::ofstream(dir.path() + "/plant.toml") << fmt::format(R"(
[plant]
data_dir = "{0}/data"
[api]
listen = "127.0.0.1:{1}"
[store]
commit_window = "50ms"
[[assets]]
id = "forge2"
area = "forging"
line = "rings"
[[sources]]
name = "gauge"
type = "replay"
file = "{0}/rings.csv"
time_column = "time"
speed = "fast"
asset = "forge2"
[[sources.tags]]
name = "forge2.ring_diameter"
column = "diameter"
store = "all"

[alerts]
clock = "source"

[[spc.charts]]
name = "rings"
tag = "forge2.ring_diameter"
chart = "xbar_r"
subgroup_size = 5
rules = "nelson1"
baseline = 25
usl = 74.05
lsl = 73.95
priority = "medium"
)",
                                                           dir.path(), api_port);
  const std::vector<std::string> args = {testing::PlantfloorBin(), "run", "--config", dir.path() + "/plant.toml",
                                         "--log-level", "warn"};
  httplib::Client api("127.0.0.1", api_port);
  {
    e2e::ChildProcess pf(args);
    ASSERT_TRUE(e2e::WaitHealthy(api_port, 20s));
    json chart = WaitFor(api_port, "/api/v1/spc/charts/rings", [](const json& j) { return j.value("points", 0) == 40; }, 20s);
    ASSERT_EQ(chart["points"], 40) << chart.dump();
    // Limits from the baseline of subgroups 1-25: x̿ = 74.00118, sigma = R̄/d2(5) = 0.02276/2.326.
    const json& limits = chart["limits"];
    ASSERT_TRUE(limits.is_object()) << chart.dump();
    EXPECT_EQ(limits["version"], 1);
    EXPECT_EQ(limits["status"], "approved");
    EXPECT_EQ(limits["decided_by"], "config");
    EXPECT_NEAR(limits["center"].get<double>(), 74.00118, 5e-6);
    EXPECT_NEAR(limits["ucl"].get<double>(), 74.01431, 1e-5);  // textbook 74.014
    EXPECT_NEAR(limits["lcl"].get<double>(), 73.98805, 1e-5);  // textbook 73.988
    EXPECT_EQ(chart["violations"]["nelson1"], 3) << chart.dump();
    std::vector<int> flagged;
    for (const json& v : chart["recent_violations"]) {
      EXPECT_EQ(v["rule"], "nelson1");
      EXPECT_EQ(v["chart"], "xbar");
      flagged.push_back(v["points"].back().get<int>());
    }
    EXPECT_EQ(flagged, (std::vector<int>{37, 38, 39})) << "Montgomery: subgroups 37, 38, 39 are above the UCL";
    ASSERT_TRUE(chart["capability"].is_object()) << chart.dump();
    EXPECT_GT(chart["capability"]["cp"].get<double>(), 1.0);

    // The three violations are one alert occurrence (raised at 37, returned to normal at 40).
    json alerts = WaitFor(api_port, "/api/v1/alerts", [](const json& j) { return !j["items"].empty(); }, 10s);
    ASSERT_EQ(alerts["items"].size(), 1u) << alerts.dump();
    EXPECT_EQ(alerts["items"][0]["source"], "spc:rings");
    EXPECT_EQ(alerts["items"][0]["cause"], "rings.xbar.nelson1");
    EXPECT_EQ(alerts["items"][0]["asset"], "forge2");
    EXPECT_EQ(alerts["items"][0]["priority"], "medium");
    EXPECT_EQ(alerts["items"][0]["state"], "rtn_unack");

    // An engineer proposes limits over all 40 subgroups, excluding out-of-control ones.
    auto bad = api.Post("/api/v1/spc/charts/rings/limits", R"({"who": "eva", "why": "x", "last": 400})", "application/json");
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->status, 400);
    EXPECT_EQ(json::parse(bad->body)["field"], "last") << bad->body;
    auto unknown = api.Post("/api/v1/spc/charts/nope/limits", R"({"who": "eva", "why": "x"})", "application/json");
    ASSERT_TRUE(unknown);
    EXPECT_EQ(unknown->status, 404);
    auto proposed = api.Post("/api/v1/spc/charts/rings/limits",
                             R"({"who": "eva", "why": "quarterly review", "last": 40, "exclude_ooc": true})", "application/json");
    ASSERT_TRUE(proposed);
    ASSERT_EQ(proposed->status, 201) << proposed->body;
    json p = json::parse(proposed->body);
    EXPECT_EQ(p["proposal"]["version"], 2);
    EXPECT_EQ(p["proposal"]["status"], "proposed");
    EXPECT_FALSE(p["phase1"]["exclusions"].empty()) << "37-39 are beyond the all-data limits too";
    json before = e2e::GetJson(api_port, "/api/v1/spc/charts/rings/limits");
    EXPECT_EQ(before["active"], 1) << "a proposal is not active";
    auto no_why = api.Post("/api/v1/spc/charts/rings/limits/2/approve", R"({"who": "eva"})", "application/json");
    ASSERT_TRUE(no_why);
    EXPECT_EQ(no_why->status, 400);
    EXPECT_EQ(json::parse(no_why->body)["field"], "why");
    auto approved = api.Post("/api/v1/spc/charts/rings/limits/2/approve",
                             R"({"who": "eva", "why": "process re-centred after the die change"})", "application/json");
    ASSERT_TRUE(approved);
    ASSERT_EQ(approved->status, 200) << approved->body;
    EXPECT_EQ(json::parse(approved->body)["active"], 2);
    auto again = api.Post("/api/v1/spc/charts/rings/limits/2/approve", R"({"who": "eva", "why": "twice"})", "application/json");
    ASSERT_TRUE(again);
    EXPECT_EQ(again->status, 409) << again->body;
    pf.Kill9();  // no sleep: the approval was committed before the answer
  }
  e2e::ChildProcess pf(args);
  ASSERT_TRUE(e2e::WaitHealthy(api_port, 20s));
  json limits = e2e::GetJson(api_port, "/api/v1/spc/charts/rings/limits");
  ASSERT_EQ(limits["versions"].size(), 2u) << limits.dump();
  EXPECT_EQ(limits["active"], 2);
  EXPECT_EQ(limits["versions"][0]["status"], "superseded");
  EXPECT_EQ(limits["versions"][1]["status"], "approved");
  EXPECT_EQ(limits["versions"][1]["proposed_by"], "eva");
  EXPECT_EQ(limits["versions"][1]["proposal_reason"], "quarterly review");
  EXPECT_EQ(limits["versions"][1]["decision_reason"], "process re-centred after the die change");
  json events = e2e::GetJson(api_port, "/api/v1/events?kind=limit_change&limit=50");
  std::vector<std::string> actions;
  for (const json& e : events["items"]) actions.push_back(e["payload"]["action"].get<std::string>());
  EXPECT_EQ(actions, (std::vector<std::string>{"approved", "proposed", "approved", "proposed"})) << events.dump();
}

}  // namespace
}  // namespace pf
