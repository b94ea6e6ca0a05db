#include "fedhpc/cli/run_options.hpp"

#include <boost/program_options.hpp>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <optional>
#include <sstream>
#include <string_view>
#include <variant>

#include "fedhpc/aggregation/aggregator.hpp"
#include "fedhpc/cli/save_weights.hpp"
#include "fedhpc/client/stragglers.hpp"
#include "fedhpc/client/tiers.hpp"
#include "fedhpc/core/error.hpp"
#include "fedhpc/data/dataset.hpp"
#include "fedhpc/data/partition.hpp"
#include "fedhpc/io/output_path.hpp"
#include "fedhpc/model/model.hpp"
#include "fedhpc/model/torchscript.hpp"
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
       {{"dataset", &o.dataset,
         "fashion-mnist | colored-fashion-mnist (3x28x28, coloured per client; paper 003) | synthetic | "
         "synthetic-population (LEAF synthetic(alpha, beta), generated per client on demand) | signal (regression: "
         "predict the shift and scale of random 1-D signals; paper 001) | hdf5:FILE (your own data)"},
        {"data-dir", &o.data_dir, "directory with the Fashion-MNIST IDX .gz files"},
        {"max-train-samples", &o.max_train_samples, "use only the first K training samples (0 = all)"},
        {"max-test-samples", &o.max_test_samples, "use only the first K global test samples (0 = all)"},
        {"normalize", &o.normalize, "none (pixels in [0,1]) | standard (zero mean, unit variance over the training set)"},
        {"data-copies", &o.data_copies,
         "node (one copy of the pixels per node, in MPI shared memory) | rank (every rank holds its own)"},
        {"synthetic-train-samples", &o.synthetic_train_samples, "synthetic: training samples"},
        {"synthetic-test-samples", &o.synthetic_test_samples, "synthetic: global test samples"},
        {"synthetic-classes", &o.synthetic_classes, "synthetic: classes"},
        {"synthetic-side", &o.synthetic_side, "synthetic: images are 1 x side x side"},
        {"synthetic-noise", &o.synthetic_noise, "synthetic: std-dev of pixel noise"},
        {"signal-samples", &o.signal_samples,
         "signal: signals generated per client (its local test split is cut from them: 125 at the "
         "default local test fraction 0.2 leaves 100 to train on)"},
        {"signal-test-samples", &o.signal_test_samples, "signal: global test samples"},
        {"signal-length", &o.signal_length, "signal: values per signal"},
        {"augment", &o.augment,
         "replace every client's training images by seeded random affine copies (rotation, zoom, shift; "
         "keyed by seed, client and sample); the test sets stay as they are"},
        {"augment-rotation", &o.augment_rotation, "--augment: rotation drawn in +-this many degrees"},
        {"augment-zoom", &o.augment_zoom, "--augment: zoom factor drawn in [1 - z, 1 + z]"},
        {"augment-shift", &o.augment_shift, "--augment: shift drawn in +-this many pixels per axis"},
        {"population-alpha", &o.population_alpha,
         "synthetic-population: std-dev of the clients' model means u_k (LEAF's alpha)"},
        {"population-beta", &o.population_beta,
         "synthetic-population: std-dev of the clients' feature means B_k (LEAF's beta)"},
        {"population-min-samples", &o.population_min_samples,
         "synthetic-population: samples per client (train + local test) at least"},
        {"population-mean-samples", &o.population_mean_samples,
         "synthetic-population: mean samples per client (log-normal sizes above the minimum)"},
        {"color-task", &o.color_task,
         "colored-fashion-mnist: binary (label = class < 5, red/green digit, out-of-distribution test colours) | "
         "multiclass (a colour pair per class; random test colours)"}}},
      {"Clients",
       {{"clients", &o.clients, "number of simulated clients N"},
        {"partition", &o.partition,
         "iid | dirichlet | shards | pathological (2 classes per client) | natural (hdf5: data with /train/client)"},
        {"dirichlet-alpha", &o.dirichlet_alpha, "dirichlet: concentration alpha > 0"},
        {"dirichlet-min-samples", &o.dirichlet_min_samples, "dirichlet: redraw until every client has this many"},
        {"shards-per-client", &o.shards_per_client, "shards: label-sorted shards per client"},
        {"local-test-fraction", &o.local_test_fraction, "fraction of each client's samples held out, in [0,1)"},
        {"participation", &o.participation, "fraction of clients sampled per round, in (0,1]"},
        {"concept-shift", &o.concept_shift,
         "G groups of clients (by partition index); group g > 0 sees its labels permuted (1 = none)"},
        {"client-tiers", &o.client_tiers,
         "none | strong:F,moderate:F,weak:F: each client's tier drawn with these probabilities (sum 1); weaker "
         "tiers train only output-side layers (centralized, fedavg)"},
        {"tier-trainable", &o.tier_trainable,
         "--client-tiers: output-side weight layers each tier trains, moderate:K,weak:K (strong trains all)"}}},
      {"Model",
       {{"model", &o.model, "seed-cnn | mlp | logreg | rnn (10 stacked tanh RNN layers of 4 units + dense; paper 001) | "
         "lenet5 (LeNet-5) | lenet5-transfer (a pretrained LeNet-5, only its last dense layer trained; needs "
         "--pretrained) | torchscript:FILE.pt (your own PyTorch module)"},
        {"pretrained", &o.pretrained, "lenet5-transfer: the LeNet-5 model file written by fedhpc pretrain"},
        {"rnn-dropout", &o.rnn_dropout,
         "rnn: dropout rate between the stacked layers in training steps (a mask per sample and unit, the same "
         "at every time step; 0 = none)"},
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
        {"threads", &o.threads, "torch threads per rank"},
        {"client-batch", &o.client_batch,
         "clients trained at once with stacked parameters (logreg, mlp; 0 = automatic, 1 = one at a time)"}}},
      {"Federation",
       {{"topology", &o.topology, "centralized | hierarchical | ring | clustered | gossip"},
        {"rounds", &o.rounds, "global rounds R"},
        {"seed", &o.seed, "seed of every random stream"},
        {"init-from", &o.init_from, "start from another run's global model (its HDF5 file; none = seeded init)"},
        {"init-round", &o.init_round, "--init-from: the round of that run's /global/weights (-1 = its last)"},
        {"eval-batch-size", &o.eval_batch_size, "samples per evaluation forward pass (and per unit dealt to ranks)"},
        {"eval-every", &o.eval_every, "evaluate every k rounds and in the last round (others stay NaN)"},
        {"max-memory-gb", &o.max_memory_gb, "refuse runs whose per-client state needs more GB per rank"}}},
      {"Aggregation",
       {{"aggregator", &o.aggregator,
         "fedavg | trimmed-mean | median | krum | multi-krum | fedgma (FedGMA workshop version: AND-mask on "
         "the clients' gradients, step --server-lr) | fedgma-soft (FedGMA journal version: soft mask on the "
         "updates, then the server optimizer) | fedlama (FedLAMA: layer-wise intervals --lama-interval or "
         "--lama-phi times it, with the server (centralized) or the edges (hierarchical)) (default fedavg; "
         "clustered: trimmed-mean)"},
        {"edge-aggregator", &o.edge_aggregator, "hierarchical: the edges' aggregator (same = --aggregator)"},
        {"trim-fraction", &o.trim_fraction, "trimmed-mean: beta in [0, 0.5), 0 = the sample-weighted mean"},
        {"byzantine", &o.byzantine, "krum, multi-krum: f, faulty models tolerated (needs more than 2f+2 models)"},
        {"krum-select", &o.krum_select, "multi-krum: m models averaged (0 = n - f)"},
        {"gma-threshold", &o.gma_threshold,
         "fedgma, fedgma-soft: sign-agreement threshold p in [0, 1] of the mask"},
        {"lama-interval", &o.lama_interval,
         "fedlama: base interval tau' in local iterations (biases always; weight tensors tau' or phi tau')"},
        {"lama-phi", &o.lama_phi,
         "fedlama: relaxed weight tensors sync every phi tau' iterations; re-decided every phi tau'"},
        {"server-optimizer", &o.server_optimizer, "sgd | momentum | adam | adagrad | yogi (FedOpt, on theta_t - aggregate)"},
        {"server-lr", &o.server_lr,
         "server learning rate (sgd with 1 = plain FedAvg; fedgma: eta_s of the masked gradient step, 0 allowed)"},
        {"server-momentum", &o.server_momentum, "sgd, momentum: server momentum"},
        {"server-beta1", &o.server_beta1, "adam, yogi: first-moment decay"},
        {"server-beta2", &o.server_beta2, "adam, yogi: second-moment decay"},
        {"server-eps", &o.server_eps, "adam, adagrad, yogi: adaptivity tau"},
        {"prox-mu", &o.prox_mu, "FedProx: mu of the proximal term (mu/2)||theta - theta_t||^2 (0 = off)"}}},
      {"Clients that misbehave",
       {{"dropout-rate", &o.dropout_rate, "a selected client drops out before upload with this probability"},
        {"faulty-fraction", &o.faulty_fraction, "fraction of clients (a fixed seeded set) that are faulty"},
        {"fault", &o.fault, "none | sign-flip | gaussian | scale | label-flip | random"},
        {"fault-scale", &o.fault_scale, "sign-flip, scale: multiplier s; gaussian, random: noise scale s"}}},
      {"Stragglers (simulated clock)",
       {{"compute-profile", &o.compute_profile,
         "none | lognormal:SIGMA | uniform:A:B | FILE: each client's relative speed (FILE: one per line)"},
        {"round-deadline", &o.round_deadline,
         "simulated seconds per round, > 0 (leave it out for none); clients that cannot finish their steps by then are late"},
        {"late-policy", &o.late_policy,
         "drop (late clients are not aggregated) | partial (they upload the steps done by the deadline, "
         "FedNova-normalised)"},
        {"reference-samples-per-second", &o.reference_samples_per_second,
         "training samples/s of a speed-1 client (0 = measured once at start on rank 0; fix it for reproducible runs)"}}},
      {"Hierarchical topology",
       {{"edges", &o.edges, "edge nodes E"},
        {"edge-assignment", &o.edge_assignment, "contiguous | label-balanced"},
        {"edge-interval", &o.edge_interval, "edges average their clients every k local iterations"}}},
      {"Ring topology (hybrid STAR-rings)",
       {{"rings", &o.rings, "rings G"},
        {"ring-grouping", &o.ring_grouping, "contiguous | random | label-diverse"}}},
      {"Clustered topology (SR-FCA-like)",
       {{"recluster-every", &o.recluster_every, "re-cluster every this many rounds"},
        {"cluster-threshold", &o.cluster_threshold,
         "lambda: distance threshold for clustering and merging, or auto (the largest gap in each re-clustering's "
         "pairwise client distances; see README)"},
        {"cluster-min-size", &o.cluster_min_size, "t: smaller clusters are dissolved"}}},
      {"Gossip topology",
       {{"gossip-graph", &o.gossip_graph, "ring | torus | random-k | complete"},
        {"gossip-k", &o.gossip_k, "random-k: minimum degree"}}},
      {"Output",
       {{"output", &o.output,
         "HDF5 output file; {seed}, {topology}, {aggregator} and {opt:NAME} take the run's values, a missing last folder is created"},
        {"overwrite", &o.overwrite, "replace an existing output file"},
        {"save-weights", &o.save_weights, "none | global | clients | clients:ROUNDS (e.g. clients:1,5,10)"},
        {"quiet", &o.quiet, "no per-round progress lines"},
        {"max-output-gb", &o.max_output_gb,
         "refuse a run whose output file would exceed this size (0 = only the free-space check)"},
        {"checkpoint-every", &o.checkpoint_every,
         "keep OUTPUT.ckpt, the state to continue the run from, after every k-th round (0 = never)"},
        {"resume", &o.resume,
         "continue the interrupted or failed run in --output from its checkpoint, with its stored configuration"}}},
      {"Monitoring",
       {{"monitor", &o.monitor, "off | every | last: gradient diagnostics after every local iteration or the last"},
        {"on-nonfinite", &o.on_nonfinite, "skip | keep | abort: what a client with NaN/Inf values does"},
        {"save-gradients", &o.save_gradients, "store each client's full gradient at the end of the round"}}},
      {"Fault injection",
       {{"fail-at-round", &o.fail_at_round,
         "make the last rank fail in round R (0 = never); tests the failed-run path"}}},
  };
}

