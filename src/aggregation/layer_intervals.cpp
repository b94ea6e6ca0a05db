#include "fedhpc/aggregation/layer_intervals.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace fedhpc::aggregation {

double layer_discrepancy(double squared_distance_sum, std::int64_t clients, int interval, std::int64_t dim) {
  if (clients <= 0 || dim <= 0) return std::numeric_limits<double>::quiet_NaN();
  return squared_distance_sum / double(clients) / (double(interval) * double(dim));
}

std::vector<std::uint8_t> relaxed_set(const std::vector<double>& d, const std::vector<std::int64_t>& dims) {
  const std::size_t n = d.size();
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return d[a] < d[b]; });
  double total_d = 0.0, total_dim = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    total_d += d[i] * double(dims[i]);
    total_dim += double(dims[i]);
  }
  std::vector<std::uint8_t> relaxed(n, 0);
  double acc_d = 0.0, acc_dim = 0.0;
  for (std::size_t i : order) {
    relaxed[i] = 1;
    acc_d += d[i] * double(dims[i]);
    acc_dim += double(dims[i]);
    const double delta = total_d > 0.0 ? acc_d / total_d : 0.0;
    if (delta > 1.0 - acc_dim / total_dim) break;
  }
  return relaxed;
}

std::vector<int> next_intervals(const ParamLayout& layout, const std::vector<double>& d, int tau, int phi,
                                const std::vector<int>& current) {
  const auto weights = layout.weight_layers();
  std::vector<double> wd;
  std::vector<std::int64_t> wdim;
  for (auto l : weights) {
    if (std::isnan(d[l])) return current;
    wd.push_back(d[l]);
    wdim.push_back(layout.layers()[l].size);
  }
  const auto relaxed = relaxed_set(wd, wdim);
  std::vector<int> next(layout.layers().size(), tau);
  for (std::size_t i = 0; i < weights.size(); ++i)
    if (relaxed[i]) next[weights[i]] = phi * tau;
  return next;
}

}  // namespace fedhpc::aggregation
