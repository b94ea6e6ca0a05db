#include "fedhpc/cli/run_command.hpp"
#include "fedhpc/cli/run_session.hpp"

#include <ATen/Parallel.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <algorithm>
#include <array>
#include <cstdio>
#include <map>
#include <sstream>
#include <string>

#include "fedhpc/analysis/run_file.hpp"
#include "fedhpc/cli/components.hpp"
#include "fedhpc/aggregation/server_optimizer.hpp"
#include "fedhpc/client/behaviour.hpp"
#include "fedhpc/client/local_trainer.hpp"
#include "fedhpc/core/blas_info.hpp"
#include "fedhpc/cli/guarded_command.hpp"
#include "fedhpc/cli/save_weights.hpp"
#include "fedhpc/core/error.hpp"
#include "fedhpc/core/interrupt.hpp"
#include "fedhpc/core/test_kill.hpp"
#include "fedhpc/data/dataset.hpp"
#include "fedhpc/data/node_shared.hpp"
#include "fedhpc/data/partition.hpp"
#include "fedhpc/io/checkpoint.hpp"
#include "fedhpc/io/model_file.hpp"
#include "fedhpc/io/output_path.hpp"
#include "fedhpc/io/run_writer.hpp"
#include "fedhpc/engine/checkpointing.hpp"
#include "fedhpc/engine/round_engine.hpp"
#include "fedhpc/metrics/evaluation.hpp"
#include "fedhpc/model/scenario.hpp"
#include "fedhpc/model/model.hpp"
#include "fedhpc/mpi/interrupt_channel.hpp"
#include "fedhpc/topology/layout.hpp"
#include "fedhpc/topology/topology.hpp"

namespace fedhpc {

namespace {

// Label permutations for --concept-shift: group 0 keeps its labels, every
// other group gets its own seeded permutation (never the identity).
void add_concept_shift(client::TrainOptions& t, const RunOptions& o, const std::vector<std::int64_t>& order,
                       int classes) {
  if (o.concept_shift <= 1) return;
  for (int g = 0; g < o.concept_shift; ++g) {
    std::vector<std::int64_t> map(static_cast<std::size_t>(classes));
    for (int k = 0; k < classes; ++k) map[std::size_t(k)] = k;
    if (g > 0) {
      auto rng = stream(o.seed, StreamKind::Partition, std::uint64_t(g), 0, 0x5eed);
      shuffle(map.begin(), map.end(), rng);
      bool identity = true;
      for (int k = 0; k < classes; ++k) identity = identity && map[std::size_t(k)] == k;
      if (identity) std::rotate(map.begin(), map.begin() + 1, map.end());
    }
    t.label_maps.push_back(map);
  }
  for (auto original : order) t.label_map_of_client.push_back(int(original * o.concept_shift / o.clients));
}

// Writes the scenario's choices back so the stored config is fully resolved.
model::ScenarioSettings resolve(RunOptions& o) {
  resolve_defaults(o);
  const auto s = model::resolve_scenario(scenario_options(o));
  o.activation = model::to_string(s.activation);
  o.conv_init = model::to_string(s.conv_init);
  o.conv_bias_init = model::bias_init_name(s.conv_init);
  o.clip_norm = model::format_clip_norm(s.clip_norm);
  return s;
}

void check_batch_fits(const RunOptions& o, const data::Partition& p) {
  if (o.batch_size == 0) return;
  for (std::int64_t c = 0; c < p.num_clients(); ++c)
    if (p.train_count(c) < o.batch_size)
      throw InputError("--batch-size: " + std::to_string(o.batch_size) + " is larger than client " +
                       std::to_string(c) + "'s " + std::to_string(p.train_count(c)) +
                       " training samples; use a smaller batch, 0 (full batch) or fewer clients");
}

// The files a run reads; its output may not be one of them.
std::vector<std::string> input_files(const RunOptions& o) {
  std::vector<std::string> files = {o.config_file};
  if (o.init_from != "none") files.push_back(o.init_from);
  if (o.dataset == "fashion-mnist" || o.dataset == "colored-fashion-mnist")
    for (const char* name : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                             "t10k-labels-idx1-ubyte.gz"})
      files.push_back(o.data_dir + "/" + name);
  if (data::is_file_dataset(o.dataset)) files.push_back(o.dataset.substr(5));
  return files;
}

void check_output(const RunOptions& o, const mpi::Comm& comm) {
  if (o.resume) return;  // the output is the run being continued (find_resume_source)
  mpi::collective_try(comm, [&] {
    if (comm.rank() == 0) io::check_output_path(o.output, o.overwrite, input_files(o));
  });
}

// Cores this rank may run on (its CPU affinity, which mpirun and Slurm set).
int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return int(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  return std::max(1, CPU_COUNT(&set));
}

void check_threads(const RunOptions& o, const mpi::Comm& comm) {
  mpi::collective_try(comm, [&] {
    const int cores = available_cores();
    if (o.threads > cores)
      throw InputError("--threads: " + std::to_string(o.threads) + " is more than the " + std::to_string(cores) +
                       " cores this rank may use (its CPU affinity); allowed: 1.." + std::to_string(cores));
  });
}

// Torch's OpenMP threads and the BLAS's own: OpenBLAS's pthread build
// ignores omp_set_num_threads and would start one thread per core in every
// rank. Rank 0 warns (once) when the slow reference BLAS is active.
void set_threads(int threads, const mpi::Comm& comm) {
  at::set_num_threads(threads);
  set_blas_threads(threads);
  const auto warning = reference_blas_warning(blas_info());
  if (comm.rank() == 0 && !warning.empty()) std::fprintf(stderr, "%s\n", warning.c_str());
}

std::string gigabytes(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g GB", bytes / 1e9);
  return buf;
}

std::int64_t peak_rss_bytes() {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return std::int64_t(usage.ru_maxrss) * 1024;
}

std::string format_seconds(double s) {
  char buf[32];
  if (s < 120) std::snprintf(buf, sizeof buf, "%.1f s", s);
  else if (s < 7200) std::snprintf(buf, sizeof buf, "%.1f min", s / 60);
  else std::snprintf(buf, sizeof buf, "%.1f h", s / 3600);
  return buf;
}

// "train 1.52 s, eval 0.71 s": the two largest phases of the round.
std::string largest_phases(const std::array<double, 5>& seconds) {
  static const char* const label[] = {"select", "train", "aggregate", "eval", "write"};
  std::array<int, 5> order = {0, 1, 2, 3, 4};
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return seconds[a] > seconds[b]; });
  char buf[96];
  std::snprintf(buf, sizeof buf, "%s %.2f s, %s %.2f s", label[order[0]], seconds[order[0]], label[order[1]],
                seconds[order[1]]);
  return buf;
}

