#pragma once
// Taking a run's state between rounds into an io::Checkpoint and putting it
// back. What persists across rounds: the global model, the server
// optimizer's moments, the topology's own state (gossip: every client's
// model; clustered: the clusters and their models). Centralized,
// hierarchical and ring clients start every round from the global model
// with fresh optimizer state, and every random stream is keyed by (seed,
// client, round), so nothing else needs keeping.
#include <vector>

#include "fedhpc/engine/round_engine.hpp"
#include "fedhpc/io/checkpoint.hpp"
#include "fedhpc/mpi/comm.hpp"
#include "fedhpc/topology/topology.hpp"

namespace fedhpc::aggregation {
class ServerOptimizer;
}

namespace fedhpc::engine {

struct CheckpointParts {
  const RoundEngine& engine;
  const topology::Topology& topology;
  const aggregation::ServerOptimizer* server_optimizer;  // null: none
  const std::vector<topology::ClientBlock>& blocks;      // every rank's clients
};

// Between rounds. The state after round `round`, with this rank's
// clients' rows (io::write_checkpoint puts every rank's into one file).
io::Checkpoint capture(const CheckpointParts& parts, const mpi::Comm& comm, int round);

// Puts a checkpoint read with this rank's block back (every rank).
void restore(const io::Checkpoint& checkpoint, RoundEngine& engine, topology::Topology& topology,
             aggregation::ServerOptimizer* server_optimizer);

}  // namespace fedhpc::engine
