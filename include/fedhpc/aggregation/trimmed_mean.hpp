#pragma once
#include <cstdint>

namespace fedhpc::aggregation {

// Coordinate-wise beta-trimmed mean (Yin et al. 2018; algorithms.md section 4).
// values: m rows (clients) x len columns (a coordinate slice), row-major.
// For each column: sort the m values, drop the floor(beta*m) smallest and the
// floor(beta*m) largest, and average the rest (plain, unweighted mean).
//
// The result does not depend on the order of the rows, bit for bit: values are
// sorted by a total order (-0 before +0, NaN after +inf) and summed in that
// order. NaNs are thus trimmed as if they were the largest values; if one is
// still among the kept values the output is a quiet NaN. m = 0 gives NaN.
// beta (--trim-fraction) must be in [0, 0.5) (InputError otherwise).
void trimmed_mean(const float* values, std::int64_t m, std::int64_t len, double beta, float* out);

}  // namespace fedhpc::aggregation
