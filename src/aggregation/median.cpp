#include "fedhpc/aggregation/median.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "float_order.hpp"

namespace fedhpc::aggregation {
namespace {

float mean_of_two(std::uint32_t a, std::uint32_t b) {
  const double mid = (double(detail::from_key(a)) + double(detail::from_key(b))) / 2.0;
  // inf + (-inf) and NaN inputs: one canonical NaN, whatever the hardware made.
  return std::isnan(mid) ? std::numeric_limits<float>::quiet_NaN() : static_cast<float>(mid);
}

}  // namespace

void coordinate_median(const float* values, std::int64_t m, std::int64_t len, float* out) {
  std::vector<std::uint32_t> column(std::size_t(std::max<std::int64_t>(m, 0)));
  const std::int64_t upper = m / 2;  // the middle (odd m) or the upper middle (even m)
  for (std::int64_t j = 0; j < len; ++j) {
    if (m <= 0) {
      out[j] = std::numeric_limits<float>::quiet_NaN();
      continue;
    }
    for (std::int64_t r = 0; r < m; ++r) column[std::size_t(r)] = detail::order_key(values[r * len + j]);
    // Keys are a strict total order on values, so the k-th key is a function
    // of the multiset alone; partial selection suffices.
    std::nth_element(column.begin(), column.begin() + upper, column.end());
    const std::uint32_t b = column[std::size_t(upper)];
    if (m % 2 == 1) {
      out[j] = detail::from_key(b);
    } else {
      const std::uint32_t a = *std::max_element(column.begin(), column.begin() + upper);
      out[j] = mean_of_two(a, b);
    }
  }
}

bool CoordinateMedian::finish(float* out, const mpi::Comm& comm) {
  return reduce_by_slices(models_, comm, out, coordinate_median);
}

}  // namespace fedhpc::aggregation