// Options that belong to one topology (its descriptor's option_keys):
// rejected when given for another, and left out of another topology's INI
// dump.
std::string owner_of(const std::string& name) {
  for (const auto& topology : topology::topology_registry().names()) {
    const auto& keys = topology::topology_registry().get(topology).option_keys;
    if (std::find(keys.begin(), keys.end(), name) != keys.end()) return topology;
  }
  return "";
}

bool uses_aggregator(const RunOptions& o, const std::vector<std::string>& names) {
  const auto has = [&](const std::string& a) { return std::find(names.begin(), names.end(), a) != names.end(); };
  return has(o.aggregator) || (o.topology == "hierarchical" && has(o.edge_aggregator));
}

bool server_uses(const RunOptions& o, std::initializer_list<const char*> optimizers) {
  for (const char* name : optimizers)
    if (o.server_optimizer == name) return true;
  return false;
}

// Options that only mean something with a given aggregator, server
// optimizer or fault; "" when the option applies, else why it does not.
std::string not_applicable(const std::string& name, const RunOptions& o) {
  if (name == "trim-fraction" && !uses_aggregator(o, {"trimmed-mean"})) return "--aggregator trimmed-mean";
  if (name == "byzantine" && !uses_aggregator(o, {"krum", "multi-krum"})) return "--aggregator krum or multi-krum";
  if (name == "krum-select" && !uses_aggregator(o, {"multi-krum"})) return "--aggregator multi-krum";
  if (name == "color-task" && o.dataset != "colored-fashion-mnist") return "--dataset colored-fashion-mnist";
  if (name.rfind("population-", 0) == 0 && o.dataset != "synthetic-population")
    return "--dataset synthetic-population";
  // A population's data is generated per client: nothing to partition, cut or normalise.
  static const std::set<std::string> kSampleSetOnly = {"partition",         "dirichlet-alpha",   "dirichlet-min-samples",
                                                       "shards-per-client", "max-train-samples", "max-test-samples",
                                                       "normalize"};
  if (o.dataset == "synthetic-population" && kSampleSetOnly.count(name))
    return "a --dataset other than synthetic-population";
  if (name == "gma-threshold" && !uses_aggregator(o, {"fedgma", "fedgma-soft"}))
    return "--aggregator fedgma or fedgma-soft";
  if ((name == "lama-interval" || name == "lama-phi") && o.aggregator != "fedlama") return "--aggregator fedlama";
  // fedlama's edges sync every tensor at its own interval (--lama-interval).
  if (name == "edge-interval" && o.aggregator == "fedlama") return "an --aggregator other than fedlama";
  if (name == "server-momentum" && !server_uses(o, {"sgd", "momentum"})) return "--server-optimizer sgd or momentum";
  if ((name == "server-beta1" || name == "server-beta2") && !server_uses(o, {"adam", "yogi"}))
    return "--server-optimizer adam or yogi";
  if (name == "server-eps" && !server_uses(o, {"adam", "adagrad", "yogi"}))
    return "--server-optimizer adam, adagrad or yogi";
  if (name == "fault-scale" && !(o.fault == "sign-flip" || o.fault == "scale" || o.fault == "gaussian" ||
                                 o.fault == "random"))
    return "--fault sign-flip, scale, gaussian or random";
  if (name == "init-round" && o.init_from == "none") return "--init-from";
  if (name == "tier-trainable" && o.client_tiers == "none") return "--client-tiers";
  if ((name == "late-policy" || name == "reference-samples-per-second") && o.round_deadline == 0.0)
    return "--round-deadline";
  // 0 is the default "no deadline": given explicitly it is refused, and the INI dump leaves it out.
  if (name == "round-deadline" && o.round_deadline == 0.0) return "a deadline > 0 (leave it out for no deadline)";
  if (name.rfind("augment-", 0) == 0 && !o.augment) return "--augment";
  if (name == "augment" && o.dataset == "synthetic-population") return "a --dataset other than synthetic-population";
  if (name == "pretrained" && o.model != "lenet5-transfer") return "--model lenet5-transfer";
  if (name == "rnn-dropout" && o.model != "rnn") return "--model rnn";
  return "";
}

}  // namespace