// A metric of a round --eval-every skipped prints as "-".
std::string metric(bool evaluated, double value) {
  if (!evaluated) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", value);
  return buf;
}

std::string megabytes(double bytes) {
  char buf[32];
  if (bytes < 1e9) std::snprintf(buf, sizeof buf, "%.3g MB", bytes / 1e6);
  else std::snprintf(buf, sizeof buf, "%.3g GB", bytes / 1e9);
  return buf;
}

// The figures of a round that matter for its topology, after the common
// ones: gossip has no global model in use, so its headline is the clients'
// own models; clustered shows how many clusters there are.
std::string topology_figures(const topology::RoundResult& s, bool gossip) {
  std::string out;
  char buf[64];
  if (!s.cluster_of_client.empty()) {
    std::vector<std::int64_t> ids = s.cluster_of_client;
    std::sort(ids.begin(), ids.end());
    std::snprintf(buf, sizeof buf, "  clusters %lld",
                  (long long)(std::unique(ids.begin(), ids.end()) - ids.begin()));
    out += buf;
  }
  if (gossip) {
    std::snprintf(buf, sizeof buf, "  consensus %.4g", s.record.consensus_distance);
    out += buf;
  }
  double bytes = 0.0;
  for (double b : s.record.comm_bytes) bytes += b;
  return out + "  comm " + megabytes(bytes);
}

void print_round(const topology::RoundResult& s, const std::array<double, 5>& phases, int rounds, double elapsed,
                 bool gossip, bool regression, const engine::StragglerRound* stragglers) {
  const double eta = elapsed / s.round * (rounds - s.round);
  if (gossip)
    std::printf("round %d/%d  own_acc %s  own_loss %s  mean_model_test_acc %s", s.round, rounds,
                metric(s.evaluated, s.aggregated_accuracy).c_str(), metric(s.evaluated, s.aggregated_loss).c_str(),
                metric(s.evaluated, s.test_accuracy).c_str());
  else if (regression)  // no accuracy: the losses are MSE
    std::printf("round %d/%d  test_mse %s  agg_mse %s", s.round, rounds, metric(s.evaluated, s.test_loss).c_str(),
                metric(s.evaluated, s.aggregated_loss).c_str());
  else
    std::printf("round %d/%d  test_acc %s  agg_acc %s  agg_loss %s", s.round, rounds,
                metric(s.evaluated, s.test_accuracy).c_str(), metric(s.evaluated, s.aggregated_accuracy).c_str(),
                metric(s.evaluated, s.aggregated_loss).c_str());
  std::printf("%s  %.2f s/round (%s)  ETA %s", topology_figures(s, gossip).c_str(), s.seconds,
              largest_phases(phases).c_str(), format_seconds(eta).c_str());
  if (s.record.nonfinite_skipped > 0)
    std::printf("  (skipped %lld non-finite clients)", (long long)s.record.nonfinite_skipped);
  if (stragglers) {
    std::printf("  late %lld  simulated %.3g s", (long long)stragglers->late_clients, stragglers->simulated_seconds);
    if (stragglers->uploading == 0) std::printf("  (no client uploads by the deadline: global model kept)");
  }
  std::printf("\n");
  std::fflush(stdout);
}

