#pragma once
#include "fedhpc/topology/topology.hpp"

namespace fedhpc::topology {

// Centralized FL with dynamic clusters (SR-FCA-like). The server keeps one
// model per cluster; clients train from their cluster's model. Every
// --recluster-every rounds (starting with round 1) the clients are
// re-clustered from the Euclidean distances between their trained models:
// pivot correlation clustering on dist <= lambda, clusters smaller than
// --cluster-min-size dissolved into the nearest one, clusters whose models
// are within lambda merged. Each cluster aggregates with --aggregator; the
// paper's default (when --aggregator is not given) is trimmed-mean with
// --trim-fraction 0.1 (beta = 0: the exact sample-weighted mean).
TopologyDescriptor clustered_descriptor();

}  // namespace fedhpc::topology