// The aggregator the run uses when --aggregator is not given: the paper's
// trimmed mean for clustered (SR-FCA), fedavg otherwise. "same" edges follow.
void resolve_defaults(RunOptions& o) {
  if (o.topology == "clustered" && !o.was_given("aggregator")) o.aggregator = "trimmed-mean";
  if (o.edge_aggregator == "same") o.edge_aggregator = o.aggregator;
}

namespace {

// Shortest text that parses back to the same double (std::to_chars), so the
// INI dump shows 0.3 rather than 0.29999999999999999.
std::string format_double(double value) {
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof buf, value);
  return std::string(buf, result.ptr);
}

std::string format_value(const Target& target) {
  return std::visit(
      [](auto* t) -> std::string {
        using T = std::decay_t<decltype(*t)>;
        if constexpr (std::is_same_v<T, bool>) return *t ? "true" : "false";
        else if constexpr (std::is_same_v<T, double>) return format_double(*t);
        else if constexpr (std::is_same_v<T, std::string>) return *t;
        else return std::to_string(*t);
      },
      target);
}

// Options whose number field also holds a word: --cluster-threshold auto.
bool is_auto_threshold(const std::string& name, const Target& target) {
  const auto* value = std::get_if<double*>(&target);
  return name == "cluster-threshold" && value && **value == topology::kAutoClusterThreshold;
}

std::string format_option(const std::string& name, const Target& target) {
  return is_auto_threshold(name, target) ? "auto" : format_value(target);
}

// Allowed numeric ranges. validate() checks every numeric option against this
// table, so a value that passes also fits the float the run converts many of
// them to (lr, leaky-slope, eps, synthetic-noise, ...). --seed is any uint64.
// --lr goes up to 1e20 because divergence is studied on purpose (the
// non-finite tests use it); Adam's lr / (1 - beta1) stays below 1e36, inside
// float.
struct Range {
  double low, high;
  bool open_low = false, open_high = false;
};

