#pragma once
#include "fedhpc/topology/topology.hpp"

namespace fedhpc::topology {

// Centralized FL with dynamic clusters (SR-FCA-like). The server keeps one
// model per cluster; clients train from their cluster's model. Every
// --recluster-every rounds (starting with round 1) the clients are
// re-clustered from the Euclidean distances between their trained models:
// pivot correlation clustering on dist <= lambda, clusters smaller than
// --cluster-min-size dissolved into the nearest one, clusters whose models
// are within lambda merged. Each cluster aggregates with the coordinate-wise
// --trim-fraction trimmed mean, computed by coordinate slices across ranks
// (beta = 0: the exact sample-weighted mean).
std::unique_ptr<Topology> make_clustered(const TopologyContext& ctx);

}  // namespace fedhpc::topology
