#include "fedhpc/io/run_writer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <stdexcept>

#include "fedhpc/core/blas_info.hpp"
#include "fedhpc/core/error.hpp"
#include "fedhpc/core/version.hpp"
#include "fedhpc/data/partition.hpp"
#include "fedhpc/io/dataset_axes.hpp"
#include "fedhpc/io/layer_table.hpp"

namespace fedhpc::io {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int kSlabTag = 7101;

h5::Dims dims(const std::vector<std::int64_t>& values) {
  h5::Dims out;
  for (auto v : values) out.push_back(static_cast<hsize_t>(v));
  return out;
}

// A per-round dataset: created before round 1, filled row by row.
struct Spec {
  std::string path;
  hid_t type;
  std::size_t element_size;
  std::vector<std::int64_t> shape;
  bool nan_fill = true;
  bool compress = false;  // shuffle + gzip 4, one chunk per client row
  bool minus_one_fill = false;  // client ids: -1 = no client
};

template <class T>
Spec spec(std::string path, std::vector<std::int64_t> shape, bool nan_fill = true, bool compress = false) {
  return {std::move(path), h5::NativeType<T>::id(), sizeof(T), std::move(shape), nan_fill, compress, false};
}

// Chunks of one row of the leading (round) axis, at most 2^20 elements, so a
// chunk is allocated only when its round is written.
h5::Dims row_chunk(const std::vector<std::int64_t>& shape, bool compress) {
  h5::Dims chunk = dims(shape);
  if (chunk.size() == 1) {
    chunk[0] = std::min<hsize_t>(chunk[0], 1024);
    return chunk;
  }
  chunk[0] = 1;
  if (compress)  // one client's (or cluster's) vector per chunk, as documented
    for (std::size_t d = 1; d + 1 < chunk.size(); ++d) chunk[d] = 1;
  auto elements = [&] {
    hsize_t n = 1;
    for (auto c : chunk) n *= c;
    return n;
  };
  while (elements() > (hsize_t(1) << 20)) {
    auto widest = std::max_element(chunk.begin() + 1, chunk.end());
    *widest = (*widest + 1) / 2;
  }
  return chunk;
}

std::uint64_t bytes_of(const Spec& s) {
  std::uint64_t n = s.element_size;
  for (auto d : s.shape) n *= std::uint64_t(std::max<std::int64_t>(d, 0));
  return n;
}

int monitored_of(const RunHeader& h) {
  if (h.monitor == "every") return h.local_iterations;
  return h.monitor == "last" ? 1 : 0;
}

// Rows of /clients/weights: every round, or the chosen ones.
std::int64_t client_weight_rows(const RunHeader& h) {
  return h.client_weight_rounds.empty() ? std::int64_t(h.rounds) : std::int64_t(h.client_weight_rounds.size());
}

// The row of /clients/weights that holds round r, or -1 when r is not kept.
std::int64_t client_weight_row(const RunHeader& h, int r) {
  if (h.client_weight_rounds.empty()) return r - 1;
  const auto& kept = h.client_weight_rounds;
  const auto it = std::lower_bound(kept.begin(), kept.end(), std::int64_t(r));
  return it != kept.end() && *it == r ? std::int64_t(it - kept.begin()) : -1;
}

std::int64_t max_clusters_of(const RunHeader& h) { return std::max<std::int64_t>(1, h.extras.max_clusters); }

// Every dataset that grows with the rounds, in one list: the file is created
// from it and its size is planned from it.
std::vector<Spec> round_datasets(const RunHeader& h, int ranks) {
  const std::int64_t R = h.rounds, I = h.local_iterations, P = h.layout->total();
  const std::int64_t M = monitored_of(h), Lw = std::int64_t(h.layout->weight_layers().size());
  // Per-round client datasets: one column per client, or per participant.
  const std::int64_t N = h.sparse_clients > 0 ? h.sparse_clients : h.num_clients;
  std::vector<Spec> s;
  if (h.save_weights != "none") s.push_back(spec<float>("/global/weights", {R + 1, P}));
  s.push_back(spec<double>("/global/test_loss", {R + 1}));
  s.push_back(spec<double>("/global/test_accuracy", {R + 1}));
  s.push_back(spec<double>("/global/aggregated_loss", {R}));
  s.push_back(spec<double>("/global/aggregated_accuracy", {R}));
  s.push_back(spec<std::int64_t>("/global/nonfinite_skipped", {R}, false));
  s.push_back(spec<float>("/clients/train_loss", {R, I, N}));
  s.push_back(spec<float>("/clients/local_test_loss", {R, N}));
  s.push_back(spec<float>("/clients/local_test_accuracy", {R, N}));
  if (h.sparse_clients > 0) {
    s.push_back(spec<std::int64_t>("/clients/round_clients", {R, N}, false));
    s.back().minus_one_fill = true;
  } else {
    s.push_back(spec<std::uint8_t>("/clients/participated", {R, N}, false));
  }
  if (h.save_weights == "clients") s.push_back(spec<float>("/clients/weights", {client_weight_rows(h), N, P}, true, true));
  s.push_back(spec<std::uint8_t>("/clients/nonfinite", {R, N}, false));
  s.push_back(spec<std::uint8_t>("/clients/dropped", {R, N}, false));
  if (h.deadline) {
    s.push_back(spec<std::uint8_t>("/clients/late", {R, N}, false));
    s.push_back(spec<double>("/timing/simulated_seconds", {R}));
  }
  if (M > 0) {
    for (const char* name : {"gsc", "input_grad_rms", "update_sum", "update_l1", "iteration_test_loss"})
      s.push_back(spec<float>(std::string("/clients/") + name, {R, M, N}));
    for (const char* name : {"gsc_profile", "grad_mean_abs", "grad_l2"})
      s.push_back(spec<float>(std::string("/clients/") + name, {R, M, N, Lw}));
  }
  if (h.save_gradients) s.push_back(spec<float>("/clients/gradients", {R, N, P}, true, true));
  if (h.extras.clusters) {
    s.push_back(spec<std::int64_t>("/topology/cluster_of_client", {R, h.num_clients}, false));
    s.push_back(spec<std::int64_t>("/clusters/count", {R}, false));
    s.push_back(spec<double>("/clusters/threshold", {R}));
    if (h.save_weights == "clients")
      s.push_back(spec<float>("/clusters/weights", {R, max_clusters_of(h), P}, true, true));
  }
  if (h.extras.consensus_distance) s.push_back(spec<double>("/global/consensus_distance", {R}));
  if (h.gma_mask) s.push_back(spec<double>("/fedgma/mask_fraction", {R, std::int64_t(h.layout->layers().size())}));
  if (h.lama_decisions > 0) {
    const auto L = std::int64_t(h.layout->layers().size());
    s.push_back(spec<std::int64_t>("/fedlama/interval", {R * h.lama_decisions, L}, false));
    s.push_back(spec<double>("/fedlama/discrepancy", {R * h.lama_decisions, L}));
    s.push_back(spec<double>("/comm/layer_bytes", {R, L}));
    s.push_back(spec<double>("/comm/fedavg_bytes", {R}));
    s.push_back(spec<double>("/comm/ratio_to_fedavg", {R}));
  }
  s.push_back(spec<double>("/comm/bytes", {R, std::int64_t(topology::kCommLevels.size())}));
  s.push_back(spec<double>("/timing/round_seconds", {R}));
  s.push_back(spec<double>("/timing/phases", {R, std::int64_t(topology::kPhaseNames.size())}));
  (void)ranks;
  return s;
}

// Upper bound of what one round adds to the file, metadata included.
std::uint64_t bytes_per_round(const std::vector<Spec>& specs) {
  std::uint64_t n = 0;
  for (const auto& s : specs) n += bytes_of(s) / std::uint64_t(std::max<std::int64_t>(1, s.shape[0]));
  return n + n / 8 + (std::uint64_t(1) << 20);
}

// Room kept for closing the file with its status, whatever else fails.
constexpr std::uint64_t kStatusBytes = std::uint64_t(1) << 20;

std::string describe(const Spec& s) {
  std::string text = s.path + " [";
  for (std::size_t d = 0; d < s.shape.size(); ++d) text += (d ? " x " : "") + std::to_string(s.shape[d]);
  return text + "]";
}

}  // namespace

