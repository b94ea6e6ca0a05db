#include "fedhpc/topology/topology.hpp"

#include <limits>

#include "fedhpc/topology/centralized.hpp"

namespace fedhpc::topology {
ClientBlock block_of_rank(std::int64_t num_clients, int rank, int ranks) {
  return {num_clients * rank / ranks, num_clients * (rank + 1) / ranks};
}

void RoundRecord::reset(std::int64_t block, int iterations, std::int64_t params, bool keep_weights) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  train_loss.assign(std::size_t(block * iterations), nan);
  client_weights.assign(keep_weights ? std::size_t(block * params) : 0, nan);
  participated.assign(std::size_t(block), 0);
  nonfinite_skipped = 0;
}

Registry<TopologyFactory>& topology_registry() {
  static Registry<TopologyFactory> registry = [] {
    Registry<TopologyFactory> r("topology");
    r.add("centralized", [](const TopologyContext& ctx) { return make_centralized(ctx); });
    return r;
  }();
  return registry;
}

}  // namespace fedhpc::topology
