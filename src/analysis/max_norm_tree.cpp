#include "fedhpc/analysis/max_norm_tree.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace fedhpc::analysis {

namespace {
constexpr std::int64_t kLeafSize = 16;
}

MaxNormTree::MaxNormTree(const double* points, std::int64_t n, std::int64_t dims) : n_(n), d_(dims) {
  if (n < 1 || dims < 1) throw std::invalid_argument("MaxNormTree: needs at least one point and one dimension");
  points_.assign(points, points + n * dims);
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  // The build permutes `order`; points_ is rearranged to match afterwards.
  pos_ = std::move(order);
  nodes_.reserve(std::size_t(2 * (n / kLeafSize + 1)));
  build(0, n);
  std::vector<double> sorted(points_.size());
  std::vector<std::int64_t> position(static_cast<std::size_t>(n));
  for (std::int64_t t = 0; t < n; ++t) {
    const auto original = pos_[std::size_t(t)];
    std::copy_n(&points_[std::size_t(original * d_)], d_, &sorted[std::size_t(t * d_)]);
    position[std::size_t(original)] = t;
  }
  points_ = std::move(sorted);
  pos_ = std::move(position);
}

// Splits at the median of the widest side of the node's bounding box. While
// building, pos_ is the order of the original indices and points_ is untouched.
std::int32_t MaxNormTree::build(std::int64_t begin, std::int64_t end) {
  const auto id = std::int32_t(nodes_.size());
  nodes_.push_back({begin, end});
  lo_.resize(lo_.size() + std::size_t(d_), INFINITY);
  hi_.resize(hi_.size() + std::size_t(d_), -INFINITY);
  double* lo = &lo_[std::size_t(id) * std::size_t(d_)];
  double* hi = &hi_[std::size_t(id) * std::size_t(d_)];
  for (std::int64_t t = begin; t < end; ++t) {
    const double* p = &points_[std::size_t(pos_[std::size_t(t)] * d_)];
    for (std::int64_t j = 0; j < d_; ++j) {
      lo[j] = std::min(lo[j], p[j]);
      hi[j] = std::max(hi[j], p[j]);
    }
  }
  if (end - begin <= kLeafSize) return id;
  std::int64_t axis = 0;
  for (std::int64_t j = 1; j < d_; ++j)
    if (hi[j] - lo[j] > hi[axis] - lo[axis]) axis = j;
  if (!(hi[axis] > lo[axis])) return id;  // all points equal: one leaf
  const std::int64_t mid = begin + (end - begin) / 2;
  // Ties broken by index, so the tree is a function of the data alone.
  std::nth_element(pos_.begin() + begin, pos_.begin() + mid, pos_.begin() + end, [&](std::int64_t a, std::int64_t b) {
    const double va = points_[std::size_t(a * d_ + axis)], vb = points_[std::size_t(b * d_ + axis)];
    return va < vb || (va == vb && a < b);
  });
  const auto left = build(begin, mid);
  const auto right = build(mid, end);
  nodes_[std::size_t(id)].left = left;
  nodes_[std::size_t(id)].right = right;
  return id;
}

double MaxNormTree::distance(const double* a, const double* b) const {
  double m = 0.0;
  for (std::int64_t j = 0; j < d_; ++j) m = std::max(m, std::fabs(a[j] - b[j]));
  return m;
}

// Rounded subtraction is monotone, so these bounds hold exactly for the
// rounded point distances: pruning never changes a result.
double MaxNormTree::box_min(std::int32_t id, const double* q) const {
  const double* lo = &lo_[std::size_t(id) * std::size_t(d_)];
  const double* hi = &hi_[std::size_t(id) * std::size_t(d_)];
  double m = 0.0;
  for (std::int64_t j = 0; j < d_; ++j) m = std::max(m, std::max(lo[j] - q[j], q[j] - hi[j]));
  return m;
}

double MaxNormTree::box_max(std::int32_t id, const double* q) const {
  const double* lo = &lo_[std::size_t(id) * std::size_t(d_)];
  const double* hi = &hi_[std::size_t(id) * std::size_t(d_)];
  double m = 0.0;
  for (std::int64_t j = 0; j < d_; ++j) m = std::max(m, std::max(q[j] - lo[j], hi[j] - q[j]));
  return m;
}

// heap: a max-heap of the smallest distances seen, at most `want` of them.
void MaxNormTree::knn(std::int32_t id, const double* q, std::vector<double>& heap, std::size_t want) const {
  const Node& node = nodes_[std::size_t(id)];
  if (heap.size() == want && box_min(id, q) >= heap.front()) return;
  if (node.left < 0) {
    for (std::int64_t t = node.begin; t < node.end; ++t) {
      const double dist = distance(q, &points_[std::size_t(t * d_)]);
      if (heap.size() < want) {
        heap.push_back(dist);
        std::push_heap(heap.begin(), heap.end());
      } else if (dist < heap.front()) {
        std::pop_heap(heap.begin(), heap.end());
        heap.back() = dist;
        std::push_heap(heap.begin(), heap.end());
      }
    }
    return;
  }
  const double dl = box_min(node.left, q), dr = box_min(node.right, q);
  if (dl <= dr) {
    knn(node.left, q, heap, want);
    knn(node.right, q, heap, want);
  } else {
    knn(node.right, q, heap, want);
    knn(node.left, q, heap, want);
  }
}

double MaxNormTree::kth_neighbour_distance(std::int64_t i, int k) const {
  if (k < 1 || k >= n_) throw std::invalid_argument("MaxNormTree: k must be in [1, N)");
  // The point itself is the nearest (distance 0): the k-th other point is
  // the (k+1)-th nearest of all.
  std::vector<double> heap;
  heap.reserve(std::size_t(k) + 1);
  knn(0, point(i), heap, std::size_t(k) + 1);
  return heap.front();
}

std::int64_t MaxNormTree::count(std::int32_t id, const double* q, double r) const {
  const Node& node = nodes_[std::size_t(id)];
  if (box_min(id, q) >= r) return 0;
  if (box_max(id, q) < r) return node.end - node.begin;
  if (node.left < 0) {
    std::int64_t c = 0;
    for (std::int64_t t = node.begin; t < node.end; ++t) c += distance(q, &points_[std::size_t(t * d_)]) < r;
    return c;
  }
  return count(node.left, q, r) + count(node.right, q, r);
}

std::int64_t MaxNormTree::count_within(const double* q, double r) const { return count(0, q, r); }

}  // namespace fedhpc::analysis
