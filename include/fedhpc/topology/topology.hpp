#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "fedhpc/core/param_layout.hpp"
#include "fedhpc/core/registry.hpp"
#include "fedhpc/mpi/comm.hpp"
#include "fedhpc/topology/options.hpp"
#include "fedhpc/topology/round_result.hpp"
#include "fedhpc/topology/topology_state.hpp"

namespace fedhpc::client {
class LocalTrainer;
class ClientBehaviour;
struct MonitorSample;
}  // namespace fedhpc::client
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

// Stores one monitored iterate of client `local` into slot `slot`.
void record_sample(RoundRecord& record, std::int64_t block, int weight_layers, int slot, std::int64_t local,
                   const client::MonitorSample& sample);

struct TopologyContext {
  const mpi::Comm& comm;
  ClientBlock block;
  client::LocalTrainer& trainer;
  const data::Partition& partition;
  const TopologyOptions& options;
  const TopologyLayout& layout;
  const client::ClientBehaviour& behaviour;
  std::int64_t num_params = 0;
  bool keep_client_weights = false;
  int weight_layers = 0;
  const ParamLayout* param_layout = nullptr;  // the model's layer table (client tiers need it)
};

// Who takes part in a round; one flag per client id (all N), the same on
// every rank.
struct RoundInput {
  int round = 0;
  const std::vector<std::uint8_t>& selected;
  const std::vector<std::uint8_t>& dropped;  // trains, then drops out before upload
};

// A topology runs one global round: from the global model, through the
// clients' local training and whatever mixing and aggregation the topology
// does, to the new global model. It is collective over ctx.comm. On entry
// out.global holds the round's starting model and out.record is reset; the
// topology leaves the new global model, its clients' outcomes, the models
// its clients are evaluated on and its extras in out.
class Topology {
 public:
  virtual ~Topology() = default;
  virtual void run_round(const RoundInput& in, RoundResult& out) = 0;
  // State kept across rounds (checkpoint and resume). Called between rounds
  // only. Default: none (every round starts from the global model alone).
  virtual TopologyState save_state() const { return {}; }
  // Takes what save_state() returned after round r (client_rows: this
  // rank's block); the next run_round(r + 1) then runs as it would have.
  virtual void load_state(const TopologyState& state);
};

using TopologyFactory = std::function<std::unique_ptr<Topology>(const TopologyContext&)>;

// What the output file records of a topology besides the common datasets.
struct TopologyExtras {
  std::vector<std::pair<std::string, std::variant<std::int64_t, double, std::string>>> attributes;  // on /topology
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> client_datasets;  // /topology/NAME [N]
  // /topology/NAME of any length (a graph in CSR form); their dims are in io/dataset_axes.
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> datasets;
  bool clusters = false;            // per round: /topology/cluster_of_client, /clusters/count, /clusters/weights
  std::int64_t max_clusters = 0;    // rows of /clusters/weights
  bool consensus_distance = false;  // per round: /global/consensus_distance
};

// label_hist[c][k]: training samples of class k held by client c.
using LabelHistograms = std::vector<std::vector<std::int64_t>>;

// Everything the rest of fedhpc knows of one topology, registered once.
struct TopologyDescriptor {
  std::string name;
  // Refuses combinations that make no sense for this topology (InputError
  // naming the option). Called before anything is loaded.
  std::function<void(const TopologyOptions&)> validate;
  // Group of every client (edge, ring) from the label histograms; empty when
  // the topology does not group clients. Groups become contiguous id ranges.
  std::function<std::vector<int>(const TopologyOptions&, const LabelHistograms&)> group;
  // Each group's clients stay on as few ranks as possible (hierarchical
  // edges); otherwise clients are split evenly.
  bool group_aligned_blocks = false;
  bool ring_positions = false;  // the layout records each client's position in its group
  TopologyFactory make;
  std::function<TopologyExtras(const TopologyOptions&, const TopologyLayout&)> extras;
  // Run options that apply to this topology (for the stored configuration).
  std::vector<std::string> option_keys;
};

// The five built-in topologies are registered on first use; user programs
// may add their own before calling fedhpc::cli::main.
Registry<TopologyDescriptor>& topology_registry();

}  // namespace fedhpc::topology
