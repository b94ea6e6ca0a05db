#include "fedhpc/io/run_writer.hpp"

#include <limits>

#include "fedhpc/core/version.hpp"
#include "fedhpc/data/partition.hpp"

namespace fedhpc::io {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

h5::Dims dims(std::initializer_list<std::int64_t> values) {
  h5::Dims out;
  for (auto v : values) out.push_back(static_cast<hsize_t>(v));
  return out;
}

h5::DataSetOptions nan_filled() {
  h5::DataSetOptions o;
  o.fill = kNaN;
  return o;
}

}  // namespace

RunWriter::RunWriter(const std::string& path, const mpi::Comm& comm, bool overwrite, const RunHeader& header,
                     topology::ClientBlock block)
    : comm_(comm), file_(h5::File::create(path, comm.get(), overwrite)), block_(block), header_(header) {
  num_params_ = header.layout->total();
  auto root = file_.root();
  root.set_attribute("fedhpc_version", std::string(kVersion));
  root.set_attribute("status", std::string("running"));
  root.set_attribute("config", header.config_ini);
  root.set_attribute("num_ranks", std::int64_t(comm.size()));
  root.set_attribute("num_clients", header.num_clients);
  root.set_attribute("seed", static_cast<std::int64_t>(header.seed));
  root.set_attribute("rounds", std::int64_t(header.rounds));
  root.set_attribute("rounds_completed", std::int64_t(0));
  write_schema(header);
  file_.flush();
}

void RunWriter::write_schema(const RunHeader& h) {
  auto root = file_.root();
  write_model(*h.layout);
  write_partition(*h.partition);
  auto data = root.require_group("data");
  data.set_attribute("dataset", h.dataset);
  data.set_attribute("num_classes", std::int64_t(h.num_classes));
  data.set_attribute("train_samples", h.train_samples);
  data.set_attribute("test_samples", h.test_samples);

  const std::int64_t R = h.rounds, N = h.num_clients, I = h.local_iterations, P = num_params_;
  auto global = root.create_group("global");
  if (h.save_weights != "none") global.create_dataset<float>("weights", dims({R + 1, P}), nan_filled());
  global.create_dataset<double>("test_loss", dims({R + 1}), nan_filled());
  global.create_dataset<double>("test_accuracy", dims({R + 1}), nan_filled());
  global.create_dataset<double>("aggregated_loss", dims({R}), nan_filled());
  global.create_dataset<double>("aggregated_accuracy", dims({R}), nan_filled());
  global.create_dataset<std::int64_t>("nonfinite_skipped", dims({R}));

  auto clients = root.create_group("clients");
  clients.create_dataset<float>("train_loss", dims({R, I, N}), nan_filled());
  clients.create_dataset<float>("local_test_loss", dims({R, N}), nan_filled());
  clients.create_dataset<float>("local_test_accuracy", dims({R, N}), nan_filled());
  clients.create_dataset<std::uint8_t>("participated", dims({R, N}));
  if (h.save_weights == "clients") {
    h5::DataSetOptions o = nan_filled();
    o.chunk = dims({1, 1, P});
    o.deflate = 4;
    o.shuffle = true;
    clients.create_dataset<float>("weights", dims({R, N, P}), o);
  }
  clients.create_dataset<std::uint8_t>("nonfinite", dims({R, N}));
  create_monitoring(R, N);
  create_topology(R, N);
  auto timing = root.create_group("timing");
  timing.create_dataset<double>("round_seconds", dims({R}), nan_filled());
  timing.create_dataset<std::int64_t>("peak_rss_bytes", dims({comm_.size()}));
}

int RunWriter::monitored_iterations() const {
  if (header_.monitor == "every") return header_.local_iterations;
  return header_.monitor == "last" ? 1 : 0;
}