SizePlan RunWriter::plan(const RunHeader& h, int ranks) {
  SizePlan plan;
  for (const auto& s : round_datasets(h, ranks)) {
    const auto b = bytes_of(s);
    plan.bytes += b;
    if (b > plan.largest_bytes) {
      plan.largest_bytes = b;
      plan.largest = describe(s);
    }
  }
  // The partition's index lists and the model table; metadata is small.
  const auto& p = *h.partition;
  plan.bytes += 8 * (p.train_indices.size() + p.train_offsets.size() + p.test_indices.size() + p.test_offsets.size());
  plan.bytes += 8 * (p.train_indices.size() + p.test_indices.size());  // their labels
  plan.bytes += 64 * 1024 + h.config_ini.size();
  return plan;
}

namespace {
std::uint64_t plan_rounds_only(const RunHeader& h, int ranks) {
  std::uint64_t n = 0;
  for (const auto& s : round_datasets(h, ranks)) n += bytes_of(s);
  return n;
}
}  // namespace

template <class Fn>
void RunWriter::guarded(Fn&& fn) {
  if (!file_ || !error_.empty()) return;
  try {
    fn();
  } catch (const std::exception& e) {
    error_ = h5::os_reason(e.what());
  }
}

template <class T>
void RunWriter::put_root(const std::string& path, std::vector<std::int64_t> offset, std::vector<std::int64_t> count,
                         const T* data) {
  guarded([&] { file_->root().dataset(path).write_slab<T>(dims(offset), dims(count), data); });
}

