// bench_ksg: cost of the KSG estimator (analysis::ksg_mi, k-d tree under the
// max-norm, queries split over the ranks) at N samples, against a brute-force
// O(N^2) neighbour search for the smaller N (which also checks that both give
// the same bits).
//
// Data: N samples of X [N, dx] and Y [N, dy], Y = 0.8 X' + 0.6 noise per
// coordinate (X' = X's first dy coordinates, cycled), from a fixed stream.
// Each repeat times every N in turn (interleaved), tree then brute force:
// MPI_Barrier, MPI_Wtime, slowest rank (MPI_MAX); medians of the repeats.
// Usage: mpirun -n R bench_ksg [--sizes 2000,22000,100000] [--dx 1] [--dy 1]
//        [--repeats 3] [--brute-max 22000]
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "fedhpc/analysis/mutual_information.hpp"
#include "fedhpc/core/rng.hpp"
#include "fedhpc/mpi/comm.hpp"

namespace {

using fedhpc::analysis::Samples;

void make_data(std::int64_t n, std::int64_t dx, std::int64_t dy, Samples& x, Samples& y) {
  auto rng = fedhpc::stream(2024, fedhpc::StreamKind::Analysis, std::uint64_t(n));
  x.resize(n, dx);
  y.resize(n, dy);
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < dx; ++j) x(i, j) = rng.normal();
    for (std::int64_t j = 0; j < dy; ++j) y(i, j) = 0.8 * x(i, j % dx) + 0.6 * rng.normal();
  }
}

double max_dist(const Samples& a, std::int64_t i, std::int64_t j) {
  double m = 0;
  for (Eigen::Index c = 0; c < a.cols(); ++c) m = std::max(m, std::fabs(a(i, c) - a(j, c)));
  return m;
}

// The same terms by scanning all pairs: O(N^2) time, O(N) memory.
std::vector<double> brute_terms(const Samples& x, const Samples& y, int k, std::int64_t begin, std::int64_t end) {
  const std::int64_t n = x.rows();
  std::vector<double> terms, joint(std::size_t(n - 1));
  for (std::int64_t i = begin; i < end; ++i) {
    std::size_t m = 0;
    for (std::int64_t j = 0; j < n; ++j)
      if (j != i) joint[m++] = std::max(max_dist(x, i, j), max_dist(y, i, j));
    std::nth_element(joint.begin(), joint.begin() + (k - 1), joint.end());
    const double eps = joint[std::size_t(k - 1)];
    std::int64_t nx = 0, ny = 0;
    for (std::int64_t j = 0; j < n; ++j) {
      if (j == i) continue;
      nx += max_dist(x, i, j) < eps;
      ny += max_dist(y, i, j) < eps;
    }
    terms.push_back(fedhpc::analysis::digamma(double(nx + 1)) + fedhpc::analysis::digamma(double(ny + 1)));
  }
  return terms;
}

double brute_mi(const Samples& x, const Samples& y, int k, const fedhpc::mpi::Comm& comm) {
  const std::int64_t n = x.rows(), ranks = comm.size(), r = comm.rank();
  const auto mine = brute_terms(x, y, k, n * r / ranks, n * (r + 1) / ranks);
  std::vector<std::size_t> counts;
  for (std::int64_t q = 0; q < ranks; ++q) counts.push_back(std::size_t(n * (q + 1) / ranks - n * q / ranks));
  std::vector<double> all(static_cast<std::size_t>(n));
  fedhpc::mpi::all_gatherv(comm, mine.data(), mine.size(), all.data(), counts, {}, "terms");
  return fedhpc::analysis::ksg_combine(all, k);
}

template <class F>
double timed(F&& f) {
  MPI_Barrier(MPI_COMM_WORLD);
  const double t0 = MPI_Wtime();
  f();
  double t = MPI_Wtime() - t0;
  MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return t;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::vector<std::int64_t> parse_list(const char* text) {
  std::vector<std::int64_t> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(std::stoll(item));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  std::vector<std::int64_t> sizes = {2000, 22000, 100000};
  std::int64_t dx = 1, dy = 1, repeats = 3, brute_max = 22000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--sizes")) sizes = parse_list(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--dx")) dx = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--dy")) dy = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--repeats")) repeats = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--brute-max")) brute_max = std::atoll(argv[i + 1]);
  }
  const auto comm = fedhpc::mpi::Comm::world();
  const bool root = comm.rank() == 0;
  std::vector<Samples> xs(sizes.size()), ys(sizes.size());
  for (std::size_t s = 0; s < sizes.size(); ++s) make_data(sizes[s], dx, dy, xs[s], ys[s]);
  std::vector<std::vector<double>> tree(sizes.size()), brute(sizes.size());
  std::vector<double> mi(sizes.size()), mi_brute(sizes.size(), std::nan(""));
  fedhpc::analysis::KsgOptions o;  // k = 3, noise 1e-10
  for (std::int64_t r = 0; r < repeats; ++r)
    for (std::size_t s = 0; s < sizes.size(); ++s) {
      tree[s].push_back(timed([&] { mi[s] = fedhpc::analysis::ksg_mi(xs[s], ys[s], o, comm); }));
      if (sizes[s] > brute_max) continue;
      // Noise off on both, so the two searches see the same data.
      fedhpc::analysis::KsgOptions quiet = o;
      quiet.noise = 0;
      double t_mi = 0;
      brute[s].push_back(timed([&] { mi_brute[s] = brute_mi(xs[s], ys[s], o.k, comm); }));
      t_mi = fedhpc::analysis::ksg_mi(xs[s], ys[s], quiet, comm);
      if (root && t_mi != mi_brute[s]) std::printf("MISMATCH at N=%lld: tree %.17g brute %.17g\n", (long long)sizes[s], t_mi, mi_brute[s]);
    }
  double load[3] = {0, 0, 0};
  if (root && getloadavg(load, 3) < 0) load[0] = -1;
  if (root) {
    std::printf("bench_ksg: ranks %d, dx %lld, dy %lld, k %d, repeats %lld (medians, slowest rank), load %.2f %.2f %.2f\n",
                comm.size(), (long long)dx, (long long)dy, o.k, (long long)repeats, load[0], load[1], load[2]);
    for (std::size_t s = 0; s < sizes.size(); ++s) {
      const double t = median(tree[s]);
      std::printf("  N %7lld  ksg %.4f nats  tree %9.4f s", (long long)sizes[s], mi[s], t);
      if (!brute[s].empty())
        std::printf("  brute-force %9.4f s (%.1fx the tree)", median(brute[s]), median(brute[s]) / t);
      if (s > 0)
        std::printf("  tree vs N=%lld: %.1fx time for %.1fx N", (long long)sizes[0], t / median(tree[0]),
                    double(sizes[s]) / double(sizes[0]));
      std::printf("\n");
    }
  }
  MPI_Finalize();
  return 0;
}
