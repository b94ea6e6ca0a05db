#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "fedhpc/core/error.hpp"
#include "fedhpc/data/partition.hpp"
#include "test_support.hpp"

using namespace fedhpc;
using namespace fedhpc::data;

using fedhpc::test::expect_input_error;

namespace {

const std::vector<std::string> kMethods = {"iid", "dirichlet", "shards", "pathological"};

// n labels, balanced over `classes` and interleaved.
std::vector<std::int64_t> balanced(std::int64_t n, int classes = 10) {
  std::vector<std::int64_t> l(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) l[std::size_t(i)] = i % classes;
  return l;
}

PartitionOptions opts(const std::string& method, std::int64_t clients, std::uint64_t seed = 1,
                      double fraction = 0.2) {
  PartitionOptions o;
  o.method = method;
  o.num_clients = clients;
  o.seed = seed;
  o.local_test_fraction = fraction;
  return o;
}


std::vector<std::int64_t> client_all(const Partition& p, std::int64_t c) {
  std::vector<std::int64_t> v(p.train_begin(c), p.train_begin(c) + p.train_count(c));
  v.insert(v.end(), p.test_begin(c), p.test_begin(c) + p.test_count(c));
  return v;
}

// Offsets are consistent, lists sorted, and train+test of all clients cover
// every sample exactly once.
void expect_exact_cover(const Partition& p, std::int64_t n, std::int64_t clients) {
  ASSERT_EQ(p.num_clients(), clients);
  ASSERT_EQ(p.test_offsets.size(), std::size_t(clients + 1));
  EXPECT_EQ(p.train_offsets.front(), 0);
  EXPECT_EQ(p.test_offsets.front(), 0);
  EXPECT_EQ(p.train_offsets.back(), std::int64_t(p.train_indices.size()));
  EXPECT_EQ(p.test_offsets.back(), std::int64_t(p.test_indices.size()));
  std::vector<int> seen(std::size_t(n), 0);
  for (std::int64_t c = 0; c < clients; ++c) {
    EXPECT_GE(p.train_count(c), 1);
    EXPECT_TRUE(std::is_sorted(p.train_begin(c), p.train_begin(c) + p.train_count(c)));
    EXPECT_TRUE(std::is_sorted(p.test_begin(c), p.test_begin(c) + p.test_count(c)));
    for (auto i : client_all(p, c)) {
      ASSERT_TRUE(i >= 0 && i < n) << i;
      ++seen[std::size_t(i)];
    }
  }
  for (std::int64_t i = 0; i < n; ++i) ASSERT_EQ(seen[std::size_t(i)], 1) << "sample " << i;
}

std::vector<std::vector<double>> label_proportions(const Partition& p,
                                                   const std::vector<std::int64_t>& labels,
                                                   int classes) {
  std::vector<std::vector<double>> out;
  for (std::int64_t c = 0; c < p.num_clients(); ++c) {
    std::vector<double> h(std::size_t(classes), 0.0);
    auto all = client_all(p, c);
    for (auto i : all) h[std::size_t(labels[std::size_t(i)])] += 1.0;
    for (auto& x : h) x /= double(all.size());
    out.push_back(h);
  }
  return out;
}

std::size_t distinct_labels(const Partition& p, const std::vector<std::int64_t>& labels,
                            std::int64_t c) {
  std::set<std::int64_t> s;
  for (auto i : client_all(p, c)) s.insert(labels[std::size_t(i)]);
  return s.size();
}

TEST(Partition, EveryMethodCoversEverySampleOnce) {
  const auto labels = balanced(6007);
  for (const auto& m : kMethods)
    for (double f : {0.0, 0.2}) {
      SCOPED_TRACE(m + " f=" + std::to_string(f));
      auto p = make_partition(labels, 10, opts(m, 13, 5, f));
      expect_exact_cover(p, 6007, 13);
    }
}

TEST(Partition, SameSeedSamePartitionOtherSeedOther) {
  const auto labels = balanced(3000);
  for (const auto& m : kMethods) {
    SCOPED_TRACE(m);
    auto a = make_partition(labels, 10, opts(m, 10, 42));
    auto b = make_partition(labels, 10, opts(m, 10, 42));
    auto c = make_partition(labels, 10, opts(m, 10, 43));
    EXPECT_EQ(a.train_indices, b.train_indices);
    EXPECT_EQ(a.test_indices, b.test_indices);
    EXPECT_EQ(a.train_offsets, b.train_offsets);
    EXPECT_NE(a.train_indices, c.train_indices);
  }
}

TEST(Partition, IidBlockSizesDifferByAtMostOne) {
  const auto labels = balanced(1003);
  auto p = make_partition(labels, 10, opts("iid", 10, 1, 0.0));
  for (std::int64_t c = 0; c < 10; ++c) {
    EXPECT_EQ(p.test_count(c), 0);
    EXPECT_EQ(p.train_count(c), c < 3 ? 101 : 100);
  }
}

TEST(Partition, IidIsShuffled) {
  auto p = make_partition(balanced(1000), 10, opts("iid", 10, 1, 0.0));
  // Client 0 would be exactly 0..99 without a shuffle.
  EXPECT_GT(*(p.train_begin(0) + p.train_count(0) - 1), 99);
}

TEST(Partition, LocalTestFractionHoldsOutTheFloor) {
  const auto labels = balanced(5003);
  for (const auto& m : kMethods)
    for (double f : {0.0, 0.1, 0.2, 0.5, 0.99}) {
      SCOPED_TRACE(m + " f=" + std::to_string(f));
      auto p = make_partition(labels, 10, opts(m, 7, 3, f));
      for (std::int64_t c = 0; c < 7; ++c) {
        const std::int64_t nk = p.train_count(c) + p.test_count(c);
        EXPECT_EQ(p.test_count(c), std::int64_t(std::floor(f * double(nk))));
      }
    }
}

TEST(Partition, LocalSplitDoesNotChangeTheClientSets) {
  const auto labels = balanced(2000);
  auto a = make_partition(labels, 10, opts("dirichlet", 8, 9, 0.0));
  auto b = make_partition(labels, 10, opts("dirichlet", 8, 9, 0.3));
  for (std::int64_t c = 0; c < 8; ++c) {
    auto all = client_all(b, c);
    std::sort(all.begin(), all.end());
    EXPECT_EQ(all, client_all(a, c));
  }
}

TEST(Partition, DirichletHugeAlphaLooksIid) {
  const auto labels = balanced(60000);
  auto o = opts("dirichlet", 10, 4, 0.0);
  o.dirichlet_alpha = 1e6;
  auto p = make_partition(labels, 10, o);
  double worst = 0;
  for (const auto& h : label_proportions(p, labels, 10))
    for (double x : h) worst = std::max(worst, std::abs(x - 0.1));
  EXPECT_LT(worst, 0.05);
  for (std::int64_t c = 0; c < 10; ++c) EXPECT_NEAR(p.train_count(c), 6000, 600);
}

TEST(Partition, DirichletSmallAlphaIsSkewed) {
  const auto labels = balanced(60000);
  auto o = opts("dirichlet", 10, 4, 0.0);
  o.dirichlet_alpha = 0.1;
  auto p = make_partition(labels, 10, o);
  // Mean total-variation distance to the global (uniform) label distribution.
  double tv = 0;
  for (const auto& h : label_proportions(p, labels, 10)) {
    double d = 0;
    for (double x : h) d += std::abs(x - 0.1);
    tv += 0.5 * d / 10.0;
  }
  EXPECT_GT(tv, 0.4);
}

TEST(Partition, DirichletRespectsTheMinimum) {
  // With 100 clients and alpha = 0.1 most draws leave some client short, so
  // this exercises the retry loop.
  auto labels = balanced(60000);
  auto o = opts("dirichlet", 100, 2, 0.0);
  o.dirichlet_alpha = 0.1;
  o.dirichlet_min_samples = 10;
  auto p = make_partition(labels, 10, o);
  for (std::int64_t c = 0; c < 100; ++c) EXPECT_GE(p.train_count(c), 10);
  // The minimum is capped at floor(n/N): one client with a huge minimum is fine.
  o.num_clients = 1;
  o.dirichlet_min_samples = 1000000;
  p = make_partition(labels, 10, o);
  EXPECT_EQ(p.train_count(0), 60000);
}

TEST(Partition, DirichletGivesUpNamingTheOptions) {
  // One class and a tiny alpha: all of it lands on one client every time.
  const std::vector<std::int64_t> labels(20, 0);
  auto o = opts("dirichlet", 10, 1, 0.0);
  o.dirichlet_alpha = 1e-3;
  expect_input_error([&] { make_partition(labels, 1, o); }, {"--dirichlet-alpha", "--clients"});
}

TEST(Partition, DirichletEmptyClientIsAnError) {
  const std::vector<std::int64_t> labels(20, 0);
  auto o = opts("dirichlet", 10, 1, 0.0);
  o.dirichlet_alpha = 1e-3;
  o.dirichlet_min_samples = 0;
  expect_input_error([&] { make_partition(labels, 1, o); }, {"no training sample", "--clients"});
}

TEST(Partition, DirichletBadAlpha) {
  auto o = opts("dirichlet", 10);
  for (double a : {0.0, -1.0, std::nan("")}) {
    o.dirichlet_alpha = a;
    expect_input_error([&] { make_partition(balanced(100), 10, o); }, {"--dirichlet-alpha"});
  }
}

TEST(Partition, ShardsOnBalancedClassesGiveAtMostSLabels) {
  // 60000 samples, 100 clients x 2 shards of 300: no shard straddles a class.
  const auto labels = balanced(60000);
  auto p = make_partition(labels, 10, opts("shards", 100, 8, 0.0));
  for (std::int64_t c = 0; c < 100; ++c) {
    EXPECT_EQ(p.train_count(c), 600);
    EXPECT_LE(distinct_labels(p, labels, c), 2u);
  }
}

TEST(Partition, ShardsOnUnevenClassesGiveAtMostTwoSLabels) {
  // Classes of 500..1400 samples; shards of ~95 may straddle one class
  // boundary each, so a client sees at most 2*s labels.
  std::vector<std::int64_t> labels;
  for (int c = 0; c < 10; ++c) labels.insert(labels.end(), 500 + 100 * c, (c * 3) % 10);
  auto o = opts("shards", 33, 8, 0.0);
  o.shards_per_client = 3;
  auto p = make_partition(labels, 10, o);
  expect_exact_cover(p, std::int64_t(labels.size()), 33);
  std::size_t most = 0;
  for (std::int64_t c = 0; c < 33; ++c) most = std::max(most, distinct_labels(p, labels, c));
  EXPECT_LE(most, 6u);
  const auto n = std::int64_t(labels.size());
  for (std::int64_t c = 0; c < 33; ++c) EXPECT_NEAR(p.train_count(c), 3.0 * n / 99.0, 3.0);
}

TEST(Partition, ShardsNeedEnoughSamples) {
  auto o = opts("shards", 10, 1, 0.0);
  o.shards_per_client = 3;
  expect_input_error([&] { make_partition(balanced(29), 10, o); }, {"--shards-per-client", "29"});
  o.shards_per_client = 0;
  expect_input_error([&] { make_partition(balanced(100), 10, o); }, {"--shards-per-client"});
}

TEST(Partition, TooManyClients) {
  for (const auto& m : kMethods)
    expect_input_error([&] { make_partition(balanced(50), 10, opts(m, 51)); }, {"--clients", "50"});
  expect_input_error([&] { make_partition(balanced(50), 10, opts("iid", 0)); }, {"--clients"});
}

TEST(Partition, OneSamplePerClientIsFine) {
  auto p = make_partition(balanced(50), 10, opts("iid", 50, 1, 0.5));
  expect_exact_cover(p, 50, 50);
}

TEST(Partition, BadLocalTestFraction) {
  for (double f : {1.0, -0.1, 1.5, std::nan("")})
    expect_input_error([&] { make_partition(balanced(100), 10, opts("iid", 10, 1, f)); },
                       {"--local-test-fraction"});
}

TEST(Partition, UnknownMethod) {
  expect_input_error([&] { make_partition(balanced(100), 10, opts("random-walk", 10)); },
                     {"--partition", "random-walk", "dirichlet", "iid", "shards"});
}

}  // namespace