// --init-from: another run's global model, which must have this model's layer table.
std::vector<float> warm_start(const RunOptions& o, const ParamLayout& layout) {
  ParamLayout stored;
  auto model = analysis::read_global_model(o.init_from, o.init_round, "--init-from", &stored);
  analysis::check_same_layout(layout, stored, "--init-from", quote_input(o.init_from, 200));
  return model;
}

// --client-tiers: every client's tier from its (seed, partition index)
// stream, and the flat range each trains, for the trainer and the topology.
void assign_tiers(Setup& s) {
  const auto& o = s.options;
  s.tier_spec = client::parse_tiers(o.client_tiers, o.tier_trainable);
  if (!s.tier_spec.enabled) return;
  client::check_trainable(s.tier_spec, int(s.model->layout().weight_layers().size()), o.model);
  s.tiers = client::draw_tiers(s.tier_spec, o.seed, s.layout.order);
  s.topology.trained_from = client::trained_offsets(s.tier_spec, s.tiers, s.model->layout());
}

// Samples of one training step: --batch-size, or the largest client's split (full batch).
std::int64_t step_batch(const Setup& s) {
  if (s.options.batch_size > 0) return s.options.batch_size;
  std::int64_t largest = 0;
  for (std::int64_t c = 0; c < s.partition.num_clients(); ++c) largest = std::max(largest, s.partition.train_count(c));
  return largest;
}

// /clients/tier and /clients/tier_cost (README, "Client tiers").
void add_tiers(io::RunHeader& h, const Setup& s) {
  if (s.tiers.empty()) return;
  for (auto t : s.tiers) h.tiers.push_back(std::int64_t(t));
  const auto geometry = s.model->geometry();
  const int lw = int(s.model->layout().weight_layers().size());
  h.tier_batch = step_batch(s);
  for (int t = 0; t < client::kTiers; ++t) {
    h.tier_names.push_back(client::kTierNames[std::size_t(t)]);
    const int trained = client::trained_layers(s.tier_spec, client::Tier(t), lw);
    const auto cost = model::step_cost(geometry, trained, h.tier_batch);
    const bool known = !geometry.empty();
    h.tier_cost.insert(h.tier_cost.end(), {double(trained), known ? cost.flops : std::nan(""),
                                           known ? cost.activation_bytes : std::nan("")});
  }
}

// --dataset synthetic-population: the global test set and every client's
// sizes now; a client's samples only when it takes part (prepare_round).
// The partition starts as the sizes alone, which is all the trainer's and
// the checks' look at every client needs.
void load_population(Setup& s, const topology::TopologyDescriptor& descriptor, int ranks) {
  s.population = std::make_unique<data::Population>(population_options(s.options));
  s.dataset = s.population->make_dataset();
  std::vector<std::int64_t> identity(std::size_t(s.options.clients));
  for (std::size_t c = 0; c < identity.size(); ++c) identity[c] = std::int64_t(c);
  s.population_sizes = s.population->sizes(identity);
  check_batch_fits(s.options, s.population_sizes);
  s.layout = topology::make_layout(descriptor, s.topology, s.population_sizes, s.dataset.train.labels,
                                   s.dataset.num_classes, ranks);
  s.partition = s.population->sizes(s.layout.order);
}

// Training samples of the run: the whole population's for synthetic-population.
std::int64_t train_samples(const Setup& s) {
  return s.population ? s.population_sizes.train_offsets.back() : s.dataset.train.count;
}

}  // namespace

// Setup and Session: include/fedhpc/cli/run_session.hpp.
Setup prepare(RunOptions options, const mpi::Comm& comm) {
  Setup s;
  resolve_output(options);  // callers that build RunOptions in code skip parse_run_options
  validate(options);
  s.scenario = resolve(options);
  s.options = options;
  s.topology = topology_options(options);
  const auto& descriptor = topology::topology_registry().get(options.topology, "topology");
  descriptor.validate(s.topology);
  client::validate(behaviour_options(options));
  aggregation::validate(server_optimizer_options(options));
  check_threads(options, comm);
  set_threads(options.threads, comm);
  data::NodeLoader loader(comm, options.data_copies == "node");
  mpi::collective_try(comm, [&] {
    if (options.dataset == "synthetic-population") {
      load_population(s, descriptor, comm.size());  // generated per client: nothing for the node to share
    } else {
      s.dataset = loader.load(dataset_options(options));
      auto partitioning = partition_options(options);
      partitioning.natural_clients = s.dataset.train_clients;
      s.partition = data::make_partition(s.dataset.train.labels, s.dataset.num_classes, partitioning);
      loader.finish(s.dataset, s.partition, dataset_options(options));
      check_batch_fits(options, s.partition);
      s.layout = topology::make_layout(descriptor, s.topology, s.partition, s.dataset.train.labels,
                                       s.dataset.num_classes, comm.size());
      s.partition = topology::reorder(s.partition, s.layout.order);
    }
    s.behaviour = std::make_unique<client::ClientBehaviour>(behaviour_options(options), s.layout.order);
    s.model = model::make_model(model_options(options, s.dataset, s.scenario));
    s.global.resize(std::size_t(s.model->layout().total()));
    auto rng = stream(options.seed, StreamKind::Init);
    s.model->initialize(s.global.data(), rng);
    if (options.init_from != "none") s.global = warm_start(options, s.model->layout());
    assign_tiers(s);
  });
  check_output(options, comm);
  return s;
}

