#pragma once
// Internal to charts*.cpp: each chart family turns its data into a Family (how many points, the
// series for the autocorrelation check, and a function that builds the charts from the Phase I
// points in use); charts.cpp runs the Phase I / exclusion / rules machinery around it.
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "spc/charts.h"

namespace pf::spc::internal {

struct Built {
  std::vector<Chart> charts;  // points carry index, label, value, center, ucl, lcl, size, sigma
  std::map<std::string, double> parameters;
  std::vector<std::string> warnings;
};

// use[i]: point i+1 is in Phase I and not excluded. phase1[i]: point i+1 is in Phase I.
using BuildFn = std::function<Result<Built>(const std::vector<bool>& use, const std::vector<bool>& phase1)>;

struct Family {
  int points = 0;
  std::vector<std::string> labels;  // per point
  std::vector<double> series;       // per point, for the lag-1 autocorrelation ("" for t2)
  bool all_given = false;           // every parameter known: nothing to estimate
  BuildFn build;
};

Result<Family> VariablesFamily(const ChartData& data, const ChartOptions& o);   // xbar_r, xbar_s, imr
Result<Family> AttributesFamily(const ChartData& data, const ChartOptions& o);  // p, np, c, u
Result<Family> EwmaCusumFamily(const ChartData& data, const ChartOptions& o);   // ewma, cusum
Result<Family> T2Family(const ChartData& data, const ChartOptions& o);          // t2

// Sets chart-level center/ucl/lcl where every point agrees (to 1e-12 relative), else nullopt.
void SetConstantLimits(Chart* chart);
// "points 3-7" / "point 3" for the Phase I range in messages.
std::string PhaseOneRange(const std::vector<bool>& use);
// "subgroup 7 ('B12')": a point named by index and label when the label differs.
std::string PointName(std::string_view noun, int index, const std::string& label);
// Checks a finished value (a limit, a center) is finite; the message names what it is.
Status CheckFinite(double v, std::string_view what);

}  // namespace pf::spc::internal