const std::map<std::string, Range>& numeric_ranges() {
  static const std::map<std::string, Range> ranges = {
      {"max-train-samples", {0, 1e9}},    {"max-test-samples", {0, 1e9}},
      {"synthetic-train-samples", {1, 1e8}}, {"synthetic-test-samples", {1, 1e8}},
      {"synthetic-classes", {2, 1e4}},    {"synthetic-side", {4, 4096}},
      {"synthetic-noise", {0, 1e3}},      {"clients", {1, 1e8}},
      {"population-alpha", {0, 1e3}},     {"population-beta", {0, 1e3}},
      {"population-min-samples", {2, 1e6}}, {"population-mean-samples", {2, 1e6}},
      {"dirichlet-alpha", {0, 1e6, true}}, {"dirichlet-min-samples", {0, 1e8}},
      {"shards-per-client", {1, 1e6}},    {"local-test-fraction", {0, 1, false, true}},
      {"participation", {0, 1, true}},    {"concept-shift", {1, 1e8}},
      {"hidden", {1, 1e6}},               {"leaky-slope", {0, 1e3}},
      {"lr", {0, 1e20, true}},             {"momentum", {0, 1, false, true}},
      {"beta1", {0, 1, false, true}},     {"beta2", {0, 1, false, true}},
      {"eps", {0, 1, true}},              {"batch-size", {0, 1e8}},
      {"local-iterations", {1, 1e8}},     {"iteration-steps", {0, 1e9}},
      {"threads", {1, 4096}},             {"rounds", {1, 1e8}},
      {"client-batch", {0, 65536}},
      {"eval-batch-size", {1, 1e7}},      {"max-memory-gb", {0, 1e6, true}},
      {"eval-every", {1, 1e8}},
      {"edges", {1, 1e8}},                {"edge-interval", {1, 1e8}},
      {"rings", {1, 1e8}},                {"recluster-every", {1, 1e8}},
      {"cluster-threshold", {0, 1e15, true}}, {"cluster-min-size", {1, 1e8}},
      {"trim-fraction", {0, 0.5, false, true}}, {"gossip-k", {1, 1e8}},
      {"max-output-gb", {0, 1e9}},        {"fail-at-round", {0, 1e8}},
      {"checkpoint-every", {0, 1e8}},
      {"byzantine", {0, 1e8}},            {"krum-select", {0, 1e8}},
      {"server-lr", {0, 1e6}},      {"server-momentum", {0, 1, false, true}},
      {"server-beta1", {0, 1, false, true}}, {"server-beta2", {0, 1, false, true}},
      {"server-eps", {0, 1, true}},       {"prox-mu", {0, 1e6}},
      {"dropout-rate", {0, 1, false, true}}, {"faulty-fraction", {0, 1}},
      {"fault-scale", {0, 1e6}},
      {"round-deadline", {0, 1e12}},      {"reference-samples-per-second", {0, 1e15}},
      {"gma-threshold", {0, 1}},
      {"lama-interval", {1, 1e6}},        {"lama-phi", {1, 1e6}},
      {"init-round", {-1, 1e8}},
      {"signal-samples", {1, 1e6}},       {"signal-test-samples", {1, 1e7}},
      {"signal-length", {4, 4096}},
      {"augment-rotation", {0, 180}},    {"augment-zoom", {0, 0.9}},
      {"augment-shift", {0, 1e3}},       {"rnn-dropout", {0, 0.95}},
  };
  return ranges;
}

// "an integer in [1, 100000000]" or "a finite number in (0, 10000]".
std::string describe_range(const Range& r, bool integer) {
  const auto bound = [&](double v) { return integer ? std::to_string(std::int64_t(v)) : format_double(v); };
  return std::string(integer ? "an integer in " : "a finite number in ") + (r.open_low ? "(" : "[") +
         bound(r.low) + ", " + bound(r.high) + (r.open_high ? ")" : "]");
}

// NaN fails every comparison, so it is never in range.
bool in_range(double v, const Range& r) {
  return (r.open_low ? v > r.low : v >= r.low) && (r.open_high ? v < r.high : v <= r.high);
}

// What option `name` accepts, for messages about text that does not parse.
std::string expected_text(const std::string& name, const Target& target) {
  const auto it = numeric_ranges().find(name);
  if (std::holds_alternative<bool*>(target)) return "true|false";
  if (std::holds_alternative<std::uint64_t*>(target)) return "an integer in [0, 18446744073709551615]";
  const std::string word = name == "cluster-threshold" ? " or auto" : "";
  if (it != numeric_ranges().end())
    return describe_range(it->second, !std::holds_alternative<double*>(target)) + word;
  return std::holds_alternative<double*>(target) ? "a number" : "an integer";
}

// Whole-text conversions; from_chars takes no sign '+', so one is skipped.
template <class T>
bool parse_number(std::string_view text, T& out) {
  if (text.size() > 1 && text[0] == '+' && text[1] != '-') text.remove_prefix(1);
  const auto end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return !text.empty() && ec == std::errc() && ptr == end;
}

bool parse_bool(const std::string& text, bool& out) {
  static const std::vector<std::string> yes = {"true", "yes", "on", "1"}, no = {"false", "no", "off", "0"};
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  out = std::find(yes.begin(), yes.end(), lower) != yes.end();
  return out || std::find(no.begin(), no.end(), lower) != no.end();
}

// Stores one option's text in its field. `where` prefixes the message for
// values from a config file ("--config 'F': line N: ").
void assign(const std::string& name, const std::string& text, const Target& target, const std::string& where) {
  if (name == "cluster-threshold" && text == "auto") {
    *std::get<double*>(target) = topology::kAutoClusterThreshold;
    return;
  }
  const bool ok = std::visit(
      [&](auto* t) {
        using T = std::decay_t<decltype(*t)>;
        if constexpr (std::is_same_v<T, std::string>) return *t = text, true;
        else if constexpr (std::is_same_v<T, bool>) return parse_bool(text, *t);
        else return parse_number(text, *t);
      },
      target);
  // A number that reads as the auto marker is out of range, not "auto".
  if (!ok || is_auto_threshold(name, target))
    throw InputError(where + "--" + name + ": expected " + expected_text(name, target) + "; got " +
                     quote_input(text));
}

po::typed_value<std::string>* text_value(const Target& target) {
  auto* value = po::value<std::string>()->default_value(format_value(target));
  if (std::holds_alternative<bool*>(target)) value->implicit_value("true");
  return value;
}

// Every value is parsed as text by boost and converted by assign(), so bad
// values are reported with the option's allowed range and quoted safely.
po::options_description describe(RunOptions& o) {
  po::options_description all("fedhpc run options");
  po::options_description general("General");
  general.add_options()("help,h", "show this help")(
      "config", po::value<std::string>(),
      "INI file of options (key = value, optional [run] header); the command line wins");
  all.add(general);
  for (auto& [title, specs] : option_table(o)) {
    po::options_description group(title);
    for (auto& spec : specs) group.add_options()(spec.name, text_value(spec.target), spec.help);
    all.add(group);
  }
  return all;
}

void require(bool ok, const std::string& option, const std::string& message) {
  if (!ok) throw InputError("--" + option + ": " + message);
}

// Boost formats its messages by replacing placeholders such as
// %original_token% until none is left; a token that itself contains one
// (`--o%original_token%=`) makes that loop endless (found by fuzz_options).
// So '%' in the substituted user text is escaped as \x25 first, as
// quote_input() escapes other bytes. The access class only reaches the
// protected table of substitutions.
struct SubstitutionAccess : po::error_with_option_name {
  static std::map<std::string, std::string>& of(po::error_with_option_name& e) {
    return e.*(&SubstitutionAccess::m_substitutions);
  }
};

