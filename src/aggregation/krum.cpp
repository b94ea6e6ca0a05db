#include "fedhpc/aggregation/krum.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "fedhpc/core/error.hpp"
#include "fedhpc/core/exact_sum.hpp"
#include "fedhpc/mpi/exact_reduce.hpp"

namespace fedhpc::aggregation {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// ExactSum holds terms up to about 2^224; block partials above 2^200 (or not
// finite) go in as +inf, which flags the pair, so they can never overflow it.
const double kMaxPartial = std::ldexp(1.0, 200);

// Index of pair (i, j), i < j, in the upper triangle, row by row.
std::size_t pair_index(std::int64_t i, std::int64_t j, std::int64_t n) {
  return std::size_t(i * n - i * (i + 1) / 2 + (j - i - 1));
}

// Sum of (a - b)^2 over len coordinates, in double, in coordinate order.
double block_partial(const float* a, const float* b, std::int64_t len) {
  double sum = 0;
  for (std::int64_t c = 0; c < len; ++c) {
    const double d = double(a[c]) - double(b[c]);
    sum += d * d;
  }
  return sum;
}

}  // namespace

std::vector<double> krum_scores(const std::vector<double>& distances, std::int64_t n, int f) {
  const std::int64_t nearest = n - f - 2;
  std::vector<double> scores(static_cast<std::size_t>(n)), row;
  for (std::int64_t i = 0; i < n; ++i) {
    row.clear();
    for (std::int64_t j = 0; j < n; ++j) {
      const double d = distances[std::size_t(i * n + j)];
      if (j != i) row.push_back(std::isnan(d) ? kInf : d);
    }
    std::sort(row.begin(), row.end());
    double score = 0;
    for (std::int64_t k = 0; k < nearest && k < std::int64_t(row.size()); ++k) score += row[std::size_t(k)];
    scores[std::size_t(i)] = score;
  }
  return scores;
}

std::vector<std::int64_t> krum_ranking(const std::vector<double>& scores) {
  std::vector<std::int64_t> order(scores.size());
  std::iota(order.begin(), order.end(), std::int64_t{0});
  // Stable sort keeps equal scores in index order, i.e. lower id first.
  std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
    const double sa = std::isnan(scores[std::size_t(a)]) ? kInf : scores[std::size_t(a)];
    const double sb = std::isnan(scores[std::size_t(b)]) ? kInf : scores[std::size_t(b)];
    return sa < sb;
  });
  return order;
}

Krum::Krum(const AggregatorOptions& options, bool multi)
    : multi_(multi), f_(options.byzantine), select_(options.krum_select) {
  if (f_ < 0) throw InputError("--byzantine: " + std::to_string(f_) + "; need f >= 0");
  if (multi_ && select_ < 0)
    throw InputError("--krum-select: " + std::to_string(select_) + "; need m >= 1, or 0 for n - f");
}

void Krum::check_count(std::int64_t n) const {
  if (n > 2 * std::int64_t(f_) + 2) return;
  throw InputError(std::string("--byzantine: ") + name() + " needs more than 2f+2 = " +
                   std::to_string(2 * std::int64_t(f_) + 2) + " models at an aggregation point; it got " +
                   std::to_string(n));
}

std::int64_t Krum::selected_count(std::int64_t n) const {
  if (!multi_) return 1;
  const std::int64_t m = select_ == 0 ? n - f_ : select_;
  if (m > n)
    throw InputError("--krum-select: " + std::to_string(m) + " models to average, but the aggregation point got " +
                     std::to_string(n) + "; need 1 <= m <= n");
  return m;
}

// All n x n squared distances, on every rank: each rank adds the block
// partials of its slice exactly, then one exact all-reduce sums the ranks.
std::vector<double> Krum::squared_distances(const mpi::Comm& comm) const {
  const std::int64_t n = models_.count(), len = models_.slice_size(), block = models_.block_size();
  ExactSum sums(std::size_t(n * (n - 1) / 2));
  for (std::int64_t b = 0; b < len; b += block) {
    const std::int64_t size = std::min(block, len - b);
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = i + 1; j < n; ++j) {
        const double partial = block_partial(models_.row(i) + b, models_.row(j) + b, size);
        sums.add(pair_index(i, j, n), partial <= kMaxPartial ? partial : kInf);
      }
  }
  mpi::allreduce(sums, comm);
  std::vector<double> distances(std::size_t(n * n), 0.0);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = i + 1; j < n; ++j) {
      const double d = sums.value(pair_index(i, j, n));  // NaN: a flagged pair
      distances[std::size_t(i * n + j)] = distances[std::size_t(j * n + i)] = std::isnan(d) ? kInf : d;
    }
  return distances;
}

// The exact sample-weighted mean of the chosen models on this rank's slice;
// the same bits as WeightedMean gives for those models. False: weight 0.
bool Krum::weighted_mean_slice(const std::vector<std::int64_t>& chosen, float* slice) const {
  ExactSum numerator(std::size_t(models_.slice_size()));
  std::int64_t weight = 0;
  for (auto k : chosen) {
    numerator.add_scaled(models_.row(k), double(models_.weights()[std::size_t(k)]));
    weight += models_.weights()[std::size_t(k)];
  }
  if (weight == 0) return false;
  numerator.divide_into(slice, double(weight));
  return true;
}

bool Krum::finish(float* out, const mpi::Comm& comm) {
  const std::int64_t n = models_.exchange(comm);
  if (n == 0) return false;
  check_count(n);
  const std::int64_t m = selected_count(n);
  const auto ranking = krum_ranking(krum_scores(squared_distances(comm), n, f_));
  std::vector<std::int64_t> chosen(ranking.begin(), ranking.begin() + m);
  std::vector<float> slice(std::size_t(models_.slice_size()));
  if (multi_) {
    // Every rank knows every weight, so all return false together.
    if (!weighted_mean_slice(chosen, slice.data())) return false;
  } else {
    std::copy_n(models_.row(chosen[0]), slice.size(), slice.begin());
  }
  models_.assemble(slice.data(), out, comm);
  return true;
}

}  // namespace fedhpc::aggregation
