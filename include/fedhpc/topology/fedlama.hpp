#pragma once
#include <memory>

#include "fedhpc/topology/topology.hpp"

namespace fedhpc::topology {

// FedLAMA (Lee et al. 2021; algorithms.md section 9) on the centralized or
// hierarchical topology: the selected clients train in lockstep, one local iteration (a
// "step") at a time, and every tensor of the layer table is averaged over the
// uploading clients (sample-weighted, exact sums) every tau_l iterations,
// tau_l in {tau', phi tau'}. Every phi tau' iterations, when every tensor has
// just been averaged, the weight tensors' intervals are re-decided from their
// discrepancies d_l; biases keep tau'. --local-iterations is a multiple of
// phi tau', so a round ends with every tensor averaged: its global model.
// The intervals carry over to the next round (and the checkpoint).
// With edges (hierarchical; --edges, --edge-assignment): every
// synchronisation but the round's last is between a client and its edge
// (each edge averages its own clients), and the round's last is the
// server's: the exact sample-weighted mean over all clients, as
// hierarchical FedAvg ends its round. The intervals are one global schedule:
// d_l pools every synchronised client's distance to the mean it received,
// and the server decides (as in the paper, where the server collects the
// d_l). With one edge it is the centralized version bit for bit.
// Needs ctx.param_layout. Chosen by the centralized and hierarchical
// descriptors for --aggregator fedlama.
std::unique_ptr<Topology> make_fedlama(const TopologyContext& ctx, bool with_edges = false);

}  // namespace fedhpc::topology
