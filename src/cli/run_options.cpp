#include "fedhpc/cli/run_options.hpp"

#include <boost/program_options.hpp>
#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <iomanip>
#include <limits>
#include <sstream>
#include <variant>

#include "fedhpc/aggregation/aggregator.hpp"
#include "fedhpc/core/error.hpp"
#include "fedhpc/topology/topology.hpp"

namespace po = boost::program_options;

namespace fedhpc {

namespace {

using Target = std::variant<std::string*, std::int64_t*, int*, double*, bool*, std::uint64_t*>;

struct OptionSpec {
  const char* name;
  Target target;
  const char* help;
};

// The single table of options: it drives --help, parsing and the INI dump.
std::vector<std::pair<std::string, std::vector<OptionSpec>>> option_table(RunOptions& o) {
  return {
      {"Data",
       {{"dataset", &o.dataset, "fashion-mnist | synthetic"},
        {"data-dir", &o.data_dir, "directory with the Fashion-MNIST IDX .gz files"},
        {"max-train-samples", &o.max_train_samples, "use only the first K training samples (0 = all)"},
        {"max-test-samples", &o.max_test_samples, "use only the first K global test samples (0 = all)"},
        {"normalize", &o.normalize, "none (pixels in [0,1]) | standard (zero mean, unit variance over the training set)"},
        {"synthetic-train-samples", &o.synthetic_train_samples, "synthetic: training samples"},
        {"synthetic-test-samples", &o.synthetic_test_samples, "synthetic: global test samples"},
        {"synthetic-classes", &o.synthetic_classes, "synthetic: classes"},
        {"synthetic-side", &o.synthetic_side, "synthetic: images are 1 x side x side"},
        {"synthetic-noise", &o.synthetic_noise, "synthetic: std-dev of pixel noise"}}},
      {"Clients",
       {{"clients", &o.clients, "number of simulated clients N"},
        {"partition", &o.partition, "iid | dirichlet | shards"},
        {"dirichlet-alpha", &o.dirichlet_alpha, "dirichlet: concentration alpha > 0"},
        {"dirichlet-min-samples", &o.dirichlet_min_samples, "dirichlet: redraw until every client has this many"},
        {"shards-per-client", &o.shards_per_client, "shards: label-sorted shards per client"},
        {"local-test-fraction", &o.local_test_fraction, "fraction of each client's samples held out, in [0,1)"},
        {"participation", &o.participation, "fraction of clients sampled per round, in (0,1]"},
        {"concept-shift", &o.concept_shift,
         "G groups of clients (by partition index); group g > 0 sees its labels permuted (1 = none)"}}},
      {"Model",
       {{"model", &o.model, "seed-cnn | mlp | logreg"},
        {"hidden", &o.hidden, "mlp: hidden units"},
        {"scenario", &o.scenario, "baseline | exploding | vanishing (sets the next three defaults)"},
        {"activation", &o.activation, "scenario | relu | leaky-relu | tanh"},
        {"conv-init", &o.conv_init, "scenario | glorot | uniform:LOW:HIGH (conv weights)"},
        {"conv-bias-init", &o.conv_bias_init,
         "scenario | zero | uniform: conv biases 0 or from the --conv-init range"},
        {"clip-norm", &o.clip_norm, "scenario | C: clip each gradient tensor to norm <= C (0 = off)"},
        {"leaky-slope", &o.leaky_slope, "negative slope of leaky-relu (Keras LeakyReLU default)"}}},
      {"Local training",
       {{"optimizer", &o.optimizer, "adam | sgd"},
        {"lr", &o.lr, "learning rate"},
        {"momentum", &o.momentum, "sgd momentum"},
        {"beta1", &o.beta1, "adam beta1"},
        {"beta2", &o.beta2, "adam beta2"},
        {"eps", &o.eps, "adam epsilon"},
        {"batch-size", &o.batch_size, "minibatch size (0 = full batch)"},
        {"local-iterations", &o.local_iterations, "iterations per round"},
        {"iteration-steps", &o.iteration_steps, "minibatch steps per iteration (0 = one pass over the data)"},
        {"threads", &o.threads, "torch threads per rank"}}},
      {"Federation",
       {{"topology", &o.topology, "centralized | hierarchical | ring | clustered | gossip"},
        {"aggregator", &o.aggregator, "fedavg"},
        {"rounds", &o.rounds, "global rounds R"},
        {"seed", &o.seed, "seed of every random stream"},
        {"eval-batch-size", &o.eval_batch_size, "samples per evaluation chunk"},
        {"max-memory-gb", &o.max_memory_gb, "refuse runs whose per-client state needs more GB per rank"}}},
      {"Hierarchical topology",
       {{"edges", &o.edges, "edge nodes E"},
        {"edge-assignment", &o.edge_assignment, "contiguous | label-balanced"},
        {"edge-interval", &o.edge_interval, "edges average their clients every k local iterations"}}},
      {"Ring topology (hybrid STAR-rings)",
       {{"rings", &o.rings, "rings G"},
        {"ring-grouping", &o.ring_grouping, "contiguous | random | label-diverse"}}},
      {"Clustered topology (SR-FCA-like)",
       {{"recluster-every", &o.recluster_every, "re-cluster every this many rounds"},
        {"cluster-threshold", &o.cluster_threshold, "lambda: distance threshold for clustering and merging"},
        {"cluster-min-size", &o.cluster_min_size, "t: smaller clusters are dissolved"},
        {"trim-fraction", &o.trim_fraction, "beta of the coordinate-wise trimmed mean, in [0, 0.5)"}}},
      {"Gossip topology",
       {{"gossip-graph", &o.gossip_graph, "ring | torus | random-k | complete"},
        {"gossip-k", &o.gossip_k, "random-k: minimum degree"}}},
      {"Output",
       {{"output", &o.output, "HDF5 output file"},
        {"overwrite", &o.overwrite, "replace an existing output file"},
        {"save-weights", &o.save_weights, "none | global | clients"},
        {"quiet", &o.quiet, "no per-round progress lines"}}},
      {"Monitoring",
       {{"monitor", &o.monitor, "off | every | last: gradient diagnostics after every local iteration or the last"},
        {"on-nonfinite", &o.on_nonfinite, "skip | keep | abort: what a client with NaN/Inf values does"},
        {"save-gradients", &o.save_gradients, "store each client's full gradient at the end of the round"}}},
      {"Fault injection",
       {{"fail-at-round", &o.fail_at_round,
         "make the last rank fail in round R (0 = never); tests the failed-run path"}}},
  };
}

template <class T>
po::typed_value<T>* value_for(T* target) {
  return po::value<T>(target)->default_value(*target);
}

po::typed_value<double>* value_for(double* target) {
  std::ostringstream text;
  text << *target;
  return po::value<double>(target)->default_value(*target, text.str());
}

po::typed_value<bool>* value_for(bool* target) {
  return po::value<bool>(target)->default_value(*target)->implicit_value(true);
}

po::options_description describe(RunOptions& o, std::string* config_file) {
  po::options_description all("fedhpc run options");
  po::options_description general("General");
  general.add_options()("help,h", "show this help")(
      "config", po::value<std::string>(config_file), "INI file of options (key = value); the command line wins");
  all.add(general);
  for (auto& [title, specs] : option_table(o)) {
    po::options_description group(title);
    for (auto& spec : specs)
      std::visit([&](auto* t) { group.add_options()(spec.name, value_for(t), spec.help); }, spec.target);
    all.add(group);
  }
  return all;
}

std::string format_value(const Target& target) {
  std::ostringstream out;
  std::visit(
      [&](auto* t) {
        using T = std::decay_t<decltype(*t)>;
        if constexpr (std::is_same_v<T, bool>) {
          out << (*t ? "true" : "false");
        } else if constexpr (std::is_same_v<T, double>) {
          out << std::setprecision(17) << *t;
        } else {
          out << *t;
        }
      },
      target);
  return out.str();
}

void require(bool ok, const std::string& option, const std::string& message) {
  if (!ok) throw InputError("--" + option + ": " + message);
}

}  // namespace

ParsedRun parse_run_options(const std::vector<std::string>& args) {
  ParsedRun parsed;
  std::string config_file;
  auto desc = describe(parsed.options, &config_file);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(desc).run(), vm);
    if (vm.count("help")) {
      std::ostringstream text;
      text << "Usage: fedhpc run [--config FILE.ini] [--option value ...]\n\n" << desc;
      parsed.help = true;
      parsed.help_text = text.str();
      return parsed;
    }
    if (vm.count("config")) {
      config_file = vm["config"].as<std::string>();
      std::ifstream in(config_file);
      if (!in) throw InputError("--config: cannot open " + config_file);
      try {
        po::store(po::parse_config_file(in, desc, false), vm);
      } catch (const po::error& e) {
        throw InputError("--config " + config_file + ": " + e.what());
      }
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw InputError(e.what());
  }
  for (const auto& [name, value] : vm)
    if (!value.defaulted() && name != "config" && name != "help") parsed.options.given.push_back(name);
  return parsed;
}

