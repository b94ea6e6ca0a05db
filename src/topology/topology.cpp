#include "fedhpc/topology/topology.hpp"

#include <limits>

#include "fedhpc/client/local_trainer.hpp"
#include "fedhpc/core/error.hpp"
#include "fedhpc/topology/centralized.hpp"
#include "fedhpc/topology/clustered.hpp"
#include "fedhpc/topology/gossip.hpp"
#include "fedhpc/topology/hierarchical.hpp"
#include "fedhpc/topology/ring.hpp"

namespace fedhpc::topology {

void Topology::load_state(const TopologyState& state) {
  if (!state.empty()) throw RunError("the checkpoint holds topology state this topology does not keep");
}

ClientBlock block_of_rank(std::int64_t num_clients, int rank, int ranks) {
  return {num_clients * rank / ranks, num_clients * (rank + 1) / ranks};
}

void RoundRecord::reset(const RecordShape& r) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const auto n = [](auto... dims) { return std::size_t((std::int64_t(1) * ... * std::int64_t(dims))); };
  train_loss.assign(n(r.block, r.iterations), nan);
  client_weights.assign(r.keep_weights ? n(r.block, r.params) : 0, nan);
  participated.assign(n(r.block), 0);
  dropped.assign(n(r.block), 0);
  nonfinite.assign(n(r.block), 0);
  gsc.assign(n(r.monitored, r.block), nan);
  input_grad_rms.assign(n(r.monitored, r.block), nan);
  gsc_profile.assign(n(r.monitored, r.block, r.weight_layers), nan);
  grad_mean_abs.assign(n(r.monitored, r.block, r.weight_layers), nan);
  grad_l2.assign(n(r.monitored, r.block, r.weight_layers), nan);
  update_sum.assign(n(r.monitored, r.block), nan);
  update_l1.assign(n(r.monitored, r.block), nan);
  gradients.assign(r.keep_gradients ? n(r.block, r.params) : 0, nan);
  iteration_test_loss.assign(n(r.monitored, r.block), nan);
  nonfinite_skipped = 0;
  comm_bytes.fill(0.0);
  consensus_distance = std::numeric_limits<double>::quiet_NaN();
}

void record_sample(RoundRecord& record, std::int64_t block, int weight_layers, int slot, std::int64_t local,
                   const client::MonitorSample& m) {
  const auto b = std::size_t(block), lw = std::size_t(weight_layers), c = std::size_t(local);
  const auto s = std::size_t(slot);
  record.gsc[s * b + c] = static_cast<float>(m.diagnostics.gsc);
  record.input_grad_rms[s * b + c] = static_cast<float>(m.diagnostics.input_grad_rms);
  record.update_sum[s * b + c] = static_cast<float>(m.update_sum);
  record.update_l1[s * b + c] = static_cast<float>(m.update_l1);
  record.iteration_test_loss[s * b + c] = static_cast<float>(m.local_test_loss);
  for (std::size_t k = 0; k < lw; ++k) {
    const auto at = (s * b + c) * lw + k;
    record.gsc_profile[at] = static_cast<float>(m.diagnostics.gsc_profile[k]);
    record.grad_mean_abs[at] = static_cast<float>(m.diagnostics.grad_mean_abs[k]);
    record.grad_l2[at] = static_cast<float>(m.diagnostics.grad_l2[k]);
  }
}

Registry<TopologyDescriptor>& topology_registry() {
  static Registry<TopologyDescriptor> registry = [] {
    Registry<TopologyDescriptor> r("topology");
    for (auto d : {centralized_descriptor(), hierarchical_descriptor(), ring_descriptor(), clustered_descriptor(),
                   gossip_descriptor()})
      r.add(d.name, d);
    return r;
  }();
  return registry;
}

}  // namespace fedhpc::topology