void defuse_placeholders(po::error_with_option_name& e) {
  for (auto& [key, value] : SubstitutionAccess::of(e)) {
    std::string safe;
    for (char c : value) safe += c == '%' ? std::string("\\x25") : std::string(1, c);
    value = safe;
  }
}

std::string unquoted(const std::string& quoted) { return quoted.substr(1, quoted.size() - 2); }

// Boost's messages can echo raw user text; these keep the option's name and
// quote or escape the rest.
po::variables_map parse_command_line(const std::vector<std::string>& args, const po::options_description& desc) {
  if (std::find(args.begin(), args.end(), "--") != args.end())
    throw InputError("unexpected '--': fedhpc run takes no positional arguments, only --option value");
  po::options_description all;
  all.add(desc).add_options()("positional", po::value<std::vector<std::string>>());
  po::positional_options_description positional;
  positional.add("positional", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(all).positional(positional).run(), vm);
  } catch (const po::unknown_option& e) {
    throw InputError(quote_input(e.get_option_name()) + ": unknown option; see fedhpc run --help");
  } catch (po::error_with_option_name& e) {
    defuse_placeholders(e);
    throw InputError(unquoted(quote_input(e.what(), 200)));
  } catch (const po::error& e) {
    throw InputError(unquoted(quote_input(e.what(), 200)));
  }
  if (vm.count("positional"))
    throw InputError("unexpected argument " + quote_input(vm["positional"].as<std::vector<std::string>>()[0]) +
                     ": fedhpc run takes no positional arguments, only --option value");
  return vm;
}

constexpr std::size_t kMaxConfigBytes = 1 << 20;

// The text of a config file, without a UTF-8 byte-order mark. Only a short
// regular file is read: a directory or a device (/dev/zero) is refused before
// opening it.
std::string read_config_text(const std::string& path, const std::string& label) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (!fs::exists(status))
    throw InputError(label + ": cannot open (" + (ec ? ec.message() : "no such file") + ")");
  if (fs::is_directory(status)) throw InputError(label + ": is a directory; expected an INI file");
  if (!fs::is_regular_file(status)) throw InputError(label + ": is not a regular file; expected an INI file");
  std::ifstream in(path, std::ios::binary);
  std::string text(kMaxConfigBytes + 1, '\0');
  if (in) in.read(text.data(), std::streamsize(text.size()));
  if (!in && !in.eof()) throw InputError(label + ": cannot be read (" + std::strerror(errno) + ")");
  text.resize(std::size_t(in.gcount()));
  if (text.size() > kMaxConfigBytes)
    throw InputError(label + ": is larger than 1 MiB; a config file is a short list of key = value lines");
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);
  return text;
}

struct ConfigLine {
  std::string key, value;
  int line;
};

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

// Text is printable ASCII, tabs and UTF-8 bytes; NUL and other control bytes
// mean a binary file.
bool is_text(const std::string& line) {
  return std::all_of(line.begin(), line.end(), [](unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); });
}

// '#' starts a comment at the line start or after a blank, so a value such
// as a file name may contain '#'.
std::string strip_comment(const std::string& line) {
  for (std::size_t i = 0; i < line.size(); ++i)
    if (line[i] == '#' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t')) return line.substr(0, i);
  return line;
}

// One config line: nothing, the single [run] header, or key = value.
bool parse_config_line(std::string text, int n, bool& seen_run, const std::string& label, ConfigLine& out) {
  const std::string where = label + ": line " + std::to_string(n);
  if (!text.empty() && text.back() == '\r') text.pop_back();
  if (!is_text(text)) throw InputError(where + " is not text (binary or NUL bytes); expected key = value lines");
  text = trim(strip_comment(text));
  if (text.empty()) return false;
  if (text[0] == '[') {
    if (text != "[run]" || seen_run)
      throw InputError(where + ": section " + quote_input(text) + " is not supported; only one [run] header");
    return seen_run = true, false;
  }
  const auto eq = text.find('=');
  if (eq == std::string::npos || trim(text.substr(0, eq)).empty())
    throw InputError(where + ": expected key = value; got " + quote_input(text));
  out = {trim(text.substr(0, eq)), trim(text.substr(eq + 1)), n};
  if (out.key == "config")
    throw InputError(where + ": nested configs are not supported (config = ...); put the options in this file");
  return true;
}

std::vector<ConfigLine> parse_config_text(const std::string& text, const std::string& label) {
  std::vector<ConfigLine> lines;
  std::istringstream in(text);
  std::string raw;
  bool seen_run = false;
  ConfigLine entry;
  for (int n = 1; std::getline(in, raw); ++n)
    if (parse_config_line(raw, n, seen_run, label, entry)) lines.push_back(entry);
  return lines;
}

// Every table option by name.
std::map<std::string, Target> targets_of(RunOptions& o) {
  std::map<std::string, Target> targets;
  for (auto& [title, specs] : option_table(o))
    for (auto& spec : specs) targets.emplace(spec.name, spec.target);
  return targets;
}

struct Setting {
  std::string text;
  std::string where;  // "" on the command line, else "--config 'F': line N: "
  int line = 0;
};

// Adds the config file's settings that the command line did not set; those
// of extra_keys go to extra.
void add_config(const std::string& path, const std::map<std::string, Target>& targets,
                std::map<std::string, Setting>& settings, const std::vector<std::string>& extra_keys,
                std::vector<std::pair<std::string, std::string>>& extra) {
  const std::string label = "--config " + quote_input(path, 256);
  std::map<std::string, int> seen;
  for (const auto& entry : parse_config_text(read_config_text(path, label), label)) {
    const std::string where = label + ": line " + std::to_string(entry.line) + ": ";
    const bool is_extra = std::find(extra_keys.begin(), extra_keys.end(), entry.key) != extra_keys.end();
    if (!targets.count(entry.key) && !is_extra) throw InputError(where + "unknown option " + quote_input(entry.key));
    if (const auto [it, fresh] = seen.emplace(entry.key, entry.line); !fresh)
      throw InputError(where + "--" + entry.key + " is already set on line " + std::to_string(it->second));
    if (is_extra) extra.emplace_back(entry.key, entry.value);
    else settings.emplace(entry.key, Setting{entry.value, where, entry.line});
  }
}

}  // namespace