template <class T>
void RunWriter::put_blocks(const std::string& path, std::vector<std::int64_t> offset,
                           std::vector<std::int64_t> count, const T* data) {
  auto elements = [](const std::vector<std::int64_t>& c) {
    std::size_t n = 1;
    for (auto x : c) n *= std::size_t(std::max<std::int64_t>(x, 0));
    return n;
  };
  if (comm_.rank() != 0) {
    std::vector<std::int64_t> where = offset;
    where.insert(where.end(), count.begin(), count.end());
    mpi::send_bytes(comm_, 0, kSlabTag, where.data(), where.size() * sizeof(std::int64_t));
    mpi::send_bytes(comm_, 0, kSlabTag, data, elements(count) * sizeof(T));
    return;
  }
  if (elements(count) > 0) put_root(path, offset, count, data);
  // Every sender is drained even after a failed write, so no rank is left
  // blocked in a send; the failure is agreed on at the end of the round.
  std::vector<T> buffer;
  for (int r = 1; r < comm_.size(); ++r) {
    std::vector<std::int64_t> where(2 * offset.size());
    mpi::recv_bytes(comm_, r, kSlabTag, where.data(), where.size() * sizeof(std::int64_t));
    std::vector<std::int64_t> at(where.begin(), where.begin() + std::ptrdiff_t(offset.size()));
    std::vector<std::int64_t> n(where.begin() + std::ptrdiff_t(offset.size()), where.end());
    buffer.resize(elements(n));
    mpi::recv_bytes(comm_, r, kSlabTag, buffer.data(), buffer.size() * sizeof(T));
    if (!buffer.empty()) put_root(path, at, n, buffer.data());
  }
}

void RunWriter::agree(const std::string& what) {
  const auto error = mpi::broadcast_string(comm_, comm_.rank() == 0 ? error_ : std::string());
  if (!error.empty()) throw RunError("cannot write " + path_ + " (" + what + "): " + error);
}

RunWriter::RunWriter(const std::string& path, const mpi::Comm& comm, const RunHeader& header,
                     topology::ClientBlock block)
    : comm_(comm), path_(path), block_(block), header_(header) {
  num_params_ = header.layout->total();
  if (comm.rank() == 0) {
    try {
      file_ = std::make_unique<h5::File>(h5::File::create(path, MPI_COMM_NULL, true));
      reserve_fd_ = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
      round_bytes_ = bytes_per_round(round_datasets(header, comm.size()));
      round_bytes_ += plan(header, comm.size()).bytes - plan_rounds_only(header, comm.size());
    } catch (const h5::Error& e) {
      error_ = h5::os_reason(e.what());
    }
  }
  reserve_next();
  take_reservation_failure();
  guarded([&] { create_schema(header); });
  guarded([&] { file_->flush(); });
  round_bytes_ = bytes_per_round(round_datasets(header, comm.size()));
  reserve_next();
  // A file that could not be created whole is dropped (the caller removes it).
  if (file_ && !error_.empty()) file_->abandon();
  agree("creating it");
}

RunWriter::~RunWriter() {
  if (reserve_fd_ >= 0) ::close(reserve_fd_);
}

void RunWriter::reserve_next() {
  if (reserve_fd_ < 0 || !error_.empty()) return;
  struct stat info;
  if (::fstat(reserve_fd_, &info) != 0) return;
  auto reserve = [&](std::uint64_t bytes) {
    return ::fallocate(reserve_fd_, FALLOC_FL_KEEP_SIZE, info.st_size, off_t(bytes)) == 0 ? 0 : errno;
  };
  const int rc = reserve(round_bytes_ + kStatusBytes);
  if (rc == 0) return;
  if (rc == EOPNOTSUPP || rc == ENOSYS || rc == EINVAL) {
    ::close(reserve_fd_);  // this filesystem cannot reserve: write and see
    reserve_fd_ = -1;
    return;
  }
  full_ = std::strerror(rc);
  reserve(kStatusBytes);  // so the file can still be closed with its status
}

void RunWriter::take_reservation_failure() {
  if (!full_.empty() && error_.empty()) error_ = full_;
}