void RunWriter::create_monitoring(std::int64_t R, std::int64_t N) {
  auto clients = file_.root().group("clients");
  clients.set_attribute("monitor", header_.monitor);
  const std::int64_t M = monitored_iterations();
  if (M > 0) {
    std::vector<std::int64_t> which;
    for (std::int64_t m = 0; m < M; ++m) which.push_back(M == 1 ? header_.local_iterations - 1 : m);
    clients.set_attribute("monitored_iterations", which);
    const std::int64_t Lw = std::int64_t(header_.layout->weight_layers().size());
    for (const char* name : {"gsc", "update_sum", "update_l1", "iteration_test_loss"})
      clients.create_dataset<float>(name, dims({R, M, N}), nan_filled());
    for (const char* name : {"gsc_profile", "grad_mean_abs", "grad_l2"})
      clients.create_dataset<float>(name, dims({R, M, N, Lw}), nan_filled());
  }
  if (header_.save_gradients) {
    h5::DataSetOptions o = nan_filled();
    o.chunk = dims({1, 1, num_params_});
    o.deflate = 4;
    o.shuffle = true;
    clients.create_dataset<float>("gradients", dims({R, N, num_params_}), o);
  }
}

void RunWriter::write_monitoring(int r, const topology::RoundRecord& record) {
  auto clients = file_.root().group("clients");
  const std::int64_t b = block_.size(), M = monitored_iterations();
  clients.dataset("nonfinite").write_slab<std::uint8_t>(dims({r - 1, block_.begin}), dims({1, b}),
                                                         record.nonfinite.data());
  if (M > 0) {
    const std::int64_t Lw = std::int64_t(header_.layout->weight_layers().size());
    clients.dataset("gsc").write_slab<float>(dims({r - 1, 0, block_.begin}), dims({1, M, b}), record.gsc.data());
    clients.dataset("update_sum")
        .write_slab<float>(dims({r - 1, 0, block_.begin}), dims({1, M, b}), record.update_sum.data());
    clients.dataset("update_l1")
        .write_slab<float>(dims({r - 1, 0, block_.begin}), dims({1, M, b}), record.update_l1.data());
    clients.dataset("iteration_test_loss")
        .write_slab<float>(dims({r - 1, 0, block_.begin}), dims({1, M, b}), record.iteration_test_loss.data());
    const auto slab4 = dims({1, M, b, Lw});
    const auto at4 = dims({r - 1, 0, block_.begin, 0});
    clients.dataset("gsc_profile").write_slab<float>(at4, slab4, record.gsc_profile.data());
    clients.dataset("grad_mean_abs").write_slab<float>(at4, slab4, record.grad_mean_abs.data());
    clients.dataset("grad_l2").write_slab<float>(at4, slab4, record.grad_l2.data());
  }
  if (header_.save_gradients)
    clients.dataset("gradients")
        .write_slab<float>(dims({r - 1, block_.begin, 0}), dims({1, b, num_params_}), record.gradients.data());
}

std::int64_t RunWriter::max_clusters() const {
  const auto t = std::max<std::int64_t>(1, header_.options->cluster_min_size);
  return std::max<std::int64_t>(1, (header_.num_clients + t - 1) / t);
}

