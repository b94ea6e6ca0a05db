#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "fedhpc/mpi/comm.hpp"
#include "fedhpc/topology/topology.hpp"

namespace fedhpc::client {
class LocalTrainer;
}

namespace fedhpc::metrics {

struct LossAccuracy {
  double loss = 0.0;      // mean cross-entropy per sample (NaN without samples)
  double accuracy = 0.0;  // fraction correct (NaN without samples)
};

// The global test set, cut into fixed chunks of `chunk` samples (one forward
// pass each) that are dealt to ranks round-robin. Every sample's loss is one
// term of an exact sum, so the result does not depend on the number of ranks
// or on which rank evaluated which chunk. Collective.
LossAccuracy evaluate_global(client::LocalTrainer& trainer, const float* params, std::int64_t test_samples,
                             std::int64_t chunk, const mpi::Comm& comm);

struct ClientEvaluation {
  std::vector<float> loss;      // per client of the block
  std::vector<float> accuracy;  // per client of the block
  LossAccuracy aggregated;      // sample-weighted over all clients
};

// Every client of the block on its local test split, each on the model
// model_of(client) gives. Collective.
ClientEvaluation evaluate_clients(client::LocalTrainer& trainer,
                                  const std::function<const float*(std::int64_t)>& model_of,
                                  const data::Partition& partition, topology::ClientBlock block,
                                  const mpi::Comm& comm);

}  // namespace fedhpc::metrics