void RunWriter::create_schema(const RunHeader& h) {
  auto root = file_->root();
  root.set_attribute("fedhpc_version", std::string(version_with_commit()));
  // Weights depend on the BLAS in their last bits: record which one ran.
  root.set_attribute("blas", blas_info().description);
  root.set_attribute("status", std::string("running"));
  root.set_attribute("config", h.config_ini);
  root.set_attribute("num_ranks", std::int64_t(comm_.size()));
  root.set_attribute("num_clients", h.num_clients);
  root.set_attribute("seed", static_cast<std::int64_t>(h.seed));
  root.set_attribute("rounds", std::int64_t(h.rounds));
  root.set_attribute("rounds_completed", std::int64_t(0));
  for (const auto& [name, value] : h.attributes)
    std::visit([&, name = name](const auto& v) { root.set_attribute(name, v); }, value);
  write_model(*h.layout);
  write_partition(*h.partition);
  auto data = root.require_group("data");
  data.set_attribute("dataset", h.dataset);
  data.set_attribute("num_classes", std::int64_t(h.num_classes));
  data.set_attribute("task", h.task);
  if (!h.target_names.empty()) data.set_attribute("targets", h.target_names);
  root.set_attribute("loss", h.task == "regression" ? "mse" : "cross-entropy");
  data.set_attribute("train_samples", h.train_samples);
  data.set_attribute("test_samples", h.test_samples);
  for (const auto& s : round_datasets(h, comm_.size())) {
    h5::DataSetOptions o;
    o.chunk = row_chunk(s.shape, s.compress);
    if (s.nan_fill) o.fill = kNaN;
    if (s.minus_one_fill) o.fill = -1.0;
    if (s.compress) {
      o.deflate = 4;
      o.shuffle = true;
    }
    root.create_dataset_raw(s.path, s.type, dims(s.shape), o);
  }
  root.create_dataset<std::int64_t>("timing/peak_rss_bytes", dims({comm_.size()}));
  auto clients = root.group("clients");
  clients.set_attribute("monitor", h.monitor);
  clients.set_attribute("layout", std::string(h.sparse_clients > 0 ? "participants" : "dense"));
  std::vector<std::uint8_t> faulty(std::size_t(h.num_clients), 0);
  if (h.faulty) faulty = *h.faulty;
  clients.create_dataset<std::uint8_t>("faulty", dims({h.num_clients})).write_all(faulty);
  if (!h.speeds.empty()) clients.create_dataset<double>("speed", dims({h.num_clients})).write_all(h.speeds);
  const std::int64_t M = monitored_iterations();
  if (M > 0) {
    std::vector<std::int64_t> which;
    for (std::int64_t m = 0; m < M; ++m) which.push_back(M == 1 ? h.local_iterations - 1 : m);
    clients.set_attribute("monitored_iterations", which);
    // Local iterations of a round count from 0 (the round's first step).
    clients.set_attribute("monitored_iterations_base", std::int64_t(0));
  }
  write_concept_shift();
  write_tiers();
  write_topology_layout();
  describe_datasets();
}

// dims/units/first_round on every dataset, so a reader needs no README.
void RunWriter::describe_datasets() {
  auto root = file_->root();
  for (const auto& path : root.dataset_paths()) {
    const auto axes = dataset_axes(path);
    if (!axes) continue;  // not in the schema table: the self-description test names it
    auto ds = root.dataset(path);
    std::string axis_names = axes->dims;
    // Sparse layout: a round's client columns are its participants (see /clients/round_clients).
    const bool per_round_client = path.rfind("clients/", 0) == 0 && axes->first_round >= 0;
    if (header_.sparse_clients > 0 && per_round_client && path != "clients/round_clients") {
      const auto at = axis_names.find(",client");
      if (at != std::string::npos) axis_names.replace(at, 7, ",participant");
    }
    ds.set_attribute("dims", axis_names);
    // A regression run's losses are mean squared errors, not nats.
    const bool mse = header_.task == "regression" && axes->units == "nats";
    if (!axes->units.empty()) ds.set_attribute("units", mse ? "squared target units" : axes->units);
    if (axes->first_round >= 0 && !(path == "clients/weights" && !header_.client_weight_rounds.empty()))
      ds.set_attribute("first_round", std::int64_t(axes->first_round));
  }
  // --save-weights clients:ROUNDS: row k is round rounds[k], not round k + 1.
  if (header_.save_weights == "clients" && !header_.client_weight_rounds.empty())
    root.dataset("clients/weights").set_attribute("rounds", header_.client_weight_rounds);
}

int RunWriter::monitored_iterations() const { return monitored_of(header_); }

std::int64_t RunWriter::max_clusters() const { return max_clusters_of(header_); }

void RunWriter::write_topology_layout() {
  const auto& layout = *header_.topology;
  const std::int64_t N = header_.num_clients;
  auto topo = file_->root().require_group("topology");
  topo.set_attribute("kind", header_.topology_name);
  topo.create_dataset<std::int64_t>("partition_client", dims({N})).write_all(layout.order);
  for (const auto& [name, value] : header_.extras.attributes)
    std::visit([&, name = name](const auto& v) { topo.set_attribute(name, v); }, value);
  for (const auto& [name, values] : header_.extras.client_datasets)
    topo.create_dataset<std::int64_t>(name, dims({N})).write_all(values);
  for (const auto& [name, values] : header_.extras.datasets)
    topo.create_dataset<std::int64_t>(name, dims({std::int64_t(values.size())})).write_all(values);
  const std::vector<std::string> levels(topology::kCommLevels.begin(), topology::kCommLevels.end());
  file_->root().dataset("comm/bytes").set_attribute("level_names", levels);
  file_->root().group("comm").set_attribute("level_names", levels);  // where earlier files had it
  file_->root().dataset("timing/phases")
      .set_attribute("names", std::vector<std::string>(topology::kPhaseNames.begin(), topology::kPhaseNames.end()));
}

