// `fedhpc mi`: option parsing and the driver; the estimators, the sampler and
// the output file are in analysis/.
#include "fedhpc/cli/mi_command.hpp"

#include <unistd.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "fedhpc/analysis/mi_output.hpp"
#include "fedhpc/analysis/mi_study.hpp"
#include "fedhpc/analysis/parameter_sampler.hpp"
#include "fedhpc/cli/run_options.hpp"
#include "fedhpc/cli/run_session.hpp"
#include "fedhpc/cli/guarded_command.hpp"
#include "fedhpc/core/error.hpp"
#include "fedhpc/core/interrupt.hpp"
#include "fedhpc/io/hdf5.hpp"
#include "fedhpc/io/output_path.hpp"

namespace fedhpc {

namespace {

namespace po = boost::program_options;

struct MiOptions {
  std::string from;
  std::vector<std::int64_t> rounds_at = {1};
  std::vector<std::int64_t> clients = {0, 1, 2};
  std::int64_t samples = 200;
  std::int64_t every = 1;
  std::string layer;
  std::int64_t project = 0;
  std::int64_t ksg_k = 3;
  double ksg_noise = 1e-10;
  bool save_samples = false;
};

// The most coordinates a sampled vector may have: the Gaussian estimator
// factorises a (2D)^2 covariance per pair and iteration.
constexpr std::int64_t kMaxDims = 1024;

po::options_description mi_description() {
  po::options_description d("fedhpc mi options (every `fedhpc run` option applies too; a --config file may hold all but --from)");
  d.add_options()("from", po::value<std::string>(),
                  "a finished run's HDF5 file: its global models are the starting points, its stored config the "
                  "run options (default: a fresh run with the options given)")(
      "rounds-at", po::value<std::string>(), "comma-separated rounds of the starting points, 0 = initial model (1)")(
      "mi-clients", po::value<std::string>(), "comma-separated clients (partition indices); every pair (0,1,2)")(
      "mi-samples", po::value<std::string>(), "repeats of each client's local training per starting point (200)")(
      "mi-every", po::value<std::string>(), "local steps between two recorded samples (1)")(
      "mi-layer", po::value<std::string>(), "sample only this tensor (a name in /model/layer_names)")(
      "mi-project", po::value<std::string>(), "sample a seeded Gaussian random projection to d dims (0 = off)")(
      "ksg-k", po::value<std::string>(), "KSG neighbours k (3)")(
      "ksg-noise", po::value<std::string>(), "KSG tie-breaking noise, times max(1, mean |column|) (1e-10; 0 = off)")(
      "mi-save-samples", po::bool_switch(), "also store the raw samples (/mi/samples)");
  return d;
}

std::int64_t parse_int(const std::string& name, const std::string& text, std::int64_t lo, std::int64_t hi) {
  std::int64_t v = 0;
  const auto* end = text.data() + text.size();
  const auto r = std::from_chars(text.data(), end, v);
  if (r.ec != std::errc() || r.ptr != end || v < lo || v > hi)
    throw InputError("--" + name + ": must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                     "]; got " + quote_input(text));
  return v;
}

std::vector<std::int64_t> parse_list(const std::string& name, const std::string& text, std::int64_t hi) {
  std::vector<std::int64_t> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(parse_int(name, item, 0, hi));
  if (out.empty()) throw InputError("--" + name + ": expected a comma-separated list of integers; got " + quote_input(text));
  return out;
}

double parse_noise(const std::string& text) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(v) || v < 0 || v > 1)
    throw InputError("--ksg-noise: must be a number in [0, 1]; got " + quote_input(text));
  return v;
}

// The options a config file may hold besides the run's (--from may not:
// with --from the run's stored configuration is used).
const std::vector<std::string> kConfigKeys = {"rounds-at", "mi-clients", "mi-samples", "mi-every", "mi-layer",
                                              "mi-project", "ksg-k", "ksg-noise", "mi-save-samples"};

struct ParsedMi {
  std::map<std::string, std::string> texts;  // mi options given, by name, as text
  std::vector<std::string> run_args;         // everything that is not an mi option
  bool help = false;
};

ParsedMi parse_mi_args(const std::vector<std::string>& args) {
  ParsedMi p;
  po::variables_map vm;
  const auto description = mi_description();  // parsed_options points into it
  try {
    const auto parsed = po::command_line_parser(args).options(description).allow_unregistered().run();
    po::store(parsed, vm);
    p.run_args = po::collect_unrecognized(parsed.options, po::include_positional);
  } catch (const po::error& e) {
    throw InputError(quote_input(e.what(), 200));
  }
  const auto& rest = p.run_args;
  p.help = std::find(rest.begin(), rest.end(), "--help") != rest.end() ||
           std::find(rest.begin(), rest.end(), "-h") != rest.end();
  for (const auto& [name, value] : vm)
    if (!value.defaulted() && name != "mi-save-samples") p.texts[name] = value.as<std::string>();
  if (vm["mi-save-samples"].as<bool>()) p.texts["mi-save-samples"] = "true";
  return p;
}

