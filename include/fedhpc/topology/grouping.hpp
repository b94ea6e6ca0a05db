#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace fedhpc::topology {

// Grouping of clients into edges (hierarchical FL) and rings (STAR-rings).
// label_hist[c][k] = number of training samples of class k held by client c.
// Every function is a pure function of its arguments (never of the MPI rank).

// Edge id (0..edges-1) of every client.
//   contiguous:     client c -> floor(c * edges / N).
//   label-balanced: same group sizes as contiguous, members chosen so every
//                   edge's label mix is close to the global one (see .cpp).
// Throws InputError naming --edges or --edge-assignment on bad input.
std::vector<int> assign_edges(const std::string& method, int edges,
                              const std::vector<std::vector<std::int64_t>>& label_hist,
                              std::uint64_t seed);

// Ring id (0..rings-1) of every client.
//   contiguous:    client c -> floor(c * rings / N).
//   random:        seeded shuffle, then dealt round-robin into the rings.
//   label-diverse: the label-balanced rule of assign_edges (unverified reading
//                  of Tornado's ring-aware grouping; see .cpp).
// Throws InputError naming --rings or --ring-grouping on bad input.
std::vector<int> assign_rings(const std::string& method, int rings,
                              const std::vector<std::vector<std::int64_t>>& label_hist,
                              std::uint64_t seed);

// A renumbering that makes every group a contiguous id range:
// order[new_id] = old_id, sorted by (group, old id).
std::vector<std::int64_t> group_order(const std::vector<int>& group_of_client);

}  // namespace fedhpc::topology
