// `fedhpc pretrain`: option parsing and the driver; the training is in
// model/pretrain.cpp, the file format in io/model_file.cpp.
#include "fedhpc/cli/pretrain_command.hpp"

#include <ATen/Parallel.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "fedhpc/cli/guarded_command.hpp"
#include "fedhpc/cli/run_options.hpp"
#include "fedhpc/core/blas_info.hpp"
#include "fedhpc/core/error.hpp"
#include "fedhpc/io/output_path.hpp"
#include "fedhpc/model/pretrain.hpp"

namespace fedhpc {

namespace {

namespace po = boost::program_options;

struct PretrainCli {
  model::PretrainOptions train;
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  std::int64_t train_samples = 10000;
  std::int64_t test_samples = 0;
  int threads = 1;
  std::string output = "lenet5-fashion-mnist.h5";
  bool overwrite = false;
  bool quiet = false;
  bool help = false;
  std::string help_text;
};

const char* kUsage = "Usage: fedhpc pretrain [--train-samples N] [--epochs E] [--output FILE.h5] [options]";

po::options_description describe(PretrainCli& o) {
  po::options_description d("fedhpc pretrain options (LeNet-5 on Fashion-MNIST)");
  d.add_options()("help,h", "show this help")("config", po::value<std::string>(),
                                                "INI file of these options (key = value); the command line wins")(
      "data-dir", po::value(&o.data_dir)->default_value(o.data_dir), "folder of the Fashion-MNIST idx files")(
      "train-samples", po::value(&o.train_samples)->default_value(o.train_samples),
      "train on the first N training images (0 = all 60,000)")(
      "test-samples", po::value(&o.test_samples)->default_value(o.test_samples),
      "measure the accuracy on the first N test images (0 = all 10,000)")(
      "epochs", po::value(&o.train.epochs)->default_value(o.train.epochs), "passes over the training images")(
      "lr", po::value(&o.train.lr)->default_value(o.train.lr), "SGD learning rate")(
      "momentum", po::value(&o.train.momentum)->default_value(o.train.momentum), "SGD momentum, in [0, 1)")(
      "batch-size", po::value(&o.train.batch_size)->default_value(o.train.batch_size), "minibatch size")(
      "seed", po::value(&o.train.seed)->default_value(o.train.seed), "seed of the initial model and the batch order")(
      "activation", po::value(&o.train.activation)->default_value(o.train.activation), "relu | tanh")(
      "threads", po::value(&o.threads)->default_value(o.threads),
      "torch threads of rank 0 (the bits depend on it: keep it for a reproducible file)")(
      "output", po::value(&o.output)->default_value(o.output), "the model file to write")(
      "overwrite", po::bool_switch(&o.overwrite), "replace an existing output file")(
      "quiet", po::bool_switch(&o.quiet), "no per-epoch lines");
  return d;
}

std::string one_line(std::string text) {
  for (auto& c : text)
    if (c == '\n' || c == '\r') c = ' ';
  return text;
}

template <class T>
void require_range(const char* name, T value, T lo, T hi, bool open_high = false) {
  if (value < lo || value > hi || (open_high && value == hi)) {
    std::ostringstream text;
    text << "--" << name << ": must be in [" << lo << ", " << hi << (open_high ? ")" : "]") << "; got " << value;
    throw InputError(text.str());
  }
}

void check(const PretrainCli& o) {
  require_range<std::int64_t>("train-samples", o.train_samples, 0, 60000);
  require_range<std::int64_t>("test-samples", o.test_samples, 0, 10000);
  require_range<std::int64_t>("epochs", o.train.epochs, 1, 10000);
  require_range<std::int64_t>("batch-size", o.train.batch_size, 1, 60000);
  require_range("threads", o.threads, 1, 4096);
  if (!(o.train.lr > 0.0 && o.train.lr <= 100.0)) throw InputError("--lr: must be in (0, 100]; got " + std::to_string(o.train.lr));
  require_range("momentum", o.train.momentum, 0.0, 1.0, true);
  if (o.train.activation != "relu" && o.train.activation != "tanh")
    throw InputError("--activation: expected relu|tanh; got " + quote_input(o.train.activation));
  if (o.output.empty()) throw InputError("--output: expected a file name");
}

PretrainCli parse(const std::vector<std::string>& args) {
  PretrainCli o;
  auto desc = describe(o);
  try {
    po::variables_map vm;
    po::store(po::command_line_parser(args).options(desc).run(), vm);
    if (vm.count("help")) {
      std::ostringstream text;
      text << kUsage << "\n\n" << desc;
      o.help = true;
      o.help_text = text.str();
      return o;
    }
    if (vm.count("config")) {
      const auto path = vm["config"].as<std::string>();
      std::ifstream in(path);
      if (!in) throw InputError("--config " + quote_input(path) + ": cannot open");
      po::store(po::parse_config_file(in, desc), vm);
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw InputError(one_line(e.what()));
  }
  check(o);
  return o;
}

data::Dataset load(const PretrainCli& o) {
  data::DatasetOptions d;
  d.name = "fashion-mnist";
  d.data_dir = o.data_dir;
  d.max_train_samples = o.train_samples;
  d.max_test_samples = o.test_samples;
  try {
    return data::load_dataset(d);
  } catch (const InputError& e) {
    throw InputError("--data-dir: " + std::string(e.what()));
  }
}

// Rank 0's work: load, train, write OUTPUT.partial, then move it in place.
void pretrain_on_root(const PretrainCli& o) {
  at::set_num_threads(o.threads);
  set_blas_threads(o.threads);
  io::check_output_path(o.output, o.overwrite, {});
  io::OutputLock lock(o.output);
  const auto ds = load(o);
  const double t0 = MPI_Wtime();
  auto report = [&](std::int64_t epoch, double loss) {
    if (o.quiet) return;
    std::printf("epoch %lld: mean training loss %.4f (%.1f s)\n", (long long)epoch, loss, MPI_Wtime() - t0);
    std::fflush(stdout);
  };
  const auto file = model::pretrain_lenet5(ds, o.train, report);
  io::check_output_path(o.output, o.overwrite, {});  // again under the lock
  io::write_model_file(io::partial_path(o.output), file, true);
  io::publish(o.output, true);
  std::printf("wrote %s: lenet5 (%s), %lld parameters, test accuracy %.4f on %lld images, checksum %s\n",
              o.output.c_str(), file.activation.c_str(), (long long)file.layout.total(), file.test_accuracy,
              (long long)file.test_samples, io::weights_checksum(file.weights).c_str());
}

}  // namespace

int pretrain_command(const std::vector<std::string>& args, const mpi::Comm& comm) {
  const bool root = comm.rank() == 0;
  return guarded_command(comm, "pretrain", [&] {
    const auto o = parse(args);
    if (o.help) {
      if (root) std::printf("%s", o.help_text.c_str());
      return;
    }
    mpi::collective_try(comm, [&] {
      if (root) pretrain_on_root(o);
    });
  });
}

}  // namespace fedhpc
