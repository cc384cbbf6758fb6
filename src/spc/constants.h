#pragma once
// Control chart constants for subgroups of n independent normal values, computed (not tabulated)
// so that any n >= 2 works, including the variable subgroup sizes of X̄-S and X̄-R charts.
//   d2 = E[R]/sigma, d3 = sd(R)/sigma     R the range of n standard normals; by numerical
//                                         integration of the range distribution (see constants.cpp)
//   c4 = E[s]/sigma = sqrt(2/(n-1)) Γ(n/2)/Γ((n-1)/2)   closed form through lgamma
//   A2 = 3/(d2 √n), A3 = 3/(c4 √n), E2 = 3/d2 (I-MR: the moving ranges are ranges of n = 2)
//   B3 = max(0, 1 - 3√(1-c4²)/c4), B4 = 1 + 3√(1-c4²)/c4
//   D3 = max(0, 1 - 3 d3/d2),      D4 = 1 + 3 d3/d2
// The textbook tables (Montgomery, Appendix VI) round these to 3-4 decimals; these are exact to
// about 1e-10. Thread-safe: d2/d3 are memoised per n behind a mutex (a pure cache, no behaviour).
#include "core/status.h"

namespace pf::spc {

// The field names follow the textbook symbols (d3 and D3 are different constants), not snake_case.
struct SubgroupConstants {
  int n = 0;
  double d2 = 0, d3 = 0, c4 = 0;
  double A2 = 0, A3 = 0, B3 = 0, B4 = 0, D3 = 0, D4 = 0, E2 = 0;
};

// n < 2 or n > kMaxSubgroupSize: kInvalidArgument naming n.
constexpr int kMaxSubgroupSize = 100000;
Result<SubgroupConstants> ConstantsFor(int n);

// The three base constants; n must be in 2..kMaxSubgroupSize (checked by ConstantsFor; these
// return 0 outside that range rather than fail, for use in inner loops after validation).
double RangeMeanD2(int n);  // d2(n)
double RangeSdD3(int n);    // d3(n)
double C4(int n);           // c4(n)

}  // namespace pf::spc