void RunWriter::create_topology(std::int64_t R, std::int64_t N) {
  const auto& o = *header_.options;
  const auto& layout = *header_.topology;
  auto topo = file_.root().create_group("topology");
  topo.set_attribute("kind", o.topology);
  topo.create_dataset<std::int64_t>("partition_client", dims({N})).write_all(layout.order);
  std::vector<std::int64_t> groups(layout.group_of_client.begin(), layout.group_of_client.end());
  if (o.topology == "hierarchical") {
    topo.set_attribute("edges", std::int64_t(o.edges));
    topo.set_attribute("edge_assignment", o.edge_assignment);
    topo.set_attribute("edge_interval", std::int64_t(o.edge_interval));
    topo.create_dataset<std::int64_t>("edge_of_client", dims({N})).write_all(groups);
  } else if (o.topology == "ring") {
    topo.set_attribute("rings", std::int64_t(o.rings));
    topo.set_attribute("ring_grouping", o.ring_grouping);
    topo.create_dataset<std::int64_t>("ring_of_client", dims({N})).write_all(groups);
    std::vector<std::int64_t> position(layout.ring_position.begin(), layout.ring_position.end());
    topo.create_dataset<std::int64_t>("ring_position", dims({N})).write_all(position);
  } else if (o.topology == "clustered") {
    topo.set_attribute("recluster_every", std::int64_t(o.recluster_every));
    topo.set_attribute("cluster_threshold", o.cluster_threshold);
    topo.set_attribute("cluster_min_size", std::int64_t(o.cluster_min_size));
    topo.set_attribute("trim_fraction", o.trim_fraction);
    topo.create_dataset<std::int64_t>("cluster_of_client", dims({R, N}));
    auto clusters = file_.root().create_group("clusters");
    clusters.create_dataset<std::int64_t>("count", dims({R}));
    if (header_.save_weights == "clients") {
      h5::DataSetOptions opts = nan_filled();
      opts.chunk = dims({1, 1, num_params_});
      opts.deflate = 4;
      opts.shuffle = true;
      clusters.create_dataset<float>("weights", dims({R, max_clusters(), num_params_}), opts);
    }
  } else if (o.topology == "gossip") {
    topo.set_attribute("gossip_graph", o.gossip_graph);
    topo.set_attribute("gossip_k", std::int64_t(o.gossip_k));
    file_.root().group("global").create_dataset<double>("consensus_distance", dims({R}), nan_filled());
  }
  auto comm = file_.root().create_group("comm");
  comm.create_dataset<double>("bytes", dims({R, std::int64_t(topology::kCommLevels.size())}), nan_filled());
  comm.set_attribute("level_names",
                     std::vector<std::string>(topology::kCommLevels.begin(), topology::kCommLevels.end()));
}

void RunWriter::write_topology_round(int r, const topology::RoundRecord& record,
                                     const std::vector<std::int64_t>& cluster_of_client,
                                     const std::vector<float>& cluster_models) {
  auto root = file_.root();
  const bool mine = comm_.rank() == 0;
  const auto levels = std::int64_t(record.comm_bytes.size());
  root.dataset("comm/bytes").write_slab<double>(dims({r - 1, 0}), dims({mine ? 1 : 0, levels}), record.comm_bytes.data());
  const auto& kind = header_.options->topology;
  if (kind == "gossip") write_scalar_row("global/consensus_distance", r - 1, record.consensus_distance);
  if (kind == "clustered") write_clusters(r, cluster_of_client, cluster_models);
  root.set_attribute("rounds_completed", std::int64_t(r));
  file_.flush();
}

void RunWriter::write_clusters(int r, const std::vector<std::int64_t>& cluster_of_client,
                               const std::vector<float>& cluster_models) {
  auto root = file_.root();
  const bool mine = comm_.rank() == 0;
  const std::int64_t N = header_.num_clients;
  root.dataset("topology/cluster_of_client")
      .write_slab<std::int64_t>(dims({r - 1, 0}), dims({mine ? 1 : 0, N}), cluster_of_client.data());
  const std::int64_t k = std::int64_t(cluster_models.size()) / num_params_;
  root.dataset("clusters/count").write_slab<std::int64_t>(dims({r - 1}), dims({mine ? 1 : 0}), &k);
  if (header_.save_weights == "clients")
    root.dataset("clusters/weights")
        .write_slab<float>(dims({r - 1, 0, 0}), dims({mine ? 1 : 0, std::min(k, max_clusters()), num_params_}),
                           cluster_models.data());
}

void RunWriter::write_model(const ParamLayout& layout) {
  auto model = file_.root().create_group("model");
  std::vector<std::string> names, weight_names;
  std::vector<std::int64_t> shapes;
  for (const auto& l : layout.layers()) {
    names.push_back(l.name);
    if (l.is_weight) weight_names.push_back(l.name);
    for (std::size_t d = 0; d < 4; ++d) shapes.push_back(d < l.shape.size() ? l.shape[d] : 0);
  }
  const auto L = static_cast<std::int64_t>(names.size());
  model.create_string_dataset("layer_names", names);
  model.create_string_dataset("weight_layers", weight_names);
  model.create_dataset<std::int64_t>("layer_shapes", dims({L, 4})).write_all(shapes);
  model.create_dataset<std::int64_t>("layer_offsets", dims({L + 1})).write_all(layout.offsets());
  model.set_attribute("num_params", layout.total());
}

