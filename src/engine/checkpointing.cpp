#include "fedhpc/engine/checkpointing.hpp"

#include "fedhpc/aggregation/server_optimizer.hpp"
#include "fedhpc/core/error.hpp"

namespace fedhpc::engine {

io::Checkpoint capture(const CheckpointParts& parts, const mpi::Comm& comm, int round) {
  if (!parts.engine.between_rounds()) throw RunError("checkpoint taken in the middle of a round");
  io::Checkpoint c;
  c.round = round;
  c.num_clients = parts.blocks.empty() ? 0 : parts.blocks.back().end;
  c.global = parts.engine.global();
  if (parts.server_optimizer) c.server_optimizer = parts.server_optimizer->state();
  c.topology = parts.topology.save_state();  // client rows: this rank's own
  c.rows_begin = parts.blocks.empty() ? 0 : parts.blocks[std::size_t(comm.rank())].begin;
  return c;
}

void restore(const io::Checkpoint& c, RoundEngine& engine, topology::Topology& topology,
             aggregation::ServerOptimizer* server_optimizer) {
  engine.set_global(c.global);
  if (server_optimizer) server_optimizer->set_state(c.server_optimizer);
  else if (!c.server_optimizer.empty()) throw RunError("the checkpoint holds server optimizer state this run does not keep");
  topology.load_state(c.topology);
}

}  // namespace fedhpc::engine
