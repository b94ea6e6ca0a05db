#pragma once
#include "fedhpc/aggregation/aggregator.hpp"
#include "fedhpc/core/exact_sum.hpp"

namespace fedhpc::aggregation {

// FedAvg: the sample-weighted mean sum_k n_k theta_k / sum_k n_k, with the
// numerator summed exactly, so the result is the same bits for any number of
// ranks and any client order.
class WeightedMean : public Aggregator {
 public:
  void begin(std::int64_t num_params) override;
  void add(std::int64_t id, const float* params, std::int64_t weight) override;
  bool is_weighted_mean() const override { return true; }
  // numerator() is unspecified afterwards (each rank sums only a slice).
  bool finish(float* out, const mpi::Comm& comm) override;
  // The same result, with numerator() holding the exact total afterwards,
  // for aggregators that need the unrounded mean.
  bool finish_keeping_total(float* out, const mpi::Comm& comm);

  // The exact partial sums, for topologies that pass sums instead of means.
  ExactSum& numerator() { return numerator_; }
  std::int64_t& weight() { return weight_; }

 private:
  ExactSum numerator_;
  std::int64_t weight_ = 0;
};

}  // namespace fedhpc::aggregation
