#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace fedhpc {

// Every option of `fedhpc run`. The defaults here are the documented
// defaults; "scenario" means the value comes from --scenario.
struct RunOptions {
  // data
  std::string dataset = "fashion-mnist";
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  std::string color_task = "binary";  // colored-fashion-mnist: binary | multiclass
  std::int64_t max_train_samples = 0;
  std::int64_t max_test_samples = 0;
  std::string normalize = "none";
  std::string data_copies = "node";  // node: one copy per node in MPI shared memory | rank
  std::int64_t synthetic_train_samples = 60000;
  std::int64_t synthetic_test_samples = 10000;
  int synthetic_classes = 10;
  int synthetic_side = 28;
  double synthetic_noise = 0.35;
  // signal (paper 001's regression task): samples per client, global test samples, length
  std::int64_t signal_samples = 125;
  std::int64_t signal_test_samples = 1000;
  int signal_length = 64;
  // --augment: seeded affine copies of every client's training images (data/augment.hpp)
  bool augment = false;
  double augment_rotation = 15.0;
  double augment_zoom = 0.1;
  double augment_shift = 2.0;
  // synthetic-population (data/population.hpp)
  double population_alpha = 1.0;
  double population_beta = 1.0;
  std::int64_t population_min_samples = 20;
  std::int64_t population_mean_samples = 40;
  // clients
  std::int64_t clients = 10;
  std::string partition = "iid";
  double dirichlet_alpha = 0.5;
  std::int64_t dirichlet_min_samples = 10;
  int shards_per_client = 2;
  double local_test_fraction = 0.2;
  double participation = 1.0;
  int concept_shift = 1;
  // client tiers (weak clients, InclusiveFL-style): "none" = every client strong
  std::string client_tiers = "none";
  std::string tier_trainable = "moderate:2,weak:1";  // output-side weight layers per tier
  // model
  std::string model = "seed-cnn";
  std::int64_t hidden = 128;
  std::string scenario = "baseline";
  std::string activation = "scenario";
  std::string conv_init = "scenario";
  std::string conv_bias_init = "scenario";
  std::string clip_norm = "scenario";
  double leaky_slope = 0.3;
  std::string pretrained = "none";
  double rnn_dropout = 0.0;  // rnn: dropout between the stacked layers  // lenet5-transfer: the file of `fedhpc pretrain`
  // local training
  std::string optimizer = "adam";
  double lr = 0.001;
  double momentum = 0.0;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-7;
  std::int64_t batch_size = 16;
  int local_iterations = 1;
  std::int64_t iteration_steps = 0;
  int threads = 1;
  std::int64_t client_batch = 0;  // clients trained at once; 0 = automatic, 1 = one at a time
  // federation
  std::string topology = "centralized";
  // hierarchical
  int edges = 5;
  std::string edge_assignment = "label-balanced";
  int edge_interval = 1;
  // ring (hybrid STAR-rings)
  int rings = 1;
  std::string ring_grouping = "label-diverse";
  // clustered
  int recluster_every = 4;
  double cluster_threshold = 5.0;  // topology::kAutoClusterThreshold for "auto"
  int cluster_min_size = 3;
  // gossip
  std::string gossip_graph = "ring";
  int gossip_k = 4;
  // per-client state of ring, gossip and hierarchical runs
  double max_memory_gb = 16.0;
  // aggregation (the clustered topology's default is trimmed-mean)
  std::string aggregator = "fedavg";
  std::string edge_aggregator = "same";  // hierarchical: "same" = --aggregator
  double trim_fraction = 0.1;
  int byzantine = 0;
  int krum_select = 0;
  double gma_threshold = 0.8;  // fedgma, fedgma-soft: sign-agreement threshold p (tau)
  int lama_interval = 1;       // fedlama: base interval tau' (local iterations)
  int lama_phi = 2;            // fedlama: the relaxed tensors' interval is phi * tau'
  // server side
  std::string server_optimizer = "sgd";
  double server_lr = 1.0;
  double server_momentum = 0.0;
  double server_beta1 = 0.9;
  double server_beta2 = 0.99;
  double server_eps = 1e-3;
  double prox_mu = 0.0;
  // clients that misbehave
  double dropout_rate = 0.0;
  double faulty_fraction = 0.0;
  std::string fault = "none";
  double fault_scale = 1.0;
  // stragglers (README, "Stragglers")
  std::string compute_profile = "none";      // none | lognormal:SIGMA | uniform:A:B | FILE
  double round_deadline = 0.0;               // simulated seconds per round; 0 = no deadline
  std::string late_policy = "drop";          // drop | partial
  double reference_samples_per_second = 0.0; // speed 1's samples/s; 0 = measured at start
  int rounds = 5;
  std::uint64_t seed = 0;
  // warm start: the initial global model is row init_round of another run's
  // /global/weights (-1 = its last completed round); "none" = seeded initialisation
  std::string init_from = "none";
  std::int64_t init_round = -1;
  std::int64_t eval_batch_size = 64;
  int eval_every = 1;
  // output
  std::string output = "fedhpc.h5";
  bool overwrite = false;
  std::string save_weights = "global";
  bool quiet = false;
  double max_output_gb = 0.0;  // 0 = only the free-space check
  // checkpoint and resume (README, "Checkpoint and resume")
  int checkpoint_every = 1;  // OUTPUT.ckpt after every k-th round (0 = never)
  bool resume = false;       // continue OUTPUT from its checkpoint; not part of the INI dump
  // monitoring
  std::string monitor = "off";
  std::string on_nonfinite = "skip";
  bool save_gradients = false;
  // fault injection
  int fail_at_round = 0;

