#include "fedhpc/aggregation/trimmed_mean.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "fedhpc/core/error.hpp"
#include "float_order.hpp"

namespace fedhpc::aggregation {
using detail::from_key;
using detail::kNanKey;
using detail::order_key;

namespace {

void check_beta(double beta) {
  if (!(beta >= 0.0 && beta < 0.5)) {
    throw InputError("--trim-fraction: " + std::to_string(beta) + "; need 0 <= beta < 0.5");
  }
}

}  // namespace

void trimmed_mean(const float* values, std::int64_t m, std::int64_t len, double beta, float* out) {
  check_beta(beta);
  const auto trim = static_cast<std::int64_t>(std::floor(beta * static_cast<double>(m)));
  const std::int64_t kept = m - 2 * trim;  // >= 1 when m >= 1, since beta < 0.5
  std::vector<std::uint32_t> column(static_cast<std::size_t>(std::max<std::int64_t>(m, 0)));
  for (std::int64_t j = 0; j < len; ++j) {
    if (m <= 0) {
      out[j] = std::numeric_limits<float>::quiet_NaN();
      continue;
    }
    for (std::int64_t r = 0; r < m; ++r) column[r] = order_key(values[r * len + j]);
    std::sort(column.begin(), column.end());
    // Summing in sorted order makes the (rounded) double sum a function of
    // the multiset of values only.
    double sum = 0;
    bool nan = false;
    for (std::int64_t r = trim; r < trim + kept; ++r) {
      nan = nan || column[r] == kNanKey;
      sum += from_key(column[r]);
    }
    // Canonical NaN: otherwise the payload could depend on which row came
    // first, or (for -inf + inf among the kept values) on the hardware.
    out[j] = nan || std::isnan(sum) ? std::numeric_limits<float>::quiet_NaN()
                 : static_cast<float>(sum / static_cast<double>(kept));
  }
}

TrimmedMean::TrimmedMean(double beta) : beta_(beta) {
  check_beta(beta);
  if (beta == 0.0) mean_ = std::make_unique<WeightedMean>();
}

void TrimmedMean::begin(std::int64_t num_params) {
  if (mean_) mean_->begin(num_params);
  else models_.begin(num_params);
}

void TrimmedMean::add(std::int64_t id, const float* params, std::int64_t weight) {
  if (mean_) mean_->add(id, params, weight);
  else models_.add(id, params, weight);
}

bool TrimmedMean::finish(float* out, const mpi::Comm& comm) {
  if (mean_) return mean_->finish(out, comm);
  const double beta = beta_;
  return reduce_by_slices(models_, comm, out,
                          [beta](const float* rows, std::int64_t m, std::int64_t len, float* slice) {
                            trimmed_mean(rows, m, len, beta, slice);
                          });
}

}  // namespace fedhpc::aggregation