bool RunOptions::was_given(const std::string& name) const {
  return std::find(given.begin(), given.end(), name) != given.end();
}

namespace {

// Options that only make sense with one topology.
void check_topology_options(const RunOptions& o) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> owned = {
      {"hierarchical", {"edges", "edge-assignment", "edge-interval"}},
      {"ring", {"rings", "ring-grouping"}},
      {"clustered", {"recluster-every", "cluster-threshold", "cluster-min-size", "trim-fraction"}},
      {"gossip", {"gossip-graph", "gossip-k"}},
  };
  for (const auto& [topology, names] : owned)
    for (const auto& name : names)
      if (o.topology != topology && o.was_given(name))
        throw InputError("--" + name + ": only applies to --topology " + topology + " (this run is " + o.topology +
                         ")");
}

}  // namespace

void validate(const RunOptions& o) {
  topology::topology_registry().get(o.topology, "topology");
  aggregation::aggregator_registry().get(o.aggregator, "aggregator");
  check_topology_options(o);
  require(o.concept_shift >= 1 && o.concept_shift <= o.clients, "concept-shift", "must be in [1, clients]");
  require(o.edges >= 1, "edges", "must be at least 1");
  require(o.edge_interval >= 1, "edge-interval", "must be at least 1");
  require(o.rings >= 1, "rings", "must be at least 1");
  require(o.recluster_every >= 1, "recluster-every", "must be at least 1");
  require(o.cluster_threshold > 0.0, "cluster-threshold", "must be > 0");
  require(o.cluster_min_size >= 1, "cluster-min-size", "must be at least 1");
  require(o.trim_fraction >= 0.0 && o.trim_fraction < 0.5, "trim-fraction", "must be in [0, 0.5)");
  require(o.gossip_k >= 1, "gossip-k", "must be at least 1");
  require(o.max_memory_gb > 0.0, "max-memory-gb", "must be > 0");
  if (o.topology == "hierarchical")
    require(o.edges <= o.clients, "edges", std::to_string(o.edges) + " edges for " + std::to_string(o.clients) +
                                               " clients; need edges <= clients");
  if (o.topology == "ring")
    require(o.rings <= o.clients, "rings", std::to_string(o.rings) + " rings for " + std::to_string(o.clients) +
                                               " clients; need rings <= clients");
  if (o.topology == "ring" || o.topology == "clustered")
    require(o.participation == 1.0, "participation", "must be 1 with --topology " + o.topology);
  require(o.clients >= 1, "clients", "must be at least 1");
  require(o.rounds >= 1, "rounds", "must be at least 1");
  require(o.local_iterations >= 1, "local-iterations", "must be at least 1");
  require(o.iteration_steps >= 0, "iteration-steps", "must be >= 0 (0 = one pass)");
  require(o.batch_size >= 0, "batch-size", "must be >= 0 (0 = full batch)");
  require(o.participation > 0.0 && o.participation <= 1.0, "participation", "must be in (0, 1]");
  require(o.local_test_fraction >= 0.0 && o.local_test_fraction < 1.0, "local-test-fraction",
          "must be in [0, 1)");
  require(o.lr > 0.0 && std::isfinite(o.lr), "lr", "must be a positive number");
  require(o.momentum >= 0.0 && o.momentum < 1.0, "momentum", "must be in [0, 1)");
  require(o.beta1 >= 0.0 && o.beta1 < 1.0, "beta1", "must be in [0, 1)");
  require(o.beta2 >= 0.0 && o.beta2 < 1.0, "beta2", "must be in [0, 1)");
  require(o.eps > 0.0, "eps", "must be > 0");
  require(o.threads >= 1, "threads", "must be at least 1");
  require(o.dirichlet_alpha > 0.0, "dirichlet-alpha", "must be > 0");
  require(o.shards_per_client >= 1, "shards-per-client", "must be at least 1");
  require(o.hidden >= 1, "hidden", "must be at least 1");
  require(o.eval_batch_size >= 1, "eval-batch-size", "must be at least 1");
  require(o.max_train_samples >= 0, "max-train-samples", "must be >= 0 (0 = all)");
  require(o.max_test_samples >= 0, "max-test-samples", "must be >= 0 (0 = all)");
  require(o.synthetic_classes >= 2, "synthetic-classes", "must be at least 2");
  require(o.synthetic_side >= 4, "synthetic-side", "must be at least 4");
  require(o.synthetic_train_samples >= 1, "synthetic-train-samples", "must be at least 1");
  require(o.synthetic_test_samples >= 1, "synthetic-test-samples", "must be at least 1");
  require(o.synthetic_noise >= 0.0, "synthetic-noise", "must be >= 0");
  require(o.optimizer == "adam" || o.optimizer == "sgd", "optimizer",
          "unknown value '" + o.optimizer + "'; allowed: adam|sgd");
  require(o.save_weights == "none" || o.save_weights == "global" || o.save_weights == "clients",
          "save-weights", "unknown value '" + o.save_weights + "'; allowed: none|global|clients");
  require(!o.output.empty(), "output", "must name a file");
  require(o.monitor == "off" || o.monitor == "every" || o.monitor == "last", "monitor",
          "unknown value '" + o.monitor + "'; allowed: off|every|last");
  require(o.on_nonfinite == "skip" || o.on_nonfinite == "keep" || o.on_nonfinite == "abort", "on-nonfinite",
          "unknown value '" + o.on_nonfinite + "'; allowed: skip|keep|abort");
  require(o.fail_at_round >= 0, "fail-at-round", "must be >= 0 (0 = never)");
}

std::string to_ini(const RunOptions& options) {
  RunOptions copy = options;
  std::ostringstream out;
  out << "# fedhpc run configuration (fully resolved)\n";
  for (auto& [title, specs] : option_table(copy)) {
    out << "\n# " << title << "\n";
    for (auto& spec : specs) out << spec.name << " = " << format_value(spec.target) << "\n";
  }
  return out.str();
}

}  // namespace fedhpc
