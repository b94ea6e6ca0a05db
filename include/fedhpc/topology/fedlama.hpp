#pragma once
#include <memory>

#include "fedhpc/topology/topology.hpp"

namespace fedhpc::topology {

// FedLAMA (Lee et al. 2021; algorithms.md section 9) on the centralized
// topology: the selected clients train in lockstep, one local iteration (a
// "step") at a time, and every tensor of the layer table is averaged over the
// uploading clients (sample-weighted, exact sums) every tau_l iterations,
// tau_l in {tau', phi tau'}. Every phi tau' iterations, when every tensor has
// just been averaged, the weight tensors' intervals are re-decided from their
// discrepancies d_l; biases keep tau'. --local-iterations is a multiple of
// phi tau', so a round ends with every tensor averaged: its global model.
// The intervals carry over to the next round (and the checkpoint).
// Needs ctx.param_layout. Chosen by the centralized descriptor for
// --aggregator fedlama.
std::unique_ptr<Topology> make_fedlama(const TopologyContext& ctx);

}  // namespace fedhpc::topology