namespace {

io::RunHeader make_header(const Setup& s) {
  io::RunHeader h;
  h.config_ini = to_ini(s.options);
  h.num_clients = s.options.clients;
  h.seed = s.options.seed;
  h.rounds = s.options.rounds;
  h.local_iterations = s.options.local_iterations;
  const auto saving = parse_save_weights(s.options.save_weights, s.options.rounds);
  h.save_weights = saving.kind;
  h.client_weight_rounds = saving.client_rounds;
  h.monitor = s.options.monitor;
  h.save_gradients = s.options.save_gradients;
  h.dataset = s.dataset.name;
  h.num_classes = s.dataset.num_classes;
  h.task = s.dataset.task;
  h.target_names = s.dataset.target_names;
  h.train_samples = train_samples(s);
  h.test_samples = s.dataset.test.count;
  h.layout = &s.model->layout();
  h.partition = s.population ? &s.population_sizes : &s.partition;
  h.topology = &s.layout;
  h.topology_name = s.options.topology;
  h.extras = topology::topology_registry().get(s.options.topology).extras(s.topology, s.layout);
  const auto& o = s.options;
  h.attributes = {{"aggregator", o.aggregator},
                  {"server_optimizer", o.server_optimizer},
                  {"server_lr", o.server_lr},
                  {"prox_mu", o.prox_mu},
                  {"dropout_rate", o.dropout_rate},
                  {"faulty_fraction", o.faulty_fraction},
                  {"fault", o.fault}};
  h.faulty = &s.behaviour->faulty();
  h.gma_mask = o.aggregator == "fedgma" || o.aggregator == "fedgma-soft";
  if (h.gma_mask) h.attributes.push_back({"gma_threshold", o.gma_threshold});
  if (o.aggregator == "fedlama") {
    h.lama_decisions = o.local_iterations / (o.lama_interval * o.lama_phi);
    h.attributes.push_back({"lama_interval", std::int64_t(o.lama_interval)});
    h.attributes.push_back({"lama_phi", std::int64_t(o.lama_phi)});
  }
  if (o.model == "lenet5-transfer") {  // the frozen layers live in that file, not in /global/weights
    const auto pretrained = io::read_model_file(o.pretrained, "--pretrained");
    h.attributes.push_back({"pretrained", o.pretrained});
    h.attributes.push_back({"pretrained_checksum", io::weights_checksum(pretrained.weights)});
    h.attributes.push_back({"pretrained_test_accuracy", pretrained.test_accuracy});
  }
  if (!s.population) h.train_labels = &s.dataset.train.labels;  // a population's labels are generated
  client::TrainOptions shift;
  add_concept_shift(shift, s.options, s.layout.order, s.dataset.num_classes);
  h.concept_group.assign(shift.label_map_of_client.begin(), shift.label_map_of_client.end());
  h.concept_label_maps = shift.label_maps;
  add_tiers(h, s);
  const auto& stragglers = s.behaviour->stragglers();
  h.speeds = stragglers.speeds();
  h.deadline = stragglers.active();
  if (h.deadline) {
    h.attributes.push_back({"round_deadline", o.round_deadline});
    h.attributes.push_back({"late_policy", o.late_policy});
    h.attributes.push_back({"reference_samples_per_second", stragglers.reference_samples_per_second()});
  }
  if (!h.speeds.empty()) h.attributes.push_back({"compute_profile", o.compute_profile});
  // A population's per-client datasets hold the round's participants only
  // (the same m as RoundEngine::select_clients).
  if (s.population)
    h.sparse_clients = o.participation >= 1.0 ? o.clients
                                              : std::max<std::int64_t>(1, std::llround(o.participation * double(o.clients)));
  return h;
}

}  // namespace

namespace {

// Before each round: this rank's participants' samples, generated into the
// data set and partition the trainer reads; the previous round's are dropped.
std::function<void(int, const std::vector<std::uint8_t>&)> population_round(Setup& s, client::LocalTrainer& trainer,
                                                                           topology::ClientBlock block) {
  return [&s, &trainer, block](int, const std::vector<std::uint8_t>& selected) {
    std::vector<std::int64_t> mine;
    for (auto c = block.begin; c < block.end; ++c)
      if (selected[std::size_t(c)]) mine.push_back(c);
    s.population->materialize(mine, s.layout.order, s.dataset, s.partition);
    trainer.reload_data();
  };
}

}  // namespace

