#include "fedhpc/topology/grouping.hpp"

#include <algorithm>
#include <cstdlib>
#include <numeric>

#include "fedhpc/core/error.hpp"
#include "fedhpc/core/rng.hpp"

namespace fedhpc::topology {
namespace {

using Hist = std::vector<std::vector<std::int64_t>>;

// Keys of the Topology streams used here (the `extra` field), so that edges and
// rings built from the same seed do not share random decisions.
constexpr std::uint64_t kEdgeStream = 1;
constexpr std::uint64_t kRingRandomStream = 2;
constexpr std::uint64_t kRingDiverseStream = 3;

void check_group_count(const char* option, const char* what, int groups, std::int64_t n) {
  if (groups < 1 || groups > n) {
    throw InputError(std::string(option) + ": " + std::to_string(groups) + " " + what + " for " +
                     std::to_string(n) + " clients; need 1 <= " + what + " <= clients");
  }
}

std::vector<int> contiguous(int groups, std::int64_t n) {
  std::vector<int> group(static_cast<std::size_t>(n));
  for (std::int64_t c = 0; c < n; ++c) group[c] = static_cast<int>(c * groups / n);
  return group;
}

std::size_t num_classes(const Hist& hist) {
  std::size_t k = 0;
  for (const auto& row : hist) k = std::max(k, row.size());
  return k;
}

std::int64_t at(const std::vector<std::int64_t>& row, std::size_t k) {
  return k < row.size() ? row[k] : 0;
}

// Greedy label balancing.
//
// Group g will hold cap_g clients (the contiguous sizes, so sizes differ by at
// most 1). Its target histogram is its share of the global one,
// T_gk = cap_g / N * G_k. Clients are placed one by one: in a seeded random
// order (stream Topology), then stably by decreasing sample count (big clients
// first, small ones fill the gaps, as in first-fit-decreasing packing). Each
// client goes into the not-yet-full group where it reduces the L1 distance
// sum_k |H_gk - T_gk| the most (or raises it the least). Ties go to the group
// with the most free places, then the lowest id.
//
// Measuring against the full group's target (rather than comparing the
// partial group's mix with the global mix) matters: an empty group then
// "wants" every label, so clients of one label spread over the groups instead
// of piling into whichever group is filled first. With one label per client
// and as many clients per label as groups, every group gets each label once.
//
// All quantities are scaled by N so the arithmetic is exact in integers.
std::vector<int> label_balanced(int groups, const Hist& hist, std::uint64_t seed,
                                std::uint64_t stream_extra) {
  const auto n = static_cast<std::int64_t>(hist.size());
  const std::size_t classes = num_classes(hist);

  std::vector<std::int64_t> capacity(groups, 0);
  for (int g : contiguous(groups, n)) ++capacity[g];

  std::vector<std::int64_t> global(classes, 0);
  std::vector<std::int64_t> total(n, 0);
  for (std::int64_t c = 0; c < n; ++c) {
    for (std::size_t k = 0; k < classes; ++k) {
      global[k] += at(hist[c], k);
      total[c] += at(hist[c], k);
    }
  }

  std::vector<std::int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  auto rng = stream(seed, StreamKind::Topology, 0, 0, stream_extra);
  fedhpc::shuffle(order.begin(), order.end(), rng);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::int64_t a, std::int64_t b) { return total[a] > total[b]; });

  // scaled[g][k] = N * H_gk; target[g][k] = N * T_gk = cap_g * G_k.
  std::vector<std::vector<std::int64_t>> scaled(groups, std::vector<std::int64_t>(classes, 0));
  std::vector<std::int64_t> members(groups, 0);
  std::vector<int> group(n, -1);
  for (std::int64_t c : order) {
    int best = -1;
    std::int64_t best_delta = 0;
    for (int g = 0; g < groups; ++g) {
      if (members[g] == capacity[g]) continue;
      std::int64_t delta = 0;
      for (std::size_t k = 0; k < classes; ++k) {
        const std::int64_t x = at(hist[c], k);
        if (x == 0) continue;
        const std::int64_t target = capacity[g] * global[k];
        delta += std::llabs(scaled[g][k] + n * x - target) - std::llabs(scaled[g][k] - target);
      }
      const bool better =
          best < 0 || delta < best_delta ||
          (delta == best_delta && capacity[g] - members[g] > capacity[best] - members[best]);
      if (better) {
        best = g;
        best_delta = delta;
      }
    }
    group[c] = best;
    ++members[best];
    for (std::size_t k = 0; k < classes; ++k) scaled[best][k] += n * at(hist[c], k);
  }
  return group;
}

// Seeded shuffle, then deal client order[i] into group i % groups.
std::vector<int> random_deal(int groups, std::int64_t n, std::uint64_t seed) {
  std::vector<std::int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  auto rng = stream(seed, StreamKind::Topology, 0, 0, kRingRandomStream);
  fedhpc::shuffle(order.begin(), order.end(), rng);
  std::vector<int> group(n);
  for (std::int64_t i = 0; i < n; ++i) group[order[i]] = static_cast<int>(i % groups);
  return group;
}

}  // namespace

std::vector<int> assign_edges(const std::string& method, int edges, const Hist& label_hist,
                              std::uint64_t seed) {
  if (method != "contiguous" && method != "label-balanced") {
    throw InputError("--edge-assignment: unknown value '" + method +
                     "'; allowed: contiguous, label-balanced");
  }
  const auto n = static_cast<std::int64_t>(label_hist.size());
  check_group_count("--edges", "edges", edges, n);
  if (method == "contiguous") return contiguous(edges, n);
  return label_balanced(edges, label_hist, seed, kEdgeStream);
}

std::vector<int> assign_rings(const std::string& method, int rings, const Hist& label_hist,
                              std::uint64_t seed) {
  if (method != "contiguous" && method != "random" && method != "label-diverse") {
    throw InputError("--ring-grouping: unknown value '" + method +
                     "'; allowed: contiguous, random, label-diverse");
  }
  const auto n = static_cast<std::int64_t>(label_hist.size());
  check_group_count("--rings", "rings", rings, n);
  if (method == "contiguous") return contiguous(rings, n);
  if (method == "random") return random_deal(rings, n, seed);
  // Tornado's ring-aware grouping is unverified; our reading is that a ring
  // should carry a representative label mix, so the model passed along it sees
  // every label. That is exactly what the label-balanced rule optimises.
  return label_balanced(rings, label_hist, seed, kRingDiverseStream);
}

std::vector<std::int64_t> group_order(const std::vector<int>& group_of_client) {
  std::vector<std::int64_t> order(group_of_client.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
    return group_of_client[a] < group_of_client[b];
  });
  return order;
}

}  // namespace fedhpc::topology