bool parse_flag(const std::string& name, const std::string& text) {
  if (text == "true" || text == "1") return true;
  if (text == "false" || text == "0") return false;
  throw InputError("--" + name + ": expected true|false|1|0; got " + quote_input(text));
}

// The mi options from their texts (command line, then config file), checked.
MiOptions mi_options(const std::map<std::string, std::string>& texts) {
  MiOptions m;
  auto has = [&](const char* name) { return texts.count(name) > 0; };
  auto text = [&](const char* name) { return texts.at(name); };
  if (has("from")) m.from = text("from");
  if (has("rounds-at")) m.rounds_at = parse_list("rounds-at", text("rounds-at"), 100000000);
  if (has("mi-clients")) m.clients = parse_list("mi-clients", text("mi-clients"), 100000000);
  if (has("mi-samples")) m.samples = parse_int("mi-samples", text("mi-samples"), 2, 10000000);
  if (has("mi-every")) m.every = parse_int("mi-every", text("mi-every"), 1, 100000000);
  if (has("mi-layer")) m.layer = text("mi-layer");
  if (has("mi-project")) m.project = parse_int("mi-project", text("mi-project"), 0, kMaxDims);
  if (has("ksg-k")) m.ksg_k = parse_int("ksg-k", text("ksg-k"), 1, 10000);
  if (has("ksg-noise")) m.ksg_noise = parse_noise(text("ksg-noise"));
  if (has("mi-save-samples")) m.save_samples = parse_flag("mi-save-samples", text("mi-save-samples"));
  std::sort(m.rounds_at.begin(), m.rounds_at.end());
  m.rounds_at.erase(std::unique(m.rounds_at.begin(), m.rounds_at.end()), m.rounds_at.end());
  if (std::set<std::int64_t>(m.clients.begin(), m.clients.end()).size() != m.clients.size())
    throw InputError("--mi-clients: a client is listed twice");
  if (m.clients.size() < 2) throw InputError("--mi-clients: needs at least 2 clients (MI is between pairs)");
  if (m.ksg_k >= m.samples)
    throw InputError("--ksg-k: must be below --mi-samples (" + std::to_string(m.samples) + "); got " +
                     std::to_string(m.ksg_k));
  return m;
}

