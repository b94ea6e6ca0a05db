#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "fedhpc/core/exact_sum.hpp"
#include "fedhpc/core/rng.hpp"
#include "fedhpc/mpi/exact_reduce.hpp"

using namespace fedhpc;

namespace {

std::vector<float> random_values(std::size_t n, std::uint64_t key, double scale_spread) {
  auto rng = stream(key, StreamKind::Init);
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(rng.normal() * std::pow(10.0, rng.uniform(-scale_spread, scale_spread)));
  return v;
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

}  // namespace

TEST(ExactSum, CancellationIsExact) {
  ExactSum s(1);
  s.add(0, 1e30);
  s.add(0, 1.0);
  s.add(0, -1e30);
  EXPECT_EQ(s.value(0), 1.0);
  s.add(0, -1.0);
  EXPECT_EQ(s.value(0), 0.0);
}

TEST(ExactSum, OrderDoesNotMatter) {
  const std::size_t terms = 500;
  std::vector<std::vector<float>> models;
  for (std::size_t t = 0; t < terms; ++t) models.push_back(random_values(64, t + 1, 6.0));
  ExactSum forward(64), backward(64);
  for (std::size_t t = 0; t < terms; ++t) forward.add_scaled(models[t].data(), double(t % 17 + 1));
  for (std::size_t t = terms; t-- > 0;) backward.add_scaled(models[t].data(), double(t % 17 + 1));
  long double reference[64] = {};
  for (std::size_t t = 0; t < terms; ++t)
    for (int i = 0; i < 64; ++i) reference[i] += (long double)(t % 17 + 1) * models[t][i];
  for (int i = 0; i < 64; ++i) {
    EXPECT_TRUE(same_bits(forward.value(i), backward.value(i))) << i;
    EXPECT_NEAR(double(forward.value(i)), double(reference[i]), 1e-12 * std::fabs(double(reference[i])) + 1e-300);
  }
}

TEST(ExactSum, SplitAndMergeEqualsWhole) {
  std::vector<std::vector<float>> models;
  for (int t = 0; t < 30; ++t) models.push_back(random_values(10, 100 + t, 3.0));
  ExactSum whole(10), a(10), b(10);
  for (int t = 0; t < 30; ++t) {
    whole.add_scaled(models[t].data(), 3.0);
    (t % 3 == 0 ? a : b).add_scaled(models[t].data(), 3.0);
  }
  a.merge(b);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(same_bits(whole.value(i), a.value(i)));
}

TEST(ExactSum, TinyAndSubnormalTerms) {
  ExactSum s(1);
  const float tiny = std::numeric_limits<float>::denorm_min();
  for (int k = 0; k < 1000; ++k) s.add(0, static_cast<double>(tiny));
  EXPECT_EQ(s.value(0), 1000.0 * static_cast<double>(tiny));
}

TEST(ExactSum, NonFiniteTermsAreCountedAndPoisonOnlyTheirCoordinate) {
  ExactSum s(3);
  s.add(0, std::numeric_limits<double>::quiet_NaN());
  s.add(1, std::numeric_limits<double>::infinity());
  s.add(1, 2.5);
  s.add(2, 2.5);
  EXPECT_EQ(s.nonfinite_terms(), 2);
  EXPECT_TRUE(std::isnan(s.value(0)));
  EXPECT_TRUE(std::isnan(s.value(1)));
  EXPECT_EQ(s.value(2), 2.5);
}

TEST(ExactSum, MpiReductionMatchesSerialForAnySplit) {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const int terms = 40;
  std::vector<std::vector<float>> models;
  for (int t = 0; t < terms; ++t) models.push_back(random_values(33, 7 + t, 4.0));
  ExactSum serial(33);
  for (int t = 0; t < terms; ++t) serial.add_scaled(models[t].data(), double(t + 1));
  // Uneven, interleaved split: term t goes to rank (t*t) % size.
  ExactSum mine(33);
  for (int t = 0; t < terms; ++t)
    if ((t * t) % size == rank) mine.add_scaled(models[t].data(), double(t + 1));
  mpi::allreduce(mine, mpi::Comm::world());
  for (int i = 0; i < 33; ++i) EXPECT_TRUE(same_bits(serial.value(i), mine.value(i))) << i;
}

TEST(ExactSum, MpiReductionWithIdleRanks) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  ExactSum s(3);
  if (rank == 0) {
    s.add(0, 1.5);
    s.add(2, -4.0);
  }
  mpi::allreduce(s, mpi::Comm::world());
  EXPECT_EQ(s.value(0), 1.5);
  EXPECT_EQ(s.value(1), 0.0);
  EXPECT_EQ(s.value(2), -4.0);
}

TEST(ExactSum, NonFiniteCoordinatesReadAsNaNAfterReduction) {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  ExactSum s(3);
  s.add(0, 1.0);
  s.add(1, 2.0);
  if (rank == size - 1) s.add(2, std::numeric_limits<double>::infinity());
  mpi::allreduce(s, mpi::Comm::world());
  EXPECT_EQ(s.value(0), double(size));
  EXPECT_EQ(s.value(1), 2.0 * size);
  EXPECT_TRUE(std::isnan(s.value(2)));
  EXPECT_EQ(s.nonfinite_terms(), 1);
  s.clear();
  s.add(2, 5.0);
  EXPECT_EQ(s.value(2), 5.0);
}