namespace {

// Training samples per wall second of this machine on client 0's round:
// local iterations from the initial model until 0.2 s have passed (at most
// 20), on rank 0, whose value every rank takes. The run's result depends on
// it only through which clients the deadline cuts (README, "Stragglers").
double calibrate_reference(const Setup& s, client::LocalTrainer& trainer, const mpi::Comm& comm) {
  double rate = 0.0;
  mpi::collective_try(comm, [&] {
    if (comm.rank() != 0) return;
    const auto work = client::client_work(s.partition, s.options.batch_size, 1, s.options.iteration_steps);
    std::int64_t steps = 0;
    trainer.set_step_observer([&](std::int64_t) { ++steps; });
    trainer.begin_client(s.global.data());
    const double t0 = MPI_Wtime();
    for (int it = 0; it < 20 && (it == 0 || MPI_Wtime() - t0 < 0.2); ++it) trainer.iterate(0, 0, it);
    const double seconds = MPI_Wtime() - t0;
    trainer.set_step_observer({});
    rate = double(steps * work[0].step_samples) / std::max(seconds, 1e-9);
  });
  return mpi::all_reduce(comm, rate, mpi::Op::Max, "MPI_Allreduce(reference samples/s)");
}

// --compute-profile, --round-deadline: every client's speed, the simulated
// clock, and under partial the trainer's step caps.
void setup_stragglers(Setup& s, client::LocalTrainer& trainer, const mpi::Comm& comm) {
  const auto& o = s.options;
  const auto profile = client::parse_compute_profile(o.compute_profile);
  if (profile.kind == client::ComputeProfile::Kind::None && o.round_deadline == 0.0) return;
  std::vector<double> speeds;
  mpi::collective_try(comm, [&] { speeds = client::client_speeds(profile, o.seed, s.layout.order); });
  double reference = o.reference_samples_per_second;
  if (o.round_deadline > 0.0 && reference == 0.0) {
    reference = calibrate_reference(s, trainer, comm);
    // The stored configuration (file and checkpoint) keeps the measured
    // rate, so --config and --resume repeat the run bit for bit.
    s.options.reference_samples_per_second = reference;
  }
  // Before the first round every client's sizes are in the partition (a
  // population's too), by client id.
  auto work = client::client_work(s.partition, o.batch_size, o.local_iterations, o.iteration_steps);
  s.behaviour->set_stragglers(client::Stragglers(std::move(speeds), std::move(work), o.round_deadline,
                                                 client::parse_late_policy(o.late_policy), reference));
  trainer.set_step_limits(s.behaviour->stragglers().step_limits());
}

}  // namespace

client::TrainOptions trainer_options(const Setup& s) {
  auto t = train_options(s.options, s.scenario.clip_norm);
  t.client_keys = s.layout.order;
  if (s.behaviour->options().fault == client::Fault::LabelFlip) t.flip_labels = s.behaviour->faulty();
  add_concept_shift(t, s.options, s.layout.order, s.dataset.num_classes);
  t.trained_from = s.topology.trained_from;
  return t;
}

Session::Session(Setup& s, const mpi::Comm& comm)
      : trainer(*s.model, s.dataset, s.partition, trainer_options(s)),
        ctx{comm,
            s.layout.blocks[std::size_t(comm.rank())],
            trainer,
            s.partition,
            s.topology,
            s.layout,
            *s.behaviour,
            s.model->layout().total(),
            parse_save_weights(s.options.save_weights, s.options.rounds).kind == "clients",
            int(s.model->layout().weight_layers().size()),
            &s.model->layout()} {
    const auto& o = s.options;
    setup_stragglers(s, trainer, comm);
    shape.block = ctx.block.size();
    shape.iterations = o.local_iterations;
    shape.params = ctx.num_params;
    shape.keep_weights = ctx.keep_client_weights;
    shape.monitored = monitored_iterations(s.topology.monitor, o.local_iterations);
    shape.weight_layers = ctx.weight_layers;
    shape.keep_gradients = o.save_gradients;
    topology = topology::topology_registry().get(o.topology, "topology").make(ctx);
    const auto server = server_optimizer_options(o);
    if (!aggregation::is_identity(server)) server_optimizer = aggregation::make_server_optimizer(server);
    engine::EngineParts parts{trainer, s.partition, *topology, *s.behaviour, server_optimizer.get(), {}, {}, {}, 0, {}};
    parts.client_keys = s.layout.order;
    parts.block = ctx.block;
    parts.shape = shape;
    parts.test_samples = s.dataset.test.count;
    if (s.population) parts.prepare_round = population_round(s, trainer, ctx.block);
    engine = std::make_unique<engine::RoundEngine>(comm, engine_options(o), std::move(parts), s.global);
  }

