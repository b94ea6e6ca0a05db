#include "fedhpc/topology/gossip_graph.hpp"

#include <algorithm>
#include <limits>
#include <numeric>

#include "fedhpc/core/error.hpp"
#include "fedhpc/core/rng.hpp"

namespace fedhpc::topology {
namespace {

using Adjacency = std::vector<std::vector<std::int64_t>>;

// `extra` key of the Topology stream for random-k (grouping.cpp uses 1..3).
constexpr std::uint64_t kRandomKStream = 4;

// Sort, drop duplicates and self-loops. Used by every builder so small sides
// (n = 2 rings, torus rows of 1 or 2) do not produce repeated neighbours.
void normalise(Adjacency& adj) {
  for (std::size_t i = 0; i < adj.size(); ++i) {
    auto& row = adj[i];
    std::sort(row.begin(), row.end());
    row.erase(std::unique(row.begin(), row.end()), row.end());
    row.erase(std::remove(row.begin(), row.end(), static_cast<std::int64_t>(i)), row.end());
  }
}

Adjacency ring(std::int64_t n) {
  Adjacency adj(n);
  for (std::int64_t i = 0; i < n; ++i) {
    adj[i] = {(i + 1) % n, (i + n - 1) % n};
  }
  normalise(adj);
  return adj;
}

// rows = the largest divisor of n that is <= sqrt(n), so the grid is as square
// as n allows (a prime n gives one row, i.e. a ring).
Adjacency torus(std::int64_t n) {
  std::int64_t rows = 1;
  for (std::int64_t r = 1; r * r <= n; ++r) {
    if (n % r == 0) rows = r;
  }
  const std::int64_t cols = n / rows;
  Adjacency adj(n);
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t c = 0; c < cols; ++c) {
      adj[r * cols + c] = {((r + 1) % rows) * cols + c, ((r + rows - 1) % rows) * cols + c,
                           r * cols + (c + 1) % cols, r * cols + (c + cols - 1) % cols};
    }
  }
  normalise(adj);
  return adj;
}

Adjacency complete(std::int64_t n) {
  Adjacency adj(n);
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < n; ++j) {
      if (j != i) adj[i].push_back(j);
    }
  }
  return adj;
}

bool adjacent(const Adjacency& adj, std::int64_t a, std::int64_t b) {
  return std::binary_search(adj[a].begin(), adj[a].end(), b);
}

void add_edge(Adjacency& adj, std::int64_t a, std::int64_t b) {
  adj[a].insert(std::upper_bound(adj[a].begin(), adj[a].end(), b), b);
  adj[b].insert(std::upper_bound(adj[b].begin(), adj[b].end(), a), a);
}

// random-k: start from the ring (so the graph is connected), then, while some
// node has degree < min(k, n-1), pick such a node u uniformly and join it to a
// random node v it is not yet adjacent to. v is drawn among the other
// deficient nodes when possible (keeps degrees close to k, "k-regular-ish"):
// up to 8 uniform draws from the deficient list, then uniformly among its
// eligible members; only if none is eligible, among all nodes. Every step adds
// one edge at a deficient node, and a node with degree < n-1 always has a
// candidate, so this terminates. Degrees end >= min(k, n-1); a few may exceed
// k (k = 2 gives the plain ring).
Adjacency random_k(std::int64_t n, int k, std::uint64_t seed) {
  Adjacency adj = ring(n);
  const auto want = static_cast<std::size_t>(std::min<std::int64_t>(k, n - 1));
  auto rng = stream(seed, StreamKind::Topology, 0, 0, kRandomKStream);
  std::vector<std::int64_t> deficient;
  for (std::int64_t i = 0; i < n; ++i) {
    if (adj[i].size() < want) deficient.push_back(i);
  }
  std::vector<std::int64_t> candidates;
  while (!deficient.empty()) {
    const std::int64_t u = deficient[rng.below(deficient.size())];
    candidates.clear();
    // A few random draws usually find a partner; scanning is the fallback
    // (it keeps large graphs from costing O(n) per edge).
    for (int attempt = 0; attempt < 8 && candidates.empty(); ++attempt) {
      const std::int64_t v = deficient[rng.below(deficient.size())];
      if (v != u && !adjacent(adj, u, v)) candidates.push_back(v);
    }
    if (candidates.empty()) {
      for (std::int64_t v : deficient) {
        if (v != u && !adjacent(adj, u, v)) candidates.push_back(v);
      }
    }
    if (candidates.empty()) {
      for (std::int64_t v = 0; v < n; ++v) {
        if (v != u && !adjacent(adj, u, v)) candidates.push_back(v);
      }
    }
    const std::int64_t v =
        candidates.size() == 1 ? candidates[0] : candidates[rng.below(candidates.size())];
    add_edge(adj, u, v);
    // Drop u and v once satisfied; the list stays in id order, so every draw
    // depends only on the graph built so far.
    for (std::int64_t x : {u, v}) {
      if (adj[x].size() < want) continue;
      auto it = std::lower_bound(deficient.begin(), deficient.end(), x);
      if (it != deficient.end() && *it == x) deficient.erase(it);
    }
  }
  return adj;
}

std::int64_t checked_lcm(std::int64_t a, std::int64_t b) {
  const std::int64_t g = std::gcd(a, b);
  if (a / g > std::numeric_limits<std::int64_t>::max() / b) {
    throw InputError("--gossip-graph: Metropolis weight denominator overflows 64 bits");
  }
  return a / g * b;
}

// Metropolis weights, exact: W_ij = 1 / (1 + max(deg_i, deg_j)). Over the
// common denominator D_i = lcm_j (1 + max(deg_i, deg_j)) every weight is an
// integer and the self weight D_i - sum_j is exact too.
GossipGraph with_metropolis_weights(Adjacency adj) {
  const auto n = static_cast<std::int64_t>(adj.size());
  GossipGraph g;
  g.weight.resize(n);
  g.self_weight.resize(n);
  g.denominator.resize(n);
  for (std::int64_t i = 0; i < n; ++i) {
    const auto deg_i = static_cast<std::int64_t>(adj[i].size());
    std::int64_t den = 1;
    for (std::int64_t j : adj[i]) {
      den = checked_lcm(den, 1 + std::max(deg_i, static_cast<std::int64_t>(adj[j].size())));
    }
    std::int64_t used = 0;
    for (std::int64_t j : adj[i]) {
      const std::int64_t w = den / (1 + std::max(deg_i, static_cast<std::int64_t>(adj[j].size())));
      g.weight[i].push_back(w);
      used += w;
    }
    g.denominator[i] = den;
    g.self_weight[i] = den - used;
  }
  g.neighbours = std::move(adj);
  return g;
}

}  // namespace

GossipGraph make_gossip_graph(const std::string& kind, std::int64_t n, int k, std::uint64_t seed) {
  if (kind != "ring" && kind != "torus" && kind != "random-k" && kind != "complete") {
    throw InputError("--gossip-graph: unknown value '" + kind +
                     "'; allowed: ring, torus, random-k, complete");
  }
  if (kind == "random-k" && k < 2) {
    throw InputError("--gossip-k: " + std::to_string(k) + "; random-k needs k >= 2");
  }
  n = std::max<std::int64_t>(n, 0);
  if (kind == "ring") return with_metropolis_weights(ring(n));
  if (kind == "torus") return with_metropolis_weights(torus(n));
  if (kind == "complete") return with_metropolis_weights(complete(n));
  return with_metropolis_weights(random_k(n, k, seed));
}

}  // namespace fedhpc::topology
