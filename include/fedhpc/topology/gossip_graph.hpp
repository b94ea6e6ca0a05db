#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace fedhpc::topology {

// An undirected communication graph for gossip averaging with exact
// Metropolis weights (algorithms.md section 5).
struct GossipGraph {
  std::vector<std::vector<std::int64_t>> neighbours;  // sorted, no self, symmetric
  // Metropolis weights as integers over a per-client common denominator:
  // W_ij = weight[i][t] / denominator[i] for neighbour j = neighbours[i][t],
  // W_ii = self_weight[i] / denominator[i]. Each row sums to exactly 1:
  // self_weight[i] + sum_t weight[i][t] == denominator[i].
  std::vector<std::vector<std::int64_t>> weight;
  std::vector<std::int64_t> self_weight, denominator;
};

// kind: ring | torus | random-k | complete. k is used by random-k only (the
// minimum degree, k >= 2). n = number of clients (n = 0 gives an empty graph).
// Throws InputError naming --gossip-graph or --gossip-k on bad input.
GossipGraph make_gossip_graph(const std::string& kind, std::int64_t n, int k, std::uint64_t seed);

}  // namespace fedhpc::topology
