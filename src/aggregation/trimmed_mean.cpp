#include "fedhpc/aggregation/trimmed_mean.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "fedhpc/core/error.hpp"

namespace fedhpc::aggregation {
namespace {

// Maps a float to an unsigned key whose integer order is a strict total order
// on values: -inf < ... < -0 < +0 < ... < +inf < NaN (every NaN, whatever its
// sign or payload, gets the same largest key). Equal keys are thus identical
// values, so the sorted column, and hence its sum, does not depend on the order
// of the rows. Sorting integers is also faster than a NaN-aware comparator.
std::uint32_t order_key(float x) {
  if (std::isnan(x)) return 0xFFFFFFFFu;
  std::uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return (bits & 0x80000000u) ? ~bits : bits | 0x80000000u;
}

float from_key(std::uint32_t key) {
  if (key == 0xFFFFFFFFu) return std::numeric_limits<float>::quiet_NaN();
  const std::uint32_t bits = (key & 0x80000000u) ? key & 0x7FFFFFFFu : ~key;
  float x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}

}  // namespace

void trimmed_mean(const float* values, std::int64_t m, std::int64_t len, double beta, float* out) {
  if (!(beta >= 0.0 && beta < 0.5)) {
    throw InputError("--trim-fraction: " + std::to_string(beta) + "; need 0 <= beta < 0.5");
  }
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
      nan = nan || column[r] == 0xFFFFFFFFu;
      sum += from_key(column[r]);
    }
    // Canonical NaN: otherwise the payload could depend on which row came first.
    out[j] = nan ? std::numeric_limits<float>::quiet_NaN()
                 : static_cast<float>(sum / static_cast<double>(kept));
  }
}

}  // namespace fedhpc::aggregation
