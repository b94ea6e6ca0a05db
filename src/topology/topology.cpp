#include "fedhpc/topology/topology.hpp"

#include <limits>

#include "fedhpc/topology/centralized.hpp"

namespace fedhpc::topology {
ClientBlock block_of_rank(std::int64_t num_clients, int rank, int ranks) {
  return {num_clients * rank / ranks, num_clients * (rank + 1) / ranks};
}

void RoundRecord::reset(const RecordShape& r) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const auto n = [](auto... dims) { return std::size_t((std::int64_t(1) * ... * std::int64_t(dims))); };
  train_loss.assign(n(r.block, r.iterations), nan);
  client_weights.assign(r.keep_weights ? n(r.block, r.params) : 0, nan);
  participated.assign(n(r.block), 0);
  nonfinite.assign(n(r.block), 0);
  gsc.assign(n(r.monitored, r.block), nan);
  gsc_profile.assign(n(r.monitored, r.block, r.weight_layers), nan);
  grad_mean_abs.assign(n(r.monitored, r.block, r.weight_layers), nan);
  grad_l2.assign(n(r.monitored, r.block, r.weight_layers), nan);
  update_sum.assign(n(r.monitored, r.block), nan);
  update_l1.assign(n(r.monitored, r.block), nan);
  gradients.assign(r.keep_gradients ? n(r.block, r.params) : 0, nan);
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
