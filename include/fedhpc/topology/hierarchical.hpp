#pragma once
#include "fedhpc/topology/topology.hpp"

namespace fedhpc::topology {

// Hierarchical FL: edges (--edges, --edge-assignment) average their clients
// every --edge-interval local iterations over an edge sub-communicator (or
// locally when the edge sits in one rank); the server averages at round end.
std::unique_ptr<Topology> make_hierarchical(const TopologyContext& ctx);

}  // namespace fedhpc::topology
