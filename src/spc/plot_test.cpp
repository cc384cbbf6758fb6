// Control-chart plots written as PNG and SVG and read back. The main data set is Montgomery's
// piston rings (Introduction to SQC, 1991, pp. 206-213; ../shared/data/spc_qcc/SOURCE.md): Phase I
// subgroups 1-25 give x̿ = 74.00118, UCL 74.01431, LCL 73.98805; Phase II subgroups 37, 38 and
// 39 plot above the UCL. Positions on the picture come from ChartPlotLayout and the subgroup means
// computed here; the expected limits are the textbook's.
#include "spc/plot.h"

#include <cairo.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <memory>
#include <sstream>

#include "testing.h"

namespace pf::spc {
namespace {

// Montgomery's piston-ring inside diameters (mm), 40 subgroups of 5.
const std::vector<std::vector<double>> kPistonRings = {
    {74.030, 74.002, 74.019, 73.992, 74.008}, {73.995, 73.992, 74.001, 74.011, 74.004},
    {73.988, 74.024, 74.021, 74.005, 74.002}, {74.002, 73.996, 73.993, 74.015, 74.009},
    {73.992, 74.007, 74.015, 73.989, 74.014}, {74.009, 73.994, 73.997, 73.985, 73.993},
    {73.995, 74.006, 73.994, 74.000, 74.005}, {73.985, 74.003, 73.993, 74.015, 73.988},
    {74.008, 73.995, 74.009, 74.005, 74.004}, {73.998, 74.000, 73.990, 74.007, 73.995},
    {73.994, 73.998, 73.994, 73.995, 73.990}, {74.004, 74.000, 74.007, 74.000, 73.996},
    {73.983, 74.002, 73.998, 73.997, 74.012}, {74.006, 73.967, 73.994, 74.000, 73.984},
    {74.012, 74.014, 73.998, 73.999, 74.007}, {74.000, 73.984, 74.005, 73.998, 73.996},
    {73.994, 74.012, 73.986, 74.005, 74.007}, {74.006, 74.010, 74.018, 74.003, 74.000},
    {73.984, 74.002, 74.003, 74.005, 73.997}, {74.000, 74.010, 74.013, 74.020, 74.003},
    {73.988, 74.001, 74.009, 74.005, 73.996}, {74.004, 73.999, 73.990, 74.006, 74.009},
    {74.010, 73.989, 73.990, 74.009, 74.014}, {74.015, 74.008, 73.993, 74.000, 74.010},
    {73.982, 73.984, 73.995, 74.017, 74.013}, {74.012, 74.015, 74.030, 73.986, 74.000},
    {73.995, 74.010, 73.990, 74.015, 74.001}, {73.987, 73.999, 73.985, 74.000, 73.990},
    {74.008, 74.010, 74.003, 73.991, 74.006}, {74.003, 74.000, 74.001, 73.986, 73.997},
    {73.994, 74.003, 74.015, 74.020, 74.004}, {74.008, 74.002, 74.018, 73.995, 74.005},
    {74.001, 74.004, 73.990, 73.996, 73.998}, {74.015, 74.000, 74.016, 74.025, 74.000},
    {74.030, 74.005, 74.000, 74.016, 74.012}, {74.001, 73.990, 73.995, 74.010, 74.024},
    {74.015, 74.020, 74.024, 74.005, 74.019}, {74.035, 74.010, 74.012, 74.015, 74.026},
    {74.017, 74.013, 74.036, 74.025, 74.026}, {74.010, 74.005, 74.029, 74.000, 74.020},
};

double Mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

ChartResult PistonRings(const std::string& rules = "we1") {
  ChartData data;
  for (size_t i = 0; i < kPistonRings.size(); ++i)
    data.subgroups.push_back({std::to_string(i + 1), kPistonRings[i], 0});
  ChartOptions o;
  o.type = ChartType::kXbarR;
  o.phase1_first = 1;
  o.phase1_last = 25;
  o.rules = *ParseRuleSet(rules);
  auto r = BuildChart(data, o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return *r;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool Exists(const std::string& path) { return std::ifstream(path).good(); }

// A PNG read back through cairo; pixels as 0xRRGGBB (the plot is opaque).
class Png {
 public:
  explicit Png(const std::string& path)
      : s_(cairo_image_surface_create_from_png(path.c_str()), cairo_surface_destroy) {}
  bool ok() const { return cairo_surface_status(s_.get()) == CAIRO_STATUS_SUCCESS; }
  int width() const { return cairo_image_surface_get_width(s_.get()); }
  int height() const { return cairo_image_surface_get_height(s_.get()); }
  uint32_t At(int x, int y) const {
    const unsigned char* row = cairo_image_surface_get_data(s_.get()) + y * cairo_image_surface_get_stride(s_.get());
    return reinterpret_cast<const uint32_t*>(row)[x] & 0xFFFFFF;
  }
  // Pixels of `color` (each channel within tol) in the box [x0, x1] x [y0, y1].
  int Count(uint32_t color, double x0, double x1, double y0, double y1, int tol = 6) const {
    return CountIf(x0, x1, y0, y1, [&](uint32_t c) { return Near(c, color, tol); });
  }
  template <typename Pred>
  int CountIf(double x0, double x1, double y0, double y1, Pred pred) const {
    int n = 0;
    for (int y = std::max(0, static_cast<int>(y0)); y <= std::min(height() - 1, static_cast<int>(y1)); ++y)
      for (int x = std::max(0, static_cast<int>(x0)); x <= std::min(width() - 1, static_cast<int>(x1)); ++x)
        if (pred(At(x, y))) ++n;
    return n;
  }
  static bool Near(uint32_t a, uint32_t b, int tol) {
    for (int shift : {0, 8, 16})
      if (std::abs(static_cast<int>((a >> shift) & 255) - static_cast<int>((b >> shift) & 255)) > tol) return false;
    return true;
  }

 private:
  std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)> s_;
};

TEST(NiceTicks, StepsOfOneTwoFive) {
  std::vector<double> t = NiceTicks(73.98, 74.03, 6);  // step 0.01
  ASSERT_EQ(t.size(), 6u);
  for (size_t i = 0; i < t.size(); ++i) EXPECT_NEAR(t[i], 73.98 + 0.01 * i, 1e-9);
  EXPECT_EQ(NiceTicks(0, 1, 5), (std::vector<double>{0, 0.5, 1}));  // 0.1 gives 11, 0.2 gives 6
  EXPECT_EQ(NiceTicks(-3.2, 7.9, 10), (std::vector<double>{-2, 0, 2, 4, 6}));
  t = NiceTicks(0, 0.048, 8);  // step 0.01: 0.005 would give 10
  ASSERT_EQ(t.size(), 5u);
  EXPECT_NEAR(t[4], 0.04, 1e-12);
  EXPECT_TRUE(NiceTicks(1, 1, 5).empty());
  EXPECT_TRUE(NiceTicks(0, NAN, 5).empty());
}

TEST(ChartPlot, PistonRingsPngMarksTheTextbookViolations) {
  ChartResult r = PistonRings("we1");
  std::vector<int> ooc;
  for (const Violation& v : r.violations)
    if (v.chart == "xbar") ooc.push_back(v.points.back());
  ASSERT_EQ(ooc, (std::vector<int>{37, 38, 39}));  // the textbook's Phase II signals

  pf::testing::TempDir dir;
  std::string path = dir.path() + "/pistonrings.png";
  ASSERT_TRUE(WriteChartPlot(r, path).ok());
  std::string bytes = ReadAll(path);
  ASSERT_GT(bytes.size(), 8u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  Png png(path);
  ASSERT_TRUE(png.ok());
  EXPECT_EQ(png.width(), 1000);
  EXPECT_EQ(png.height(), 700);  // 100 + 300 per chart

  auto layout = ChartPlotLayout(r, PlotOptions{});
  ASSERT_TRUE(layout.ok());
  ASSERT_EQ(layout->size(), 2u);
  const PanelGeometry& g = (*layout)[0];
  EXPECT_EQ(g.chart, "xbar");
  EXPECT_EQ((*layout)[1].chart, "r");
  EXPECT_GT((*layout)[1].top, g.top + g.height);  // R below X̄
  for (int i : {37, 38, 39}) {
    double x = g.X(i), y = g.Y(Mean(kPistonRings[i - 1]));
    EXPECT_LT(y, g.Y(74.01431)) << "subgroup " << i << " is drawn above the UCL";
    EXPECT_TRUE(Png::Near(png.At(std::lround(x), std::lround(y)), kPlotViolationColor, 6)) << "subgroup " << i;
    EXPECT_GT(png.Count(kPlotViolationColor, x - 4, x + 4, y - 4, y + 4), 20) << "subgroup " << i;
  }
  for (int i : {10, 26, 36}) {  // in control: the ordinary marker
    double x = g.X(i), y = g.Y(Mean(kPistonRings[i - 1]));
    EXPECT_TRUE(Png::Near(png.At(std::lround(x), std::lround(y)), kPlotPointColor, 6)) << "subgroup " << i;
  }
  // Nothing in the violation colour anywhere over subgroups 1-35 (both panels; the label of 37
  // may reach over 36).
  EXPECT_EQ(png.Count(kPlotViolationColor, g.left, g.X(35.5), 0, png.height()), 0);
  // The rule label is drawn next to the marks (more violation pixels than the three markers).
  EXPECT_GT(png.Count(kPlotViolationColor, g.X(36.5), g.X(39.5), g.top, g.Y(74.01431)), 150);
}

TEST(ChartPlot, PistonRingsSvgCarriesLimitsAndRuleNames) {
  ChartResult r = PistonRings("we1");
  pf::testing::TempDir dir;
  std::string path = dir.path() + "/pistonrings.SVG";  // extensions are case-insensitive
  ASSERT_TRUE(WriteChartPlot(r, path).ok());
  std::string svg = ReadAll(path);
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("<svg xmlns=\"http://www.w3.org/2000/svg\""), std::string::npos);
  EXPECT_NE(svg.find("width=\"1000\" height=\"700\""), std::string::npos);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  // Textbook limits (Montgomery): x̿ 74.00118, UCL 74.01431, LCL 73.98805.
  EXPECT_NE(svg.find(">UCL 74.0143<"), std::string::npos);
  EXPECT_NE(svg.find(">CL 74.0012<"), std::string::npos);
  EXPECT_NE(svg.find(">LCL 73.9880<"), std::string::npos);
  // R chart: R̄ = 0.02276, UCL = D4 R̄ = 0.0481, LCL 0.
  EXPECT_NE(svg.find(">CL 0.0228<"), std::string::npos);
  EXPECT_NE(svg.find(">UCL 0.0481<"), std::string::npos);
  EXPECT_NE(svg.find(">LCL 0.0000<"), std::string::npos);
  EXPECT_NE(svg.find(">we1</text>"), std::string::npos);
  EXPECT_NE(svg.find(">Phase I<"), std::string::npos);
  EXPECT_NE(svg.find(">Phase II<"), std::string::npos);
  EXPECT_NE(svg.find("X̄-R chart · n = 5"), std::string::npos);
  EXPECT_NE(svg.find("we1 at 37, 38, 39"), std::string::npos);
  for (const char* bad : {"nan", "inf", "NaN"}) EXPECT_EQ(svg.find(bad), std::string::npos) << bad;
}

TEST(ChartPlot, RunRulesLabelEveryRuleAtAPoint) {
  // Nelson rules on the piston rings. With CL 74.00118 and sigma (UCL - CL) / 3 = 0.004377, the
  // means of subgroups 35..39 are 74.0126, 74.0040, 74.0166, 74.0196, 74.0234: at 39 one point is
  // beyond the UCL (nelson1), 37-39 are 3 of 3 beyond 2 sigma (nelson5) and 35, 37, 38, 39 are 4 of
  // 5 beyond 1 sigma (nelson6), so the label at 39 names all three, the family written once.
  double cl = 74.00118, sigma = (74.01431 - 74.00118) / 3;
  EXPECT_GT(Mean(kPistonRings[38]), 74.01431);
  for (int i : {37, 38, 39}) EXPECT_GT(Mean(kPistonRings[i - 1]), cl + 2 * sigma) << i;
  for (int i : {35, 37, 38, 39}) EXPECT_GT(Mean(kPistonRings[i - 1]), cl + sigma) << i;
  EXPECT_LT(Mean(kPistonRings[35]), cl + sigma);

  ChartResult r = PistonRings("nelson");
  pf::testing::TempDir dir;
  std::string path = dir.path() + "/nelson.svg";
  ASSERT_TRUE(WriteChartPlot(r, path).ok());
  std::string svg = ReadAll(path);
  EXPECT_NE(svg.find(">nelson1,5,6</text>"), std::string::npos);
  EXPECT_NE(svg.find("nelson1 at 37, 38, 39"), std::string::npos);
  EXPECT_NE(svg.find("±1σ, ±2σ zones"), std::string::npos);
}

TEST(ChartPlot, VariableLimitsAreDrawnAsSteps) {
  // Montgomery's dyed cloth (pp. 183-184): u chart with inspection units 8..13.
  const std::vector<std::pair<double, double>> cloth = {{14, 10},  {12, 8},  {20, 13}, {11, 10}, {7, 9.5},
                                                        {10, 10},  {21, 12}, {16, 10.5}, {19, 12}, {23, 12.5}};
  ChartData data;
  double sum_c = 0, sum_n = 0;
  for (size_t i = 0; i < cloth.size(); ++i) {
    data.samples.push_back({std::to_string(i + 1), cloth[i].first, cloth[i].second});
    sum_c += cloth[i].first, sum_n += cloth[i].second;
  }
  ChartOptions o;
  o.type = ChartType::kU;
  auto r = BuildChart(data, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  double u = sum_c / sum_n;  // 153 / 107.5
  auto ucl = [&](double n) { return u + 3 * std::sqrt(u / n); };

  pf::testing::TempDir dir;
  ASSERT_TRUE(WriteChartPlot(*r, dir.path() + "/u.svg").ok());
  std::string svg = ReadAll(dir.path() + "/u.svg");
  std::string range = fmt::format(">UCL {:.2f}–{:.2f}<", ucl(13), ucl(8));  // 2.42–2.69
  EXPECT_NE(svg.find(range), std::string::npos) << range;
  EXPECT_NE(svg.find(fmt::format(">CL {:.2f}<", u)), std::string::npos);

  ASSERT_TRUE(WriteChartPlot(*r, dir.path() + "/u.png").ok());
  Png png(dir.path() + "/u.png");
  ASSERT_TRUE(png.ok());
  auto layout = ChartPlotLayout(*r, PlotOptions{});
  ASSERT_TRUE(layout.ok());
  const PanelGeometry& g = (*layout)[0];
  ASSERT_GT(g.Y(ucl(13)) - g.Y(ucl(8)), 10);  // the two levels are far apart on the picture
  // Sample 2 (n = 8) and sample 3 (n = 13): each has a red (limit) line on its own level only.
  // Antialiasing blends the line with white, so "red" is a hue test: red well above green and blue.
  auto red = [](uint32_t c) {
    int r = (c >> 16) & 255, gr = (c >> 8) & 255, b = c & 255;
    return r - gr > 50 && r - b > 50;
  };
  for (auto [i, n, other] : {std::tuple{2, 8.0, 13.0}, std::tuple{3, 13.0, 8.0}}) {
    double x0 = g.X(i - 0.4), x1 = g.X(i + 0.4);
    EXPECT_GT(png.CountIf(x0, x1, g.Y(ucl(n)) - 1.5, g.Y(ucl(n)) + 1.5, red), 20) << "sample " << i;
    EXPECT_EQ(png.CountIf(x0, x1, g.Y(ucl(other)) - 1.5, g.Y(ucl(other)) + 1.5, red), 0) << "sample " << i;
  }
}

TEST(ChartPlot, EwmaCusumImrAndT2Panels) {
  ChartData data;
  for (int i = 0; i < 30; ++i) data.subgroups.push_back({"", {10 + std::sin(i * 1.3) + (i >= 20 ? 1.5 : 0)}, 0});
  pf::testing::TempDir dir;
  struct Case {
    ChartType type;
    std::vector<std::string> panels;
    std::string text;
  };
  for (const Case& c : {Case{ChartType::kEWMA, {"ewma"}, "EWMA chart · λ = 0.2, L = 3"},
                        Case{ChartType::kCUSUM, {"cusum_upper", "cusum_lower"}, "C⁺ (upper CUSUM)"},
                        Case{ChartType::kIMR, {"i", "mr"}, "MR (moving range)"}}) {
    ChartOptions o;
    o.type = c.type;
    o.phase1_first = 1;
    o.phase1_last = 20;
    o.allow_autocorrelation = true;
    auto r = BuildChart(data, o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    auto layout = ChartPlotLayout(*r, PlotOptions{});
    ASSERT_TRUE(layout.ok());
    ASSERT_EQ(layout->size(), c.panels.size());
    for (size_t i = 0; i < c.panels.size(); ++i) EXPECT_EQ((*layout)[i].chart, c.panels[i]);
    std::string path = fmt::format("{}/{}.svg", dir.path(), ChartTypeName(c.type));
    ASSERT_TRUE(WriteChartPlot(*r, path).ok());
    std::string svg = ReadAll(path);
    EXPECT_NE(svg.find(c.text), std::string::npos) << c.text;
    EXPECT_NE(svg.find(">Phase II<"), std::string::npos);
    EXPECT_EQ(svg.find("nan"), std::string::npos);
    EXPECT_EQ(svg.find("LCL") != std::string::npos, c.type != ChartType::kCUSUM);  // one-sided
    EXPECT_EQ(svg.find("zones") != std::string::npos, c.type == ChartType::kIMR);   // Shewhart only
  }
}

ChartResult Flat(int n, double v) {
  ChartResult r;
  r.type = ChartType::kIMR;
  Chart c{"i", v, v, v, {}};
  for (int i = 1; i <= n; ++i) {
    ChartPoint p;
    p.index = i;
    p.label = std::to_string(i);
    p.value = p.center = p.ucl = p.lcl = v;
    c.points.push_back(p);
  }
  r.charts.push_back(c);
  return r;
}

TEST(ChartPlot, ConstantDataAndSinglePointsStayFinite) {
  pf::testing::TempDir dir;
  for (auto [n, v] : {std::pair{5, 2.0}, std::pair{1, 74.0}, std::pair{3, 0.0}, std::pair{2, -1e-300}}) {
    ChartResult r = Flat(n, v);
    auto layout = ChartPlotLayout(r, PlotOptions{});
    ASSERT_TRUE(layout.ok()) << layout.status().ToString();
    const PanelGeometry& g = (*layout)[0];
    EXPECT_GT(g.y_max, g.y_min);
    EXPECT_GT(g.x_max, g.x_min);
    EXPECT_TRUE(std::isfinite(g.Y(v)) && std::isfinite(g.X(1)));
    EXPECT_GT(g.Y(v), g.top);  // the value lies inside the panel
    EXPECT_LT(g.Y(v), g.top + g.height);
    std::string path = fmt::format("{}/flat{}.svg", dir.path(), n);
    ASSERT_TRUE(WriteChartPlot(r, path).ok());
    std::string svg = ReadAll(path);
    EXPECT_EQ(svg.find("nan"), std::string::npos);
    EXPECT_EQ(svg.find("inf"), std::string::npos);
    ASSERT_TRUE(WriteChartPlot(r, fmt::format("{}/flat{}.png", dir.path(), n)).ok());
  }
}

TEST(ChartPlot, OptionsSetTheSizeAndTitle) {
  ChartResult r = PistonRings();
  pf::testing::TempDir dir;
  PlotOptions o;
  o.width = 640;
  o.height = 480;
  o.title = "Ring bore <line 3> & co";
  ASSERT_TRUE(WriteChartPlot(r, dir.path() + "/small.png", o).ok());
  Png png(dir.path() + "/small.png");
  ASSERT_TRUE(png.ok());
  EXPECT_EQ(png.width(), 640);
  EXPECT_EQ(png.height(), 480);
  ASSERT_TRUE(WriteChartPlot(r, dir.path() + "/small.svg", o).ok());
  std::string svg = ReadAll(dir.path() + "/small.svg");
  EXPECT_NE(svg.find(">Ring bore &lt;line 3&gt; &amp; co<"), std::string::npos);  // escaped
  EXPECT_NE(svg.find("X̄-R chart · n = 5"), std::string::npos);                     // moved to the subtitle
}

TEST(ChartPlot, PreciseErrors) {
  ChartResult r = PistonRings();
  pf::testing::TempDir dir;
  Status s = WriteChartPlot(r, dir.path() + "/chart.jpg");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("unknown extension '.jpg': use .png or .svg"), std::string::npos) << s.message();
  EXPECT_FALSE(Exists(dir.path() + "/chart.jpg"));
  s = WriteChartPlot(r, dir.path() + "/chart");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("no file extension"), std::string::npos) << s.message();
  s = WriteChartPlot(r, dir.path() + "/no.such.dir/chart");
  EXPECT_NE(s.message().find("no file extension"), std::string::npos) << s.message();

  s = WriteChartPlot(r, dir.path() + "/missing/chart.png");
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("missing/chart.png': cannot open for writing: No such file or directory"),
            std::string::npos)
      << s.message();

  PlotOptions small;
  small.width = 100;
  s = WriteChartPlot(r, dir.path() + "/chart.png", small);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "plot width 100 is outside 320..8000");
  PlotOptions flat;
  flat.height = 200;  // two panels do not fit
  s = WriteChartPlot(r, dir.path() + "/chart.png", flat);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("too small for 2 charts"), std::string::npos) << s.message();

  EXPECT_EQ(WriteChartPlot(ChartResult{}, dir.path() + "/empty.svg").code(), StatusCode::kInvalidArgument);
  ChartResult broken = Flat(4, 1.0);
  broken.charts[0].points[2].value = NAN;
  s = WriteChartPlot(broken, dir.path() + "/nan.svg");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("i chart, point 3: a non-finite value"), std::string::npos) << s.message();
  EXPECT_FALSE(Exists(dir.path() + "/nan.svg"));
}

}  // namespace
}  // namespace pf::spc