  // Options set explicitly (command line or config file); not part of the INI dump.
  std::vector<std::string> given;
  // The path given to --config (empty if none); not part of the INI dump.
  std::string config_file;
  // --output as given, before resolve_output filled its placeholders (a
  // sweep names its points from it); not part of the INI dump.
  std::string output_template;
  bool was_given(const std::string& name) const;
};

// Result of parsing `fedhpc run ...`.
struct ParsedRun {
  RunOptions options;
  bool help = false;
  std::string help_text;
  // Config-file settings of the caller's own keys (see extra_keys), by name.
  std::vector<std::pair<std::string, std::string>> extra;
};

// Parses the command line (argv[0] is "run"'s caller; args start after the
// subcommand) and the optional --config INI file; the command line wins.
// Throws InputError with one line naming the option on any bad input.
// extra_keys: option names of another subcommand (fedhpc mi) that its config
// file may hold too; they are handed back in `extra`, unparsed.
ParsedRun parse_run_options(const std::vector<std::string>& args, const std::vector<std::string>& extra_keys = {});

// The options of a stored configuration (a run file's `config` attribute,
// INI text); `label` starts every error message. Throws InputError.
RunOptions options_from_config_text(const std::string& text, const std::string& label);

// Fills in the defaults that depend on other options: --aggregator for
// clustered (trimmed-mean when not given) and --edge-aggregator same.
// parse_run_options and run_simulation call it; it is idempotent.
void resolve_defaults(RunOptions& options);

// Expands the placeholders of --output ({seed}, {topology}, {aggregator},
// {opt:NAME}; io::expand_output) with the run's resolved options.
// parse_run_options and run_simulation call it; it is idempotent. Throws
// InputError naming --output for an unknown placeholder.
void resolve_output(RunOptions& options);

// Checks ranges and combinations that need no data, and a static memory
// estimate of the synthetic data set and the model. Throws InputError.
void validate(const RunOptions& options);

// The fully resolved configuration as INI text: a `[run]` header, then one
// `key = value` per option that applies to the run's topology (doubles in the
// shortest form that round-trips); feeding it back with --config reproduces
// the run.
std::string to_ini(const RunOptions& options);

// User text for an error message: quoted, printable ASCII kept, other bytes
// as \xNN, cut to `max` characters with "...".
std::string quote_input(const std::string& text, std::size_t max = 60);

}  // namespace fedhpc
