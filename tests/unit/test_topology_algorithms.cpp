#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "fedhpc/aggregation/clustering.hpp"
#include "fedhpc/aggregation/trimmed_mean.hpp"
#include "fedhpc/core/error.hpp"
#include "fedhpc/core/rng.hpp"
#include "fedhpc/topology/gossip_graph.hpp"
#include "fedhpc/topology/grouping.hpp"

using namespace fedhpc;
using namespace fedhpc::topology;
using namespace fedhpc::aggregation;

namespace {

using Hist = std::vector<std::vector<std::int64_t>>;

// Client c holds only label floor(c * classes / n): one label per client, and
// neighbouring ids share a label (as after a sort-by-label shards split), which
// is the worst case for contiguous grouping.
Hist one_label_per_client(int n, int classes, std::int64_t samples = 60) {
  Hist h(n, std::vector<std::int64_t>(classes, 0));
  for (int c = 0; c < n; ++c) h[c][static_cast<std::int64_t>(c) * classes / n] = samples;
  return h;
}

// Shards-like skew with uneven sizes: each client has two labels, with
// sizes drawn from a fixed stream.
Hist two_shards_per_client(int n, int classes) {
  Hist h(n, std::vector<std::int64_t>(classes, 0));
  auto rng = stream(99, StreamKind::Partition);
  for (int c = 0; c < n; ++c) {
    h[c][rng.below(classes)] += 20 + static_cast<std::int64_t>(rng.below(40));
    h[c][rng.below(classes)] += 20 + static_cast<std::int64_t>(rng.below(40));
  }
  return h;
}

// Mean over groups of the L1 distance between the group's label distribution
// and the global one.
double mean_l1_to_global(const std::vector<int>& group, int groups, const Hist& h) {
  const std::size_t classes = h[0].size();
  std::vector<double> global(classes, 0);
  std::vector<std::vector<double>> per(groups, std::vector<double>(classes, 0));
  for (std::size_t c = 0; c < h.size(); ++c) {
    for (std::size_t k = 0; k < classes; ++k) {
      global[k] += h[c][k];
      per[group[c]][k] += h[c][k];
    }
  }
  const double gt = std::accumulate(global.begin(), global.end(), 0.0);
  double total = 0;
  for (int g = 0; g < groups; ++g) {
    const double pt = std::accumulate(per[g].begin(), per[g].end(), 0.0);
    for (std::size_t k = 0; k < classes; ++k) total += std::abs(per[g][k] / pt - global[k] / gt);
  }
  return total / groups;
}

std::vector<std::int64_t> group_sizes(const std::vector<int>& group, int groups) {
  std::vector<std::int64_t> size(groups, 0);
  for (int g : group) {
    EXPECT_GE(g, 0);
    EXPECT_LT(g, groups);
    ++size[g];
  }
  return size;
}

// Expects `f` to throw InputError whose message starts with `option`.
void expect_input_error(const std::function<void()>& f, const std::string& option) {
  try {
    f();
    ADD_FAILURE() << "no InputError for " << option;
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()).rfind(option + ":", 0), 0u) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
  }
}

bool connected(const GossipGraph& g) {
  const auto n = static_cast<std::int64_t>(g.neighbours.size());
  if (n == 0) return true;
  std::vector<char> seen(n, 0);
  std::vector<std::int64_t> todo{0};
  seen[0] = 1;
  while (!todo.empty()) {
    auto i = todo.back();
    todo.pop_back();
    for (auto j : g.neighbours[i]) {
      if (!seen[j]) {
        seen[j] = 1;
        todo.push_back(j);
      }
    }
  }
  return std::all_of(seen.begin(), seen.end(), [](char s) { return s != 0; });
}

