#pragma once
// The EWMA and tabular CUSUM statistics one observation at a time, with known (or Phase I)
// mean and sigma: used by the batch charts (charts.h), by live charts and by the ARL tests.
// Pure, O(1) per observation, no allocation. Not thread-safe (one owner each).
#include <cmath>
#include <cstdint>

namespace pf::spc {

struct EwmaParams {
  double mean = 0;    // μ0, also z_0
  double sigma = 1;   // standard deviation of one plotted observation (σ/√n for subgroup means)
  double lambda = 0.2;
  double L = 3;
  bool asymptotic = false;  // limits μ0 ± Lσ√(λ/(2-λ)) from the first point on
};

class EwmaMonitor {
 public:
  struct Step {
    double z, center, ucl, lcl, sigma;  // sigma: standard error of z at this point
    bool beyond;
  };
  explicit EwmaMonitor(const EwmaParams& p);
  Step Add(double x);
  void Reset();
  double asymptotic_sigma() const { return asymptotic_sigma_; }  // σ√(λ/(2-λ))

 private:
  EwmaParams p_;
  double z_;
  double decay_ = 1;  // (1-λ)^(2i)
  double asymptotic_sigma_;
};

struct CusumParams {
  double mean = 0;
  double sigma = 1;  // of one observation
  double k = 0.5;    // reference value in sigmas
  double h = 5;      // decision interval in sigmas
  bool fir = false;  // headstart H/2
};

class CusumMonitor {
 public:
  struct Step {
    double upper, lower;  // C+ and C- (C- as a positive number)
    double limit;         // H = hσ
    bool beyond_upper, beyond_lower;
  };
  explicit CusumMonitor(const CusumParams& p);
  Step Add(double x);
  void Reset();  // back to the start (the headstart again with FIR)

 private:
  CusumParams p_;
  double upper_ = 0, lower_ = 0;
};

}  // namespace pf::spc
