#pragma once
// FedAvg per layer for clients that train only some layers (weak clients,
// algorithms.md section 12).
#include <cstdint>
#include <vector>

#include "fedhpc/core/exact_sum.hpp"
#include "fedhpc/core/param_layout.hpp"
#include "fedhpc/mpi/comm.hpp"

namespace fedhpc::aggregation {

// Each weight layer (a weight tensor with the tensors after it up to the next
// weight tensor: its bias) is the sample-weighted mean over the clients that
// trained it, sum n_k theta_k / sum n_k, summed exactly like WeightedMean, so
// the result is the same bits for any number of ranks and any client order.
// A layer nobody trained keeps its value. With every client training every
// layer it is WeightedMean bit for bit.
class LayerwiseMean {
 public:
  explicit LayerwiseMean(const ParamLayout& layout);
  void begin();
  // A client that trained [trained_from, num_params): it adds to every layer
  // that starts at or after trained_from (trained_from is a layer boundary).
  void add(const float* params, std::int64_t weight, std::int64_t trained_from);
  // Writes the layers someone trained into out, on every rank of comm, and
  // leaves the others as they are. Returns false when nobody trained anything.
  bool finish(float* out, const mpi::Comm& comm);
  // Sample weight of each layer in the last finish() (0 = untrained).
  const std::vector<std::int64_t>& layer_weights() const { return weight_; }

 private:
  std::vector<std::int64_t> begin_;  // Lw + 1 boundaries in the flat buffer
  std::vector<ExactSum> numerator_;
  std::vector<std::int64_t> weight_;
};

}  // namespace fedhpc::aggregation
