#include "fedhpc/analysis/mi_study.hpp"

#include "fedhpc/mpi/comm.hpp"

namespace fedhpc::analysis {

std::vector<std::pair<int, int>> client_pairs(int clients) {
  std::vector<std::pair<int, int>> pairs;
  for (int a = 0; a < clients; ++a)
    for (int b = a + 1; b < clients; ++b) pairs.emplace_back(a, b);
  return pairs;
}

namespace {

// Client c's repeats at iteration t as rows.
Samples at_iteration(const std::vector<double>& samples, int c, std::int64_t repeats, std::int64_t iterations,
                     std::int64_t dims, std::int64_t t) {
  Samples s(repeats, dims);
  for (std::int64_t n = 0; n < repeats; ++n) {
    const double* row = &samples[std::size_t(((c * repeats + n) * iterations + t) * dims)];
    for (std::int64_t j = 0; j < dims; ++j) s(n, j) = row[j];
  }
  return s;
}

}  // namespace

PairTables estimate_pairs(const std::vector<double>& samples, int clients, std::int64_t repeats,
                          std::int64_t iterations, std::int64_t dims, const std::vector<std::pair<int, int>>& pairs,
                          KsgOptions ksg, std::int64_t start_index, const mpi::Comm& comm) {
  PairTables t;
  const auto np = std::int64_t(pairs.size());
  const std::int64_t tasks = iterations * np;
  // The Gaussian estimates and distances (whole on one rank each): task
  // blocks over the ranks, 4 values per task gathered in task order.
  const auto ranks = std::int64_t(comm.size()), rank = std::int64_t(comm.rank());
  const std::int64_t begin = tasks * rank / ranks, end = tasks * (rank + 1) / ranks;
  std::vector<double> mine;
  for (std::int64_t it = 0; it < iterations; ++it) {
    std::vector<Samples> by_client;
    for (int c = 0; c < clients; ++c) by_client.push_back(at_iteration(samples, c, repeats, iterations, dims, it));
    for (std::int64_t p = 0; p < np; ++p) {
      const auto& x = by_client[std::size_t(pairs[std::size_t(p)].first)];
      const auto& y = by_client[std::size_t(pairs[std::size_t(p)].second)];
      // KSG: every rank takes part (queries split inside).
      ksg.noise_key = std::uint64_t((start_index * iterations + it) * np + p);
      t.ksg.push_back(ksg_mi(x, y, ksg, comm));
      const std::int64_t task = it * np + p;
      if (task < begin || task >= end) continue;
      const auto d = pair_distances(x, y);
      mine.insert(mine.end(), {gaussian_mi(x, y).mi, d.euclidean, d.manhattan, d.chebyshev});
    }
  }
  std::vector<std::size_t> counts;
  for (std::int64_t r = 0; r < ranks; ++r) counts.push_back(std::size_t(4 * (tasks * (r + 1) / ranks - tasks * r / ranks)));
  std::vector<double> all(std::size_t(4 * tasks));
  mpi::all_gatherv(comm, mine.data(), mine.size(), all.data(), counts, {}, "MI estimates");
  for (std::int64_t k = 0; k < tasks; ++k) {
    t.gaussian.push_back(all[std::size_t(4 * k)]);
    t.d_euclidean.push_back(all[std::size_t(4 * k + 1)]);
    t.d_manhattan.push_back(all[std::size_t(4 * k + 2)]);
    t.d_chebyshev.push_back(all[std::size_t(4 * k + 3)]);
  }
  return t;
}

}  // namespace fedhpc::analysis