bool given(const std::vector<std::string>& names, const char* name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// ---- --from: the stored run ------------------------------------------------

struct StoredRun {
  std::string config;
  std::int64_t rows = 0, params = 0;
};

h5::File open_run(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw InputError("--from: " + quote_input(path) + ": no such file");
  try {
    return h5::File::open(path, MPI_COMM_NULL, false);
  } catch (const h5::Error&) {
    throw InputError("--from: " + quote_input(path) + ": not an HDF5 file");
  }
}

StoredRun read_stored(const std::string& path) {
  auto file = open_run(path);
  auto root = file.root();
  StoredRun r;
  if (!root.has_attribute("config") || !root.exists("global/weights"))
    throw InputError("--from: " + quote_input(path) +
                     " has no fedhpc run configuration or no /global/weights (run it with --save-weights global)");
  r.config = root.get_attribute_string("config");
  const auto dims = root.dataset("global/weights").dims();
  r.rows = std::int64_t(dims.at(0));
  r.params = std::int64_t(dims.at(1));
  return r;
}

std::vector<float> read_global(const std::string& path, std::int64_t round, std::int64_t params) {
  auto file = open_run(path);
  std::vector<float> w(static_cast<std::size_t>(params));
  file.root().dataset("global/weights").read_slab<float>({hsize_t(round), 0}, {1, hsize_t(params)}, w.data());
  for (float v : w)
    if (!std::isfinite(v))
      throw InputError("--rounds-at: round " + std::to_string(round) + " of " + quote_input(path) +
                       " holds no finite global model (not run, or diverged)");
  return w;
}

// The run options: the stored config of --from (only output-side options
// may be given), or the command line's for a fresh run.
// own: the command line's (and --config's) run options.
RunOptions run_options(const MiOptions& m, const std::vector<std::string>& args, const RunOptions& own,
                       StoredRun* stored) {
  std::vector<std::string> cli_given = own.given;
  RunOptions o;
  if (m.from.empty()) {
    o = own;
  } else {
    for (const auto& name : cli_given)
      if (name != "output" && name != "overwrite" && name != "threads" && name != "quiet" && name != "max-memory-gb")
        throw InputError("--" + name + ": not with --from (the run's stored configuration is used); allowed: "
                         "--output, --overwrite, --threads, --quiet, --max-memory-gb");
    if (std::find(args.begin(), args.end(), "--config") != args.end())
      throw InputError("--config: not with --from (the run's stored configuration is used)");
    *stored = read_stored(m.from);
    char path[] = "/tmp/fedhpc_mi_config_XXXXXX";
    const int fd = mkstemp(path);
    if (fd < 0) throw RunError("cannot create a temporary file for the stored configuration");
    ::close(fd);
    std::ofstream(path) << stored->config;
    std::vector<std::string> with_config = {"--config", path};
    with_config.insert(with_config.end(), args.begin(), args.end());
    try {
      o = parse_run_options(with_config).options;
    } catch (const InputError& e) {
      ::unlink(path);
      throw InputError("--from: the stored configuration: " + std::string(e.what()));
    }
    ::unlink(path);
    o.config_file.clear();
  }
  if (!given(cli_given, "output")) o.output = "fedhpc-mi.h5";
  return o;
}

// ---- the study ---------------------------------------------------------------

std::int64_t trainer_id(const Setup& s, std::int64_t partition_index) {
  for (std::size_t c = 0; c < s.layout.order.size(); ++c)
    if (s.layout.order[c] == partition_index) return std::int64_t(c);
  throw InputError("--mi-clients: client " + std::to_string(partition_index) + " does not exist (--clients " +
                   std::to_string(s.options.clients) + ")");
}

// Local steps of one repeat of client c (all its --local-iterations).
std::int64_t steps_of(const Setup& s, std::int64_t c) {
  const auto& o = s.options;
  const std::int64_t n = s.partition.train_count(c);
  const std::int64_t b = o.batch_size == 0 ? n : std::min(o.batch_size, n);
  const std::int64_t per_iteration = o.iteration_steps > 0 ? o.iteration_steps : (n + b - 1) / b;
  return std::int64_t(o.local_iterations) * per_iteration;
}

analysis::SamplerPlan make_plan(const Setup& s, const MiOptions& m) {
  analysis::SamplerPlan plan;
  plan.samples = m.samples;
  plan.every = m.every;
  plan.local_iterations = s.options.local_iterations;
  plan.seed = s.options.seed;
  std::int64_t fewest = -1, fewest_client = 0;
  for (auto k : m.clients) {
    const auto c = trainer_id(s, k);
    plan.clients.push_back(c);
    plan.client_keys.push_back(std::uint64_t(k));
    const auto steps = steps_of(s, c);
    if (fewest < 0 || steps < fewest) fewest = steps, fewest_client = k;
  }
  plan.iterations = fewest / m.every;
  if (plan.iterations < 1)
    throw InputError("--mi-every: " + std::to_string(m.every) + " is more than client " +
                     std::to_string(fewest_client) + "'s " + std::to_string(fewest) + " local steps");
  return plan;
}

void check_size(const Setup& s, const MiOptions& m, const analysis::SamplerPlan& plan, std::int64_t dims) {
  if (dims > kMaxDims)
    throw InputError(std::string(m.layer.empty() ? "--mi-layer" : "--mi-project") + ": the sampled vector has " +
                     std::to_string(dims) + " coordinates; at most " + std::to_string(kMaxDims) +
                     " (the Gaussian estimator's covariance); choose a smaller --mi-layer or --mi-project d");
  const double bytes = 8.0 * double(m.clients.size()) * double(m.samples) * double(plan.iterations) * double(dims);
  if (bytes > s.options.max_memory_gb * 1e9)
    throw InputError("--max-memory-gb: the samples of one starting point need " + std::to_string(bytes / 1e9) +
                     " GB on every rank; reduce --mi-samples, raise --mi-every or sample fewer dims");
}

// Times on rank 0 after the gathers, so they include waiting for the slowest rank.
// means: [iterations][clients][2] (loss, accuracy), mean over the repeats.
void print_start(std::int64_t round, const analysis::PairTables& t, std::int64_t iterations, std::size_t pairs,
                 const std::vector<double>& means, bool regression, double sampling, double estimation) {
  double g = 0, k = 0, e = 0, metric = 0;
  const std::size_t last = std::size_t(iterations - 1) * pairs;
  for (std::size_t p = 0; p < pairs; ++p) g += t.gaussian[last + p], k += t.ksg[last + p], e += t.d_euclidean[last + p];
  const std::size_t clients = means.size() / std::size_t(2 * iterations);
  for (std::size_t c = 0; c < clients; ++c) metric += means[2 * ((std::size_t(iterations) - 1) * clients + c) + (regression ? 0 : 1)];
  std::printf("start round %lld: mean over %zu pairs at the last iteration: gaussian %.4f nats, ksg %.4f nats, "
              "d_euclidean %.4g, local %s %.4f  (sampling %.2f s, estimation %.2f s)\n",
              (long long)round, pairs, g / double(pairs), k / double(pairs), e / double(pairs),
              regression ? "test_mse" : "test_acc", metric / double(clients), sampling, estimation);
  std::fflush(stdout);
}

// Samples and estimates every starting point, in order, writing each as it is done.
void run_starts(const MiOptions& m, const Setup& s, Session* session, const StoredRun& stored,
                client::LocalTrainer& trainer, const analysis::ParameterView& view, const analysis::SamplerPlan& plan0,
                const analysis::MiFileHeader& header, analysis::MiWriter* writer, const mpi::Comm& comm) {
  const bool root = comm.rank() == 0;
  analysis::KsgOptions ksg;
  ksg.k = int(m.ksg_k);
  ksg.noise = m.ksg_noise;
  ksg.seed = s.options.seed;
  int done = 0;
  for (std::size_t i = 0; i < m.rounds_at.size(); ++i) {
    const auto round = m.rounds_at[i];
    std::vector<float> start;
    if (m.from.empty()) {
      while (done < round) session->engine->run_round(++done);
      start = session->engine->global();
    } else {
      mpi::collective_try(comm, [&] { start = read_global(m.from, round, stored.params); });
    }
    auto plan = plan0;
    plan.round = int(round);
    const double t1 = MPI_Wtime();
    std::vector<double> metrics;
    const auto samples = analysis::sample_parameters(trainer, start.data(), plan, view, comm, &metrics);
    const auto means = analysis::mean_metrics(metrics, std::int64_t(m.clients.size()), m.samples, plan.iterations);
    const double t2 = MPI_Wtime();
    const auto tables = analysis::estimate_pairs(samples, int(m.clients.size()), m.samples, plan.iterations,
                                                 view.dims(), header.pairs, ksg, std::int64_t(i), comm);
    mpi::collective_try(comm, [&] {
      if (root) writer->write_start(std::int64_t(i), tables, samples, means);
    });
    if (root && !s.options.quiet)
      print_start(round, tables, plan.iterations, header.pairs.size(), means, s.dataset.regression(), t2 - t1,
                  MPI_Wtime() - t2);
  }
}

void run_mi(const MiOptions& m, RunOptions options, const StoredRun& stored, const mpi::Comm& comm) {
  if (m.from.empty()) {
    const auto last = m.rounds_at.back();
    if (!options.was_given("rounds")) options.rounds = int(std::max<std::int64_t>(1, last));
    if (last > options.rounds)
      throw InputError("--rounds-at: round " + std::to_string(last) + " is past --rounds " +
                       std::to_string(options.rounds));
  } else if (m.rounds_at.back() >= stored.rows) {
    throw InputError("--rounds-at: round " + std::to_string(m.rounds_at.back()) + " is past the " +
                     std::to_string(stored.rows - 1) + " rounds stored in " + quote_input(m.from));
  }
  if (options.dataset == "synthetic-population")  // its clients' samples exist only in the rounds they take part in
    throw InputError("--dataset: fedhpc mi does not take synthetic-population; use a data set held in memory");
  Setup s = prepare(std::move(options), comm);
  const bool root = comm.rank() == 0;
  if (!m.from.empty())
    mpi::collective_try(comm, [&] {
      if (root) io::check_output_path(s.options.output, s.options.overwrite, {m.from});
      if (stored.params != s.model->layout().total())
        throw InputError("--from: /global/weights has " + std::to_string(stored.params) +
                         " parameters, the stored configuration's model " +
                         std::to_string(s.model->layout().total()));
    });
  const auto plan0 = make_plan(s, m);
  std::unique_ptr<analysis::ParameterView> view;
  try {
    view = std::make_unique<analysis::ParameterView>(s.model->layout(), m.layer, m.project, s.options.seed);
  } catch (const std::invalid_argument& e) {
    throw InputError("--mi-layer: " + std::string(e.what()) + " (model " + s.options.model + ")");
  }
  check_size(s, m, plan0, view->dims());
  if (comm.rank() == 0 && !s.options.quiet) {
    std::printf("fedhpc mi: %d ranks, %zu clients (%zu pairs) x %lld repeats x %lld iterations (every %lld local "
                "steps) x %lld dims, %zu starting points%s\n",
                comm.size(), m.clients.size(), m.clients.size() * (m.clients.size() - 1) / 2, (long long)m.samples,
                (long long)plan0.iterations, (long long)m.every, (long long)view->dims(), m.rounds_at.size(),
                m.from.empty() ? " (fresh run)" : (" from " + m.from).c_str());
    std::fflush(stdout);
  }
  auto train = trainer_options(s);
  train.client_batch = 1;
  train.monitor = "off";
  train.save_gradients = false;
  client::LocalTrainer trainer(*s.model, s.dataset, s.partition, train);
  std::unique_ptr<Session> session;
  if (m.from.empty()) {
    session = std::make_unique<Session>(s, comm);
    session->engine->evaluate_initial();
  }
  analysis::MiFileHeader header;
  header.config_ini = to_ini(s.options);
  header.from = m.from;
  header.rounds_at = m.rounds_at;
  header.clients = m.clients;
  header.pairs = analysis::client_pairs(int(m.clients.size()));
  header.samples = m.samples;
  header.every = m.every;
  header.iterations = plan0.iterations;
  header.dims = view->dims();
  header.layer = m.layer;
  header.project = m.project;
  header.ksg_k = int(m.ksg_k);
  header.ksg_noise = m.ksg_noise;
  header.seed = s.options.seed;
  header.save_samples = m.save_samples;
  header.regression = s.dataset.regression();
  const auto& output = s.options.output;
  // Held until the file is in place; the kernel drops it if the process dies.
  std::unique_ptr<io::OutputLock> lock;
  std::unique_ptr<analysis::MiWriter> writer;
  mpi::collective_try(comm, [&] {
    if (!root) return;
    lock = std::make_unique<io::OutputLock>(output);
    // Again under the lock: another run may have finished since the first look.
    io::check_output_path(output, s.options.overwrite, m.from.empty() ? std::vector<std::string>{} : std::vector<std::string>{m.from});
    writer = std::make_unique<analysis::MiWriter>(io::partial_path(output), header);
  });
  try {
    run_starts(m, s, session.get(), stored, trainer, *view, plan0, header, writer.get(), comm);
  } catch (const std::exception& e) {
    // Every error here is agreed on by all ranks (collective_try, or the same
    // data everywhere): close the file with its status and keep what is done.
    const bool interrupted = dynamic_cast<const Interrupted*>(&e) != nullptr;
    std::string where;
    if (root) {
      try {
        writer->close(interrupted ? "interrupted" : "failed", e.what());
        writer.reset();
        where = io::publish(output, false);
      } catch (const std::exception&) {
        where = io::partial_path(output);
      }
    }
    where = mpi::broadcast_string(comm, where);
    const std::string tail = "; the finished starting points are in " + where;
    if (const auto* i = dynamic_cast<const Interrupted*>(&e)) throw Interrupted(i->signal(), tail + " (status interrupted)");
    if (dynamic_cast<const InputError*>(&e)) throw InputError(std::string(e.what()) + tail + " (status failed)");
    throw RunError(std::string(e.what()) + tail + " (status failed)");
  }
  mpi::collective_try(comm, [&] {
    if (!root) return;
    writer->close();
    writer.reset();
    io::publish(output, true);
  });
}

}  // namespace