namespace {

// Per-round buffers of the rank with the most clients, in bytes.
double record_bytes(const Setup& s, const Session& session) {
  std::int64_t b = 0;
  for (const auto& block : s.layout.blocks) b = std::max(b, block.size());
  const auto& r = session.shape;
  const double floats = double(b) * (double(r.iterations) + double(r.monitored) * (5.0 + 3.0 * r.weight_layers) +
                                     (r.keep_weights ? double(r.params) : 0.0) +
                                     (r.keep_gradients ? double(r.params) : 0.0));
  return 4.0 * floats + 2.0 * double(b) + 8.0 * double(r.iterations);
}

// Refuses, before the output is touched, a run whose buffers or file cannot
// fit. Returns the planned file size (on rank 0; 0 elsewhere).
double check_budget(const Setup& s, const Session& session, const mpi::Comm& comm) {
  const auto& o = s.options;
  const double memory = record_bytes(s, session);
  if (memory > o.max_memory_gb * 1e9)
    throw InputError("--max-memory-gb: the per-round buffers need " + gigabytes(memory) + " on one rank (--local-iterations " +
                     std::to_string(o.local_iterations) + ", " + std::to_string(session.shape.block) +
                     " clients per rank); the limit is " + gigabytes(o.max_memory_gb * 1e9) +
                     "; reduce --local-iterations, --monitor or --save-weights, or use more ranks");
  double planned = 0.0;
  mpi::collective_try(comm, [&] {
    if (comm.rank() != 0) return;
    const auto plan = io::RunWriter::plan(make_header(s), comm.size());
    planned = double(plan.bytes);
    const std::string need = "the output file would need up to " + gigabytes(double(plan.bytes)) + " (largest: " +
                             plan.largest + ")";
    if (o.max_output_gb > 0 && double(plan.bytes) > o.max_output_gb * 1e9)
      throw InputError("--max-output-gb: " + need + ", over the limit of " + gigabytes(o.max_output_gb * 1e9) +
                       "; reduce --rounds, --local-iterations or what is saved (--save-weights, --monitor)");
    const auto free = io::free_bytes(o.output);
    if (plan.bytes > free)
      throw InputError("--output: " + need + ", but only " + gigabytes(double(free)) +
                       " are free there; reduce --rounds, --local-iterations or what is saved (--save-weights, "
                       "--monitor)");
  });
  return planned;
}

// One line before the first round, so a long first round is not silent.
void print_start(const Setup& s, const mpi::Comm& comm, double planned_bytes) {
  std::int64_t lo = s.options.clients, hi = 0;
  for (const auto& block : s.layout.blocks) {
    lo = std::min(lo, block.size());
    hi = std::max(hi, block.size());
  }
  const std::string per_rank = lo == hi ? std::to_string(lo) : std::to_string(lo) + "-" + std::to_string(hi);
  std::printf("start: %d rank%s, %s clients per rank (%lld clients), %s %lld parameters, %s (%lld train / %lld test), "
              "%s, %d rounds, output up to %s\n",
              comm.size(), comm.size() == 1 ? "" : "s", per_rank.c_str(), (long long)s.options.clients,
              s.options.model.c_str(), (long long)s.model->layout().total(), s.dataset.name.c_str(),
              (long long)train_samples(s), (long long)s.dataset.test.count, s.options.topology.c_str(),
              s.options.rounds, megabytes(planned_bytes).c_str());
  std::fflush(stdout);
}

// How far a run got: the last round in the file and the last checkpoint.
struct Progress {
  int written = 0;
  int checkpointed = -1;
};

// OUTPUT.ckpt of the state after `round` (collective: rank 0 writes it, the
// other ranks send it their clients' rows).
void checkpoint(const Setup& s, Session& session, const mpi::Comm& comm, io::RunWriter& writer, int round,
                Progress& progress) {
  writer.flush();  // the round's /timing/phases row, so the file holds all of `round`
  auto c = engine::capture({*session.engine, *session.topology, session.server_optimizer.get(), s.layout.blocks},
                           comm, round);
  if (comm.rank() == 0) c.config = to_ini(s.options);  // only rank 0 writes it
  io::write_checkpoint(s.options.output, c, comm);
  progress.checkpointed = round;
}

bool checkpoint_due(const RunOptions& o, int round) {
  return o.checkpoint_every > 0 && round % o.checkpoint_every == 0 && round < o.rounds;
}

// Rounds first_round..R; round 0 (the initial model) is written unless resuming.
void run_rounds(Setup& s, Session& session, const mpi::Comm& comm, io::RunWriter& writer, int first_round,
                Progress& progress) {
  const auto& o = s.options;
  auto& engine = *session.engine;
  if (first_round == 1) {
    const auto [loss, accuracy] = engine.evaluate_initial();
    writer.write_initial(engine.global().data(), loss, accuracy);
    if (o.checkpoint_every > 0) checkpoint(s, session, comm, writer, 0, progress);
  }
  double elapsed = 0.0;
  for (int round = first_round; round <= o.rounds; ++round) {
    const auto& result = engine.run_round(round);
    elapsed += result.seconds;
    // The writer's time on rank 0, the one rank that writes.
    const double t0 = MPI_Wtime();
    writer.write_round(result);
    writer.write_stragglers(round, engine.stragglers().late, engine.stragglers().simulated_seconds);
    kill_point(round, "write", comm.rank());  // test-only: rows handed to HDF5, not yet flushed
    writer.write_topology_round(result);
    auto phases = result.phase_seconds;
    phases[topology::kWrite] = MPI_Wtime() - t0;
    writer.write_phases(round, phases);
    progress.written = round;
    if (checkpoint_due(o, round)) checkpoint(s, session, comm, writer, round, progress);
    // print_round's ETA wants the time of rounds 1..round; a resumed run
    // timed only its own rounds, so they stand for the earlier ones too.
    const double projected = elapsed / double(round - first_round + 1) * double(round);
    const auto* stragglers = o.round_deadline > 0.0 ? &engine.stragglers() : nullptr;
    if (comm.rank() == 0 && !o.quiet) print_round(result, phases, o.rounds, projected, o.topology == "gossip",
                                                  o.dataset == "signal", stragglers);
  }
}

// Where the file of a run that did not complete is left, for the message.
std::string leave_partial(const std::string& output, const mpi::Comm& comm) {
  std::string where;
  if (comm.rank() == 0) {
    try {
      where = io::publish(output, false);
    } catch (const std::exception& e) {
      where = io::partial_path(output);
    }
  }
  return mpi::broadcast_string(comm, where);
}

// The writer of a fresh run, or of a resumed one: a new file, OUTPUT.resume,
// takes the source's rounds up to the checkpoint and then replaces
// OUTPUT.partial, so a kill before that leaves the old file as it was.
std::unique_ptr<io::RunWriter> open_writer(Setup& s, Session& session, const mpi::Comm& comm,
                                           const io::ResumeSource* from) {
  const auto& output = s.options.output;
  const auto path = from ? output + ".resume" : io::partial_path(output);
  std::unique_ptr<io::RunWriter> writer;
  try {
    writer = std::make_unique<io::RunWriter>(path, comm, make_header(s), session.ctx.block);
    if (from) {
      writer->copy_rounds(from->path, from->round);
      writer->move_to(io::partial_path(output));
    }
  } catch (const RunError&) {
    if (comm.rank() == 0) ::unlink(path.c_str());  // nothing valid was written
    throw;
  }
  return writer;
}

// An interrupt between rounds leaves state that belongs to the last round
// written: checkpoint it, unless that round already is.
void checkpoint_interrupted(const Setup& s, Session& session, const mpi::Comm& comm, io::RunWriter& writer,
                            Progress& progress) {
  if (s.options.checkpoint_every == 0 || progress.checkpointed >= progress.written) return;
  if (!session.engine->between_rounds()) return;  // abandoned mid-round: the last checkpoint stands
  checkpoint(s, session, comm, writer, progress.written, progress);
}

// Writes the rounds into OUTPUT.partial and moves it into place.
void write_run(Setup& s, Session& session, const mpi::Comm& comm, const io::ResumeSource* from) {
  const auto& output = s.options.output;
  auto writer = open_writer(s, session, comm, from);
  Progress progress;
  if (from) progress = {from->round, from->round};
  try {
    run_rounds(s, session, comm, *writer, progress.written + 1, progress);
    writer->write_peak_memory(peak_rss_bytes());
    writer->finish("complete");
  } catch (const Interrupted& e) {
    std::string kept;
    try {
      checkpoint_interrupted(s, session, comm, *writer, progress);
      if (progress.checkpointed >= 0)
        kept = "; fedhpc run --resume --output " + output + " continues it from round " +
               std::to_string(progress.checkpointed);
    } catch (const std::exception& c) {
      kept = std::string("; no checkpoint: ") + c.what();
    }
    writer->finish("interrupted", e.what());
    throw Interrupted(e.signal(), "; the finished rounds are in " + leave_partial(output, comm) +
                                      " (status interrupted)" + kept);
  } catch (const InputError& e) {
    // Input that only shows as wrong mid-run (e.g. too few models for
    // --byzantine at an aggregation point): still exit 2, file kept.
    writer->finish("failed", e.what());
    throw InputError(std::string(e.what()) + "; the finished rounds are in " + leave_partial(output, comm) +
                     " (status failed)");
  } catch (const std::exception& e) {
    // Errors inside rounds are agreed on by every rank (collective_try and
    // the writer's per-round check), so the file can still be closed with
    // its status.
    writer->finish("failed", e.what());
    throw RunError(std::string(e.what()) + "; the finished rounds are in " + leave_partial(output, comm) +
                   " (status failed)");
  }
  mpi::collective_try(comm, [&] {
    if (comm.rank() != 0) return;
    io::publish(output, true);
    ::unlink(io::checkpoint_path(output).c_str());  // a finished run is not resumed
  });
}

// Options that --resume may change: how the run goes, not what it computes.
const std::vector<std::string>& free_on_resume() {
  static const std::vector<std::string> names = {"output",        "resume",        "quiet",        "threads",
                                                 "checkpoint-every", "fail-at-round", "max-output-gb",
                                                 "max-memory-gb", "overwrite",     "data-copies"};
  return names;
}

bool may_change_on_resume(const std::string& name) {
  const auto& names = free_on_resume();
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::map<std::string, std::string> ini_values(const RunOptions& o) {
  std::map<std::string, std::string> values;
  std::istringstream in(to_ini(o));
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find(" = ");
    if (eq != std::string::npos && line[0] != '#') values[line.substr(0, eq)] = line.substr(eq + 3);
  }
  return values;
}

// The stored configuration, with what the command line may change; any
// other option given with a value unlike the stored one is an input error.
RunOptions resume_options(const RunOptions& given, const io::ResumeSource& from) {
  RunOptions o = options_from_config_text(from.config, "the configuration stored in " + from.path);
  const auto stored = ini_values(o);
  const auto asked = ini_values(given);
  for (const auto& name : given.given) {
    if (may_change_on_resume(name)) continue;
    const auto it = stored.find(name), want = asked.find(name);
    if (it == stored.end() || want == asked.end() || it->second != want->second)
      throw InputError("--" + name + ": --resume continues " + from.path + " with its stored configuration (" +
                       (it == stored.end() ? std::string("which does not set it") : "--" + name + " " + it->second) +
                       "); leave the option out or start a new run");
  }
  o.output = given.output;
  if (given.was_given("quiet")) o.quiet = given.quiet;
  if (given.was_given("threads")) o.threads = given.threads;
  if (given.was_given("data-copies")) o.data_copies = given.data_copies;
  if (given.was_given("checkpoint-every")) o.checkpoint_every = given.checkpoint_every;
  if (given.was_given("fail-at-round")) o.fail_at_round = given.fail_at_round;
  if (given.was_given("max-output-gb")) o.max_output_gb = given.max_output_gb;
  if (given.was_given("max-memory-gb")) o.max_memory_gb = given.max_memory_gb;
  o.resume = true;
  return o;
}

// Rank 0 finds what to resume; every rank gets it.
io::ResumeSource resume_source(const RunOptions& o, const mpi::Comm& comm) {
  io::ResumeSource from;
  mpi::collective_try(comm, [&] {
    if (comm.rank() == 0) from = io::find_resume_source(o.output, free_on_resume());
  });
  from.path = mpi::broadcast_string(comm, from.path);
  from.config = mpi::broadcast_string(comm, from.config);
  from.round = std::stoi(mpi::broadcast_string(comm, std::to_string(from.round)));
  return from;
}

}  // namespace