void RunWriter::write_partition(const data::Partition& p) {
  auto data = file_.root().create_group("data");
  auto put = [&](const char* name, const std::vector<std::int64_t>& v) {
    data.create_dataset<std::int64_t>(name, dims({std::int64_t(v.size())})).write_all(v);
  };
  put("train_indices", p.train_indices);
  put("train_offsets", p.train_offsets);
  put("test_indices", p.test_indices);
  put("test_offsets", p.test_offsets);
}

void RunWriter::write_scalar_row(const std::string& path, int row, double value) {
  const bool mine = comm_.rank() == 0;
  file_.root().dataset(path).write_slab<double>(dims({row}), dims({mine ? 1 : 0}), &value);
}

void RunWriter::write_initial(const float* params, double test_loss, double test_accuracy) {
  auto root = file_.root();
  const bool mine = comm_.rank() == 0;
  if (header_.save_weights != "none")
    root.dataset("global/weights").write_slab<float>(dims({0, 0}), dims({mine ? 1 : 0, num_params_}), params);
  write_scalar_row("global/test_loss", 0, test_loss);
  write_scalar_row("global/test_accuracy", 0, test_accuracy);
  file_.flush();
}

void RunWriter::write_round(const RoundSummary& s, const float* global, const topology::RoundRecord& record,
                            const std::vector<float>& local_test_loss,
                            const std::vector<float>& local_test_accuracy) {
  auto root = file_.root();
  const bool mine = comm_.rank() == 0;
  const int r = s.round;
  if (header_.save_weights != "none")
    root.dataset("global/weights").write_slab<float>(dims({r, 0}), dims({mine ? 1 : 0, num_params_}), global);
  write_scalar_row("global/test_loss", r, s.test_loss);
  write_scalar_row("global/test_accuracy", r, s.test_accuracy);
  write_scalar_row("global/aggregated_loss", r - 1, s.aggregated_loss);
  write_scalar_row("global/aggregated_accuracy", r - 1, s.aggregated_accuracy);
  write_scalar_row("timing/round_seconds", r - 1, s.seconds);
  const std::int64_t skipped = s.nonfinite_skipped;
  root.dataset("global/nonfinite_skipped").write_slab<std::int64_t>(dims({r - 1}), dims({mine ? 1 : 0}), &skipped);

  const std::int64_t b = block_.size(), I = header_.local_iterations;
  root.dataset("clients/train_loss")
      .write_slab<float>(dims({r - 1, 0, block_.begin}), dims({1, I, b}), record.train_loss.data());
  root.dataset("clients/local_test_loss")
      .write_slab<float>(dims({r - 1, block_.begin}), dims({1, b}), local_test_loss.data());
  root.dataset("clients/local_test_accuracy")
      .write_slab<float>(dims({r - 1, block_.begin}), dims({1, b}), local_test_accuracy.data());
  root.dataset("clients/participated")
      .write_slab<std::uint8_t>(dims({r - 1, block_.begin}), dims({1, b}), record.participated.data());
  if (header_.save_weights == "clients")
    root.dataset("clients/weights")
        .write_slab<float>(dims({r - 1, block_.begin, 0}), dims({1, b, num_params_}), record.client_weights.data());
  write_monitoring(r, record);
}

void RunWriter::write_peak_memory(std::int64_t bytes_this_rank) {
  std::vector<std::int64_t> all(std::size_t(comm_.size()));
  mpi::check(MPI_Allgather(&bytes_this_rank, 1, MPI_INT64_T, all.data(), 1, MPI_INT64_T, comm_.get()),
             "MPI_Allgather(peak memory)");
  file_.root().dataset("timing/peak_rss_bytes").write_all(all);
}

void RunWriter::finish(const std::string& status, const std::string& message) {
  auto root = file_.root();
  root.set_attribute("status", status);
  if (!message.empty()) root.set_attribute("error", message);
  file_.flush();
  file_.close();
}

}  // namespace fedhpc::io
