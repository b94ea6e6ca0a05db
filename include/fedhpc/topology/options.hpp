#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "fedhpc/aggregation/aggregator.hpp"
#include "fedhpc/core/policies.hpp"

namespace fedhpc::topology {

// What a topology needs to know of the run, built by the CLI (or a test).
// --cluster-threshold auto, as stored in cluster_threshold.
inline constexpr double kAutoClusterThreshold = -1.0;

struct TopologyOptions {
  std::string name = "centralized";
  std::int64_t clients = 10;
  std::uint64_t seed = 0;
  int local_iterations = 1;
  // hierarchical
  int edges = 5;
  std::string edge_assignment = "label-balanced";
  int edge_interval = 1;
  // ring (hybrid STAR-rings)
  int rings = 1;
  std::string ring_grouping = "label-diverse";
  // clustered
  int recluster_every = 4;
  double cluster_threshold = 5.0;  // kAutoClusterThreshold: chosen each re-clustering (auto_threshold)
  int cluster_min_size = 3;
  // gossip
  std::string gossip_graph = "ring";
  int gossip_k = 4;
  // per-client state of ring, gossip, hierarchical and clustered runs
  double max_memory_gb = 16.0;
  NonFinitePolicy on_nonfinite = NonFinitePolicy::Skip;
  MonitorMode monitor = MonitorMode::Off;
  bool save_gradients = false;
  // The server's (centralized, ring, hierarchical), the clusters'
  // (clustered) or the neighbourhoods' (gossip) aggregation.
  aggregation::AggregatorOptions aggregator;
  // hierarchical: the edges' aggregation.
  aggregation::AggregatorOptions edge_aggregator;
  bool server_optimizer = false;  // a server optimizer other than plain FedAvg
  bool prox = false;              // FedProx's proximal term is on
  // Client tiers (weak clients): client c (topology id) trains the flat range
  // [trained_from[c], num_params) and uploads only that; each layer is
  // averaged over its trainers (aggregation/layerwise_mean.hpp). Empty = off.
  // Only the centralized topology supports it.
  std::vector<std::int64_t> trained_from;
  // --aggregator fedlama (centralized, hierarchical): base interval tau' in local
  // iterations and the factor phi of the relaxed layers' interval.
  int lama_interval = 1;
  int lama_phi = 2;
};

}  // namespace fedhpc::topology