int mi_command(const std::vector<std::string>& args, const mpi::Comm& comm) {
  const bool root = comm.rank() == 0;
  return guarded_command(comm, "mi", [&] {
    const auto parsed = parse_mi_args(args);
    if (parsed.help) {
      if (root) {
        std::ostringstream text;
        const auto description = mi_description();
        text << "Usage: fedhpc mi [--from RUN.h5] [--rounds-at 1,5,10] [--mi-clients 0,1,2] [--option value ...]\n\n"
             << description << "\n" << parse_run_options({"--help"}).help_text;
        std::printf("%s", text.str().c_str());
      }
      return;
    }
    // The command line wins over the config file, as in `fedhpc run`.
    const auto first = parse_run_options(parsed.run_args, kConfigKeys);
    auto texts = parsed.texts;
    for (const auto& [name, value] : first.extra) texts.emplace(name, value);
    const auto mi = mi_options(texts);
    StoredRun stored;
    auto options = run_options(mi, parsed.run_args, first.options, &stored);
    const std::string output = options.output;
    const double t0 = MPI_Wtime();
    run_mi(mi, std::move(options), stored, comm);
    if (root) std::printf("wrote %s (%.1f s)\n", output.c_str(), MPI_Wtime() - t0);
  });
}

}  // namespace fedhpc