void expect_valid_metropolis(const GossipGraph& g) {
  const auto n = static_cast<std::int64_t>(g.neighbours.size());
  ASSERT_EQ(static_cast<std::int64_t>(g.weight.size()), n);
  ASSERT_EQ(static_cast<std::int64_t>(g.self_weight.size()), n);
  ASSERT_EQ(static_cast<std::int64_t>(g.denominator.size()), n);
  for (std::int64_t i = 0; i < n; ++i) {
    const auto& nb = g.neighbours[i];
    EXPECT_TRUE(std::is_sorted(nb.begin(), nb.end()));
    EXPECT_EQ(std::adjacent_find(nb.begin(), nb.end()), nb.end());
    ASSERT_EQ(g.weight[i].size(), nb.size());
    std::int64_t row = g.self_weight[i];
    for (std::size_t t = 0; t < nb.size(); ++t) {
      const auto j = nb[t];
      EXPECT_NE(j, i);
      EXPECT_TRUE(std::binary_search(g.neighbours[j].begin(), g.neighbours[j].end(), i));
      // W_ij = 1 / (1 + max(deg_i, deg_j)) exactly.
      const auto m = 1 + std::max(g.neighbours[i].size(), g.neighbours[j].size());
      EXPECT_EQ(g.weight[i][t] * static_cast<std::int64_t>(m), g.denominator[i]);
      row += g.weight[i][t];
    }
    EXPECT_GE(g.self_weight[i], 0);
    EXPECT_EQ(row, g.denominator[i]);
  }
}

}  // namespace

// ---------------------------------------------------------------- grouping

TEST(Grouping, ContiguousSizesDifferByAtMostOne) {
  for (int n : {1, 5, 10, 17, 100}) {
    for (int g = 1; g <= std::min(n, 7); ++g) {
      auto edges = assign_edges("contiguous", g, one_label_per_client(n, 10), 1);
      auto size = group_sizes(edges, g);
      EXPECT_LE(
          *std::max_element(size.begin(), size.end()) - *std::min_element(size.begin(), size.end()),
          1);
      EXPECT_TRUE(std::is_sorted(edges.begin(), edges.end()));
      for (int c = 0; c < n; ++c) EXPECT_EQ(edges[c], c * g / n);
      EXPECT_EQ(assign_rings("contiguous", g, one_label_per_client(n, 10), 1), edges);
    }
  }
}

TEST(Grouping, LabelBalancedEdgesMatchGlobalMix) {
  // 100 clients, one label each, 10 edges: the greedy should give every edge
  // each label exactly once (distance 0); contiguous gives each edge one label.
  auto h = one_label_per_client(100, 10);
  auto contiguous = assign_edges("contiguous", 10, h, 3);
  auto balanced = assign_edges("label-balanced", 10, h, 3);
  auto size = group_sizes(balanced, 10);
  for (auto s : size) EXPECT_EQ(s, 10);
  EXPECT_GT(mean_l1_to_global(contiguous, 10, h), 1.5);
  EXPECT_NEAR(mean_l1_to_global(balanced, 10, h), 0.0, 1e-12);
  // Same with client c holding label c % 10 (here contiguous is already ideal).
  Hist mod(100, std::vector<std::int64_t>(10, 0));
  for (int c = 0; c < 100; ++c) mod[c][c % 10] = 60;
  EXPECT_NEAR(mean_l1_to_global(assign_edges("label-balanced", 10, mod, 3), 10, mod), 0.0, 1e-12);
}

TEST(Grouping, LabelBalancedOnUnevenShards) {
  auto h = two_shards_per_client(60, 10);
  for (int edges : {3, 4, 7}) {
    auto contiguous = assign_edges("contiguous", edges, h, 5);
    auto balanced = assign_edges("label-balanced", edges, h, 5);
    auto a = group_sizes(contiguous, edges), b = group_sizes(balanced, edges);
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    EXPECT_EQ(a, b);  // same sizes as contiguous
    const double dc = mean_l1_to_global(contiguous, edges, h);
    const double db = mean_l1_to_global(balanced, edges, h);
    EXPECT_LT(db, 0.5 * dc) << "edges=" << edges << " contiguous " << dc << " balanced " << db;
  }
}