void RunWriter::write_model(const ParamLayout& layout) {
  auto model = file_->root().create_group("model");
  write_layer_table(model, layout);
  model.set_attribute("num_params", layout.total());
}

void RunWriter::write_partition(const data::Partition& p) {
  auto data = file_->root().create_group("data");
  auto put = [&](const char* name, const std::vector<std::int64_t>& v) {
    data.create_dataset<std::int64_t>(name, dims({std::int64_t(v.size())})).write_all(v);
  };
  put("train_indices", p.train_indices);
  put("train_offsets", p.train_offsets);
  put("test_indices", p.test_indices);
  put("test_offsets", p.test_offsets);
  // The label of every listed sample, so a client's classes are in the file
  // (a synthetic set cannot be regenerated by the reader).
  auto labels_of = [](const std::vector<std::int64_t>& indices, const std::vector<std::int64_t>& labels) {
    std::vector<std::int64_t> out(indices.size());
    for (std::size_t i = 0; i < indices.size(); ++i) out[i] = labels.at(std::size_t(indices[i]));
    return out;
  };
  if (header_.train_labels) put("train_labels", labels_of(p.train_indices, *header_.train_labels));
  if (header_.train_labels) put("test_labels", labels_of(p.test_indices, *header_.train_labels));
}

void RunWriter::write_concept_shift() {
  const auto& maps = header_.concept_label_maps;
  if (header_.concept_group.empty() || maps.empty()) return;
  auto clients = file_->root().group("clients");
  clients.create_dataset<std::int64_t>("concept_group", dims({std::int64_t(header_.concept_group.size())}))
      .write_all(header_.concept_group);
  std::vector<std::int64_t> flat;
  for (const auto& m : maps) flat.insert(flat.end(), m.begin(), m.end());
  clients.create_dataset<std::int64_t>("concept_label_maps", dims({std::int64_t(maps.size()), std::int64_t(maps[0].size())}))
      .write_all(flat);
}

void RunWriter::write_tiers() {
  const auto& h = header_;
  if (h.tiers.empty()) return;
  auto clients = file_->root().group("clients");
  std::string names;
  for (const auto& n : h.tier_names) names += (names.empty() ? "" : ",") + n;
  auto tier = clients.create_dataset<std::int64_t>("tier", dims({std::int64_t(h.tiers.size())}));
  tier.write_all(h.tiers);
  tier.set_attribute("names", names);
  tier.set_attribute("meaning", "tier of each client: index into names (" + names + ")");
  const auto rows = std::int64_t(h.tier_names.size());
  auto cost = clients.create_dataset<double>("tier_cost", dims({rows, 3}));
  cost.write_all(h.tier_cost);
  cost.set_attribute("tiers", names);
  cost.set_attribute("columns", "trained_weight_layers,flops,activation_bytes");
  cost.set_attribute("batch_size", h.tier_batch);
  cost.set_attribute("meaning",
                     "one training step of batch_size samples: FLOPs = 2 x multiply-adds of the forward of every "
                     "weight layer, the weight gradients of the trained ones and the input gradients of the trained "
                     "ones above the first; activation_bytes = float32 inputs and outputs of the trained layers "
                     "(README, Client tiers)");
}

void RunWriter::write_scalar_row(const std::string& path, int row, double value) {
  put_root<double>(path, {row}, {1}, &value);
}

void RunWriter::write_initial(const float* params, double test_loss, double test_accuracy) {
  take_reservation_failure();
  if (header_.save_weights != "none") put_root<float>("/global/weights", {0, 0}, {1, num_params_}, params);
  write_scalar_row("/global/test_loss", 0, test_loss);
  write_scalar_row("/global/test_accuracy", 0, test_accuracy);
  guarded([&] { file_->flush(); });
  agree("round 0");
}

