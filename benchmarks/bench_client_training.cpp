// Client training throughput: fedhpc's LocalTrainer against a bare LibTorch
// loop doing the same steps on the same model, data and minibatches.
//
// Each rank trains its block of clients (topology::block_of_rank, as a run
// does) on both sides:
//   fedhpc: LocalTrainer::train_block, the code path of a real round minus
//           aggregation and evaluation (the sink only adds to a checksum);
//   bare:   torch::nn modules of the same architecture, a fresh
//           torch::optim::Adam per client, clip_grad_norm_ per tensor, the
//           starting weights copied in from a saved state for every client;
//           contiguous NCHW tensors (the reference);
//   bare-cl: the same loop with the conv weights and the input batches in
//           channels-last memory format (what `model.to(channels_last)`
//           and `x.to(channels_last)` do in Python).
// Timing is heFFTe-style: MPI_Barrier, MPI_Wtime, run, slowest rank
// (MPI_Allreduce MAX). One warm-up per side, then repeats interleaved
// (fedhpc, bare, bare-cl, fedhpc, ...); the medians and fedhpc's ratio to
// each bare side are printed.
#include <mpi.h>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <vector>

#include "fedhpc/client/local_trainer.hpp"
#include "fedhpc/core/rng.hpp"
#include "fedhpc/data/dataset.hpp"
#include "fedhpc/data/partition.hpp"
#include "fedhpc/model/model.hpp"
#include "fedhpc/topology/topology.hpp"

namespace {

using namespace fedhpc;

const char* kDataDir = "/usr/share/datasets/fashion-mnist";

struct Options {
  std::string model = "seed-cnn";
  std::int64_t clients = 10;
  std::int64_t samples_per_client = 480;
  std::int64_t batch_size = 16;
  int iterations = 1;
  int repeats = 5;
  std::string dataset;
  int threads = 1;
  double clip_norm = 1.0;
  std::uint64_t seed = 1;
  std::string side = "all";  // all | both (fedhpc and bare) | fedhpc | bare | bare-cl (e.g. under perf)
  bool runs(const std::string& s) const {
    return side == "all" || side == s || (side == "both" && (s == "fedhpc" || s == "bare"));
  }
};

const char* kUsage =
    "Usage: bench_client_training [options]\n"
    "  --model seed-cnn|mlp        model (default seed-cnn)\n"
    "  --clients N                 simulated clients over all ranks (default 10)\n"
    "  --samples-per-client N      training samples per client (default 480)\n"
    "  --batch-size N              minibatch size (default 16)\n"
    "  --iterations N              local iterations (passes) per client (default 1)\n"
    "  --repeats N                 timed repeats per side (default 5)\n"
    "  --dataset fashion-mnist|synthetic  (default fashion-mnist if installed)\n"
    "  --threads N                 torch intra-op threads per rank (default 1)\n"
    "  --clip-norm X               per-tensor clip norm, 0 = off (default 1.0)\n"
    "  --seed N                    seed of data, partition, init and shuffles (default 1)\n"
    "  --side all|both|fedhpc|bare|bare-cl\n"
    "                              sides to time: all three, fedhpc and bare (both),\n"
    "                              or one, e.g. to profile it (default all)\n";

bool dir_exists(const char* path) {
  struct stat info;
  return ::stat(path, &info) == 0 && S_ISDIR(info.st_mode);
}

Options parse(int argc, char** argv, bool& help) {
  Options o;
  help = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      help = true;
      return o;
    }
    if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value (or unknown option)");
    const std::string v = argv[++i];
    if (arg == "--model") o.model = v;
    else if (arg == "--clients") o.clients = std::stoll(v);
    else if (arg == "--samples-per-client") o.samples_per_client = std::stoll(v);
    else if (arg == "--batch-size") o.batch_size = std::stoll(v);
    else if (arg == "--iterations") o.iterations = std::stoi(v);
    else if (arg == "--repeats") o.repeats = std::stoi(v);
    else if (arg == "--dataset") o.dataset = v;
    else if (arg == "--threads") o.threads = std::stoi(v);
    else if (arg == "--clip-norm") o.clip_norm = std::stod(v);
    else if (arg == "--seed") o.seed = std::stoull(v);
    else if (arg == "--side") o.side = v;
    else throw std::invalid_argument("unknown option " + arg);
  }
  if (o.dataset.empty()) o.dataset = dir_exists(kDataDir) ? "fashion-mnist" : "synthetic";
  if (o.side != "all" && o.side != "both" && o.side != "fedhpc" && o.side != "bare" && o.side != "bare-cl")
    throw std::invalid_argument("--side: all, both, fedhpc, bare or bare-cl");
  if (o.model != "seed-cnn" && o.model != "mlp") throw std::invalid_argument("--model: seed-cnn or mlp");
  if (o.dataset != "fashion-mnist" && o.dataset != "synthetic")
    throw std::invalid_argument("--dataset: fashion-mnist or synthetic");
  if (o.clients < 1 || o.samples_per_client < 1 || o.batch_size < 1 || o.iterations < 1 || o.repeats < 1 ||
      o.threads < 1 || !(o.clip_norm >= 0.0))
    throw std::invalid_argument("counts must be >= 1 and --clip-norm >= 0");
  return o;
}