TEST(Grouping, LabelDiverseRingsCoverLabels) {
  // 40 clients with one label each (10 labels), 4 rings: every ring should
  // see all 10 labels.
  auto h = one_label_per_client(40, 10);
  auto rings = assign_rings("label-diverse", 4, h, 11);
  for (int r = 0; r < 4; ++r) {
    std::vector<int> labels;
    for (int c = 0; c < 40; ++c) {
      if (rings[c] == r) labels.push_back(c / 4);
    }
    std::sort(labels.begin(), labels.end());
    EXPECT_EQ(std::unique(labels.begin(), labels.end()) - labels.begin(), 10);
  }
  EXPECT_LT(mean_l1_to_global(rings, 4, h),
            0.2 * mean_l1_to_global(assign_rings("contiguous", 4, h, 11), 4, h));
}

TEST(Grouping, RandomRingsAreNearEqualAndSeeded) {
  auto h = one_label_per_client(23, 10);
  auto a = assign_rings("random", 5, h, 7);
  auto b = assign_rings("random", 5, h, 7);
  auto c = assign_rings("random", 5, h, 8);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  auto size = group_sizes(a, 5);
  EXPECT_LE(
      *std::max_element(size.begin(), size.end()) - *std::min_element(size.begin(), size.end()), 1);
}

TEST(Grouping, Deterministic) {
  auto h = two_shards_per_client(50, 10);
  EXPECT_EQ(assign_edges("label-balanced", 5, h, 42), assign_edges("label-balanced", 5, h, 42));
  EXPECT_EQ(assign_rings("label-diverse", 5, h, 42), assign_rings("label-diverse", 5, h, 42));
}

TEST(Grouping, GroupOrderMakesGroupsContiguous) {
  std::vector<int> group{2, 0, 1, 0, 2, 1, 0};
  auto order = group_order(group);
  EXPECT_EQ(order, (std::vector<std::int64_t>{1, 3, 6, 2, 5, 0, 4}));
  auto h = two_shards_per_client(30, 10);
  auto edges = assign_edges("label-balanced", 4, h, 1);
  order = group_order(edges);
  std::vector<std::int64_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::int64_t> ids(30);
  std::iota(ids.begin(), ids.end(), 0);
  EXPECT_EQ(sorted, ids);  // a permutation
  for (std::size_t i = 1; i < order.size(); ++i) {
    const int a = edges[order[i - 1]], b = edges[order[i]];
    EXPECT_TRUE(a < b || (a == b && order[i - 1] < order[i]));
  }
}

TEST(Grouping, Errors) {
  auto h = one_label_per_client(5, 10);
  expect_input_error([&] { assign_edges("contiguous", 7, h, 1); }, "--edges");
  expect_input_error([&] { assign_edges("label-balanced", 0, h, 1); }, "--edges");
  expect_input_error([&] { assign_edges("nearest", 2, h, 1); }, "--edge-assignment");
  expect_input_error([&] { assign_rings("random", 6, h, 1); }, "--rings");
  expect_input_error([&] { assign_rings("contiguous", -1, h, 1); }, "--rings");
  expect_input_error([&] { assign_rings("label-balanced", 2, h, 1); }, "--ring-grouping");
  try {
    assign_edges("contiguous", 7, h, 1);
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "--edges: 7 edges for 5 clients; need 1 <= edges <= clients");
  }
}

// ---------------------------------------------------------------- gossip graphs

TEST(GossipGraph, AllKindsAreSymmetricWithExactMetropolisRows) {
  for (const char* kind : {"ring", "torus", "random-k", "complete"}) {
    for (std::int64_t n : {1, 2, 3, 4, 5, 6, 7, 9, 12, 16, 31, 64}) {
      SCOPED_TRACE(std::string(kind) + " n=" + std::to_string(n));
      auto g = make_gossip_graph(kind, n, 4, 13);
      expect_valid_metropolis(g);
      EXPECT_TRUE(connected(g));
    }
  }
}

TEST(GossipGraph, CompleteHasUnitWeights) {
  auto g = make_gossip_graph("complete", 9, 0, 1);
  for (int i = 0; i < 9; ++i) {
    EXPECT_EQ(g.neighbours[i].size(), 8u);
    EXPECT_EQ(g.denominator[i], 9);
    EXPECT_EQ(g.self_weight[i], 1);
    for (auto w : g.weight[i]) EXPECT_EQ(w, 1);
  }
}