void RunWriter::write_round(const topology::RoundResult& s) {
  const int r = s.round;
  const auto& record = s.record;
  take_reservation_failure();
  if (header_.save_weights != "none") put_root<float>("/global/weights", {r, 0}, {1, num_params_}, s.global.data());
  write_scalar_row("/global/test_loss", r, s.test_loss);
  write_scalar_row("/global/test_accuracy", r, s.test_accuracy);
  write_scalar_row("/global/aggregated_loss", r - 1, s.aggregated_loss);
  write_scalar_row("/global/aggregated_accuracy", r - 1, s.aggregated_accuracy);
  write_scalar_row("/timing/round_seconds", r - 1, s.seconds);
  const std::int64_t skipped = record.nonfinite_skipped;
  put_root<std::int64_t>("/global/nonfinite_skipped", {r - 1}, {1}, &skipped);

  const std::int64_t I = header_.local_iterations;
  find_participants(r, record);
  put_clients<float>("/clients/train_loss", r, I, 0, record.train_loss.data());
  put_clients<float>("/clients/local_test_loss", r, 0, 0, s.local_test_loss.data());
  put_clients<float>("/clients/local_test_accuracy", r, 0, 0, s.local_test_accuracy.data());
  if (header_.sparse_clients > 0) {
    std::vector<std::int64_t> ids;
    for (auto local : participants_) ids.push_back(block_.begin + local);
    put_blocks<std::int64_t>("/clients/round_clients", {r - 1, first_column_}, {1, std::int64_t(ids.size())},
                             ids.data());
  } else {
    put_clients<std::uint8_t>("/clients/participated", r, 0, 0, record.participated.data());
  }
  put_clients<std::uint8_t>("/clients/dropped", r, 0, 0, record.dropped.data());
  // --save-weights clients:ROUNDS keeps chosen rounds only: round r goes to row `row` (put_clients writes round - 1).
  const std::int64_t row = client_weight_row(header_, r);
  if (header_.save_weights == "clients" && row >= 0)
    put_clients<float>("/clients/weights", int(row + 1), 0, num_params_, record.client_weights.data());
  write_monitoring(r, record);
}

void RunWriter::write_stragglers(int r, const std::vector<std::uint8_t>& late_block, double simulated_seconds) {
  if (!header_.deadline) return;
  put_clients<std::uint8_t>("/clients/late", r, 0, 0, late_block.data());
  write_scalar_row("/timing/simulated_seconds", r - 1, simulated_seconds);
}

// Sparse layout: this rank's participants go to the columns after those of
// the lower ranks (blocks are contiguous, so the columns are in client order).
void RunWriter::find_participants(int r, const topology::RoundRecord& record) {
  if (header_.sparse_clients == 0) return;
  participants_.clear();
  for (std::int64_t c = 0; c < block_.size(); ++c)
    if (record.participated[std::size_t(c)]) participants_.push_back(c);
  const auto counts =
      mpi::all_gather(comm_, std::int64_t(participants_.size()), "MPI_Allgather(participants)");
  first_column_ = 0;
  for (int q = 0; q < comm_.rank(); ++q) first_column_ += counts[std::size_t(q)];
  std::int64_t total = 0;
  for (auto n : counts) total += n;
  if (total > header_.sparse_clients)
    throw RunError("round " + std::to_string(r) + " has " + std::to_string(total) + " participants, more than the " +
                   std::to_string(header_.sparse_clients) + " columns of the file's per-client datasets");
}

template <class T>
void RunWriter::put_clients(const std::string& path, int r, std::int64_t outer, std::int64_t inner, const T* data) {
  const std::int64_t b = block_.size(), o = std::max<std::int64_t>(outer, 1), in = std::max<std::int64_t>(inner, 1);
  // {round, [0], column, [0]} and {1, [outer], columns, [inner]}
  auto offset = [&](std::int64_t column) {
    std::vector<std::int64_t> v = {r - 1};
    if (outer > 0) v.push_back(0);
    v.push_back(column);
    if (inner > 0) v.push_back(0);
    return v;
  };
  auto count = [&](std::int64_t columns) {
    std::vector<std::int64_t> v = {1};
    if (outer > 0) v.push_back(outer);
    v.push_back(columns);
    if (inner > 0) v.push_back(inner);
    return v;
  };
  if (header_.sparse_clients == 0) {
    put_blocks<T>(path, offset(block_.begin), count(b), data);
    return;
  }
  // [outer][block][inner] -> [outer][participants][inner]
  const auto k = std::int64_t(participants_.size());
  std::vector<T> packed(std::size_t(o * k * in));
  for (std::int64_t i = 0; i < o; ++i)
    for (std::int64_t j = 0; j < k; ++j)
      std::copy_n(data + (i * b + participants_[std::size_t(j)]) * in, in, packed.data() + (i * k + j) * in);
  put_blocks<T>(path, offset(first_column_), count(k), packed.data());
}

void RunWriter::write_monitoring(int r, const topology::RoundRecord& record) {
  const std::int64_t M = monitored_iterations();
  put_clients<std::uint8_t>("/clients/nonfinite", r, 0, 0, record.nonfinite.data());
  if (M > 0) {
    const std::int64_t Lw = std::int64_t(header_.layout->weight_layers().size());
    put_clients<float>("/clients/gsc", r, M, 0, record.gsc.data());
    put_clients<float>("/clients/input_grad_rms", r, M, 0, record.input_grad_rms.data());
    put_clients<float>("/clients/update_sum", r, M, 0, record.update_sum.data());
    put_clients<float>("/clients/update_l1", r, M, 0, record.update_l1.data());
    put_clients<float>("/clients/iteration_test_loss", r, M, 0, record.iteration_test_loss.data());
    put_clients<float>("/clients/gsc_profile", r, M, Lw, record.gsc_profile.data());
    put_clients<float>("/clients/grad_mean_abs", r, M, Lw, record.grad_mean_abs.data());
    put_clients<float>("/clients/grad_l2", r, M, Lw, record.grad_l2.data());
  }
  if (header_.save_gradients) put_clients<float>("/clients/gradients", r, 0, num_params_, record.gradients.data());
}