// ---------------------------------------------------------------------------
// The same minibatches as LocalTrainer (local_iterations passes, one pass per
// iteration): the client's training indices shuffled by the stream
// (seed, Shuffle, client, round, iteration << 32 | pass), cut into batches.
std::vector<std::vector<std::int64_t>> make_batches(const data::Partition& p, std::uint64_t seed,
                                                    std::int64_t batch_size, std::int64_t client, int round,
                                                    int iteration) {
  const std::int64_t n = p.train_count(client);
  const std::int64_t* idx = p.train_begin(client);
  const std::int64_t b = std::min(batch_size, n);
  std::vector<std::int64_t> order(idx, idx + n);
  auto rng = stream(seed, StreamKind::Shuffle, std::uint64_t(client), std::uint64_t(round),
                    std::uint64_t(iteration) << 32);
  shuffle(order.begin(), order.end(), rng);
  std::vector<std::vector<std::int64_t>> out;
  for (std::int64_t pos = 0; pos < n; pos += b)
    out.emplace_back(order.begin() + pos, order.begin() + std::min(pos + b, n));
  return out;
}

// ---------------------------------------------------------------------------
// Bare LibTorch models with the architectures of src/model/models.cpp.
struct BareNet : torch::nn::Module {
  virtual torch::Tensor forward(const torch::Tensor& x) = 0;
};

torch::Tensor leaky(const torch::Tensor& x) {
  return torch::nn::functional::leaky_relu(x, torch::nn::functional::LeakyReLUFuncOptions().negative_slope(0.3));
}

struct BareCnn : BareNet {
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::Linear dense{nullptr};
  BareCnn(int channels, int height, int width, int classes) {
    const std::int64_t h = ((height - 2) / 2 - 2) / 2;
    const std::int64_t w = ((width - 2) / 2 - 2) / 2;
    conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, 32, 3)));
    conv2 = register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(32, 64, 3)));
    dense = register_module("dense", torch::nn::Linear(64 * h * w, classes));
  }
  torch::Tensor forward(const torch::Tensor& x) override {
    namespace F = torch::nn::functional;
    auto h = F::max_pool2d(leaky(conv1(x)), F::MaxPool2dFuncOptions(2));
    h = F::max_pool2d(leaky(conv2(h)), F::MaxPool2dFuncOptions(2));
    return dense(h.flatten(1));
  }
};

struct BareMlp : BareNet {
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
  BareMlp(std::int64_t in, std::int64_t hidden, int classes) {
    fc1 = register_module("fc1", torch::nn::Linear(in, hidden));
    fc2 = register_module("fc2", torch::nn::Linear(hidden, classes));
  }
  torch::Tensor forward(const torch::Tensor& x) override { return fc2(leaky(fc1(x.flatten(1)))); }
};

// x in channels-last memory format, as Python's x.to(memory_format=...)
// (a copy; with one channel only the strides change).
torch::Tensor to_channels_last(const torch::Tensor& x) {
  return x.to(x.options(), false, false, torch::MemoryFormat::ChannelsLast);
}

struct BareTrainer {
  std::shared_ptr<BareNet> net;
  std::vector<torch::Tensor> params;
  std::vector<torch::Tensor> start;  // the saved global state every client starts from
  torch::Tensor train_x, train_y;
  const data::Partition& partition;
  const Options& o;
  bool channels_last = false;  // conv weights and input batches in channels-last

