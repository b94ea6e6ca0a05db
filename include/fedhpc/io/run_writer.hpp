#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <variant>
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
  // With save_weights == "clients": the rounds whose client models are kept
  // (`--save-weights clients:1,5,10`; /clients/weights row k is round
  // client_weight_rounds[k]); empty = every round (row r-1 is round r).
  std::vector<std::int64_t> client_weight_rounds;
  std::string monitor = "off";          // off | every | last
  bool save_gradients = false;
  std::string dataset;
  int num_classes = 0;
  // "classification" or "regression" (/data attr task; root attr loss is
  // cross-entropy or mse; a regression run's losses are MSE, in squared
  // target units, and its accuracies NaN). target_names: the outputs.
  std::string task = "classification";
  std::vector<std::string> target_names;
  std::int64_t train_samples = 0;
  std::int64_t test_samples = 0;
  const ParamLayout* layout = nullptr;
  const data::Partition* partition = nullptr;
  const topology::TopologyLayout* topology = nullptr;
  std::string topology_name;
  topology::TopologyExtras extras;  // from the topology's descriptor
  // Root attributes that describe the run's strategy (aggregator, server
  // optimizer, client behaviour), written as strings or numbers.
  std::vector<std::pair<std::string, std::variant<std::int64_t, double, std::string>>> attributes;
  const std::vector<std::uint8_t>* faulty = nullptr;  // /clients/faulty [N]; null = none
  // The training set's labels (before any concept shift or label flip); the
  // partition's train and local test indices both point into it. Written as
  // /data/train_labels and /data/test_labels, aligned with the index lists.
  // Null: not written.
  const std::vector<std::int64_t>* train_labels = nullptr;
  // --concept-shift: each client's group and each group's label map
  // (/clients/concept_group [N], /clients/concept_label_maps [G, classes]);
  // empty without a shift.
  std::vector<std::int64_t> concept_group;
  std::vector<std::vector<std::int64_t>> concept_label_maps;
  bool gma_mask = false;  // fedgma, fedgma-soft: /fedgma/mask_fraction [R, L]
  // fedlama: decision points per round, D (0 = not fedlama): /fedlama/interval
  // and /fedlama/discrepancy [R*D, L], /comm/layer_bytes [R, L],
  // /comm/fedavg_bytes [R] and /comm/ratio_to_fedavg [R].
  int lama_decisions = 0;
  // Client tiers (--client-tiers): /clients/tier [N] (index into tier_names),
  // and /clients/tier_cost [T, 3] (per tier: trained weight layers, FLOPs and
  // activation bytes of one training step of tier_batch samples). Empty = no tiers.
  std::vector<std::int64_t> tiers;
  std::vector<std::string> tier_names;
  std::vector<double> tier_cost;
  std::int64_t tier_batch = 0;
  // Stragglers (README, "Stragglers"): /clients/speed [N] when speeds is not
  // empty (--compute-profile); with a deadline, /clients/late [R, N] and
  // /timing/simulated_seconds [R] (write_stragglers).
  std::vector<double> speeds;
  bool deadline = false;
  // > 0: the participants layout (README, "Per-client datasets of large
  // populations"): per-round client datasets hold only the round's
  // participants, this many columns (m = round(participation * N)), and
  // /clients/round_clients [R, m] names them. 0: dense, one column per client.
  std::int64_t sparse_clients = 0;
};

// The planned size of a run's file, before it exists.
struct SizePlan {
  std::uint64_t bytes = 0;  // every dataset written in full, uncompressed
  std::string largest;      // e.g. "/global/weights [1000001 x 2490] float32"
  std::uint64_t largest_bytes = 0;
};

// The HDF5 file of one run (schema in README.md). Only rank 0 opens the file;
// the other ranks send it their clients' rows. Parallel HDF5 1.10 cannot
// recover when one rank's write fails (the ranks' internal collectives part
// ways and every rank hangs), so one writer is what makes a full disk an
// error instead of a hang. Every method is collective over the communicator.
// Per-round datasets are chunked with a fill value, so rounds not yet reached
// cost no disk space and read as NaN (0 for integer datasets). The file is
// flushed after every round, so a run that stops part-way leaves the rounds
// it finished readable.
class RunWriter {
 public:
  // Creates (truncates) `path`. Throws RunError with the OS reason if it
  // cannot, on every rank.
  RunWriter(const std::string& path, const mpi::Comm& comm, const RunHeader& header, topology::ClientBlock block);
  ~RunWriter();

