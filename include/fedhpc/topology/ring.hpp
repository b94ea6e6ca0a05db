#pragma once
#include "fedhpc/topology/topology.hpp"

namespace fedhpc::topology {

// Hybrid STAR-rings (TornadoAggregate): after every local iteration but the
// last, each client passes the model it holds to the next client of its ring
// (--rings, --ring-grouping); the server averages all models at round end,
// each weighted by its holder's samples. Optimizer state stays with the
// client. Passes inside a rank move buffers; passes across ranks are
// neighbour sends.
TopologyDescriptor ring_descriptor();

}  // namespace fedhpc::topology
