#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fedhpc/cli/run_options.hpp"
#include "fedhpc/core/registry.hpp"
#include "fedhpc/mpi/comm.hpp"

namespace fedhpc::client {
class LocalTrainer;
}
namespace fedhpc::data {
struct Partition;
}

namespace fedhpc::topology {

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
  std::int64_t nonfinite_skipped = 0;       // over all ranks
  void reset(const RecordShape& shape);
};

struct TopologyContext {
  const mpi::Comm& comm;
  ClientBlock block;
  client::LocalTrainer& trainer;
  const data::Partition& partition;
  const RunOptions& options;
  std::int64_t num_params = 0;
  bool keep_client_weights = false;
  int weight_layers = 0;
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
};

using TopologyFactory = std::function<std::unique_ptr<Topology>(const TopologyContext&)>;

// "centralized" is registered on first use.
Registry<TopologyFactory>& topology_registry();

}  // namespace fedhpc::topology