  BareTrainer(std::shared_ptr<BareNet> n, const data::Dataset& d, const data::Partition& p, const Options& opt,
              bool cl = false)
      : net(std::move(n)), partition(p), o(opt), channels_last(cl) {
    params = net->parameters();
    // Python's model.to(memory_format=torch.channels_last): every 4-d parameter.
    if (channels_last)
      for (auto& q : params)
        if (q.dim() == 4) q.set_data(to_channels_last(q.detach()));
    const auto& t = d.train;
    train_x = torch::from_blob(const_cast<float*>(t.pixels.data()), {t.count, t.channels, t.height, t.width},
                               torch::kFloat);
    train_y = torch::from_blob(const_cast<std::int64_t*>(t.labels.data()), {t.count}, torch::kLong);
  }

  // Saves the global model (flat, fedhpc layout order) as the start state.
  void set_start(const std::vector<float>& flat, const ParamLayout& layout) {
    const auto& layers = layout.layers();
    if (layers.size() != params.size()) throw std::logic_error("bare model: parameter count differs");
    start.clear();
    for (std::size_t i = 0; i < layers.size(); ++i) {
      if (params[i].sizes() != c10::IntArrayRef(layers[i].shape))
        throw std::logic_error("bare model: shape of " + layers[i].name + " differs");
      start.push_back(torch::from_blob(const_cast<float*>(flat.data()) + layers[i].offset, layers[i].shape,
                                       torch::kFloat)
                          .clone());
    }
  }

  double train_block(const topology::ClientBlock& block, int round) {
    double checksum = 0.0;
    for (std::int64_t client = block.begin; client < block.end; ++client) {
      {
        torch::NoGradGuard no_grad;
        for (std::size_t i = 0; i < params.size(); ++i) params[i].copy_(start[i]);
      }
      torch::optim::Adam adam(params, torch::optim::AdamOptions(1e-3).eps(1e-7));
      for (int it = 0; it < o.iterations; ++it) {
        double loss_sum = 0.0;
        std::int64_t seen = 0;
        for (const auto& batch : make_batches(partition, o.seed, o.batch_size, client, round, it)) {
          adam.zero_grad();
          auto idx = torch::from_blob(const_cast<std::int64_t*>(batch.data()), {std::int64_t(batch.size())},
                                      torch::kLong);
          auto x = train_x.index_select(0, idx);
          if (channels_last) x = to_channels_last(x);
          auto y = train_y.index_select(0, idx);
          auto loss = torch::nll_loss(torch::log_softmax(net->forward(x), 1), y);
          loss.backward();
          loss_sum += loss.item<double>() * double(batch.size());
          seen += std::int64_t(batch.size());
          if (o.clip_norm > 0.0)
            for (const auto& p : params) torch::nn::utils::clip_grad_norm_({p}, o.clip_norm);
          adam.step();
        }
        checksum += loss_sum / double(seen);
      }
      checksum += params[0].data_ptr<float>()[0];
    }
    return checksum;
  }

