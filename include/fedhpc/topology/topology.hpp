#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <array>

#include "fedhpc/cli/run_options.hpp"
#include "fedhpc/core/registry.hpp"
#include "fedhpc/mpi/comm.hpp"

namespace fedhpc::client {
class LocalTrainer;
struct MonitorSample;
}
namespace fedhpc::data {
struct Partition;
}

namespace fedhpc::topology {

struct TopologyLayout;

// The contiguous block of client ids [begin, end) hosted by one rank.
struct ClientBlock {
  std::int64_t begin = 0;
  std::int64_t end = 0;
  std::int64_t size() const { return end - begin; }
  bool contains(std::int64_t c) const { return c >= begin && c < end; }
};

ClientBlock block_of_rank(std::int64_t num_clients, int rank, int ranks);

// Sizes of the per-round buffers of one rank.
struct RecordShape {
  std::int64_t block = 0;
  int iterations = 1;
  std::int64_t params = 0;
  bool keep_weights = false;
  int monitored = 0;          // I' = I (every), 1 (last), 0 (off)
  int weight_layers = 0;      // Lw
  bool keep_gradients = false;
};

// What one round leaves on this rank, for its block of clients. Slots of
// clients that did not train stay NaN (0 for the flags).
struct RoundRecord {
  std::vector<float> train_loss;            // [I][block]
  std::vector<float> client_weights;        // [block][P] when kept
  std::vector<std::uint8_t> participated;   // [block]
  std::vector<std::uint8_t> nonfinite;      // [block]
  std::vector<float> gsc;                   // [I'][block]
  std::vector<float> gsc_profile;           // [I'][block][Lw]
  std::vector<float> grad_mean_abs;         // [I'][block][Lw]
  std::vector<float> grad_l2;               // [I'][block][Lw]
  std::vector<float> update_sum;            // [I'][block]
  std::vector<float> update_l1;             // [I'][block]
  std::vector<float> gradients;             // [block][P] when kept
  std::vector<float> iteration_test_loss;   // [I'][block]
  std::int64_t nonfinite_skipped = 0;       // over all ranks
  // Same on every rank:
  std::array<double, 5> comm_bytes{};       // per level, see kCommLevels
  double consensus_distance = 0.0;          // gossip
  void reset(const RecordShape& shape);
};

// Levels of the communication accounting (/comm/bytes columns): model bytes
// moved between the parties of the topology in one round.
inline const std::array<const char*, 5> kCommLevels = {"client_server", "client_edge", "edge_server", "ring_hop",
                                                       "gossip"};
enum CommLevel { kClientServer = 0, kClientEdge = 1, kEdgeServer = 2, kRingHop = 3, kGossip = 4 };

// Stores one monitored iteration of client `local` into slot `slot`.
void record_sample(RoundRecord& record, std::int64_t block, int weight_layers, int slot, std::int64_t local,
                   const client::MonitorSample& sample);

struct TopologyContext {
  const mpi::Comm& comm;
  ClientBlock block;
  client::LocalTrainer& trainer;
  const data::Partition& partition;
  const RunOptions& options;
  std::int64_t num_params = 0;
  bool keep_client_weights = false;
  int weight_layers = 0;
  const TopologyLayout* layout = nullptr;
};

// A topology runs one global round: from the global model, through the
// clients' local training and whatever mixing the topology does, to the new
// global model. It is collective over ctx.comm.
class Topology {
 public:
  virtual ~Topology() = default;
  // selected has one flag per client (all N); global is read and replaced.
  virtual void run_round(int round, const std::vector<std::uint8_t>& selected, std::vector<float>& global,
                         RoundRecord& record) = 0;
  // The model a client's local test split is evaluated on after the round.
  virtual const float* model_of_client(std::int64_t client, const std::vector<float>& global) const {
    (void)client;
    return global.data();
  }
  // Cluster of every client after the round (clustered topology), else empty.
  virtual std::vector<std::int64_t> cluster_of_clients() const { return {}; }
  // Cluster models after the round, K x P (clustered topology), else empty.
  virtual const std::vector<float>& cluster_models() const {
    static const std::vector<float> none;
    return none;
  }
};

using TopologyFactory = std::function<std::unique_ptr<Topology>(const TopologyContext&)>;

// "centralized" is registered on first use.
Registry<TopologyFactory>& topology_registry();

}  // namespace fedhpc::topology
