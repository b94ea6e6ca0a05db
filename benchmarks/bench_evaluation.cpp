// Global test-set evaluation time against the forward-pass chunk
// (--eval-batch-size): metrics::evaluate_global, the code path of a run's
// per-round evaluation, on the full Fashion-MNIST test set (or a synthetic
// one), chunks dealt round-robin over the ranks.
//
// For every chunk size one warm-up, then --repeats rounds that each time all
// chunk sizes in turn (interleaved, so a change of machine load hits them
// alike). Timing: MPI_Barrier, MPI_Wtime, evaluate, slowest rank
// (MPI_Allreduce MAX). Prints per chunk size the median and minimum seconds,
// the ratio to the first size's median, the same for the CPU time of the
// busiest rank (far less sensitive to other jobs), the loss with all its digits and the
// accuracy (the loss must be the same bits at every chunk size and rank
// count: it is an exact sum of per-sample losses), and the 1-minute load
// average before and after.
#include <mpi.h>

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <time.h>
#include <vector>

#include "fedhpc/client/local_trainer.hpp"
#include "fedhpc/core/rng.hpp"
#include "fedhpc/data/dataset.hpp"
#include "fedhpc/data/partition.hpp"
#include "fedhpc/metrics/evaluation.hpp"
#include "fedhpc/model/model.hpp"
#include "fedhpc/mpi/comm.hpp"

namespace {

using namespace fedhpc;

struct Options {
  std::string model = "seed-cnn";
  std::vector<std::int64_t> chunks = {64, 128, 256, 512, 1000};
  int repeats = 5;
  int threads = 1;
  std::string dataset;
};

std::vector<std::int64_t> parse_list(const std::string& text) {
  std::vector<std::int64_t> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto comma = text.find(',', pos);
    out.push_back(std::stoll(text.substr(pos, comma - pos)));
    if (out.back() < 1) throw std::invalid_argument("--chunks: sizes must be >= 1");
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string arg = argv[i], v = argv[i + 1];
    if (arg == "--model") o.model = v;
    else if (arg == "--chunks") o.chunks = parse_list(v);
    else if (arg == "--repeats") o.repeats = std::stoi(v);
    else if (arg == "--threads") o.threads = std::stoi(v);
    else if (arg == "--dataset") o.dataset = v;
    else throw std::invalid_argument("unknown option " + arg +
                                     " (--model M --chunks a,b,c --repeats N --threads N --dataset D)");
  }
  if (argc % 2 == 0) throw std::invalid_argument("options come in pairs: --name value");
  struct stat info;
  if (o.dataset.empty())
    o.dataset = ::stat("/usr/share/datasets/fashion-mnist", &info) == 0 ? "fashion-mnist" : "synthetic";
  if (o.chunks.empty() || o.repeats < 1 || o.threads < 1) throw std::invalid_argument("bad counts");
  return o;
}

double load_average() {
  double avg[1] = {0.0};
  return ::getloadavg(avg, 1) == 1 ? avg[0] : -1.0;
}

// CPU seconds of this process: on a shared machine far less sensitive to
// other jobs than the wall clock.
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

int run(const Options& o) {
  const auto comm = mpi::Comm::world();
  at::set_num_threads(o.threads);
  data::DatasetOptions d;
  d.name = o.dataset;
  const auto dataset = data::load_dataset(d);
  data::PartitionOptions p;
  p.num_clients = 10;
  const auto partition = data::make_partition(dataset.train.labels, dataset.num_classes, p);
  model::ModelOptions m;
  m.name = o.model;
  m.channels = dataset.train.channels;
  m.height = dataset.train.height;
  m.width = dataset.train.width;
  m.classes = dataset.num_classes;
  const auto net = model::make_model(m);
  std::vector<float> params(std::size_t(net->layout().total()));
  auto rng = stream(0, StreamKind::Init);
  net->initialize(params.data(), rng);
  std::vector<std::unique_ptr<client::LocalTrainer>> trainers;
  for (auto chunk : o.chunks) {
    client::TrainOptions t;
    t.eval_batch_size = chunk;
    trainers.push_back(std::make_unique<client::LocalTrainer>(*net, dataset, partition, t));
  }
  const double load_before = load_average();
  std::vector<std::vector<double>> seconds(o.chunks.size()), cpu(o.chunks.size());
  std::vector<metrics::LossAccuracy> result(o.chunks.size());
  for (int rep = -1; rep < o.repeats; ++rep) {
    for (std::size_t k = 0; k < o.chunks.size(); ++k) {
      comm.barrier();
      const double t0 = MPI_Wtime(), c0 = cpu_seconds();
      result[k] = metrics::evaluate_global(*trainers[k], params.data(), dataset.test.count, o.chunks[k], comm);
      const double c = mpi::all_reduce(comm, cpu_seconds() - c0, mpi::Op::Max, "cpu");
      const double t = mpi::all_reduce(comm, MPI_Wtime() - t0, mpi::Op::Max, "time");
      if (rep >= 0) seconds[k].push_back(t);
      if (rep >= 0) cpu[k].push_back(c);
    }
  }
  if (comm.rank() != 0) return 0;
  std::printf("# bench_evaluation: model %s, %s test set (%lld samples), %d ranks, %d threads, %d repeats\n",
              o.model.c_str(), o.dataset.c_str(), (long long)dataset.test.count, comm.size(), o.threads, o.repeats);
  std::printf("# chunk  median_s  min_s  ratio_to_first  median_cpu_s  cpu_ratio  loss  accuracy\n");
  const double first = median(seconds[0]), first_cpu = median(cpu[0]);
  bool same = true;
  for (std::size_t k = 0; k < o.chunks.size(); ++k) {
    const double med = median(seconds[k]);
    same = same && std::memcmp(&result[k].loss, &result[0].loss, sizeof(double)) == 0;
    std::printf("%6lld  %.4f  %.4f  %.3f  %.4f  %.3f  %.17g  %.4f\n", (long long)o.chunks[k], med,
                *std::min_element(seconds[k].begin(), seconds[k].end()), med / first, median(cpu[k]),
                median(cpu[k]) / first_cpu, result[k].loss, result[k].accuracy);
  }
  std::printf("# loss bits equal at every chunk size: %s; load average %.2f before, %.2f after\n",
              same ? "yes" : "NO", load_before, load_average());
  return same ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rc = 0;
  try {
    rc = run(parse(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_evaluation: %s\n", e.what());
    rc = 2;
  }
  MPI_Finalize();
  return rc;
}
