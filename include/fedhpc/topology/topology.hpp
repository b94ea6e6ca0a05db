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

// What one round leaves on this rank, for its block of clients.
struct RoundRecord {
  std::vector<float> train_loss;            // [I][block], NaN where not trained
  std::vector<float> client_weights;        // [block][P] when kept, NaN rows otherwise
  std::vector<std::uint8_t> participated;   // [block]
  std::int64_t nonfinite_skipped = 0;       // over all ranks
  void reset(std::int64_t block, int iterations, std::int64_t params, bool keep_weights);
};

struct TopologyContext {
  const mpi::Comm& comm;
  ClientBlock block;
  client::LocalTrainer& trainer;
  const data::Partition& partition;
  const RunOptions& options;
  std::int64_t num_params = 0;
  bool keep_client_weights = false;
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