// --partition pathological: every client holds exactly two classes, one
// shard of each, for few and many clients, balanced and skewed labels, and
// whichever classes the seed pairs.
TEST(Partition, PathologicalGivesEveryClientExactlyTwoClasses) {
  std::vector<std::int64_t> skewed;
  for (std::int64_t i = 0; i < 5000; ++i) skewed.push_back(i % 7 == 0 ? 9 : (i * i) % 9);
  for (const auto& labels : {balanced(6000), skewed})
    for (std::int64_t clients : {5, 7, 10, 13, 100, 1000})
      for (std::uint64_t seed : {0, 1, 2}) {
        SCOPED_TRACE("clients " + std::to_string(clients) + " seed " + std::to_string(seed));
        const auto p = make_partition(labels, 10, opts("pathological", clients, seed, 0.0));
        expect_exact_cover(p, std::int64_t(labels.size()), clients);
        for (std::int64_t c = 0; c < clients; ++c) ASSERT_EQ(distinct_labels(p, labels, c), 2u) << "client " << c;
      }
  // The seed decides which classes meet: over 45 clients not all hold the same pair.
  const auto p = make_partition(balanced(4500), 10, opts("pathological", 45, 3, 0.0));
  std::set<std::pair<std::int64_t, std::int64_t>> pairs;
  const auto labels = balanced(4500);
  for (std::int64_t c = 0; c < 45; ++c) {
    std::set<std::int64_t> s;
    for (auto i : client_all(p, c)) s.insert(labels[std::size_t(i)]);
    pairs.insert({*s.begin(), *s.rbegin()});
  }
  EXPECT_GT(pairs.size(), 10u);
}

TEST(Partition, PathologicalRefusesTooManyClientsOrOneClass) {
  expect_input_error([] { make_partition(balanced(100), 10, opts("pathological", 60, 1, 0.0)); },
                     {"--clients", "pathological"});
  expect_input_error([] { make_partition(balanced(100), 10, opts("pathological", 4, 1, 0.0)); },
                     {"--clients 4", "at least 5 clients"});
  expect_input_error([] { make_partition(std::vector<std::int64_t>(50, 3), 10, opts("pathological", 5, 1, 0.0)); },
                     {"--partition pathological", "2 classes"});
}
