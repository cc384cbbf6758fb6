#pragma once
// Control-chart plots: a ChartResult drawn as the picture a quality engineer expects, written as
// PNG (cairo image surface) or SVG (plain SVG 1.1 with real <text> elements, so labels stay
// searchable and selectable) by the file's extension.
//
// One panel per chart in result.charts, stacked on one x axis (X̄ above R, I above MR, C⁺ above
// C⁻). Each panel shows the plotted statistic as a line with point markers; the center line
// (solid green); UCL and LCL (dashed red; drawn as steps where they vary per point, e.g. a u chart
// with variable sizes, time-varying EWMA limits, T² Phase I / Phase II limits; no LCL for the
// one-sided CUSUM and T² statistics); for Shewhart charts the ±1σ and ±2σ zone lines (light,
// dotted, from ChartPoint::sigma, only where they lie inside the limits); the Phase I / Phase II
// boundary (a vertical line, "Phase I" / "Phase II" above the panel, Phase II lightly shaded);
// excluded Phase I points hollow; the point that completes a rule violation in red with the
// rule names beside it ("we1"; "nelson1,5,6" for nelson1, nelson5 and nelson6); nice axis ticks (1, 2, 5 × 10^k); the point index on
// the x axis (or the point labels when they differ from the index and fit); the chart name on
// the y axis; and a legend box at the right with the limit values ("UCL 74.0143", "CL 74.0012",
// "LCL 73.9880"; "UCL 0.8869–1.1003" where they vary). The title names the chart type and its
// parameters (n, λ and L, k and h, p); a subtitle gives the phases, exclusions and violations.
//
// Text uses DejaVu Sans through cairo's font selection (PNG) or a font-family list (SVG).
// Degenerate data (all values equal, a single point) gets a finite, non-empty axis range: no
// division by zero, and no NaN or infinite coordinate is ever written (a non-finite value in the
// result is kInvalidArgument naming the chart and point). Pure apart from writing `path`;
// thread-compatible (cairo's font cache is thread-safe).
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "spc/charts.h"

namespace pf::spc {

struct PlotOptions {
  int width = 1000;   // pixels (PNG) or user units (SVG), 320..8000
  int height = 0;     // 0: 100 + 300 per chart; else 200..8000
  std::string title;  // "" : the chart type and its parameters, "X̄-R chart · n = 5"
};

// Writes the plot of `result` to `path` (.png or .svg, case-insensitive). Errors:
// kInvalidArgument for another extension, an empty result, a non-finite value or a size out of
// range; kUnavailable when the file cannot be written (the message names the path and why).
Status WriteChartPlot(const ChartResult& result, const std::string& path);
Status WriteChartPlot(const ChartResult& result, const std::string& path, const PlotOptions& options);

// Where a chart's panel lies on the canvas (pixels from the top left), and its axis ranges.
// Exposed so that callers and tests can find a point on the picture.
struct PanelGeometry {
  std::string chart;                    // Chart::name
  double left = 0, top = 0, width = 0, height = 0;  // the plot area inside the axes
  double x_min = 0, x_max = 0;          // point index at the left and right edges
  double y_min = 0, y_max = 0;          // statistic at the bottom and top edges (y_max > y_min)
  double X(double index) const { return left + (index - x_min) / (x_max - x_min) * width; }
  double Y(double value) const { return top + (y_max - value) / (y_max - y_min) * height; }
};
// The panels WriteChartPlot draws for these inputs, in result.charts order (same errors).
Result<std::vector<PanelGeometry>> ChartPlotLayout(const ChartResult& result, const PlotOptions& options);

// Tick positions k·step in [lo, hi] with step = 1, 2 or 5 × 10^j, the smallest such step giving
// at most max_ticks ticks. Preconditions: lo < hi, both finite, max_ticks >= 2.
std::vector<double> NiceTicks(double lo, double hi, int max_ticks);

// The colours a test (or a style guide) can look for: 0xRRGGBB.
constexpr uint32_t kPlotViolationColor = 0xC4001A;  // markers and labels of rule violations
constexpr uint32_t kPlotPointColor = 0x1F5A96;      // markers of points without a violation
constexpr uint32_t kPlotLimitColor = 0xE0474C;      // UCL and LCL

}  // namespace pf::spc
