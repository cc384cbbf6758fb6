#include "detect/robust_covariance.h"

#include <gtest/gtest.h>

#include <random>

namespace pf::detect {
namespace {

// n rows of N(mean, cov) by a Cholesky factor of cov.
Eigen::MatrixXd Gaussian(int n, const Eigen::VectorXd& mean, const Eigen::MatrixXd& cov, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> z;
  const Eigen::MatrixXd l = cov.llt().matrixL();
  Eigen::MatrixXd x(n, mean.size());
  for (int i = 0; i < n; ++i) {
    Eigen::VectorXd u(mean.size());
    for (int j = 0; j < u.size(); ++j) u[j] = z(rng);
    x.row(i) = (mean + l * u).transpose();
  }
  return x;
}

TEST(ColumnMedianMad, SmallColumnsByHand) {
  Eigen::MatrixXd x(5, 2);
  x << 1, 10, 2, 10, 3, 10, 4, 11, 100, 10;
  const MedianMad mm = ColumnMedianMad(x);
  EXPECT_EQ(mm.median[0], 3.0);
  // |x - 3| = 2 1 0 1 97: median 1.
  EXPECT_DOUBLE_EQ(mm.mad[0], kMadToSigma);
  EXPECT_EQ(mm.median[1], 10.0);
  EXPECT_EQ(mm.mad[1], 0.0);
  Eigen::MatrixXd even(4, 1);
  even << 4, 1, 3, 2;
  EXPECT_EQ(ColumnMedianMad(even).median[0], 2.5);
  // kMadToSigma = 1 / Phi^-1(0.75), Phi^-1(0.75) = 0.6744897501960817 (R: qnorm(0.75)).
  EXPECT_NEAR(kMadToSigma * 0.6744897501960817, 1.0, 1e-15);
}

TEST(SquaredDistances, ClosedForm) {
  Eigen::MatrixXd cov(2, 2);
  cov << 4, 0, 0, 1;
  Eigen::MatrixXd x(2, 2);
  x << 2, 1, -4, 0;
  const Eigen::VectorXd d = SquaredDistances(x, Eigen::Vector2d(0, 0), cov);
  EXPECT_NEAR(d[0], 2.0, 1e-14);  // 2^2/4 + 1
  EXPECT_NEAR(d[1], 4.0, 1e-14);  // 16/4
}

TEST(FitMcd, ConsistentAtTheGaussian) {
  // Without the consistency factors a 75 % subset would shrink the variances to about 0.7.
  Eigen::MatrixXd cov(2, 2);
  cov << 1.0, 0.6, 0.6, 2.0;
  const Eigen::MatrixXd x = Gaussian(20000, Eigen::Vector2d(5, -1), cov, 7);
  auto fit = FitMcd(x, McdOptions{});
  ASSERT_TRUE(fit.ok()) << fit.status().ToString();
  EXPECT_NEAR(fit->mean[0], 5.0, 0.03);
  EXPECT_NEAR(fit->mean[1], -1.0, 0.04);
  EXPECT_NEAR(fit->cov(0, 0), 1.0, 0.04);
  EXPECT_NEAR(fit->cov(1, 1), 2.0, 0.08);
  EXPECT_NEAR(fit->cov(0, 1), 0.6, 0.04);
  EXPECT_EQ(fit->h, 15000u);
  // The reweighting keeps about 97.5 % of clean Gaussian points.
  EXPECT_NEAR(static_cast<double>(fit->inliers) / 20000, 0.975, 0.006);
}

TEST(FitMcd, IgnoresAFifthOfGrossOutliersThatPullTheClassicalEstimate) {
  Eigen::MatrixXd cov(3, 3);
  cov << 1.0, 0.5, 0.0, 0.5, 2.0, 0.3, 0.0, 0.3, 1.0;
  Eigen::MatrixXd x = Gaussian(2000, Eigen::Vector3d::Zero(), cov, 11);
  const Eigen::MatrixXd bad = Gaussian(400, Eigen::Vector3d(6, -6, 6), Eigen::Matrix3d::Identity() * 0.5, 12);
  x.bottomRows(400) = bad;
  auto fit = FitMcd(x, McdOptions{});
  ASSERT_TRUE(fit.ok()) << fit.status().ToString();
  // Benchmark: the classical estimate of the 1600 clean rows alone.
  const Eigen::MatrixXd clean = x.topRows(1600);
  const Eigen::RowVectorXd clean_mean = clean.colwise().mean();
  const Eigen::MatrixXd centred = clean.rowwise() - clean_mean;
  const Eigen::MatrixXd clean_cov = centred.transpose() * centred / 1599.0;
  for (int j = 0; j < 3; ++j) EXPECT_NEAR(fit->mean[j], clean_mean[j], 0.05) << j;
  EXPECT_LT((fit->cov - clean_cov).cwiseAbs().maxCoeff(), 0.06) << fit->cov << "\n" << clean_cov;
  // About 97.5 % of the clean points, none of the outliers.
  EXPECT_NEAR(fit->inliers / 1600.0, 0.975, 0.01);
  // The classical mean moves by 0.2 * 6 = 1.2 in each coordinate.
  EXPECT_NEAR(x.colwise().mean()(0), 1.2, 0.1);
}

TEST(FitMcd, SingularCovarianceNamesTheCollinearFeatures) {
  Eigen::MatrixXd x = Gaussian(300, Eigen::Vector3d::Zero(), Eigen::Matrix3d::Identity(), 3);
  x.col(2) = x.col(0) + x.col(1);
  const std::vector<std::string> names = {"T50", "Ps30", "sum"};
  auto fit = FitMcd(x, McdOptions{}, names);
  ASSERT_FALSE(fit.ok());
  EXPECT_EQ(fit.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(fit.status().message().find("'sum'"), std::string::npos) << fit.status().message();
  EXPECT_NE(fit.status().message().find("'T50'"), std::string::npos) << fit.status().message();
  EXPECT_NE(fit.status().message().find("set shrinkage > 0"), std::string::npos);
  McdOptions shrunk;
  shrunk.shrinkage = 0.1;
  auto ok = FitMcd(x, shrunk, names);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
}

TEST(FitMcd, BadInputs) {
  Eigen::MatrixXd x = Gaussian(3, Eigen::Vector2d::Zero(), Eigen::Matrix2d::Identity(), 1);
  auto few = FitMcd(x, McdOptions{});
  EXPECT_EQ(few.status(), Status(StatusCode::kInvalidArgument, "3 samples of 2 features: need more samples than features + 1"));
  McdOptions o;
  o.coverage = 0.4;
  EXPECT_EQ(FitMcd(Gaussian(50, Eigen::Vector2d::Zero(), Eigen::Matrix2d::Identity(), 1), o).status().message(),
            "mcd coverage 0.4 is outside [0.5, 1]");
}

}  // namespace
}  // namespace pf::detect
