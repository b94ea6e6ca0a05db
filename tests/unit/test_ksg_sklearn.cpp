// KSG against scikit-learn's estimator on fixed 1-D data, noise off on both
// sides (tests/unit/ksg_sklearn_oracle.py). Skipped when /usr/bin/python3 has
// no scikit-learn (Debian python3-sklearn).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "fedhpc/analysis/mutual_information.hpp"
#include "fedhpc/core/rng.hpp"

namespace {

using fedhpc::analysis::Samples;

struct Oracle {
  int status = 0;
  std::string output;
};

Oracle run_oracle(const std::string& data_file, int k) {
  const std::string cmd = std::string("/usr/bin/python3 ") + FEDHPC_KSG_ORACLE + " " + data_file + " " +
                          std::to_string(k) + " 2>&1";
  Oracle o;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return {-1, "popen failed"};
  char buf[512];
  while (std::fgets(buf, sizeof buf, pipe)) o.output += buf;
  const int rc = pclose(pipe);
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
  char path[] = "/tmp/fedhpc_ksg_XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  FILE* f = fdopen(fd, "w");
  for (std::int64_t i = 0; i < n; ++i) std::fprintf(f, "%.17g %.17g\n", x(i, 0), y(i, 0));
  std::fclose(f);
  const auto oracle = run_oracle(path, k);
  ::unlink(path);
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

}  // namespace
