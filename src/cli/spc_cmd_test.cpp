#include "cli/spc_cmd.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numbers>
#include <sstream>

#include "testing.h"

namespace pf {
namespace {

struct Outcome {
  int code;
  std::string out, err;
  nlohmann::json json() const { return nlohmann::json::parse(out); }
};

Outcome Spc(SpcArgs a) {
  std::ostringstream out, err;
  int code = RunSpc(a, out, err);
  return {code, out.str(), err.str()};
}

std::string QccFile(const std::string& name) {
  std::string shared = pf::testing::SharedDir();
  return shared.empty() ? "" : shared + "/data/spc_qcc/" + name;
}

class SpcCmd : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_.path() + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  pf::testing::TempDir dir_;
};

std::vector<int> Flagged(const nlohmann::json& j, const std::string& chart) {
  std::vector<int> out;
  for (const auto& v : j["violations"])
    if (v["chart"] == chart)
      for (int p : v["points"]) out.push_back(p);
  return out;
}

// The by-hand check of the task: piston rings X̄-R, Phase I subgroups 1-25, rule 1 only.
TEST_F(SpcCmd, PistonringsEndToEnd) {
  std::string file = QccFile("pistonrings.csv");
  if (file.empty()) GTEST_SKIP() << "../shared missing";
  SpcArgs a;
  a.chart = "xbar_r";
  a.inputs = {file};
  a.column = "diameter";
  a.subgroup_column = "sample";
  a.phase1_rows = "1:25";
  a.rules = "we1";
  a.json = true;
  Outcome o = Spc(a);
  ASSERT_EQ(o.code, 0) << o.err;
  auto j = o.json();
  EXPECT_EQ(j["input"]["rows"], 200);
  EXPECT_EQ(j["phase1"]["last"], 25);
  EXPECT_NEAR(j["charts"][0]["ucl"].get<double>(), 74.01431, 1e-5);
  EXPECT_NEAR(j["charts"][0]["lcl"].get<double>(), 73.98805, 1e-5);
  EXPECT_EQ(j["charts"][0]["points"].size(), 40u);
  EXPECT_EQ(j["charts"][0]["points"][36]["label"], "37");
  EXPECT_EQ(j["charts"][0]["points"][36]["size"], 5.0);
  EXPECT_EQ(Flagged(j, "xbar"), (std::vector<int>{37, 38, 39}));
  EXPECT_TRUE(Flagged(j, "r").empty());
  EXPECT_TRUE(j["capability"].is_null());
  // The same through --subgroup-size 5 (the file is in subgroup order).
  a.subgroup_column.clear();
  a.subgroup_size = 5;
  Outcome by_size = Spc(a);
  ASSERT_EQ(by_size.code, 0) << by_size.err;
  EXPECT_EQ(by_size.json()["charts"][0]["ucl"], j["charts"][0]["ucl"]);
  // Capability against specs 74.00 ± 0.05 with sigma within = R̄/d2 (d2(5) = 2.325929, Harter).
  a.usl = 74.05;
  a.lsl = 73.95;
  Outcome cap = Spc(a);
  ASSERT_EQ(cap.code, 0) << cap.err;
  auto c = cap.json()["capability"];
  ASSERT_TRUE(c.is_object()) << cap.out;
  EXPECT_NEAR(c["cp"].get<double>(), 0.1 / (6 * 0.02276 / 2.325929), 2e-4);
  EXPECT_EQ(c["n"], 125);  // the Phase I values
}

TEST_F(SpcCmd, AttributeChartsFromTheTextbook) {
  std::string oj = QccFile("orangejuice.csv"), circuit = QccFile("circuit.csv");
  if (oj.empty()) GTEST_SKIP() << "../shared missing";
  SpcArgs a;
  a.chart = "p";
  a.inputs = {oj};
  a.column = "D";
  a.sizes_column = "size";
  a.subgroup_column = "sample";
  a.phase1_rows = "1:30";
  a.rules = "nelson1";
  a.json = true;
  auto p = Spc(a);
  ASSERT_EQ(p.code, 0) << p.err;
  std::vector<int> phase1;
  for (int i : Flagged(p.json(), "p"))
    if (i <= 30) phase1.push_back(i);
  EXPECT_EQ(phase1, (std::vector<int>{15, 23}));
  a = {};
  a.chart = "c";
  a.inputs = {circuit};
  a.column = "x";
  a.phase1_rows = "1:26";
  a.rules = "we1";
  a.json = true;
  auto c = Spc(a);
  ASSERT_EQ(c.code, 0) << c.err;
  phase1.clear();
  for (int i : Flagged(c.json(), "c"))
    if (i <= 26) phase1.push_back(i);
  EXPECT_EQ(phase1, (std::vector<int>{6, 20}));
}

TEST_F(SpcCmd, T2FromOneFilePerVariable) {
  std::string x1 = QccFile("RyanMultivar_X1.csv"), x2 = QccFile("RyanMultivar_X2.csv");
  if (x1.empty()) GTEST_SKIP() << "../shared missing";
  SpcArgs a;
  a.chart = "t2";
  a.inputs = {x1, x2};
  a.subgroup_column = "sample";
  a.json = true;
  auto o = Spc(a);
  ASSERT_EQ(o.code, 0) << o.err;
  auto j = o.json();
  EXPECT_EQ(j["charts"][0]["points"].size(), 20u);
  EXPECT_EQ(j["parameters"]["p"], 2.0);
  EXPECT_EQ(j["parameters"]["n"], 4.0);
  EXPECT_EQ(j["charts"][0]["points"][0]["size"], 4.0);
}

TEST_F(SpcCmd, MissingValuesAreSkippedAndCounted) {
  // Subgroups of 3 with two empty cells and an NA: subgroup 2 keeps 2 values, subgroup 3 keeps 2.
  std::string f = Write("m.csv", "x,g\n1,a\n2,a\n3,a\n4,b\n,b\n6,b\n2,c\nNA,c\n5,c\n3,d\n4,d\n\"\",d\n");
  SpcArgs a;
  a.chart = "xbar_r";
  a.inputs = {f};
  a.column = "x";
  a.subgroup_column = "g";
  a.json = true;
  auto o = Spc(a);
  ASSERT_EQ(o.code, 0) << o.err;
  auto j = o.json();
  EXPECT_EQ(j["input"]["missing"], 3);
  EXPECT_EQ(j["input"]["rows"], 12);
  EXPECT_EQ(j["charts"][0]["points"][1]["size"], 2.0);
  EXPECT_EQ(j["charts"][0]["points"][1]["value"], 5.0);
  EXPECT_EQ(j["charts"][1]["points"][2]["value"], 3.0);
  EXPECT_EQ(j["warnings"].back(), "3 missing cells (empty or NA) skipped");
  // I-MR: a missing value drops its row; the label keeps the data row.
  std::string g = Write("i.csv", "v\n1\n2\n\n4\n3\n");
  SpcArgs i;
  i.chart = "imr";
  i.inputs = {g};
  i.json = true;
  auto io = Spc(i);
  ASSERT_EQ(io.code, 0) << io.err;
  auto ij = io.json();
  EXPECT_EQ(ij["charts"][0]["points"].size(), 4u);
  EXPECT_EQ(ij["charts"][0]["points"][2]["label"], "4");
  EXPECT_EQ(ij["charts"][1]["points"][1]["value"], 2.0);  // |4 - 2|: the gap is closed
}

TEST_F(SpcCmd, BadInputExitsTwoWithAPreciseMessage) {
  auto err = [&](SpcArgs a) {
    Outcome o = Spc(a);
    EXPECT_EQ(o.code, 2) << o.out;
    return o.err;
  };
  SpcArgs a;
  a.chart = "imr";
  a.inputs = {Write("bad.csv", "t,x\n1,2.5\n2,oops\n")};
  a.column = "x";
  EXPECT_EQ(err(a), "spc: " + a.inputs[0] + ":3:2: column 'x': not a number 'oops'\n");
  a.column = "y";
  EXPECT_EQ(err(a), "spc: " + a.inputs[0] + ": no column 'y' (columns: 't', 'x')\n");
  a.column = "";
  EXPECT_EQ(err(a), "spc: " + a.inputs[0] + ": which column to chart? give --column (candidates: t, x)\n");
  a.inputs = {dir_.path() + "/none.csv"};
  EXPECT_EQ(err(a), "spc: " + a.inputs[0] + ": cannot read: No such file or directory\n");

  SpcArgs x;
  x.chart = "xbar_r";
  x.inputs = {Write("v.csv", "x\n1\n2\n3\n4\n5\n")};
  EXPECT_NE(err(x).find("every subgroup has 1 value: an X̄-R chart needs subgroups of 2 or more"), std::string::npos);
  x.subgroup_size = 2;
  EXPECT_EQ(err(x), "spc: " + x.inputs[0] + ": 5 data rows do not divide into subgroups of 2 (lines 6-6 are left over)\n");
  x.subgroup_size = 0;
  x.inputs = {Write("k.csv", "x\n5\n5\n5\n5\n")};
  x.subgroup_size = 2;
  EXPECT_NE(err(x).find("every range is 0 (constant data)"), std::string::npos);
  x.phase1_rows = "1-2";
  EXPECT_EQ(err(x), "spc: --phase1-rows '1-2': expected A:B (1-based, inclusive), e.g. 1:25\n");

  SpcArgs p;
  p.chart = "p";
  p.inputs = {Write("p.csv", "d,n\n1,10\n-1,10\n")};
  p.column = "d";
  EXPECT_EQ(err(p), "spc: a p chart needs the sample sizes: --sizes-column C, or --subgroup-size N when every sample "
                    "has N units\n");
  p.sizes_column = "n";
  EXPECT_EQ(err(p), "spc: sample 2: negative nonconforming count -1\n");
  p.inputs = {Write("p0.csv", "d,n\n1,10\n1,0\n")};
  EXPECT_EQ(err(p), "spc: sample 2: sample size 0 (must be above 0)\n");
  p.inputs = {Write("p2.csv", "d,n\n1,10\n11,10\n")};
  EXPECT_EQ(err(p), "spc: sample 2: 11 nonconforming out of a sample of 10: the count cannot exceed the size\n");

  SpcArgs c;
  c.chart = "bogus";
  c.inputs = {p.inputs[0]};
  EXPECT_EQ(err(c), "spc: --chart 'bogus': expected xbar_r, xbar_s, imr, p, np, c, u, ewma, cusum or t2\n");
  c.chart = "imr";
  c.column = "d";
  c.rules = "we5";
  EXPECT_NE(err(c).find("unknown rule 'we5'"), std::string::npos);
  c.rules = "we";
  c.target = 3;
  EXPECT_EQ(err(c), "spc: --target needs --usl and/or --lsl (it only enters the capability indices)\n");
}

TEST_F(SpcCmd, AutocorrelatedSeriesRefusedThenChartedAsAr1Residuals) {
  // x_t = 0.9 x_{t-1} + e_t with a fixed, irregular e_t.
  std::string csv = "v\n";
  double x = 0;
  for (int t = 0; t < 80; ++t) {
    double e = std::sin(t * 12.9898) * 43758.5453;
    e = (e - std::floor(e)) - 0.5;
    x = 0.9 * x + e;
    csv += fmt::format("{}\n", x);
  }
  SpcArgs a;
  a.chart = "imr";
  a.inputs = {Write("ar.csv", csv)};
  auto refused = Spc(a);
  EXPECT_EQ(refused.code, 2);
  EXPECT_NE(refused.err.find("Phase I lag-1 autocorrelation is 0."), std::string::npos) << refused.err;
  a.chart = "ewma";
  a.ar1_residuals = true;
  a.json = true;
  auto ok = Spc(a);
  ASSERT_EQ(ok.code, 0) << ok.err;
  auto j = ok.json();
  EXPECT_EQ(j["charts"][0]["points"].size(), 79u);
  EXPECT_GT(j["parameters"]["ar1_phi"].get<double>(), 0.7);
  EXPECT_LT(std::fabs(j["lag1_autocorrelation"].get<double>()), 0.3);  // residuals are close to independent
  EXPECT_EQ(j["charts"][0]["points"][0]["label"], "2");
}

TEST_F(SpcCmd, TextSummaryAndPlotHook) {
  SpcArgs a;
  a.chart = "c";
  a.inputs = {Write("c.csv", "n\n4\n5\n6\n5\n4\n5\n6\n5\n4\n30\n")};
  a.rules = "we1";
  auto o = Spc(a);
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_NE(o.out.find("c chart of " + a.inputs[0] + ": 10 points (10 data rows, 0 missing cells skipped)"),
            std::string::npos)
      << o.out;
  EXPECT_NE(o.out.find("Phase I: points 1-10"), std::string::npos);
  EXPECT_NE(o.out.find("we1      c            beyond 3 sigma: point 10: 30 above UCL"), std::string::npos) << o.out;
  a.plot = dir_.path() + "/c.svg";
  auto plot = Spc(a);
#ifdef PF_SPC_HAS_PLOT
  EXPECT_EQ(plot.code, 0) << plot.err;
  std::ifstream svg(a.plot);
  EXPECT_TRUE(svg.good());
#else
  EXPECT_EQ(plot.code, 1);
  EXPECT_EQ(plot.err, "spc: --plot " + a.plot + ": chart plots are not built into this binary (pf_spc has no plot.cpp)\n");
#endif
}

}  // namespace
}  // namespace pf
