#pragma once
#include <cstdint>
#include <vector>

namespace fedhpc::aggregation {

// Building blocks of SR-FCA-like dynamic clustering (algorithms.md section 4).
// Distance matrices are n x n (or k x k), row-major, symmetric. A NaN distance
// never counts as "close". Cluster labels are non-negative ints.

// Pivot correlation clustering on the graph {i ~ j : dist(i, j) <= lambda}:
// repeatedly pick a uniformly random remaining node (stream(seed, Server, 0,
// round, 1)) and cluster it with its remaining neighbours. Labels 0, 1, ... in
// order of creation.
std::vector<int> pivot_clustering(const std::vector<double>& dist, std::int64_t n, double lambda,
                                  std::uint64_t seed, int round);

// Clusters with fewer than min_size members are dissolved: each of their
// members joins the big cluster (size >= min_size) with the smallest mean
// distance from the member to that cluster's members (ties and all-NaN: the
// lowest label). If no cluster is big, everything becomes cluster 0.
// Surviving labels are kept (not compacted); call relabel() afterwards.
void dissolve_small(std::vector<int>& cluster, const std::vector<double>& dist, std::int64_t n,
                    int min_size);

// Merge clusters whose models are within lambda: labels must be in 0..k-1,
// model_dist is the k x k distance matrix between cluster models. Pairs with
// distance <= lambda are merged transitively (union-find); each cluster takes
// the smallest label of its merged group. Call relabel() to compact.
void merge_close(std::vector<int>& cluster, const std::vector<double>& model_dist, int k,
                 double lambda);

// --cluster-threshold auto: lambda from one round's n x n client distances.
// The finite pairwise distances (i < j) are sorted; among consecutive
// positive ones with at least n / 2 pairs at or below the lower (groups of
// two or more have that many pairs inside them; below is the sparse lower
// tail), the largest ratio d_hi / d_lo, if at least kAutoGapRatio, marks the
// gap between "within a cluster" and "across clusters", and lambda is d_lo,
// the largest within-cluster distance: it links every pair below the gap and,
// being as small as that allows, keeps the merge step (same lambda) from
// joining cluster models that lie closer than the clients across the gap.
// Without such a gap lambda is the largest distance (one cluster). No pairs: 0.
inline constexpr double kAutoGapRatio = 1.25;
double auto_threshold(const std::vector<double>& dist, std::int64_t n);

// Relabel to 0..k-1 in order of first appearance; returns k.
int relabel(std::vector<int>& cluster);

// Adjusted Rand index (Hubert & Arabie) of two labelings of the same items.
// Degenerate cases follow scikit-learn: 1.0 when the two labelings agree on
// every pair even though the index is undefined (e.g. both one cluster).
double adjusted_rand_index(const std::vector<int>& a, const std::vector<int>& b);

}  // namespace fedhpc::aggregation
