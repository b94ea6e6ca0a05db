#pragma once
#include <cstdint>
#include <vector>

namespace fedhpc::analysis {

// A k-d tree over N points of dimension d (row-major, copied in) for the two
// queries of the KSG estimator under the max-norm ||a - b||_inf:
//  * the distance from a point of the set to its k-th nearest other point;
//  * how many points lie strictly closer than r to a point.
// Memory is O(N d); a query visits O(log N) leaves for low d and degrades
// towards N for high d (a k-d tree's usual limit), never O(N^2) memory.
// Results are distances and counts only, so they do not depend on how ties
// between equally distant points are ordered in the tree.
class MaxNormTree {
 public:
  MaxNormTree(const double* points, std::int64_t n, std::int64_t dims);

  std::int64_t size() const { return n_; }
  std::int64_t dims() const { return d_; }
  // Point i in the order given to the constructor.
  const double* point(std::int64_t i) const { return &points_[std::size_t(pos_[std::size_t(i)] * d_)]; }

  // Max-norm distance from point i to its k-th nearest other point (k >= 1,
  // k < N); a duplicate of point i counts as an other point at distance 0.
  double kth_neighbour_distance(std::int64_t i, int k) const;
  // #{j : ||q - x_j||_inf < r}, strict; q itself is counted if it is in the set.
  std::int64_t count_within(const double* q, double r) const;

 private:
  struct Node {
    std::int64_t begin, end;  // range in order_
    std::int32_t left = -1, right = -1;
  };
  std::int32_t build(std::int64_t begin, std::int64_t end);
  double box_min(std::int32_t id, const double* q) const;
  double box_max(std::int32_t id, const double* q) const;
  void knn(std::int32_t id, const double* q, std::vector<double>& heap, std::size_t want) const;
  std::int64_t count(std::int32_t id, const double* q, double r) const;
  double distance(const double* a, const double* b) const;

  std::int64_t n_, d_;
  std::vector<double> points_;   // in tree order
  std::vector<std::int64_t> pos_;  // tree position of original point i
  std::vector<Node> nodes_;
  std::vector<double> lo_, hi_;  // bounding box of each node, d per node
};

}  // namespace fedhpc::analysis