  std::vector<float> flat() const {
    std::vector<float> out;
    for (const auto& p : params) {
      auto c = p.detach().contiguous();
      out.insert(out.end(), c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
    }
    return out;
  }
};

// ---------------------------------------------------------------------------
// CPU seconds of this process (all its threads). On a shared machine the
// wall clock also counts time the rank spent descheduled; CPU time does not.
double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

struct Timing {
  double wall = 0.0;  // slowest rank
  double cpu = 0.0;   // largest CPU time of any rank
};

template <class F>
Timing timed(F&& run) {
  MPI_Barrier(MPI_COMM_WORLD);
  const double c0 = cpu_seconds();
  const double t0 = MPI_Wtime();
  run();
  Timing t{MPI_Wtime() - t0, cpu_seconds() - c0};
  MPI_Allreduce(MPI_IN_PLACE, &t.wall, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  MPI_Allreduce(MPI_IN_PLACE, &t.cpu, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return t;
}

// The 1-minute load average, to tell a busy machine from a quiet one.
std::string loadavg() {
  std::string out = "?";
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    char buf[64] = {0};
    if (std::fgets(buf, sizeof buf, f)) out = std::string(buf).substr(0, std::string(buf).find(' '));
    std::fclose(f);
  }
  return out;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const auto n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int bench(const Options& o, int rank, int ranks) {
  at::set_num_threads(o.threads);
  const std::int64_t total = o.clients * o.samples_per_client;

  data::DatasetOptions d;
  d.name = o.dataset;
  d.data_dir = kDataDir;
  d.seed = o.seed;
  d.max_train_samples = total;
  d.max_test_samples = 100;
  d.synthetic_train_samples = total;
  d.synthetic_test_samples = 100;
  const auto dataset = data::load_dataset(d);
  if (dataset.train.count < total)
    throw std::invalid_argument("dataset has " + std::to_string(dataset.train.count) + " training samples, " +
                                std::to_string(total) + " needed");

  // IID, no local test split: every client holds samples_per_client
  // training samples.
  data::PartitionOptions po;
  po.method = "iid";
  po.num_clients = o.clients;
  po.seed = o.seed;
  po.local_test_fraction = 0.0;
  const auto partition = data::make_partition(dataset.train.labels, dataset.num_classes, po);

  model::ModelOptions mo;
  mo.name = o.model;
  mo.channels = dataset.train.channels;
  mo.height = dataset.train.height;
  mo.width = dataset.train.width;
  mo.classes = dataset.num_classes;
  mo.activation = model::Activation::LeakyRelu;
  mo.leaky_slope = 0.3;
  const auto model = model::make_model(mo);
  std::vector<float> global(std::size_t(model->layout().total()));
  {
    auto rng = stream(o.seed, StreamKind::Init);
    model->initialize(global.data(), rng);
  }

  client::TrainOptions to;
  to.optimizer = "adam";
  to.lr = 1e-3;
  to.eps = 1e-7;
  to.clip_norm = o.clip_norm;
  to.batch_size = o.batch_size;
  to.local_iterations = o.iterations;
  to.seed = o.seed;
  client::LocalTrainer trainer(*model, dataset, partition, to);

  const auto make_net = [&]() -> std::shared_ptr<BareNet> {
    if (o.model == "seed-cnn") return std::make_shared<BareCnn>(mo.channels, mo.height, mo.width, mo.classes);
    return std::make_shared<BareMlp>(std::int64_t(mo.channels) * mo.height * mo.width, mo.hidden, mo.classes);
  };
  BareTrainer bare(make_net(), dataset, partition, o);
  BareTrainer bare_cl(make_net(), dataset, partition, o, true);
  bare.set_start(global, model->layout());
  bare_cl.set_start(global, model->layout());

  const auto block = topology::block_of_rank(o.clients, rank, ranks);
  std::vector<std::int64_t> clients;
  for (std::int64_t c = block.begin; c < block.end; ++c) clients.push_back(c);

  std::int64_t steps = 0, samples = 0;
  for (std::int64_t c = 0; c < o.clients; ++c) {
    const auto n = partition.train_count(c);
    const auto b = std::min(o.batch_size, n);
    steps += o.iterations * ((n + b - 1) / b);
    samples += o.iterations * n;
  }

  double checksum = 0.0;
  std::vector<float> last_fedhpc;
  const client::UpdateSink keep_last = [&](const client::ClientUpdate& u) {
    last_fedhpc.assign(u.params, u.params + global.size());
  };
  const client::UpdateSink sink = [&](const client::ClientUpdate& u) {
    checksum += double(u.params[0]) + u.iteration_loss[0];
  };

  // Warm-up (round 0) doubles as a check that the sides do the same work:
  // the last client of the block must end at (nearly) the same parameters.
  const bool run_f = o.runs("fedhpc"), run_b = o.runs("bare"), run_c = o.runs("bare-cl");
  if (run_f) trainer.train_block(global.data(), clients, 0, keep_last);
  if (run_b) bare.train_block(block, 0);
  if (run_c) bare_cl.train_block(block, 0);
  const auto check = [&](const BareTrainer& side, bool ran) {
    double diff[2] = {0.0, 0.0};  // max |bare - fedhpc|, max |bare|
    if (ran && run_f && !clients.empty()) {
      const auto b = side.flat();
      for (std::size_t i = 0; i < b.size(); ++i) {
        diff[0] = std::max(diff[0], double(std::fabs(b[i] - last_fedhpc[i])));
        diff[1] = std::max(diff[1], double(std::fabs(b[i])));
      }
    }
    MPI_Allreduce(MPI_IN_PLACE, diff, 2, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return std::make_pair(diff[0], diff[1]);
  };
  const auto check_b = check(bare, run_b), check_c = check(bare_cl, run_c);

  const std::string load_before = loadavg();
  std::vector<double> t_f, t_b, t_c, c_f, c_b, c_c;
  for (int r = 0; r < o.repeats; ++r) {
    const int round = r + 1;
    Timing f, b, c;
    if (run_f) f = timed([&] { trainer.train_block(global.data(), clients, round, sink); });
    if (run_b) b = timed([&] { checksum += bare.train_block(block, round); });
    if (run_c) c = timed([&] { checksum += bare_cl.train_block(block, round); });
    t_f.push_back(f.wall);
    t_b.push_back(b.wall);
    t_c.push_back(c.wall);
    c_f.push_back(f.cpu);
    c_b.push_back(b.cpu);
    c_c.push_back(c.cpu);
    if (rank == 0)
      std::printf("# repeat %d fedhpc=%.4fs bare=%.4fs bare_cl=%.4fs (cpu fedhpc=%.4fs bare=%.4fs bare_cl=%.4fs)\n",
                  r + 1, f.wall, b.wall, c.wall, f.cpu, b.cpu, c.cpu);
  }
  MPI_Allreduce(MPI_IN_PLACE, &checksum, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);

  const double mf = median(t_f), mb = median(t_b), mc = median(t_c);
  if (rank == 0) {
    const auto low = [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); };
    const double nf = low(t_f), nb = low(t_b), nc = low(t_c);
    std::printf(
        "# min fedhpc=%.4fs bare=%.4fs bare_cl=%.4fs ratio_of_min=%.3f ratio_cl_of_min=%.3f; loadavg before=%s "
        "after=%s (nproc=%ld)\n",
        nf, nb, nc, nf / nb, nf / nc, load_before.c_str(), loadavg().c_str(), sysconf(_SC_NPROCESSORS_ONLN));
    const double cf = median(c_f), cb = median(c_b), cc = median(c_c);
    std::printf(
        "# median cpu fedhpc=%.4fs bare=%.4fs bare_cl=%.4fs cpu_ratio=%.3f cpu_ratio_cl=%.3f (CPU time of the "
        "busiest rank)\n",
        cf, cb, cc, cf / cb, cf / cc);
    if (run_f && (run_b || run_c))
      std::printf(
          "# final-params check (warm-up, last client of each block): bare max_abs_diff=%.3g bare_cl "
          "max_abs_diff=%.3g max_abs_param=%.3g\n",
          check_b.first, check_c.first, std::max(check_b.second, check_c.second));
    std::printf("# checksum %.6g\n", checksum);
    std::printf(
        "model=%s dataset=%s ranks=%d threads=%d clients=%lld samples_per_client=%lld batch=%lld iterations=%d "
        "clip=%g steps=%lld repeats=%d fedhpc=%.3fs bare=%.3fs bare_cl=%.3fs ratio=%.3f ratio_cl=%.3f "
        "fedhpc_samples_per_s=%.0f bare_samples_per_s=%.0f bare_cl_samples_per_s=%.0f\n",
        o.model.c_str(), o.dataset.c_str(), ranks, o.threads, (long long)o.clients, (long long)o.samples_per_client,
        (long long)o.batch_size, o.iterations, o.clip_norm, (long long)steps, o.repeats, mf, mb, mc, mf / mb,
        mf / mc, double(samples) / mf, double(samples) / mb, double(samples) / mc);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  int status = 0;
  bool help = false;
  Options o;
  try {
    o = parse(argc, argv, help);
  } catch (const std::exception& e) {
    if (rank == 0) std::fprintf(stderr, "bench_client_training: error: %s\n%s", e.what(), kUsage);
    MPI_Finalize();
    return 2;
  }
  if (help) {
    if (rank == 0) std::printf("%s", kUsage);
    MPI_Finalize();
    return 0;
  }
  try {
    status = bench(o, rank, ranks);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_client_training: rank %d: %s\n", rank, e.what());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  MPI_Finalize();
  return status;
}
