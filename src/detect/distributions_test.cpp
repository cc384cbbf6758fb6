#include "detect/distributions.h"

#include <gtest/gtest.h>

#include <cmath>

namespace pf::detect {
namespace {

// Reference values from R 4.2 (pchisq, qchisq, pf, qf, pbeta), printed with 17 digits.
TEST(Distributions, ChiSquareAgainstR) {
  EXPECT_NEAR(ChiSquareCdf(3.5, 4), 0.52212165551127598, 1e-13);
  EXPECT_NEAR(ChiSquareCdf(30, 14), 0.99236810036248502, 1e-13);
  EXPECT_NEAR(ChiSquareQuantile(0.99, 14), 29.141237740672793, 1e-10);
  EXPECT_NEAR(ChiSquareQuantile(0.975, 3), 9.3484036044961449, 1e-10);
  EXPECT_NEAR(ChiSquareQuantile(0.5, 1), 0.45493642311957283, 1e-12);
  EXPECT_NEAR(ChiSquareQuantile(1e-4, 2), 0.00020001000066671669, 1e-16);
  EXPECT_NEAR(ChiSquareQuantile(0.99, 100), 135.80672317102679, 1e-9);
  // Closed form for 2 degrees of freedom: P(X <= x) = 1 - exp(-x / 2).
  EXPECT_NEAR(ChiSquareCdf(5.0, 2), 1.0 - std::exp(-2.5), 1e-15);
}

TEST(Distributions, FAndBetaAgainstR) {
  EXPECT_NEAR(FQuantile(0.95, 5, 10), 3.3258345304130108, 1e-10);
  EXPECT_NEAR(FQuantile(0.99, 14, 2386), 2.0890031330937155, 1e-10);
  EXPECT_NEAR(FQuantile(0.999, 2, 50), 7.9564184639101754, 1e-9);
  EXPECT_NEAR(FCdf(2.5, 3, 7), 0.85649054372106082, 1e-13);
  EXPECT_NEAR(BetaI(0.3, 2.5, 4), 0.35219758590676714, 1e-13);
}

TEST(Distributions, OutsideTheDomainIsZeroNotNaN) {
  EXPECT_EQ(ChiSquareQuantile(1.0, 3), 0.0);
  EXPECT_EQ(ChiSquareQuantile(0.5, 0), 0.0);
  EXPECT_EQ(FQuantile(0.0, 2, 3), 0.0);
  EXPECT_EQ(FCdf(std::nan(""), 2, 3), 0.0);
}

}  // namespace
}  // namespace pf::detect
