#pragma once
#include "fedhpc/topology/topology.hpp"

namespace fedhpc::topology {

// Centralized FedAvg: selected clients train from the global model and the
// server aggregates their models (--aggregator).
TopologyDescriptor centralized_descriptor();

}  // namespace fedhpc::topology