void RunWriter::write_topology_round(const topology::RoundResult& result) {
  const int r = result.round;
  const auto& record = result.record;
  const auto levels = std::int64_t(record.comm_bytes.size());
  put_root<double>("/comm/bytes", {r - 1, 0}, {1, levels}, record.comm_bytes.data());
  if (header_.extras.consensus_distance) write_scalar_row("/global/consensus_distance", r - 1, record.consensus_distance);
  if (header_.extras.clusters) {
    write_clusters(r, result.cluster_of_client, result.cluster_models);
    put_root<double>("/clusters/threshold", {r - 1}, {1}, &result.cluster_threshold);
  }
  if (header_.gma_mask && !result.gma_mask.empty()) write_mask_fraction(r, result.gma_mask);
  if (header_.lama_decisions > 0) write_fedlama(result);
  commit(r);
}

// FedLAMA's decision rows of round r (D per round) and its per-tensor bytes.
void RunWriter::write_fedlama(const topology::RoundResult& result) {
  const int r = result.round;
  const auto L = std::int64_t(header_.layout->layers().size()), D = std::int64_t(header_.lama_decisions);
  if (result.lama_interval.size() != std::size_t(D * L) || result.layer_bytes.size() != std::size_t(L))
    throw std::logic_error("fedlama: the round's decision rows do not match the header");
  put_root<std::int64_t>("/fedlama/interval", {(r - 1) * D, 0}, {D, L}, result.lama_interval.data());
  put_root<double>("/fedlama/discrepancy", {(r - 1) * D, 0}, {D, L}, result.lama_discrepancy.data());
  put_root<double>("/comm/layer_bytes", {r - 1, 0}, {1, L}, result.layer_bytes.data());
  write_scalar_row("/comm/fedavg_bytes", r - 1, result.fedavg_bytes);
  // All levels: client_server (centralized), or client_edge + edge_server
  // (hierarchical), against the same levels of FedAvg at interval tau'.
  double bytes = 0.0;
  for (double b : result.record.comm_bytes) bytes += b;
  write_scalar_row("/comm/ratio_to_fedavg", r - 1, result.fedavg_bytes > 0 ? bytes / result.fedavg_bytes : 0.0);
}

// Share of each tensor's coordinates the FedGMA mask kept (a round where no
// client uploaded stays NaN).
void RunWriter::write_mask_fraction(int r, const std::vector<std::uint8_t>& mask) {
  const auto& layers = header_.layout->layers();
  std::vector<double> fraction(layers.size(), 0.0);
  for (std::size_t l = 0; l < layers.size(); ++l) {
    std::int64_t kept = 0;
    for (std::int64_t j = layers[l].offset; j < layers[l].offset + layers[l].size; ++j) kept += mask[std::size_t(j)];
    fraction[l] = double(kept) / double(std::max<std::int64_t>(1, layers[l].size));
  }
  put_root<double>("/fedgma/mask_fraction", {r - 1, 0}, {1, std::int64_t(layers.size())}, fraction.data());
}

void RunWriter::write_clusters(int r, const std::vector<std::int64_t>& cluster_of_client,
                               const std::vector<float>& cluster_models) {
  const std::int64_t N = header_.num_clients;
  put_root<std::int64_t>("/topology/cluster_of_client", {r - 1, 0}, {1, N}, cluster_of_client.data());
  const std::int64_t k = std::int64_t(cluster_models.size()) / num_params_;
  put_root<std::int64_t>("/clusters/count", {r - 1}, {1}, &k);
  const auto rows = std::min(k, max_clusters());
  if (header_.save_weights == "clients" && rows > 0)
    put_root<float>("/clusters/weights", {r - 1, 0, 0}, {1, rows, num_params_}, cluster_models.data());
}

void RunWriter::commit(int r) {
  guarded([&] {
    file_->root().set_attribute("rounds_completed", std::int64_t(r));
    file_->flush();
  });
  reserve_next();
  agree("round " + std::to_string(r));
}

void RunWriter::write_phases(int r, const std::array<double, 5>& seconds) {
  put_root<double>("/timing/phases", {r - 1, 0}, {1, std::int64_t(seconds.size())}, seconds.data());
}

