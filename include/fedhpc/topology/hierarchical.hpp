#pragma once
#include "fedhpc/topology/topology.hpp"

namespace fedhpc::topology {

// Hierarchical FL: edges (--edges, --edge-assignment) average their clients
// every --edge-interval local iterations over an edge sub-communicator (or
// locally when the edge sits in one rank) with --edge-aggregator; the server
// aggregates at round end with --aggregator. When both are fedavg the server
// takes the exact sample-weighted sum over all clients (no rounding at the edges).
TopologyDescriptor hierarchical_descriptor();

}  // namespace fedhpc::topology