void run_simulation(RunOptions options, const mpi::Comm& comm) {
  std::unique_ptr<io::ResumeSource> from;
  if (options.resume) {
    from = std::make_unique<io::ResumeSource>(resume_source(options, comm));
    options = resume_options(options, *from);
  }
  Setup s = prepare(std::move(options), comm);
  mpi::InterruptChannel interrupts(comm);
  Session session(s, comm);
  const double planned = check_budget(s, session, comm);
  if (from) {
    mpi::collective_try(comm, [&] {
      const auto c = io::read_checkpoint(s.options.output, session.ctx.block);
      engine::restore(c, *session.engine, *session.topology, session.server_optimizer.get());
    });
  }
  if (comm.rank() == 0 && !s.options.quiet) {
    print_start(s, comm, planned);
    if (from) std::printf("resume: %s from round %d\n", from->path.c_str(), from->round);
    std::fflush(stdout);
  }
  // Held until the file is in place; the kernel drops it if the process dies.
  std::unique_ptr<io::OutputLock> lock;
  mpi::collective_try(comm, [&] {
    if (comm.rank() != 0) return;
    lock = std::make_unique<io::OutputLock>(s.options.output);
    if (from) return;
    // Again under the lock: another run may have finished since the first look.
    io::check_output_path(s.options.output, s.options.overwrite, input_files(s.options));
    ::unlink(io::checkpoint_path(s.options.output).c_str());  // an earlier run's
  });
  write_run(s, session, comm, from.get());
}

int run_command(const std::vector<std::string>& args, const mpi::Comm& comm) {
  const bool root = comm.rank() == 0;
  return guarded_command(comm, "run", [&] {
    auto parsed = parse_run_options(args);
    if (parsed.help) {
      if (root) std::printf("%s", parsed.help_text.c_str());
      return;
    }
    const std::string output = parsed.options.output;
    const double t0 = MPI_Wtime();
    run_simulation(std::move(parsed.options), comm);
    if (root) std::printf("wrote %s (%.1f s)\n", output.c_str(), MPI_Wtime() - t0);
  });
}

}  // namespace fedhpc
