#pragma once
// FedLAMA's layer-wise aggregation intervals (Lee et al. 2021; algorithms.md
// section 9): the discrepancy metric d_l and the choice of the relaxed set.
#include <cstdint>
#include <vector>

#include "fedhpc/core/param_layout.hpp"

namespace fedhpc::aggregation {

// d_l = (1/m) sum_i ||u_l - x_l^i||^2 / (tau_l * dim(l)), from the exact sum
// over the m synchronised clients of their squared distances to the new
// average. NaN when m = 0 (nobody synchronised).
double layer_discrepancy(double squared_distance_sum, std::int64_t clients, int interval, std::int64_t dim);

// The relaxed set: flags (one per entry of d) of the tensors that get the
// long interval. The tensors are walked by ascending d (ties by index),
// accumulating delta = sum d*dim / sum_all d*dim and lambda = sum dim /
// sum_all dim over the walked list; each walked tensor joins, and the walk
// stops right after the first one where delta > 1 - lambda. With zero total
// discrepancy delta is 0 throughout and every tensor is relaxed.
std::vector<std::uint8_t> relaxed_set(const std::vector<double>& d, const std::vector<std::int64_t>& dims);

// The next interval of every tensor of `layout`: weight tensors in the
// relaxed set (chosen among the weight tensors only) get phi * tau, other
// weight tensors tau; biases and normalisation parameters always tau. A NaN
// discrepancy (nobody synchronised) keeps `current`.
std::vector<int> next_intervals(const ParamLayout& layout, const std::vector<double>& d, int tau, int phi,
                                const std::vector<int>& current);

}  // namespace fedhpc::aggregation
