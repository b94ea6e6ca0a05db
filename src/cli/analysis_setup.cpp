#include "fedhpc/cli/analysis_setup.hpp"

#include <ATen/Parallel.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "fedhpc/cli/components.hpp"
#include "fedhpc/cli/run_options.hpp"
#include "fedhpc/core/blas_info.hpp"
#include "fedhpc/core/error.hpp"
#include "fedhpc/core/interrupt.hpp"
#include "fedhpc/data/colored.hpp"
#include "fedhpc/data/dataset.hpp"
#include "fedhpc/data/partition.hpp"
#include "fedhpc/io/output_path.hpp"
#include "fedhpc/model/model.hpp"
#include "fedhpc/model/scenario.hpp"

namespace po = boost::program_options;

namespace fedhpc {

namespace {

// Boost's messages quote the option; keep them to one line.
std::string one_line(std::string text) {
  for (auto& c : text)
    if (c == '\n' || c == '\r') c = ' ';
  return text;
}

void check_ranges(const AnalysisOptions& o) {
  if (o.runs.empty()) throw InputError("no run file given; see --help");
  if (o.client < -1 || o.client > 100000000) throw InputError("--client: expected a client id >= 0");
  if (o.eval_samples < 0 || o.eval_samples > 1000000000)
    throw InputError("--eval-samples: expected an integer in [0, 1000000000] (0 = all)");
  if (o.threads < 1 || o.threads > 4096) throw InputError("--threads: expected an integer in [1, 4096]");
  if (o.output.empty()) throw InputError("--output: expected a file name");
}

}  // namespace

void add_analysis_options(po::options_description& desc, AnalysisOptions& o, const std::string& output) {
  desc.add_options()("help,h", "show this help")("config", po::value<std::string>(),
                                                "INI file of these options (key = value); the command line wins")(
      "client", po::value(&o.client)->default_value(-1),
      "evaluate on this client's training data (-1 = the union of all clients')")(
      "eval-samples", po::value(&o.eval_samples)->default_value(0),
      "evaluate on a seeded subset of K of those samples (0 = all)")(
      "seed", po::value(&o.seed)->default_value(0), "seed of the random directions and of --eval-samples")(
      "threads", po::value(&o.threads)->default_value(1), "torch and OpenBLAS threads per rank")(
      "output", po::value(&o.output)->default_value(output), "HDF5 output file")(
      "overwrite", po::bool_switch(&o.overwrite), "replace an existing output file");
}

void parse_analysis_command(const std::vector<std::string>& args, const std::string& usage, po::options_description& desc,
                            AnalysisOptions& o) {
  po::options_description all;
  all.add(desc).add_options()("runs", po::value(&o.runs));
  po::positional_options_description positional;
  positional.add("runs", -1);
  try {
    po::variables_map vm;
    po::store(po::command_line_parser(args).options(all).positional(positional).run(), vm);
    if (vm.count("help")) {
      std::ostringstream text;
      text << usage << "\n" << desc;
      o.help = true;
      o.help_text = text.str();
      return;
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
  check_ranges(o);
}

namespace {

// Data sets finished per client (colored-fashion-mnist's colours, --augment)
// need the run's partition, made again from its stored config as `run` makes it.
void finish_like_the_run(data::Dataset& dataset, const RunOptions& options) {
  if (!data::colored_after_partition(options.dataset) && !options.augment) return;
  auto partitioning = partition_options(options);
  partitioning.natural_clients = dataset.train_clients;
  const auto partition = data::make_partition(dataset.train.labels, dataset.num_classes, partitioning);
  data::finish_dataset(dataset, partition, dataset_options(options));
}

}  // namespace

std::unique_ptr<analysis::SampleEvaluator> make_evaluator(const analysis::RunFile& run, const AnalysisOptions& a) {
  at::set_num_threads(a.threads);
  set_blas_threads(a.threads);
  const auto options = options_from_config_text(run.config, run.path + ": stored config");
  if (options.dataset == "synthetic-population")  // no training set to sample: it is generated per round
    throw InputError("run file " + run.path + ": its --dataset synthetic-population cannot be evaluated here");
  const auto scenario = model::resolve_scenario(scenario_options(options));
  auto dataset = data::load_dataset(dataset_options(options));
  finish_like_the_run(dataset, options);
  auto model = model::make_model(model_options(options, dataset, scenario));
  analysis::check_same_layout(model->layout(), run.layout, "run file " + run.path,
                              "its /model layer table (against the model its config builds)");
  const std::int64_t clients = std::int64_t(run.train_offsets.size()) - 1;
  if (a.client >= clients)
    throw InputError("--client: " + std::to_string(a.client) + " is not a client of " + run.path + " (clients 0.." +
                     std::to_string(clients - 1) + ")");
  auto indices = analysis::sample_subset(analysis::training_indices(run, a.client), a.eval_samples, a.seed);
  if (indices.empty()) throw InputError("--client: client " + std::to_string(a.client) + " has no training samples");
  if (indices.back() >= dataset.train.count)
    throw InputError(run.path + ": /data/train_indices point past the " + std::to_string(dataset.train.count) +
                     " training samples its config loads");
  return std::make_unique<analysis::SampleEvaluator>(std::move(dataset), std::move(model), std::move(indices),
                                                     options.eval_batch_size);
}

std::string evaluated_on(const AnalysisOptions& o) {
  std::string text = o.client < 0 ? "all clients' training data" : "client " + std::to_string(o.client) + "'s training data";
  if (o.eval_samples > 0) text += ", a seeded subset of " + std::to_string(o.eval_samples) + " samples (seed " +
                                  std::to_string(o.seed) + ")";
  return text;
}

void check_analysis_output(const AnalysisOptions& o, const mpi::Comm& comm) {
  mpi::collective_try(comm, [&] {
    if (comm.rank() == 0) io::check_output_path(o.output, o.overwrite, o.runs);
  });
}

bool parse_finite(const std::string& text, double& out) {
  std::istringstream in(text);
  in >> out;
  return in && in.eof() && std::isfinite(out);
}

}  // namespace fedhpc