TEST(GossipGraph, RingAndTorusDegrees) {
  auto ring = make_gossip_graph("ring", 10, 0, 1);
  for (int i = 0; i < 10; ++i) {
    std::vector<std::int64_t> want{(i + 1) % 10, (i + 9) % 10};
    std::sort(want.begin(), want.end());
    EXPECT_EQ(ring.neighbours[i], want);
    EXPECT_EQ(ring.denominator[i], 3);
    EXPECT_EQ(ring.self_weight[i], 1);
  }
  EXPECT_TRUE(make_gossip_graph("ring", 1, 0, 1).neighbours[0].empty());
  EXPECT_EQ(make_gossip_graph("ring", 2, 0, 1).neighbours[0], (std::vector<std::int64_t>{1}));

  auto torus = make_gossip_graph("torus", 16, 0, 1);
  for (int i = 0; i < 16; ++i) EXPECT_EQ(torus.neighbours[i].size(), 4u);
  // 4x4 grid: node 5 = (1,1) touches (0,1), (2,1), (1,0), (1,2).
  EXPECT_EQ(torus.neighbours[5], (std::vector<std::int64_t>{1, 4, 6, 9}));
  // 12 = 3x4; 7 is prime -> a ring.
  for (auto& nb : make_gossip_graph("torus", 12, 0, 1).neighbours) EXPECT_EQ(nb.size(), 4u);
  for (auto& nb : make_gossip_graph("torus", 7, 0, 1).neighbours) EXPECT_EQ(nb.size(), 2u);
}

TEST(GossipGraph, RandomKConnectedWithMinDegree) {
  for (int k : {2, 3, 4, 6}) {
    for (std::int64_t n : {5, 10, 33, 100}) {
      auto g = make_gossip_graph("random-k", n, k, 21);
      EXPECT_TRUE(connected(g));
      std::size_t lo = n, hi = 0;
      for (auto& nb : g.neighbours) {
        lo = std::min(lo, nb.size());
        hi = std::max(hi, nb.size());
      }
      EXPECT_GE(lo, static_cast<std::size_t>(std::min<std::int64_t>(k, n - 1)));
      EXPECT_LE(hi, static_cast<std::size_t>(k + 3)) << "k=" << k << " n=" << n;
      expect_valid_metropolis(g);
    }
  }
  auto a = make_gossip_graph("random-k", 50, 4, 1);
  EXPECT_EQ(a.neighbours, make_gossip_graph("random-k", 50, 4, 1).neighbours);
  EXPECT_NE(a.neighbours, make_gossip_graph("random-k", 50, 4, 2).neighbours);
  // k >= n-1 gives the complete graph.
  auto full = make_gossip_graph("random-k", 6, 9, 1);
  for (auto& nb : full.neighbours) EXPECT_EQ(nb.size(), 5u);
}

TEST(GossipGraph, Errors) {
  expect_input_error([] { make_gossip_graph("star", 8, 4, 1); }, "--gossip-graph");
  expect_input_error([] { make_gossip_graph("random-k", 8, 1, 1); }, "--gossip-k");
  EXPECT_NO_THROW(make_gossip_graph("ring", 8, 1, 1));  // k only matters for random-k
}

// ---------------------------------------------------------------- clustering

namespace {

// Points on a line; distance = |x_i - x_j|.
std::vector<double> line_distances(const std::vector<double>& x) {
  const auto n = x.size();
  std::vector<double> d(n * n);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) d[i * n + j] = std::abs(x[i] - x[j]);
  }
  return d;
}

}  // namespace

TEST(Clustering, PivotRecoversSeparatedGroups) {
  std::vector<double> x;
  std::vector<int> truth;
  for (int i = 0; i < 12; ++i) {
    x.push_back(i % 2 == 0 ? 0.1 * i : 100 + 0.1 * i);  // two groups, interleaved ids
    truth.push_back(i % 2);
  }
  auto d = line_distances(x);
  for (int round = 0; round < 5; ++round) {
    auto c = pivot_clustering(d, 12, 5.0, 7, round);
    EXPECT_DOUBLE_EQ(adjusted_rand_index(c, truth), 1.0);
    EXPECT_EQ(*std::max_element(c.begin(), c.end()), 1);
    EXPECT_EQ(c, pivot_clustering(d, 12, 5.0, 7, round));
  }
  // lambda below every distance: singletons.
  auto single = pivot_clustering(d, 12, 0.01, 7, 0);
  std::sort(single.begin(), single.end());
  for (int i = 0; i < 12; ++i) EXPECT_EQ(single[i], i);
}

