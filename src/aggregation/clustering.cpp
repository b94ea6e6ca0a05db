#include "fedhpc/aggregation/clustering.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <stdexcept>
#include <utility>

#include "fedhpc/core/rng.hpp"

namespace fedhpc::aggregation {
namespace {

void check_square(const std::vector<double>& dist, std::int64_t n, const char* what) {
  if (n < 0 || static_cast<std::int64_t>(dist.size()) != n * n) {
    throw std::invalid_argument(std::string(what) + ": distance matrix is not n x n");
  }
}

// n choose 2, as a double (pair counts of large n overflow nothing there).
double pairs(std::int64_t n) { return 0.5 * static_cast<double>(n) * static_cast<double>(n - 1); }

int find_root(std::vector<int>& parent, int x) {
  while (parent[x] != x) {
    parent[x] = parent[parent[x]];
    x = parent[x];
  }
  return x;
}

}  // namespace

std::vector<int> pivot_clustering(const std::vector<double>& dist, std::int64_t n, double lambda,
                                  std::uint64_t seed, int round) {
  check_square(dist, n, "pivot_clustering");
  auto rng = stream(seed, StreamKind::Server, 0, static_cast<std::uint64_t>(round), 1);
  // Remaining nodes stay in id order so each draw depends only on the inputs.
  std::vector<std::int64_t> remaining(n);
  std::iota(remaining.begin(), remaining.end(), 0);
  std::vector<int> cluster(n, -1);
  int next = 0;
  while (!remaining.empty()) {
    const std::int64_t pivot = remaining[rng.below(remaining.size())];
    std::vector<std::int64_t> rest;
    for (std::int64_t j : remaining) {
      // `<=` is false for NaN, so a NaN distance never links two nodes.
      if (j == pivot || dist[pivot * n + j] <= lambda) {
        cluster[j] = next;
      } else {
        rest.push_back(j);
      }
    }
    remaining.swap(rest);
    ++next;
  }
  return cluster;
}

void dissolve_small(std::vector<int>& cluster, const std::vector<double>& dist, std::int64_t n,
                    int min_size) {
  check_square(dist, n, "dissolve_small");
  if (static_cast<std::int64_t>(cluster.size()) != n) {
    throw std::invalid_argument("dissolve_small: cluster has the wrong length");
  }
  std::map<int, std::int64_t> size;
  for (int c : cluster) ++size[c];
  std::vector<int> big;  // ascending labels: ties go to the lowest one
  for (const auto& [label, count] : size) {
    if (count >= min_size) big.push_back(label);
  }
  if (big.empty()) {
    std::fill(cluster.begin(), cluster.end(), 0);
    return;
  }
  // Decide every move from the original labels, so the result does not depend
  // on the order in which small-cluster members are visited.
  const std::vector<int> before = cluster;
  for (std::int64_t i = 0; i < n; ++i) {
    if (size[before[i]] >= min_size) continue;
    int best = big.front();
    double best_mean = std::numeric_limits<double>::infinity();
    for (int label : big) {
      double sum = 0;
      for (std::int64_t j = 0; j < n; ++j) {
        if (before[j] == label) sum += dist[i * n + j];
      }
      const double mean = sum / static_cast<double>(size[label]);
      if (mean < best_mean) {  // false for NaN
        best = label;
        best_mean = mean;
      }
    }
    cluster[i] = best;
  }
}

void merge_close(std::vector<int>& cluster, const std::vector<double>& model_dist, int k,
                 double lambda) {
  check_square(model_dist, k, "merge_close");
  for (int c : cluster) {
    if (c < 0 || c >= k) throw std::invalid_argument("merge_close: label outside 0..k-1");
  }
  std::vector<int> parent(k);
  std::iota(parent.begin(), parent.end(), 0);
  for (int i = 0; i < k; ++i) {
    for (int j = i + 1; j < k; ++j) {
      if (model_dist[static_cast<std::size_t>(i) * k + j] <= lambda) {
        // Attach the larger root under the smaller so roots are group minima.
        int a = find_root(parent, i), b = find_root(parent, j);
        if (a != b) parent[std::max(a, b)] = std::min(a, b);
      }
    }
  }
  for (int& c : cluster) c = find_root(parent, c);
}

int relabel(std::vector<int>& cluster) {
  std::map<int, int> fresh;
  for (int& c : cluster) {
    auto it = fresh.emplace(c, static_cast<int>(fresh.size())).first;
    c = it->second;
  }
  return static_cast<int>(fresh.size());
}

double adjusted_rand_index(const std::vector<int>& a, const std::vector<int>& b) {
  if (a.size() != b.size()) {
    throw std::invalid_argument("adjusted_rand_index: labelings differ in length");
  }
  std::map<std::pair<int, int>, std::int64_t> joint;
  std::map<int, std::int64_t> rows, cols;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ++joint[{a[i], b[i]}];
    ++rows[a[i]];
    ++cols[b[i]];
  }
  double index = 0, sum_a = 0, sum_b = 0;
  for (const auto& entry : joint) index += pairs(entry.second);
  for (const auto& entry : rows) sum_a += pairs(entry.second);
  for (const auto& entry : cols) sum_b += pairs(entry.second);
  const double total = pairs(static_cast<std::int64_t>(a.size()));
  if (total == 0) return 1.0;
  const double expected = sum_a * sum_b / total;
  const double max_index = 0.5 * (sum_a + sum_b);
  // The denominator vanishes only when both labelings are one cluster or both
  // all singletons, i.e. they agree on every pair (scikit-learn returns 1).
  if (max_index == expected) return 1.0;
  return (index - expected) / (max_index - expected);
}

double auto_threshold(const std::vector<double>& dist, std::int64_t n) {
  std::vector<double> pairs;
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = i + 1; j < n; ++j) {
      const double d = dist[std::size_t(i * n + j)];
      if (std::isfinite(d)) pairs.push_back(d);
    }
  if (pairs.empty()) return 0.0;
  std::sort(pairs.begin(), pairs.end());
  // Groups of two or more clients have at least n / 2 pairs inside them: a
  // gap below that many pairs is the sparse lower tail, not a cluster border.
  const auto first = std::size_t(std::max<std::int64_t>(1, n / 2)) - 1;
  double best_ratio = kAutoGapRatio, lambda = pairs.back();
  for (std::size_t k = first; k + 1 < pairs.size(); ++k) {
    if (pairs[k] <= 0.0) continue;
    const double ratio = pairs[k + 1] / pairs[k];
    if (ratio >= best_ratio) {
      best_ratio = ratio;
      lambda = pairs[k];
    }
  }
  return lambda;
}

}  // namespace fedhpc::aggregation