void RunWriter::write_peak_memory(std::int64_t bytes_this_rank) {
  const auto all = mpi::all_gather(comm_, bytes_this_rank, "MPI_Allgather(peak memory)");
  put_root<std::int64_t>("/timing/peak_rss_bytes", {0}, {comm_.size()}, all.data());
}

namespace {

void set_status(h5::File& file, const std::string& status, const std::string& message) {
  auto root = file.root();
  root.set_attribute("status", status);
  if (!message.empty()) root.set_attribute("error", message);
  file.flush();
  file.close();
}

// After a failed write, HDF5 may already have updated the superblock's end
// of file past what reached the disk ("truncated file"); a sparse extension
// back to that size costs no disk blocks and lets the file open again.
void extend_to_stored_eof(const std::string& path, const std::string& error) {
  const std::string key = "stored_eof = ";
  const auto at = error.find(key);
  if (at == std::string::npos) return;
  const long long eof = std::atoll(error.c_str() + at + key.size());
  if (eof > 0 && ::truncate(path.c_str(), eof) != 0) throw RunError("cannot extend " + path);
}

// Marks the file of a run whose writes failed, where the disk still allows.
void mark_failed_file(const std::string& path, const std::string& status, const std::string& message) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::unique_ptr<h5::File> file;
    try {
      file = std::make_unique<h5::File>(h5::File::open(path, MPI_COMM_NULL, true));
      set_status(*file, status, message);
      return;
    } catch (const std::exception& e) {
      if (file) file->abandon();
      if (attempt > 0) return;
      try {
        extend_to_stored_eof(path, e.what());
      } catch (const std::exception&) {
        return;
      }
    }
  }
}

}  // namespace

void RunWriter::finish(const std::string& status, const std::string& message) {
  const bool complete = status == "complete";
  if (!complete) error_.clear();  // best effort: try to record why, whatever failed before
  guarded([&] { set_status(*file_, status, message); });
  if (!complete && file_ && file_->is_open()) {
    // The disk refused a write: close without crashing, then mark the file
    // in a second, small transaction.
    file_->abandon();
    mark_failed_file(path_, status, message);
  }
  if (complete) agree("closing it");
}

namespace {

// Copies rows [0, rows) of one dataset, a row at a time, in its native type.
void copy_rows(const h5::DataSet& from, h5::DataSet& to, hsize_t rows) {
  const auto shape = to.dims();
  if (from.dims() != shape) throw RunError(from.path() + " has another shape than this run's");
  rows = std::min(rows, shape[0]);
  const hid_t file_type = H5Dget_type(to.id());
  const hid_t type = H5Tget_native_type(file_type, H5T_DIR_ASCEND);
  H5Tclose(file_type);
  struct Close {
    hid_t t;
    ~Close() { H5Tclose(t); }
  } close{type};
  h5::Dims offset(shape.size(), 0), count = shape;
  count[0] = 1;
  std::size_t elements = 1;
  for (std::size_t d = 1; d < shape.size(); ++d) elements *= std::size_t(shape[d]);
  std::vector<unsigned char> row(elements * H5Tget_size(type));
  for (hsize_t r = 0; r < rows; ++r) {
    offset[0] = r;
    from.read_slab_raw(offset, count, type, row.data());
    to.write_slab_raw(offset, count, type, row.data());
  }
}

}  // namespace

void RunWriter::copy_rounds(const std::string& source, int last_round) {
  std::string error;
  if (comm_.rank() == 0 && error_.empty()) {
    try {
      auto from = h5::File::open(source, MPI_COMM_NULL, false);
      const auto from_root = from.root();
      auto root = file_->root();
      for (const auto& path : root.dataset_paths()) {
        const auto axes = dataset_axes(path);
        if (!axes || axes->first_round < 0) continue;
        if (!from_root.exists(path)) throw RunError("it has no /" + path);
        auto to = root.dataset(path);
        // FedLAMA's decision rows: D per round.
        const hsize_t per_round = path.find("fedlama/") != std::string::npos ? hsize_t(header_.lama_decisions) : 1;
        copy_rows(from_root.dataset(path), to, hsize_t(last_round - axes->first_round + 1) * per_round);
      }
      root.set_attribute("rounds_completed", std::int64_t(last_round));
      file_->flush();
    } catch (const std::exception& e) {
      error = h5::os_reason(e.what());
    }
  }
  error = mpi::broadcast_string(comm_, error);
  if (!error.empty()) throw RunError("cannot take the finished rounds from " + source + ": " + error);
}

void RunWriter::move_to(const std::string& path) {
  std::string error;
  if (comm_.rank() == 0 && ::rename(path_.c_str(), path.c_str()) != 0) error = std::strerror(errno);
  error = mpi::broadcast_string(comm_, error);
  if (!error.empty()) throw RunError("cannot rename " + path_ + " to " + path + ": " + error);
  path_ = path;
}

void RunWriter::flush() {
  guarded([&] { file_->flush(); });
  agree("flushing it");
}

}  // namespace fedhpc::io
