#pragma once
#include "fedhpc/topology/topology.hpp"

namespace fedhpc::topology {

// Decentralised gossip: no server. After every local iteration each client
// replaces its model by the Metropolis-weighted average of itself and its
// neighbours on --gossip-graph (exact integer weights over a common
// denominator), or, with a robust --aggregator, that aggregator over the
// client and its neighbours (unweighted by Metropolis). Clients keep their models across rounds. The "global" model
// is the plain mean of all client models; clients are evaluated on their own.
TopologyDescriptor gossip_descriptor();

}  // namespace fedhpc::topology