std::string quote_input(const std::string& text, std::size_t max) {
  std::string out;
  for (unsigned char c : text) {
    if (out.size() >= max) return "'" + out + "...'";
    if (c >= 0x20 && c < 0x7f) {
      out += char(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    }
  }
  return "'" + out + "'";
}

ParsedRun parse_run_options(const std::vector<std::string>& args, const std::vector<std::string>& extra_keys) {
  ParsedRun parsed;
  auto desc = describe(parsed.options);
  const auto vm = parse_command_line(args, desc);
  if (vm.count("help")) {
    std::ostringstream text;
    text << "Usage: fedhpc run [--config FILE.ini] [--option value ...]\n\n" << desc;
    parsed.help = true;
    parsed.help_text = text.str();
    return parsed;
  }
  auto& o = parsed.options;
  const auto targets = targets_of(o);
  std::map<std::string, Setting> settings;
  for (const auto& [name, value] : vm)
    if (!value.defaulted() && targets.count(name)) settings[name] = {value.as<std::string>(), ""};
  if (vm.count("config")) {
    o.config_file = vm["config"].as<std::string>();
    add_config(o.config_file, targets, settings, extra_keys, parsed.extra);
  }
  for (const auto& [name, setting] : settings) {
    assign(name, setting.text, targets.at(name), setting.where);
    o.given.push_back(name);
  }
  resolve_defaults(o);
  resolve_output(o);
  return parsed;
}

RunOptions options_from_config_text(const std::string& text, const std::string& label) {
  RunOptions o;
  const auto targets = targets_of(o);
  std::map<std::string, int> seen;
  for (const auto& entry : parse_config_text(text, label)) {
    const std::string where = label + ": line " + std::to_string(entry.line) + ": ";
    if (!targets.count(entry.key)) throw InputError(where + "unknown option " + quote_input(entry.key));
    if (const auto [it, fresh] = seen.emplace(entry.key, entry.line); !fresh)
      throw InputError(where + "--" + entry.key + " is already set on line " + std::to_string(it->second));
    assign(entry.key, entry.value, targets.at(entry.key), where);
    o.given.push_back(entry.key);
  }
  resolve_defaults(o);
  return o;
}

bool RunOptions::was_given(const std::string& name) const {
  return std::find(given.begin(), given.end(), name) != given.end();
}

namespace {

// The signal data set is a regression task: it has no labels to permute,
// flip or split by class.
void check_regression(const RunOptions& o) {
  if (o.dataset != "signal") return;
  const std::string why = " (--dataset signal is a regression task: no labels)";
  require(o.concept_shift == 1, "concept-shift", "must be 1" + why);
  require(o.fault != "label-flip", "fault", "label-flip needs labels" + why);
  require(o.partition == "iid" || o.partition == "natural", "partition",
          "must be iid or natural" + why + "; got " + quote_input(o.partition));
}

// Options that only make sense with one topology, aggregator, server
// optimizer or fault.
void check_topology_options(const RunOptions& o) {
  for (const auto& name : o.given) {
    const std::string owner = owner_of(name);
    if (!owner.empty() && owner != o.topology)
      throw InputError("--" + name + ": only applies to --topology " + owner + " (this run is " + o.topology + ")");
    const std::string needs = not_applicable(name, o);
    if (!needs.empty()) throw InputError("--" + name + ": only applies with " + needs);
  }
}

// Every numeric option against numeric_ranges().
void check_ranges(const RunOptions& options) {
  RunOptions copy = options;
  for (auto& [title, specs] : option_table(copy))
    for (auto& spec : specs) {
      const auto it = numeric_ranges().find(spec.name);
      if (it == numeric_ranges().end() || is_auto_threshold(spec.name, spec.target)) continue;
      const bool integer = !std::holds_alternative<double*>(spec.target);
      const double value = std::visit([](auto* t) -> double {
        if constexpr (std::is_arithmetic_v<std::decay_t<decltype(*t)>>) return double(*t);
        else return std::nan("");
      }, spec.target);
      require(in_range(value, it->second), spec.name,
              "must be " + describe_range(it->second, integer) + (std::string_view(spec.name) == "cluster-threshold" ? " or auto" : "") +
                  "; got " + format_option(spec.name, spec.target));
    }
}

// One of `allowed` ("a|b|c"); the user's text is quoted in the message.
void check_choice(const std::string& value, const std::string& option, const std::string& allowed) {
  const std::string padded = "|" + allowed + "|";
  require(value.find('|') == std::string::npos && padded.find("|" + value + "|") != std::string::npos, option,
          "unknown value " + quote_input(value) + "; allowed: " + allowed);
}

// Named choices are checked here, before any data is loaded, so the user's
// text is quoted; the lists mirror the modules that use them.
void check_choices(const RunOptions& o) {
  if (!data::is_file_dataset(o.dataset))
    check_choice(o.dataset, "dataset", data::dataset_registry().allowed() + "|synthetic-population|hdf5:FILE");
  check_choice(o.normalize, "normalize", "none|standard");
  check_choice(o.data_copies, "data-copies", "node|rank");
  check_choice(o.color_task, "color-task", "binary|multiclass");
  check_choice(o.partition, "partition", data::partitioner_registry().allowed());
  if (!model::is_torchscript_model(o.model))
    check_choice(o.model, "model", model::model_registry().allowed() + "|torchscript:FILE.pt");
  check_choice(o.scenario, "scenario", "baseline|exploding|vanishing");
  check_choice(o.activation, "activation", "scenario|relu|leaky-relu|tanh");
  check_choice(o.conv_bias_init, "conv-bias-init", "scenario|zero|uniform");
  check_choice(o.optimizer, "optimizer", "adam|sgd");
  check_choice(o.topology, "topology", topology::topology_registry().allowed());
  check_choice(o.aggregator, "aggregator", aggregation::aggregator_registry().allowed());
  if (o.edge_aggregator != "same")
    check_choice(o.edge_aggregator, "edge-aggregator", "same|" + aggregation::aggregator_registry().allowed());
  check_choice(o.server_optimizer, "server-optimizer", "sgd|momentum|adam|adagrad|yogi");
  check_choice(o.fault, "fault", "none|sign-flip|gaussian|scale|label-flip|random");
  check_choice(o.edge_assignment, "edge-assignment", "contiguous|label-balanced");
  check_choice(o.ring_grouping, "ring-grouping", "contiguous|random|label-diverse");
  check_choice(o.gossip_graph, "gossip-graph", "ring|torus|random-k|complete");
  parse_save_weights(o.save_weights, o.rounds);
  check_choice(o.monitor, "monitor", "off|every|last");
  check_choice(o.on_nonfinite, "on-nonfinite", "skip|keep|abort");
  require(!o.output.empty(), "output", "must name a file");
}

constexpr double kMaxInitBound = 1e3;

// scenario | glorot | uniform:LOW:HIGH with finite |bounds| <= 1e3: larger
// ones overflow the float weights.
void check_conv_init(const std::string& text) {
  if (text == "scenario" || text == "glorot") return;
  const std::string got = "; got " + quote_input(text);
  require(text.rfind("uniform:", 0) == 0, "conv-init", "allowed: scenario|glorot|uniform:LOW:HIGH" + got);
  const std::string_view bounds = std::string_view(text).substr(8);
  const auto colon = bounds.find(':');
  double low = 0, high = 0;
  const bool parsed = colon != std::string_view::npos && parse_number(bounds.substr(0, colon), low) &&
                      parse_number(bounds.substr(colon + 1), high);
  require(parsed && std::abs(low) <= kMaxInitBound && std::abs(high) <= kMaxInitBound && low < high, "conv-init",
          "uniform:LOW:HIGH needs finite numbers in [-1000, 1000] with LOW < HIGH" + got);
}

void check_clip_norm(const std::string& text) {
  double value = 0;
  require(text == "scenario" || (parse_number(std::string_view(text), value) && value >= 0 && value <= 1e6),
          "clip-norm", "allowed: scenario or a finite number in [0, 1e+06] (0 = off); got " + quote_input(text));
}

// --server-lr 0 only means something for fedgma (FedAvg plus a zero step);
// FedGMA needs the round's start model and the clients' gradients, which only
// the centralized topology hands its aggregator; the workshop version applies
// --server-lr itself, so no server optimizer may apply it again.
void check_fedgma(const RunOptions& o) {
  const bool workshop = o.aggregator == "fedgma";
  require(o.server_lr > 0 || workshop, "server-lr",
          "must be a finite number in (0, 1e+06] (0 only with --aggregator fedgma); got 0");
  if (!uses_aggregator(o, {"fedgma", "fedgma-soft"})) return;
  if (o.topology == "hierarchical" && o.edge_aggregator != o.aggregator && o.edge_aggregator != "same")
    require(o.edge_aggregator != "fedgma" && o.edge_aggregator != "fedgma-soft", "edge-aggregator",
            "fedgma and fedgma-soft need --topology centralized");
  require(o.topology == "centralized", "aggregator",
          o.aggregator + " needs --topology centralized (this run is " + o.topology + ")");
  if (workshop)
    require(o.server_optimizer == "sgd" && o.server_momentum == 0.0, "server-optimizer",
            "--aggregator fedgma applies --server-lr in its own update; use sgd without --server-momentum "
            "(fedgma-soft works with any server optimizer)");
}

// FedLAMA averages tensors inside a round, with the server (centralized) or
// with the clients' edges (hierarchical): rounds hold whole decision windows
// of phi tau' iterations, and the server step is the plain average (a server
// optimizer would act on only the round's last sync).
void check_fedlama(const RunOptions& o) {
  if (o.aggregator != "fedlama") {
    if (o.topology == "hierarchical")
      require(o.edge_aggregator != "fedlama", "edge-aggregator",
              "fedlama sets both levels: use --aggregator fedlama (--topology centralized or hierarchical)");
    return;
  }
  require(o.topology == "centralized" || o.topology == "hierarchical", "aggregator",
          "fedlama needs --topology centralized or hierarchical (this run is " + o.topology + ")");
  if (o.topology == "hierarchical")
    require(o.edge_aggregator == "same" || o.edge_aggregator == "fedavg" || o.edge_aggregator == "fedlama",
            "edge-aggregator", "--aggregator fedlama averages at the edges too; use same (got " +
                                   o.edge_aggregator + ")");
  const std::int64_t window = std::int64_t(o.lama_interval) * o.lama_phi;
  require(window <= 100000000 && o.local_iterations % window == 0, "local-iterations",
          "fedlama needs a multiple of --lama-interval x --lama-phi (" + std::to_string(window) + "); got " +
              std::to_string(o.local_iterations));
  require(o.server_optimizer == "sgd" && o.server_momentum == 0.0 && o.server_lr == 1.0, "server-optimizer",
          "--aggregator fedlama averages inside the round; use sgd with --server-lr 1 and no --server-momentum");
}

// Client tiers: the specs parse, and only the centralized topology with the
// sample-weighted mean averages layers over their trainers; a server
// optimizer with state could move a layer nobody trained.
void check_tiers(const RunOptions& o) {
  const auto spec = client::parse_tiers(o.client_tiers, o.tier_trainable);
  if (!spec.enabled) return;
  require(o.topology == "centralized", "client-tiers",
          "needs --topology centralized (this run is " + o.topology + ")");
  require(o.aggregator == "fedavg", "client-tiers", "needs --aggregator fedavg (this run is " + o.aggregator + ")");
  require(o.server_optimizer == "sgd" && o.server_momentum == 0.0, "client-tiers",
          "needs --server-optimizer sgd without --server-momentum (a stateful server step would move untrained layers)");
}

// Stragglers: the profile and policy parse, and the simulated clock runs in
// the centralized topology's one-shot rounds only (README, "Stragglers").
void check_stragglers(const RunOptions& o) {
  client::parse_compute_profile(o.compute_profile);
  client::parse_late_policy(o.late_policy);
  if (o.round_deadline == 0.0) return;
  require(o.topology == "centralized", "round-deadline",
          "needs --topology centralized (this run is " + o.topology + ")");
  require(o.dataset != "synthetic-population" || o.reference_samples_per_second > 0.0,
          "reference-samples-per-second", "must be given with --dataset synthetic-population and --round-deadline "
          "(its clients' samples exist only during their rounds, so there is nothing to time at start)");
  require(o.aggregator != "fedlama", "round-deadline",
          "does not work with --aggregator fedlama (its clients synchronise inside the round)");
}

// --dataset synthetic-population: 60 features per sample, and only the
// centralized topology, which keeps no per-client state between rounds.
void check_population(const RunOptions& o) {
  if (o.dataset != "synthetic-population") return;
  require(o.population_mean_samples >= o.population_min_samples, "population-mean-samples",
          "must be >= --population-min-samples (" + std::to_string(o.population_min_samples) + "); got " +
              std::to_string(o.population_mean_samples));
  require(o.model == "logreg" || o.model == "mlp" || model::is_torchscript_model(o.model), "model",
          "--dataset synthetic-population has 60 features per sample; use logreg, mlp or torchscript:FILE.pt");
  require(o.topology == "centralized", "topology",
          "--dataset synthetic-population runs with --topology centralized only (got " + o.topology + ")");
}

// Limits that depend on another option.
void check_combinations(const RunOptions& o) {
  require(o.concept_shift <= o.clients, "concept-shift",
          "must be in [1, clients]; got " + std::to_string(o.concept_shift) + " with --clients " +
              std::to_string(o.clients));
  if (o.topology == "hierarchical")
    require(o.edges <= o.clients, "edges", std::to_string(o.edges) + " edges for " + std::to_string(o.clients) +
                                               " clients; need edges <= clients");
  if (o.topology == "ring")
    require(o.rings <= o.clients, "rings", std::to_string(o.rings) + " rings for " + std::to_string(o.clients) +
                                               " clients; need rings <= clients");
  if (o.topology == "ring" || o.topology == "clustered")
    require(o.participation == 1.0, "participation", "must be 1 with --topology " + o.topology);
  check_fedgma(o);
  check_fedlama(o);
  check_tiers(o);
  check_regression(o);
  check_population(o);
  check_stragglers(o);
}

// Parameter count of the model (mirrors the layouts in src/model/models.cpp).
double model_parameters(const RunOptions& o) {
  const bool synthetic = o.dataset == "synthetic";
  const double side = synthetic ? o.synthetic_side : 28, classes = synthetic ? o.synthetic_classes : 10;
  const double channels = o.dataset == "colored-fashion-mnist" ? 3 : 1;
  const double in = o.dataset == "synthetic-population" ? 60 : channels * side * side, hidden = double(o.hidden);
  if (o.model == "mlp") return in * hidden + hidden + classes * hidden + classes;
  if (o.model == "logreg") return in * classes + classes;
  if (o.model == "lenet5" || o.model == "lenet5-transfer") {  // lenet.cpp; 1x28x28 in
    const double cells = std::max(0.0, std::floor((std::floor(side / 2) - 4) / 2));
    const double head = 84 * classes + classes;
    if (o.model == "lenet5-transfer") return head;
    return 150 * channels + 6 + 2416 + 16 * cells * cells * 120 + 120 + 10164 + head;
  }
  if (o.model == "rnn") {  // 10 layers of 4 units, one bias each, then dense
    const double c = o.dataset == "signal" ? 1 : channels, out = o.dataset == "signal" ? 2 : classes;
    return 4 * c + 16 + 4 + 9 * 36 + 4 * out + out;
  }
  const double cells = std::max(0.0, std::floor((std::floor((side - 2) / 2) - 2) / 2));  // seed-cnn
  return 32 * 9 * channels + 32 + 64 * 32 * 9 + 64 + classes * 64 * cells * cells + classes;
}

// A static estimate of what every rank holds before the first round: the
// synthetic data set (float pixels) and the model's weights, gradients and
// two Adam moments. It refuses runs that would only fail later, out of memory.
// synthetic-population: a round's participants' samples (60 floats, a label
// and two index entries each), all on one rank at worst, plus about 200
// bytes per client for the per-client vectors (measured: benchmarks/RESULTS.md).
struct PopulationBytes {
  double round = 0.0;    // the participants' samples
  double clients = 0.0;  // the per-client vectors
};

PopulationBytes population_bytes(const RunOptions& o) {
  const double n = double(o.clients);
  const double m = o.participation >= 1.0 ? n : std::max(1.0, std::round(o.participation * n));
  return {m * double(o.population_mean_samples) * (60 * 4 + 8 + 16), 200 * n};
}

void check_memory(const RunOptions& o) {
  const double side = o.synthetic_side;
  const double samples = double(o.synthetic_train_samples) + double(o.synthetic_test_samples);
  const bool population = o.dataset == "synthetic-population";
  double data_gb = o.dataset == "synthetic" ? samples * side * side * 4 / 1e9
                   : population ? (population_bytes(o).round + population_bytes(o).clients) / 1e9
                                : 0.0;
  const double signals = double(o.clients) * double(o.signal_samples) + double(o.signal_test_samples);
  if (o.dataset == "signal") data_gb = signals * (o.signal_length + 2) * 4 / 1e9;
  const double model_gb = model_parameters(o) * 4 * 4 / 1e9;
  if (data_gb + model_gb <= o.max_memory_gb) return;
  std::string culprit = o.model == "mlp" ? "hidden" : "synthetic-side";
  if (population && data_gb >= model_gb)
    culprit = population_bytes(o).round >= population_bytes(o).clients ? "participation" : "clients";
  else if (data_gb >= model_gb && o.dataset == "signal")
    culprit = "signal-samples";
  else if (data_gb >= model_gb)
    culprit = o.synthetic_train_samples >= o.synthetic_test_samples ? "synthetic-train-samples"
                                                                    : "synthetic-test-samples";
  char figures[160];
  std::snprintf(figures, sizeof figures, "the data set and model need about %.3g GB (data %.3g GB, model %.3g GB)",
                data_gb + model_gb, data_gb, model_gb);
  require(false, culprit,
          std::string(figures) + ", more than --max-memory-gb " + format_double(o.max_memory_gb) +
              "; make it smaller or raise --max-memory-gb");
}

}  // namespace

void validate(const RunOptions& o) {
  check_choices(o);
  check_conv_init(o.conv_init);
  check_clip_norm(o.clip_norm);
  check_ranges(o);
  check_topology_options(o);
  check_combinations(o);
  check_memory(o);
}

void resolve_output(RunOptions& options) {
  if (options.output_template.empty()) options.output_template = options.output;
  RunOptions copy = options;
  resolve_defaults(copy);  // {aggregator} of a clustered run is trimmed-mean
  const auto value = [&copy](const std::string& name) -> std::optional<std::string> {
    for (auto& [title, specs] : option_table(copy))
      for (auto& spec : specs)
        if (spec.name == name) return format_option(spec.name, spec.target);
    return std::nullopt;
  };
  options.output = io::expand_output(options.output, value);
}

// Only the options that apply to the run's topology are written, so the dump
// passes check_topology_options() when fed back; the [run] header lets
// Python's configparser read it.
std::string to_ini(const RunOptions& unresolved) {
  RunOptions options = unresolved;
  resolve_defaults(options);
  RunOptions copy = options;
  std::ostringstream out;
  out << "# fedhpc run configuration (fully resolved)\n[run]\n";
  for (auto& [title, specs] : option_table(copy)) {
    std::string lines;
    for (auto& spec : specs) {
      if (std::string_view(spec.name) == "resume") continue;  // how the run was started, not what it computes
      const std::string owner = owner_of(spec.name);
      if ((owner.empty() || owner == options.topology) && not_applicable(spec.name, options).empty()) lines += spec.name + (" = " + format_option(spec.name, spec.target)) + "\n";
    }
    if (!lines.empty()) out << "\n# " << title << "\n" << lines;
  }
  return out.str();
}

}  // namespace fedhpc
