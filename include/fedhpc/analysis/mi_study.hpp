#pragma once
// The estimators of algorithms.md section 8 for every pair of sampled
// clients at every recorded iteration of one starting point.
#include <cstdint>
#include <utility>
#include <vector>

#include "fedhpc/analysis/mutual_information.hpp"

namespace fedhpc::mpi {
class Comm;
}

namespace fedhpc::analysis {

// [iterations][pairs] each, in nats (distances in parameter units).
struct PairTables {
  std::vector<double> gaussian, ksg, d_euclidean, d_manhattan, d_chebyshev;
};

// All pairs (a, b), a < b, of positions in a list of `clients` clients.
std::vector<std::pair<int, int>> client_pairs(int clients);

// samples: [clients][repeats][iterations][dims] (sample_parameters). For
// iteration t and pair (a, b), X = client a's repeats at t, Y = client b's,
// repeat n of a paired with repeat n of b. KSG is split by query point over
// comm; its tie-breaking noise key is (start_index, t, pair), so every
// estimate gets its own noise. The Gaussian estimates and the distances are
// dealt to the ranks by (t, pair) in contiguous blocks, each computed whole
// on one rank. Collective; the same bits at any rank count.
PairTables estimate_pairs(const std::vector<double>& samples, int clients, std::int64_t repeats,
                          std::int64_t iterations, std::int64_t dims, const std::vector<std::pair<int, int>>& pairs,
                          KsgOptions ksg, std::int64_t start_index, const mpi::Comm& comm);

}  // namespace fedhpc::analysis
