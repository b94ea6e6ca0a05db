// Landscape cost: grid points per second of analysis::evaluate_grid (the code
// path of `fedhpc landscape`) at 1 rank and at all ranks of the job, measured
// in one run. Run it under `mpirun -n 2`: every repeat times the grid once on
// rank 0 alone (a one-rank communicator; the other ranks wait in a barrier,
// so set OMPI_MCA_mpi_yield_when_idle=1) and once on all ranks, interleaved,
// so a change of machine load hits both alike.
//
// Timing: MPI_Barrier, MPI_Wtime, evaluate the grid, slowest rank
// (MPI_Allreduce MAX). Prints the median and minimum seconds of each, points
// per second from the medians, the 1 -> N speed-up and efficiency (speed-up /
// N), the same from the CPU seconds of the busiest rank (on a loaded machine
// the wall clock mostly measures waiting for a core; the CPU time measures
// the work and how evenly it is split), whether the two surfaces have the
// same bits (they must), and the 1-minute load average before and after.
#include <mpi.h>

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <time.h>
#include <vector>

#include "fedhpc/analysis/directions.hpp"
#include "fedhpc/analysis/landscape.hpp"
#include "fedhpc/analysis/sample_evaluator.hpp"
#include "fedhpc/core/rng.hpp"
#include "fedhpc/data/dataset.hpp"
#include "fedhpc/model/model.hpp"
#include "fedhpc/mpi/comm.hpp"

namespace {

using namespace fedhpc;

struct Options {
  std::string model = "seed-cnn";
  std::int64_t grid = 8;
  std::int64_t samples = 1000;
  int repeats = 3;
  std::string dataset;
};

Options parse(int argc, char** argv) {
  Options o;
  if (argc % 2 == 0) throw std::invalid_argument("options come in pairs: --name value");
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string arg = argv[i], v = argv[i + 1];
    if (arg == "--model") o.model = v;
    else if (arg == "--grid") o.grid = std::stoll(v);
    else if (arg == "--samples") o.samples = std::stoll(v);
    else if (arg == "--repeats") o.repeats = std::stoi(v);
    else if (arg == "--dataset") o.dataset = v;
    else throw std::invalid_argument("unknown option " + arg +
                                     " (--model M --grid N --samples K --repeats N --dataset D)");
  }
  struct stat info;
  if (o.dataset.empty())
    o.dataset = ::stat("/usr/share/datasets/fashion-mnist", &info) == 0 ? "fashion-mnist" : "synthetic";
  if (o.grid < 2 || o.samples < 1 || o.repeats < 1) throw std::invalid_argument("bad counts");
  return o;
}

double load_average() {
  double avg[1] = {0.0};
  return ::getloadavg(avg, 1) == 1 ? avg[0] : -1.0;
}

double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const auto n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::unique_ptr<analysis::SampleEvaluator> make(const Options& o, std::vector<float>& theta) {
  data::DatasetOptions d;
  d.name = o.dataset;
  auto dataset = data::load_dataset(d);
  model::ModelOptions m;
  m.name = o.model;
  m.channels = dataset.train.channels;
  m.height = dataset.train.height;
  m.width = dataset.train.width;
  m.classes = dataset.num_classes;
  auto net = model::make_model(m);
  theta.resize(std::size_t(net->layout().total()));
  auto rng = stream(0, StreamKind::Init);
  net->initialize(theta.data(), rng);
  std::vector<std::int64_t> indices;
  for (std::int64_t i = 0; i < std::min(o.samples, dataset.train.count); ++i) indices.push_back(i);
  return std::make_unique<analysis::SampleEvaluator>(std::move(dataset), std::move(net), std::move(indices), 64);
}

struct Timing {
  std::vector<double> wall, cpu;
};

// Wall seconds of one grid on comm (slowest rank) and CPU seconds (busiest
// rank), and the surface.
void timed_grid(const mpi::Comm& comm, const analysis::GridSpec& grid, const analysis::Plane& plane,
                const std::vector<float>& theta, analysis::SampleEvaluator& e, analysis::PointValues& out,
                Timing* timing) {
  comm.barrier();
  const double t0 = MPI_Wtime(), c0 = cpu_seconds();
  out = analysis::evaluate_grid(grid, plane, theta.data(), [&](const float* p) { return e.evaluate(p); }, comm);
  const double c = mpi::all_reduce(comm, cpu_seconds() - c0, mpi::Op::Max, "cpu");
  const double t = mpi::all_reduce(comm, MPI_Wtime() - t0, mpi::Op::Max, "time");
  if (timing) timing->wall.push_back(t), timing->cpu.push_back(c);
}

int run(const Options& o) {
  const auto world = mpi::Comm::world();
  const auto solo = world.split(world.rank() == 0 ? 0 : MPI_UNDEFINED, 0);
  at::set_num_threads(1);
  std::vector<float> theta;
  auto evaluator = make(o, theta);
  const auto plane = analysis::random_directions(evaluator->model().layout(), theta.data(), 0);
  analysis::GridSpec grid;
  grid.gx = grid.gy = o.grid;
  const double load_before = load_average();
  Timing one, all;
  analysis::PointValues v1, vn;
  for (int rep = -1; rep < o.repeats; ++rep) {
    if (solo.valid()) timed_grid(solo, grid, plane, theta, *evaluator, v1, rep >= 0 ? &one : nullptr);
    world.barrier();
    timed_grid(world, grid, plane, theta, *evaluator, vn, rep >= 0 ? &all : nullptr);
  }
  if (world.rank() != 0) return 0;
  const double points = double(grid.gx * grid.gy);
  const double p1 = points / median(one.wall), pn = points / median(all.wall);
  const double cpu_speedup = median(one.cpu) / median(all.cpu);
  const bool same = v1.loss.size() == vn.loss.size() &&
                    std::memcmp(v1.loss.data(), vn.loss.data(), v1.loss.size() * sizeof(double)) == 0;
  std::printf("# bench_landscape: model %s, %s, %lld eval samples, grid %lldx%lld, %d repeats\n", o.model.c_str(),
              o.dataset.c_str(), (long long)evaluator->samples(), (long long)grid.gx, (long long)grid.gy, o.repeats);
  std::printf("1 rank : median %.3f s, min %.3f s, %.2f points/s; cpu median %.3f s (%.2f points per cpu-s)\n",
              median(one.wall), *std::min_element(one.wall.begin(), one.wall.end()), p1, median(one.cpu),
              points / median(one.cpu));
  std::printf("%d ranks: median %.3f s, min %.3f s, %.2f points/s; busiest rank's cpu median %.3f s\n", world.size(),
              median(all.wall), *std::min_element(all.wall.begin(), all.wall.end()), pn, median(all.cpu));
  std::printf("wall: speed-up %.3f, efficiency %.1f%%; cpu: speed-up %.3f, efficiency %.1f%%\n", pn / p1,
              100.0 * pn / p1 / world.size(), cpu_speedup, 100.0 * cpu_speedup / world.size());
  std::printf("surfaces bit-identical: %s; load average %.2f before, %.2f after\n", same ? "yes" : "NO", load_before,
              load_average());
  return same ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rc = 0;
  try {
    rc = run(parse(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_landscape: %s\n", e.what());
    rc = 2;
  }
  MPI_Finalize();
  return rc;
}