namespace {

// Euclidean distances of `groups` x `per` points in `dim` dimensions: unit
// Gaussian noise around group centres `separation` apart (model parameters
// are high-dimensional, so distances within a group concentrate).
std::vector<double> cloud_distances(int groups, int per, int dim, double separation, unsigned seed) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> noise(0.0, 1.0);
  const int n = groups * per;
  std::vector<std::vector<double>> x(static_cast<std::size_t>(n), std::vector<double>(static_cast<std::size_t>(dim)));
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < dim; ++k) x[i][k] = noise(gen) + (k == 0 ? separation * (i % groups) : 0.0);
  std::vector<double> d(std::size_t(n) * n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      double sq = 0;
      for (int k = 0; k < dim; ++k) sq += (x[i][k] - x[j][k]) * (x[i][k] - x[j][k]);
      d[std::size_t(i) * n + j] = std::sqrt(sq);
    }
  return d;
}

double largest_within(const std::vector<double>& d, int n, int groups) {
  double m = 0;
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j)
      if (i % groups == j % groups) m = std::max(m, d[std::size_t(i) * n + j]);
  return m;
}

}  // namespace

TEST(Clustering, AutoThresholdIsTheLowerEndOfTheLargestGap) {
  // Two groups of 6 (interleaved ids), 50 dimensions, centres 30 apart:
  // within-group distances ~10, across ~32. lambda = the largest within.
  const auto two = cloud_distances(2, 6, 50, 30.0, 1);
  const double lambda = auto_threshold(two, 12);
  EXPECT_DOUBLE_EQ(lambda, largest_within(two, 12, 2));
  std::vector<int> truth;
  for (int i = 0; i < 12; ++i) truth.push_back(i % 2);
  EXPECT_DOUBLE_EQ(adjusted_rand_index(pivot_clustering(two, 12, lambda, 7, 0), truth), 1.0);
  // Three groups of 5.
  const auto three = cloud_distances(3, 5, 50, 30.0, 2);
  EXPECT_DOUBLE_EQ(auto_threshold(three, 15), largest_within(three, 15, 3));
  // One group: no gap of ratio 1.25, so lambda is the largest distance.
  auto one = cloud_distances(1, 12, 50, 0.0, 3);
  const double all = *std::max_element(one.begin(), one.end());
  EXPECT_DOUBLE_EQ(auto_threshold(one, 12), all);
  auto single = pivot_clustering(one, 12, auto_threshold(one, 12), 7, 0);
  EXPECT_EQ(*std::max_element(single.begin(), single.end()), 0);
  // A near-duplicate pair is the sparse lower tail (1 pair < n / 2), not a
  // border: its ratio of ~1000 to the next distance is ignored.
  one[0 * 12 + 1] = one[1 * 12 + 0] = 0.01;
  EXPECT_DOUBLE_EQ(auto_threshold(one, 12), all);
  // Degenerate: no pairs; NaN distances ignored.
  EXPECT_EQ(auto_threshold({0.0}, 1), 0.0);
  std::vector<double> nan_pair = {0.0, std::nan(""), std::nan(""), 0.0};
  EXPECT_EQ(auto_threshold(nan_pair, 2), 0.0);
}

