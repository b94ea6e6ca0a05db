#pragma once
// Private to src/aggregation: the total order on floats that the order
// statistics (trimmed mean, median) sort by.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace fedhpc::aggregation::detail {

// The key of every NaN, whatever its sign or payload: the largest of all.
constexpr std::uint32_t kNanKey = 0xFFFFFFFFu;

// Maps a float to an unsigned key whose integer order is a strict total order
// on values: -inf < ... < -0 < +0 < ... < +inf < NaN. Equal keys are thus
// identical values, so a sorted column, and anything computed from it in
// sorted order, does not depend on the order of the rows. Sorting integers is
// also faster than a NaN-aware comparator.
inline std::uint32_t order_key(float x) {
  if (std::isnan(x)) return kNanKey;
  std::uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return (bits & 0x80000000u) ? ~bits : bits | 0x80000000u;
}

// The inverse of order_key; NaN comes back as the canonical quiet NaN.
inline float from_key(std::uint32_t key) {
  if (key == kNanKey) return std::numeric_limits<float>::quiet_NaN();
  const std::uint32_t bits = (key & 0x80000000u) ? key & 0x7FFFFFFFu : ~key;
  float x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}

}  // namespace fedhpc::aggregation::detail
