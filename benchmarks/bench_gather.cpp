// bench_gather: what the client-batched trainer's minibatch gather costs on
// this machine, alone and with every rank gathering at once (run it at 1 and
// 2 ranks). Each rank holds its own training set of --clients clients x
// --samples rows of --row floats and walks one round the way BatchedTrainer
// does: chunks of --chunk clients in lockstep, --steps steps of --batch rows
// each, every client's rows in a shuffled order. Two layouts: the clients'
// rows scattered over the set (an iid partition of the data set as loaded)
// and each client's rows contiguous. Also a sequential read of the set (one
// word per cache line). Timing: MPI_Barrier, MPI_Wtime, slowest rank;
// medians of --repeats.
#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

struct Options {
  std::int64_t clients = 500, samples = 50, row = 784, chunk = 44, steps = 5, batch = 10;
  int repeats = 15;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int a = 1; a < argc; a += 2) {
    const std::string arg = argv[a];
    if (a + 1 >= argc) throw std::invalid_argument(arg + ": needs a value");
    const long long v = std::atoll(argv[a + 1]);
    if (v < 1) throw std::invalid_argument(arg + ": must be a positive integer");
    if (arg == "--clients") o.clients = v;
    else if (arg == "--samples") o.samples = v;
    else if (arg == "--row") o.row = v;
    else if (arg == "--chunk") o.chunk = v;
    else if (arg == "--steps") o.steps = v;
    else if (arg == "--batch") o.batch = v;
    else if (arg == "--repeats") o.repeats = int(v);
    else throw std::invalid_argument(arg + ": unknown option (--clients --samples --row --chunk --steps --batch --repeats)");
  }
  if (o.steps * o.batch > o.samples) throw std::invalid_argument("--steps x --batch must not exceed --samples");
  return o;
}

template <class F>
double slowest_median(int repeats, F&& f) {
  std::vector<double> t;
  for (int r = 0; r < repeats; ++r) {
    MPI_Barrier(MPI_COMM_WORLD);
    double s = MPI_Wtime();
    f();
    s = MPI_Wtime() - s;
    MPI_Allreduce(MPI_IN_PLACE, &s, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    t.push_back(s);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, ranks = 1, status = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  try {
    const Options o = parse(argc, argv);
    const std::int64_t rows = o.clients * o.samples;
    std::vector<float> data(std::size_t(rows * o.row), 1.0f);
    std::vector<float> x(std::size_t(o.chunk * o.batch * o.row));
    std::mt19937_64 rng(std::uint64_t(1000 + rank));
    std::vector<std::int64_t> scattered(static_cast<std::size_t>(rows));
    std::iota(scattered.begin(), scattered.end(), 0);
    std::shuffle(scattered.begin(), scattered.end(), rng);
    volatile float sink = 0.0f;
    const auto round = [&](bool contiguous) {
      for (std::int64_t first = 0; first < o.clients; first += o.chunk) {
        const std::int64_t k = std::min(o.chunk, o.clients - first);
        std::vector<std::vector<std::int64_t>> order(static_cast<std::size_t>(k));
        for (std::int64_t j = 0; j < k; ++j) {
          for (std::int64_t t = 0; t < o.samples; ++t) {
            const std::int64_t at = (first + j) * o.samples + t;
            order[std::size_t(j)].push_back(contiguous ? at : scattered[std::size_t(at)]);
          }
          std::shuffle(order[std::size_t(j)].begin(), order[std::size_t(j)].end(), rng);
        }
        for (std::int64_t s = 0; s < o.steps; ++s)
          for (std::int64_t j = 0; j < k; ++j)
            for (std::int64_t i = 0; i < o.batch; ++i)
              std::memcpy(x.data() + (j * o.batch + i) * o.row,
                          data.data() + order[std::size_t(j)][std::size_t(s * o.batch + i)] * o.row,
                          std::size_t(o.row) * sizeof(float));
      }
      sink = sink + x[0];
    };
    const double per_row = 1e9 / double(o.clients * o.steps * o.batch);
    const double scattered_ns = slowest_median(o.repeats, [&] { round(false); }) * per_row;
    const double contiguous_ns = slowest_median(o.repeats, [&] { round(true); }) * per_row;
    const double read = slowest_median(o.repeats, [&] {
      float acc = 0.0f;
      for (std::size_t i = 0; i < data.size(); i += 16) acc += data[i];
      sink = sink + acc;
    });
    if (rank == 0)
      std::printf("ranks=%d rows_per_rank=%lld row_bytes=%lld ns_per_row_scattered=%.0f ns_per_row_contiguous=%.0f "
                  "sequential_read_GB_per_s_per_rank=%.1f\n",
                  ranks, static_cast<long long>(rows), static_cast<long long>(o.row * 4), scattered_ns, contiguous_ns,
                  double(data.size() * sizeof(float)) / read / 1e9);
  } catch (const std::exception& e) {
    if (rank == 0) std::fprintf(stderr, "bench_gather: error: %s\n", e.what());
    status = 2;
  }
  MPI_Finalize();
  return status;
}