TEST(Clustering, DissolveSmallJoinsNearestBigCluster) {
  // Big clusters {0,1,2} near 0 and {3,4,5} near 10; small {6} at 9 and {7} at 1.
  std::vector<double> x{0, 0.5, 1, 10, 10.5, 11, 9, 1};
  auto d = line_distances(x);
  std::vector<int> c{0, 0, 0, 1, 1, 1, 2, 3};
  dissolve_small(c, d, 8, 3);
  EXPECT_EQ(c, (std::vector<int>{0, 0, 0, 1, 1, 1, 1, 0}));

  std::vector<int> none{0, 1, 1, 2, 3, 4, 4, 5};
  dissolve_small(none, d, 8, 3);
  EXPECT_EQ(none, std::vector<int>(8, 0));

  // Surviving labels are kept; relabel compacts them.
  std::vector<int> gaps{5, 5, 5, 9, 9, 9, 2, 7};
  dissolve_small(gaps, d, 8, 3);
  EXPECT_EQ(gaps, (std::vector<int>{5, 5, 5, 9, 9, 9, 9, 5}));
  EXPECT_EQ(relabel(gaps), 2);
  EXPECT_EQ(gaps, (std::vector<int>{0, 0, 0, 1, 1, 1, 1, 0}));
}

TEST(Clustering, MergeCloseIsTransitive) {
  // Cluster models 0..3: 0~2 and 2~3 within lambda, 1 far from all.
  const int k = 4;
  std::vector<double> md(k * k, 100.0);
  for (int i = 0; i < k; ++i) md[i * k + i] = 0;
  auto link = [&](int i, int j, double v) { md[i * k + j] = md[j * k + i] = v; };
  link(0, 2, 1.0);
  link(2, 3, 5.0);
  link(0, 3, 6.0);
  std::vector<int> c{3, 1, 2, 0, 1, 3};
  merge_close(c, md, k, 5.0);
  EXPECT_EQ(c, (std::vector<int>{0, 1, 0, 0, 1, 0}));
  EXPECT_EQ(relabel(c), 2);
  std::vector<int> unchanged{0, 1, 2, 3};
  merge_close(unchanged, md, k, 0.5);
  EXPECT_EQ(unchanged, (std::vector<int>{0, 1, 2, 3}));
}

TEST(Clustering, RelabelByFirstAppearance) {
  std::vector<int> c{7, 7, 3, 9, 3, 0};
  EXPECT_EQ(relabel(c), 4);
  EXPECT_EQ(c, (std::vector<int>{0, 0, 1, 2, 1, 3}));
  std::vector<int> empty;
  EXPECT_EQ(relabel(empty), 0);
}

TEST(Clustering, AdjustedRandIndex) {
  std::vector<int> a{0, 0, 1, 1, 2, 2, 2};
  EXPECT_DOUBLE_EQ(adjusted_rand_index(a, a), 1.0);
  EXPECT_DOUBLE_EQ(adjusted_rand_index(a, {5, 5, 3, 3, 1, 1, 1}), 1.0);  // renamed labels
  // sklearn.metrics.adjusted_rand_score([0,0,1,1],[0,0,1,2]) = 0.5714285714285715 (= 4/7)
  EXPECT_NEAR(adjusted_rand_index({0, 0, 1, 1}, {0, 0, 1, 2}), 0.5714285714285715, 1e-12);
  // sklearn: adjusted_rand_score([0,0,1,1],[0,1,0,1]) = -0.5
  EXPECT_NEAR(adjusted_rand_index({0, 0, 1, 1}, {0, 1, 0, 1}), -0.5, 1e-12);
  // sklearn: adjusted_rand_score([0,0,0,1,1,1],[0,0,1,1,2,2]) = 0.24242424242424246 (= 8/33)
  EXPECT_NEAR(adjusted_rand_index({0, 0, 0, 1, 1, 1}, {0, 0, 1, 1, 2, 2}), 8.0 / 33.0, 1e-12);
  // Degenerate: both one cluster, both all singletons -> 1; one vs all singletons -> 0.
  EXPECT_DOUBLE_EQ(adjusted_rand_index({0, 0, 0}, {1, 1, 1}), 1.0);
  EXPECT_DOUBLE_EQ(adjusted_rand_index({0, 1, 2}, {2, 1, 0}), 1.0);
  EXPECT_DOUBLE_EQ(adjusted_rand_index({0, 0, 0}, {0, 1, 2}), 0.0);
}

// ---------------------------------------------------------------- trimmed mean

