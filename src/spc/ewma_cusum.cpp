#include "spc/ewma_cusum.h"

#include <algorithm>

namespace pf::spc {

EwmaMonitor::EwmaMonitor(const EwmaParams& p)
    : p_(p), z_(p.mean), asymptotic_sigma_(p.sigma * std::sqrt(p.lambda / (2 - p.lambda))) {}

void EwmaMonitor::Reset() {
  z_ = p_.mean;
  decay_ = 1;
}

EwmaMonitor::Step EwmaMonitor::Add(double x) {
  z_ = p_.lambda * x + (1 - p_.lambda) * z_;
  decay_ *= (1 - p_.lambda) * (1 - p_.lambda);
  double s = p_.asymptotic ? asymptotic_sigma_ : asymptotic_sigma_ * std::sqrt(1 - decay_);
  Step st{z_, p_.mean, p_.mean + p_.L * s, p_.mean - p_.L * s, s, false};
  st.beyond = st.z > st.ucl || st.z < st.lcl;
  return st;
}

CusumMonitor::CusumMonitor(const CusumParams& p) : p_(p) { Reset(); }

void CusumMonitor::Reset() {
  double start = p_.fir ? p_.h * p_.sigma / 2 : 0;
  upper_ = lower_ = start;
}

CusumMonitor::Step CusumMonitor::Add(double x) {
  double slack = p_.k * p_.sigma;
  upper_ = std::max(0.0, x - (p_.mean + slack) + upper_);
  lower_ = std::max(0.0, (p_.mean - slack) - x + lower_);
  double limit = p_.h * p_.sigma;
  return Step{upper_, lower_, limit, upper_ > limit, lower_ > limit};
}

}  // namespace pf::spc
