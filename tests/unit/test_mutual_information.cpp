// Gaussian and KSG mutual information, the max-norm tree and the pair
// distances (algorithms.md section 8). Registered at 1, 2 and 4 ranks: the
// split-by-query KSG must give the bits of the one-process estimate.
#include <gtest/gtest.h>

#include <Eigen/Cholesky>
#include <Eigen/LU>
#include <algorithm>
#include <cmath>
#include <vector>

#include "fedhpc/analysis/max_norm_tree.hpp"
#include "fedhpc/analysis/mutual_information.hpp"
#include "fedhpc/analysis/parameter_sampler.hpp"
#include "fedhpc/core/param_layout.hpp"
#include "fedhpc/core/rng.hpp"
#include "fedhpc/mpi/comm.hpp"

namespace {

using fedhpc::analysis::Samples;
namespace an = fedhpc::analysis;

void bivariate(std::int64_t n, double rho, std::uint64_t key, Samples& x, Samples& y) {
  auto rng = fedhpc::stream(99, fedhpc::StreamKind::Analysis, key);
  x.resize(n, 1);
  y.resize(n, 1);
  for (std::int64_t i = 0; i < n; ++i) {
    x(i, 0) = rng.normal();
    y(i, 0) = rho * x(i, 0) + std::sqrt(1 - rho * rho) * rng.normal();
  }
}

Eigen::MatrixXd random_spd(Eigen::Index p, std::uint64_t key) {
  auto rng = fedhpc::stream(7, fedhpc::StreamKind::Analysis, key);
  Eigen::MatrixXd a(p, p);
  for (Eigen::Index i = 0; i < p; ++i)
    for (Eigen::Index j = 0; j < p; ++j) a(i, j) = rng.normal();
  return a * a.transpose() + double(p) * Eigen::MatrixXd::Identity(p, p);
}

// N samples whose unbiased sample covariance is exactly sigma (up to rounding).
Samples samples_with_covariance(const Eigen::MatrixXd& sigma, std::int64_t n, std::uint64_t key) {
  auto rng = fedhpc::stream(8, fedhpc::StreamKind::Analysis, key);
  const auto p = sigma.rows();
  Eigen::MatrixXd raw(n, p);
  for (std::int64_t i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j < p; ++j) raw(i, j) = rng.normal();
  raw.rowwise() -= raw.colwise().mean();
  const Eigen::MatrixXd s = raw.transpose() * raw / double(n - 1);
  const Eigen::MatrixXd l_raw = s.llt().matrixL();
  const Eigen::MatrixXd l_sigma = sigma.llt().matrixL();
  // white = raw L_raw^{-T} has identity covariance; times L_sigma^T gives sigma.
  const Eigen::MatrixXd white = l_raw.triangularView<Eigen::Lower>().solve(raw.transpose()).transpose();
  return white * l_sigma.transpose();
}

TEST(GaussianMi, BivariateClosedForm) {
  for (double rho : {0.0, 0.5, 0.9, -0.7}) {
    Eigen::MatrixXd s(2, 2);
    s << 1.0, rho, rho, 1.0;
    EXPECT_NEAR(an::gaussian_mi_from_covariance(s, 1), -0.5 * std::log(1 - rho * rho), 1e-14) << rho;
  }
  Eigen::MatrixXd s(2, 2);
  s << 1.0, 0.9, 0.9, 1.0;
  EXPECT_NEAR(an::gaussian_mi_from_covariance(s, 1), 0.8304, 5e-5);  // algorithms.md's oracle
  s << 1.0, 0.5, 0.5, 1.0;
  EXPECT_NEAR(an::gaussian_mi_from_covariance(s, 1), 0.1438, 5e-5);
}

// [[I, rho I], [rho I, I]] with 3-dim blocks: det = (1 - rho^2)^3.
TEST(GaussianMi, BlockCaseWithKnownDeterminant) {
  const double rho = 0.6;
  Eigen::MatrixXd s = Eigen::MatrixXd::Identity(6, 6);
  for (int i = 0; i < 3; ++i) s(i, i + 3) = s(i + 3, i) = rho;
  double log_det = 0;
  ASSERT_TRUE(an::log_det_spd(s, log_det));
  EXPECT_NEAR(log_det, 3 * std::log(1 - rho * rho), 1e-14);
  EXPECT_NEAR(an::gaussian_mi_from_covariance(s, 3), -1.5 * std::log(1 - rho * rho), 1e-14);
}

// General blocks: det S = det A det(B - C^T A^{-1} C) (Schur complement), so
// I = 1/2 (ln det B - ln det(B - C^T A^{-1} C)).
TEST(GaussianMi, GeneralBlockBySchurComplement) {
  const Eigen::MatrixXd full = random_spd(7, 1);
  const Eigen::Index dx = 3, dy = 4;
  const Eigen::MatrixXd a = full.topLeftCorner(dx, dx), b = full.bottomRightCorner(dy, dy),
                        c = full.topRightCorner(dx, dy);
  const Eigen::MatrixXd schur = b - c.transpose() * a.llt().solve(c);
  const double expected = 0.5 * (std::log(b.determinant()) - std::log(schur.determinant()));
  EXPECT_NEAR(an::gaussian_mi_from_covariance(full, dx), expected, 1e-12);
  // The estimator from samples whose covariance is exactly `full`.
  const Samples z = samples_with_covariance(full, 50, 2);
  const auto r = an::gaussian_mi(z.leftCols(dx), z.rightCols(dy));
  EXPECT_FALSE(r.shrunk);
  EXPECT_NEAR(r.mi, expected, 1e-10);
}

TEST(GaussianMi, DropsConstantColumnsAndShrinksWhenFewSamples) {
  const Samples z = samples_with_covariance(random_spd(4, 3), 40, 4);
  Samples x(40, 3), y(40, 2);
  x << z.leftCols(2), Eigen::VectorXd::Constant(40, 5.0);  // a constant column
  y = z.rightCols(2);
  const auto with_constant = an::gaussian_mi(x, y);
  const auto without = an::gaussian_mi(z.leftCols(2), z.rightCols(2));
  EXPECT_EQ(with_constant.dropped, 1);
  EXPECT_NEAR(with_constant.mi, without.mi, 1e-12);
  // N = 6 <= dx + dy = 10: Ledoit-Wolf, a finite non-negative estimate.
  const Samples few = samples_with_covariance(random_spd(10, 5), 12, 6).topRows(6);
  const auto shrunk = an::gaussian_mi(few.leftCols(5), few.rightCols(5));
  EXPECT_TRUE(shrunk.shrunk);
  EXPECT_GT(shrunk.shrinkage, 0.0);
  EXPECT_LE(shrunk.shrinkage, 1.0);
  EXPECT_TRUE(std::isfinite(shrunk.mi));
  EXPECT_GE(shrunk.mi, 0.0);
}

// MI does not change when a coordinate is scaled; the shrunk estimate
// (Ledoit-Wolf on the correlation matrix) does not either.
TEST(GaussianMi, ShrunkEstimateIsScaleInvariant) {
  const Samples z = samples_with_covariance(random_spd(10, 15), 12, 16).topRows(7);
  Samples scaled = z;
  scaled.col(2) *= 1000.0;
  scaled.col(7) *= 1e-3;
  const auto a = an::gaussian_mi(z.leftCols(5), z.rightCols(5));
  const auto b = an::gaussian_mi(scaled.leftCols(5), scaled.rightCols(5));
  ASSERT_TRUE(a.shrunk && b.shrunk);
  EXPECT_NEAR(a.mi, b.mi, 1e-9 * (1 + a.mi));
  EXPECT_NEAR(a.shrinkage, b.shrinkage, 1e-12);
}

TEST(GaussianMi, LedoitWolfMatchesItsFormulaOnASmallCase) {
  // Two samples in 2-D: centred rows +-(1, 0); S = diag(1, 0), mu = 1/2,
  // d^2 = 1/2; sum ||z||^4 / N = 1, ||S||^2 = 1: b^2 = 0, so no shrinkage.
  Samples z(2, 2);
  z << 1, 0, -1, 0;
  double w = -1;
  const auto s = an::ledoit_wolf(z, &w);
  EXPECT_EQ(w, 0.0);
  EXPECT_EQ(s(0, 0), 1.0);
  EXPECT_EQ(s(1, 1), 0.0);
  // Four samples: rows (1,1), (-1,-1), (1,-1), (-1,1): S = I, already mu I.
  Samples q(4, 2);
  q << 1, 1, -1, -1, 1, -1, -1, 1;
  const auto t = an::ledoit_wolf(q, &w);
  EXPECT_EQ(w, 0.0);
  EXPECT_TRUE(t.isApprox(Eigen::MatrixXd::Identity(2, 2)));
}

TEST(Digamma, KnownValues) {
  const double gamma = 0.57721566490153286061;
  EXPECT_NEAR(an::digamma(1.0), -gamma, 1e-14);
  EXPECT_NEAR(an::digamma(0.5), -gamma - 2 * std::log(2.0), 1e-14);
  double harmonic = 0;
  for (int n = 1; n < 1000; ++n) harmonic += 1.0 / n;
  EXPECT_NEAR(an::digamma(1000.0), harmonic - gamma, 1e-12);
}

TEST(MaxNormTree, MatchesBruteForceWithTies) {
  auto rng = fedhpc::stream(3, fedhpc::StreamKind::Analysis);
  const std::int64_t n = 300, d = 3;
  std::vector<double> pts(std::size_t(n * d));
  for (auto& v : pts) v = double(rng.below(6));  // many ties and duplicates
  const an::MaxNormTree tree(pts.data(), n, d);
  auto dist = [&](std::int64_t i, std::int64_t j) {
    double m = 0;
    for (std::int64_t c = 0; c < d; ++c) m = std::max(m, std::fabs(pts[std::size_t(i * d + c)] - pts[std::size_t(j * d + c)]));
    return m;
  };
  for (std::int64_t i = 0; i < n; ++i) {
    std::vector<double> others;
    for (std::int64_t j = 0; j < n; ++j)
      if (j != i) others.push_back(dist(i, j));
    std::sort(others.begin(), others.end());
    for (int k : {1, 3, 10}) ASSERT_EQ(tree.kth_neighbour_distance(i, k), others[std::size_t(k - 1)]) << i << " " << k;
    for (double r : {0.0, 1.0, 2.5, 3.0}) {
      std::int64_t c = 0;
      for (std::int64_t j = 0; j < n; ++j) c += dist(i, j) < r;
      ASSERT_EQ(tree.count_within(&pts[std::size_t(i * d)], r), c) << i << " " << r;
    }
  }
}

double expected_mi(double rho) { return -0.5 * std::log(1 - rho * rho); }

TEST(Ksg, BivariateGaussians) {
  Samples x, y;
  for (double rho : {0.5, 0.9}) {
    bivariate(2000, rho, std::uint64_t(rho * 10), x, y);
    EXPECT_NEAR(an::ksg_mi(x, y), expected_mi(rho), 0.05) << rho;
  }
  bivariate(2000, 0.0, 3, x, y);
  EXPECT_NEAR(an::ksg_mi(x, y), 0.0, 0.02);
}

TEST(Ksg, NoiseIsSeededAndSmall) {
  Samples x, y;
  bivariate(500, 0.7, 11, x, y);
  an::KsgOptions a, b;
  b.seed = 1;
  EXPECT_EQ(an::ksg_mi(x, y, a), an::ksg_mi(x, y, a));
  an::KsgOptions off;
  off.noise = 0;
  EXPECT_NEAR(an::ksg_mi(x, y, a), an::ksg_mi(x, y, off), 1e-9);  // no ties here: the noise moves nothing
  EXPECT_NEAR(an::ksg_mi(x, y, b), an::ksg_mi(x, y, off), 1e-9);
}

TEST(Ksg, TermsConcatenateOverAnySplit) {
  Samples x, y;
  bivariate(301, 0.8, 12, x, y);
  const auto all = an::ksg_terms(x, y, 3, 0, 301);
  std::vector<double> pieces;
  for (auto [b, e] : {std::pair<int, int>{0, 7}, {7, 150}, {150, 151}, {151, 301}}) {
    const auto part = an::ksg_terms(x, y, 3, b, e);
    pieces.insert(pieces.end(), part.begin(), part.end());
  }
  EXPECT_EQ(all, pieces);
}

// The split-by-query estimate over this job's ranks has the bits of the
// one-process estimate (so the same at 1, 2 and 4 ranks), multivariate too.
TEST(Ksg, SplitByQueryIsBitIdentical) {
  const auto world = fedhpc::mpi::Comm::world();
  Samples x, y;
  bivariate(1001, 0.6, 13, x, y);
  const Samples z = samples_with_covariance(random_spd(5, 9), 777, 14);
  for (int k : {1, 3, 4}) {
    an::KsgOptions o;
    o.k = k;
    o.seed = 5;
    EXPECT_EQ(an::ksg_mi(x, y, o, world), an::ksg_mi(x, y, o)) << k;
    EXPECT_EQ(an::ksg_mi(z.leftCols(2), z.rightCols(3), o, world), an::ksg_mi(z.leftCols(2), z.rightCols(3), o)) << k;
  }
}

TEST(PairDistances, HandComputed) {
  Samples x(2, 2), y(2, 2);
  x << 0, 0, 1, 2;
  y << 3, 4, 1, 0;
  // Differences (3, 4) and (0, -2).
  const auto d = an::pair_distances(x, y);
  EXPECT_DOUBLE_EQ(d.euclidean, (5.0 + 2.0) / 2);
  EXPECT_DOUBLE_EQ(d.manhattan, (7.0 + 2.0) / 2);
  EXPECT_DOUBLE_EQ(d.chebyshev, (4.0 + 2.0) / 2);
  Samples a(1, 3), b(1, 3);
  a << 1.5, -2, 0.25;
  b << -0.5, 1, 0.25;
  const auto e = an::pair_distances(a, b);  // differences (2, -3, 0)
  EXPECT_DOUBLE_EQ(e.euclidean, std::sqrt(13.0));
  EXPECT_DOUBLE_EQ(e.manhattan, 5.0);
  EXPECT_DOUBLE_EQ(e.chebyshev, 3.0);
}

// What fedhpc mi samples from a parameter vector.
TEST(ParameterView, WholeLayerAndProjection) {
  fedhpc::ParamLayout layout;
  layout.add("fc.weight", {2, 3}, true);
  layout.add("fc.bias", {2}, false);
  std::vector<float> params = {1, 2, 3, 4, 5, 6, -1, -2};
  const an::ParameterView whole(layout, "", 0, 0);
  ASSERT_EQ(whole.dims(), 8);
  std::vector<double> out(8);
  whole.apply(params.data(), out.data());
  EXPECT_EQ(out, (std::vector<double>{1, 2, 3, 4, 5, 6, -1, -2}));
  const an::ParameterView bias(layout, "fc.bias", 0, 0);
  ASSERT_EQ(bias.dims(), 2);
  bias.apply(params.data(), out.data());
  EXPECT_EQ(out[0], -1.0);
  EXPECT_EQ(out[1], -2.0);
  try {
    an::ParameterView bad(layout, "conv1.weight", 0, 0);
    FAIL() << "an unknown tensor name was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("fc.weight|fc.bias"), std::string::npos) << e.what();
  }
  // A projection is linear, seeded and the same for every caller.
  const an::ParameterView p1(layout, "fc.weight", 3, 11), p2(layout, "fc.weight", 3, 11), p3(layout, "fc.weight", 3, 12);
  ASSERT_EQ(p1.dims(), 3);
  std::vector<double> a(3), b(3), c(3), doubled(3);
  p1.apply(params.data(), a.data());
  p2.apply(params.data(), b.data());
  p3.apply(params.data(), c.data());
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  std::vector<float> twice(params);
  for (auto& v : twice) v *= 2;
  p1.apply(twice.data(), doubled.data());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(doubled[std::size_t(i)], 2 * a[std::size_t(i)]);
  twice[6] = 100;  // the bias is outside the projected tensor
  p1.apply(twice.data(), c.data());
  EXPECT_EQ(c, doubled);
}

TEST(ParameterView, RepeatSeedsDiffer) {
  const auto s = an::repeat_seed(0, 1, 2, 3);
  EXPECT_EQ(s, an::repeat_seed(0, 1, 2, 3));
  EXPECT_NE(s, an::repeat_seed(0, 1, 2, 4));
  EXPECT_NE(s, an::repeat_seed(0, 2, 2, 3));
  EXPECT_NE(s, an::repeat_seed(0, 1, 3, 3));
  EXPECT_NE(s, an::repeat_seed(1, 1, 2, 3));
}

}  // namespace