TEST(TrimmedMean, KnownValues) {
  // Two columns: [1, 2, 3, 100] and [-4, 0, 8, 4].
  const std::vector<float> v{1, -4, 2, 0, 3, 8, 100, 4};
  float out[2];
  trimmed_mean(v.data(), 4, 2, 0.25, out);
  EXPECT_EQ(out[0], 2.5f);
  EXPECT_EQ(out[1], 2.0f);
  trimmed_mean(v.data(), 4, 2, 0.0, out);
  EXPECT_EQ(out[0], 26.5f);
  EXPECT_EQ(out[1], 2.0f);
  // floor(0.2 * 4) = 0: nothing trimmed.
  trimmed_mean(v.data(), 4, 2, 0.2, out);
  EXPECT_EQ(out[0], 26.5f);
  // m = 5, beta = 0.4: floor(2) = 2 from each side -> the median.
  const std::vector<float> w{9, -1, 7, 3, 1000};
  trimmed_mean(w.data(), 5, 1, 0.4, out);
  EXPECT_EQ(out[0], 7.0f);
}

TEST(TrimmedMean, RowPermutationInvariantBitwise) {
  const std::int64_t m = 13, len = 257;
  auto rng = stream(5, StreamKind::Server);
  std::vector<float> v(m * len);
  for (auto& x : v) x = static_cast<float>(rng.normal() * std::exp(8 * rng.uniform() - 4));
  v[3 * len + 0] = -0.0f;  // signed zeros and infinities in column 0
  v[4 * len + 0] = 0.0f;
  v[5 * len + 0] = std::numeric_limits<float>::infinity();
  for (std::int64_t r = 0; r < m; ++r) v[r * len + 1] = (r % 2) ? -0.0f : 0.0f;
  v[2 * len + 2] = std::numeric_limits<float>::quiet_NaN();  // one NaN, trimmed at beta=0.1

  for (double beta : {0.0, 0.1, 0.2, 0.45}) {
    std::vector<float> ref(len), got(len);
    trimmed_mean(v.data(), m, len, beta, ref.data());
    std::vector<std::int64_t> perm(m);
    std::iota(perm.begin(), perm.end(), 0);
    for (int trial = 0; trial < 5; ++trial) {
      auto prng = stream(trial, StreamKind::Shuffle);
      fedhpc::shuffle(perm.begin(), perm.end(), prng);
      std::vector<float> p(m * len);
      for (std::int64_t r = 0; r < m; ++r) {
        std::copy_n(v.begin() + perm[r] * len, len, p.begin() + r * len);
      }
      trimmed_mean(p.data(), m, len, beta, got.data());
      EXPECT_EQ(std::memcmp(ref.data(), got.data(), len * sizeof(float)), 0) << "beta=" << beta;
    }
    EXPECT_EQ(std::isnan(ref[2]), beta == 0.0);  // the NaN is trimmed once floor(beta*m) >= 1
  }
}

TEST(TrimmedMean, BetaZeroIsPlainMean) {
  const std::int64_t m = 7, len = 64;
  auto rng = stream(8, StreamKind::Server);
  std::vector<float> v(m * len);
  // Multiples of 2^-24 in [-1, 1): their double sum is exact, so any order agrees.
  for (auto& x : v) x = static_cast<float>(rng.uniform(-1.0, 1.0));
  std::vector<float> out(len);
  trimmed_mean(v.data(), m, len, 0.0, out.data());
  for (std::int64_t j = 0; j < len; ++j) {
    double s = 0;
    for (std::int64_t r = 0; r < m; ++r) s += v[r * len + j];
    EXPECT_EQ(out[j], static_cast<float>(s / m));
  }
}

TEST(TrimmedMean, BadBetaAndEmpty) {
  float v[2] = {1, 2}, out[1];
  expect_input_error([&] { trimmed_mean(v, 2, 1, 0.5, out); }, "--trim-fraction");
  EXPECT_THROW(trimmed_mean(v, 2, 1, -0.1, out), InputError);
  EXPECT_THROW(trimmed_mean(v, 2, 1, std::nan(""), out), InputError);
  trimmed_mean(v, 0, 1, 0.1, out);
  EXPECT_TRUE(std::isnan(out[0]));
}
