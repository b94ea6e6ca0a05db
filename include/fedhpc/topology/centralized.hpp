#pragma once
#include "fedhpc/topology/topology.hpp"

namespace fedhpc::topology {

// Centralized FedAvg: selected clients train from the global model and the
// server aggregates their models (--aggregator).
std::unique_ptr<Topology> make_centralized(const TopologyContext& ctx);

}  // namespace fedhpc::topology
