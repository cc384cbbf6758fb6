#pragma once
// Small helpers shared by the benchmarks: the process's peak RSS and percentiles of samples.
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace pf::bench {

// VmHWM of /proc/self/status in kB (0 when unreadable).
inline long PeakRssKb() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
  return 0;
}

// The p-quantile (0..1) of v by the nearest-rank rule on the sorted copy; 0 for an empty v.
inline double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace pf::bench
