// KSG against scikit-learn's estimator on fixed 1-D data, noise off on both
// sides, and the Ledoit-Wolf shrinkage against scikit-learn's ledoit_wolf
// (tests/unit/ksg_sklearn_oracle.py). Skipped when /usr/bin/python3 has no
// scikit-learn (Debian python3-sklearn).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "fedhpc/analysis/mutual_information.hpp"
#include "fedhpc/core/rng.hpp"

namespace {

using fedhpc::analysis::Samples;

struct Oracle {
  int status = 0;
  std::string output;
};

// Writes the rows of m to a temporary file and runs the oracle on it.
Oracle run_oracle(const Samples& m, const std::string& mode) {
  char path[] = "/tmp/fedhpc_ksg_XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return {-1, "mkstemp failed"};
  FILE* f = fdopen(fd, "w");
  for (Eigen::Index i = 0; i < m.rows(); ++i)
    for (Eigen::Index j = 0; j < m.cols(); ++j) std::fprintf(f, j + 1 < m.cols() ? "%.17g " : "%.17g\n", m(i, j));
  std::fclose(f);
  const std::string cmd = std::string("/usr/bin/python3 ") + FEDHPC_KSG_ORACLE + " " + path + " " + mode + " 2>&1";
  Oracle o;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return {-1, "popen failed"};
  char buf[512];
  while (std::fgets(buf, sizeof buf, pipe)) o.output += buf;
  const int rc = pclose(pipe);
  ::unlink(path);
  o.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return o;
}

// y = rho x + sqrt(1 - rho^2) e, x and e standard normal from a fixed stream.
void fixed_data(std::int64_t n, double rho, std::uint64_t key, Samples& x, Samples& y) {
  auto rng = fedhpc::stream(1234, fedhpc::StreamKind::Analysis, key);
  x.resize(n, 1);
  y.resize(n, 1);
  for (std::int64_t i = 0; i < n; ++i) {
    x(i, 0) = rng.normal();
    y(i, 0) = rho * x(i, 0) + std::sqrt(1 - rho * rho) * rng.normal();
  }
}

void compare(std::int64_t n, double rho, std::uint64_t key, int k) {
  Samples x, y;
  fixed_data(n, rho, key, x, y);
  Samples xy(n, 2);
  xy << x, y;
  const auto oracle = run_oracle(xy, std::to_string(k));
  if (oracle.status == 77) GTEST_SKIP() << "python3-sklearn missing: " << oracle.output;
  ASSERT_EQ(oracle.status, 0) << oracle.output;
  const double expected = std::stod(oracle.output);
  fedhpc::analysis::KsgOptions options;
  options.k = k;
  options.noise = 0.0;
  const double got = fedhpc::analysis::ksg_mi(x, y, options);
  ASSERT_GT(expected, 0.0) << "data chosen so scikit-learn's clamp at 0 does not apply";
  EXPECT_NEAR(got, expected, 1e-6);
}

TEST(KsgSklearn, MatchesOnCorrelatedData) { compare(1000, 0.9, 1, 3); }
TEST(KsgSklearn, MatchesOnWeaklyCorrelatedData) { compare(500, 0.5, 2, 3); }
TEST(KsgSklearn, MatchesWithOtherK) { compare(700, 0.7, 3, 5); }

// The shrinkage of the Gaussian estimator's few-samples case: 12 samples in 8 dims.
TEST(LedoitWolfSklearn, MatchesWeightAndCovariance) {
  auto rng = fedhpc::stream(77, fedhpc::StreamKind::Analysis);
  Samples z(12, 8);
  for (Eigen::Index i = 0; i < z.rows(); ++i)
    for (Eigen::Index j = 0; j < z.cols(); ++j) z(i, j) = rng.normal() * (1.0 + 0.3 * double(j)) + (j > 0 ? 0.5 * z(i, j - 1) : 0.0);
  const auto oracle = run_oracle(z, "lw");
  if (oracle.status == 77) GTEST_SKIP() << "python3-sklearn missing: " << oracle.output;
  ASSERT_EQ(oracle.status, 0) << oracle.output;
  std::vector<double> values;
  std::istringstream in(oracle.output);
  for (std::string line; std::getline(in, line);) values.push_back(std::stod(line));
  ASSERT_EQ(values.size(), 1u + 64u);
  double weight = -1;
  const auto shrunk = fedhpc::analysis::ledoit_wolf(z, &weight);
  EXPECT_NEAR(weight, values[0], 1e-12);
  ASSERT_GT(weight, 0.0) << "data chosen so the shrinkage is in use";
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 8; ++j) EXPECT_NEAR(shrunk(i, j), values[std::size_t(1 + 8 * i + j)], 1e-12 * (1 + std::fabs(values[std::size_t(1 + 8 * i + j)])));
}

}  // namespace
