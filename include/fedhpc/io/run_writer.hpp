#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "fedhpc/core/param_layout.hpp"
#include "fedhpc/io/hdf5.hpp"
#include "fedhpc/mpi/comm.hpp"
#include "fedhpc/topology/layout.hpp"
#include "fedhpc/topology/topology.hpp"

namespace fedhpc::data {
struct Partition;
}

namespace fedhpc::io {

// Everything the writer needs to lay out the file before round 1.
struct RunHeader {
  std::string config_ini;
  std::int64_t num_clients = 0;
  std::uint64_t seed = 0;
  int rounds = 0;
  int local_iterations = 1;
  std::string save_weights = "global";  // none | global | clients
  std::string monitor = "off";          // off | every | last
  bool save_gradients = false;
  std::string dataset;
  int num_classes = 0;
  std::int64_t train_samples = 0;
  std::int64_t test_samples = 0;
  const ParamLayout* layout = nullptr;
  const data::Partition* partition = nullptr;
  const topology::TopologyLayout* topology = nullptr;
  const RunOptions* options = nullptr;
};

// Per-round results that are the same on every rank.
struct RoundSummary {
  int round = 0;  // 1-based
  double test_loss = 0.0;
  double test_accuracy = 0.0;
  double aggregated_loss = 0.0;
  double aggregated_accuracy = 0.0;
  double seconds = 0.0;
  std::int64_t nonfinite_skipped = 0;
};

// The HDF5 file of one run (schema in README.md). Every method is collective
// over the communicator; per-client data is written by the rank hosting the
// client. The file is flushed after every round, so a run that stops part-way
// leaves the rounds it finished readable.
class RunWriter {
 public:
  RunWriter(const std::string& path, const mpi::Comm& comm, bool overwrite, const RunHeader& header,
            topology::ClientBlock block);

  // Row 0: the initial model and its global test metrics.
  void write_initial(const float* params, double test_loss, double test_accuracy);
  void write_round(const RoundSummary& summary, const float* global, const topology::RoundRecord& record,
                   const std::vector<float>& local_test_loss, const std::vector<float>& local_test_accuracy);
  // status: "complete" or "failed"; message goes into the `error` attribute.
  // Topology traces of a round (/comm/bytes, clusters, consensus distance);
  // call after write_round: it marks the round complete and flushes.
  void write_topology_round(int round, const topology::RoundRecord& record,
                            const std::vector<std::int64_t>& cluster_of_client,
                            const std::vector<float>& cluster_models);
  void finish(const std::string& status, const std::string& message = "");
  void write_peak_memory(std::int64_t bytes_this_rank);

  h5::File& file() { return file_; }

 private:
  void write_schema(const RunHeader& header);
  void write_model(const ParamLayout& layout);
  void write_partition(const data::Partition& partition);
  void write_scalar_row(const std::string& path, int row, double value);
  void create_monitoring(std::int64_t rounds, std::int64_t clients);
  void create_topology(std::int64_t rounds, std::int64_t clients);
  std::int64_t max_clusters() const;
  void write_clusters(int round, const std::vector<std::int64_t>& cluster_of_client,
                      const std::vector<float>& cluster_models);
  void write_monitoring(int round, const topology::RoundRecord& record);
  int monitored_iterations() const;

  const mpi::Comm& comm_;
  h5::File file_;
  topology::ClientBlock block_;
  RunHeader header_;
  std::int64_t num_params_ = 0;
};

}  // namespace fedhpc::io