  static SizePlan plan(const RunHeader& header, int ranks);

  // Row 0: the initial model and its global test metrics.
  void write_initial(const float* params, double test_loss, double test_accuracy);
  void write_round(const topology::RoundResult& result);
  // With a deadline: round r's late flags (this rank's block) and simulated
  // seconds; call after write_round, before write_topology_round.
  void write_stragglers(int round, const std::vector<std::uint8_t>& late_block, double simulated_seconds);
  // Topology traces of a round (/comm/bytes, clusters, consensus distance);
  // call after write_round: it marks the round complete, flushes and throws
  // RunError on every rank if any write of the round failed.
  void write_topology_round(const topology::RoundResult& result);
  // /timing/phases row of round r (after write_topology_round, which it
  // times): kept in memory by HDF5 until the next round's flush or finish().
  void write_phases(int round, const std::array<double, 5>& seconds);
  void write_peak_memory(std::int64_t bytes_this_rank);
  // Resuming a run: copies the rows of rounds 0..last_round of every
  // per-round dataset from `source`, an earlier file of the same run, so
  // later rounds start from the fill value whatever that file held for them.
  // Throws RunError on every rank when the source cannot be read.
  void copy_rounds(const std::string& source, int last_round);
  // Renames the open file to `path` (rank 0), e.g. over the file it resumes.
  void move_to(const std::string& path);
  // Writes what HDF5 still holds (e.g. the last /timing/phases row).
  void flush();
  // status: "complete", "failed" or "interrupted"; message goes into the
  // `error` attribute. Closes the file. A "complete" that cannot be written
  // throws RunError; the others are best effort (the run already failed).
  void finish(const std::string& status, const std::string& message = "");

 private:
  struct Slab;
  void create_schema(const RunHeader& header);
  void write_model(const ParamLayout& layout);
  void write_partition(const data::Partition& partition);
  void write_concept_shift();
  void write_tiers();
  void write_topology_layout();
  void describe_datasets();
  void write_scalar_row(const std::string& path, int row, double value);
  std::int64_t max_clusters() const;
  void write_clusters(int round, const std::vector<std::int64_t>& cluster_of_client,
                      const std::vector<float>& cluster_models);
  void write_monitoring(int round, const topology::RoundRecord& record);
  // A per-round client dataset's row `round` from this rank's block buffer
  // laid out [outer][block][inner] (outer, inner: 0 = no such axis): the
  // whole block (dense), or the round's participants' columns (sparse).
  template <class T>
  void put_clients(const std::string& path, int round, std::int64_t outer, std::int64_t inner, const T* data);
  void find_participants(int round, const topology::RoundRecord& record);
  void write_mask_fraction(int round, const std::vector<std::uint8_t>& mask);
  void write_fedlama(const topology::RoundResult& result);
  int monitored_iterations() const;
  void commit(int round);
  void agree(const std::string& what);

  // Rank 0 writes data; the other ranks take no part.
  template <class T>
  void put_root(const std::string& path, std::vector<std::int64_t> offset, std::vector<std::int64_t> count,
                const T* data);
  // Every rank's slab (its block of clients) goes to rank 0, which writes them.
  template <class T>
  void put_blocks(const std::string& path, std::vector<std::int64_t> offset, std::vector<std::int64_t> count,
                  const T* data);
  // Runs fn on rank 0 unless a write already failed; keeps the first error.
  template <class Fn>
  void guarded(Fn&& fn);

  const mpi::Comm& comm_;
  std::string path_;
  std::unique_ptr<h5::File> file_;  // rank 0 only
  std::string error_;               // rank 0: the first failed write
  // Rank 0: disk space is reserved (fallocate) for the next round before it
  // is written, so a full disk is found before HDF5 meets it: HDF5 1.10 can
  // neither close nor reopen a file whose write failed half-way.
  void reserve_next();
  void take_reservation_failure();
  int reserve_fd_ = -1;
  std::uint64_t round_bytes_ = 0;
  std::string full_;                // rank 0: why the next round cannot be written
  topology::ClientBlock block_;
  RunHeader header_;
  std::int64_t num_params_ = 0;
  // Sparse layout, this round: the block's participants (local indices) and
  // the column of the first of them.
  std::vector<std::int64_t> participants_;
  std::int64_t first_column_ = 0;
};

}  // namespace fedhpc::io
