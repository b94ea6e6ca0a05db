#pragma once
#include <cstdint>

#include "fedhpc/aggregation/aggregator.hpp"
#include "fedhpc/aggregation/sharded_models.hpp"

namespace fedhpc::aggregation {

// Coordinate-wise median (Yin et al. 2018), unweighted.
// values: m rows (models) x len columns, row-major. Per column, with the
// values ordered by the total order of trimmed_mean (-0 before +0, NaN after
// +inf): odd m gives the middle value itself; even m gives (a + b) / 2 of the
// two middle values, computed in double and rounded to float once. A NaN
// result (a NaN among the middle values, or -inf and +inf) is the canonical
// quiet NaN. The result depends only on the multiset of each column, bit for
// bit. m = 0 gives NaN.
void coordinate_median(const float* values, std::int64_t m, std::int64_t len, float* out);

// `median`: coordinate_median over the models of all ranks, by coordinate
// slices (ShardedModels); weights are ignored.
class CoordinateMedian : public Aggregator {
 public:
  void begin(std::int64_t num_params) override { models_.begin(num_params); }
  void add(std::int64_t id, const float* params, std::int64_t weight) override { models_.add(id, params, weight); }
  bool finish(float* out, const mpi::Comm& comm) override;

 private:
  ShardedModels models_;
};

}  // namespace fedhpc::aggregation
