#pragma once
#include <cstdint>
#include <memory>

#include "fedhpc/aggregation/aggregator.hpp"
#include "fedhpc/aggregation/sharded_models.hpp"
#include "fedhpc/aggregation/weighted_mean.hpp"

namespace fedhpc::aggregation {

// Coordinate-wise beta-trimmed mean (Yin et al. 2018; algorithms.md section 4).
// values: m rows (clients) x len columns (a coordinate slice), row-major.
// For each column: sort the m values, drop the floor(beta*m) smallest and the
// floor(beta*m) largest, and average the rest (plain, unweighted mean).
//
// The result does not depend on the order of the rows, bit for bit: values are
// sorted by a total order (-0 before +0, NaN after +inf) and summed in that
// order. NaNs are thus trimmed as if they were the largest values; if one is
// still among the kept values (or -inf and +inf both are) the output is the
// canonical quiet NaN. m = 0 gives NaN.
// beta (--trim-fraction) must be in [0, 0.5) (InputError otherwise).
void trimmed_mean(const float* values, std::int64_t m, std::int64_t len, double beta, float* out);

// `trimmed-mean`: trimmed_mean() over the models of all ranks, by coordinate
// slices (ShardedModels), unweighted. beta = 0 is instead the exact
// sample-weighted mean, delegated to WeightedMean so that it is bit for bit
// fedavg (and is_weighted_mean() is true). InputError naming --trim-fraction
// unless 0 <= beta < 0.5.
class TrimmedMean : public Aggregator {
 public:
  explicit TrimmedMean(double beta);
  void begin(std::int64_t num_params) override;
  void add(std::int64_t id, const float* params, std::int64_t weight) override;
  bool finish(float* out, const mpi::Comm& comm) override;
  bool is_weighted_mean() const override { return mean_ != nullptr; }

 private:
  double beta_;
  std::unique_ptr<WeightedMean> mean_;  // beta = 0 only
  ShardedModels models_;
};

}  // namespace fedhpc::aggregation
