#include "fedhpc/engine/checkpointing.hpp"

#include "fedhpc/aggregation/server_optimizer.hpp"
#include "fedhpc/core/error.hpp"

namespace fedhpc::engine {

namespace {

constexpr int kRowsTag = 7102;

// Rank 0 gets every rank's rows, in rank (= client id) order.
std::vector<float> gather_rows(const std::vector<float>& mine, std::int64_t width,
                               const std::vector<topology::ClientBlock>& blocks, const mpi::Comm& comm) {
  if (comm.rank() != 0) {
    mpi::send_bytes(comm, 0, kRowsTag, mine.data(), mine.size() * sizeof(float));
    return {};
  }
  std::vector<float> all(std::size_t(blocks.back().end * width));
  std::copy(mine.begin(), mine.end(), all.begin() + blocks[0].begin * width);
  for (int r = 1; r < comm.size(); ++r) {
    const auto& b = blocks[std::size_t(r)];
    mpi::recv_bytes(comm, r, kRowsTag, all.data() + b.begin * width, std::size_t(b.size() * width) * sizeof(float));
  }
  return all;
}

}  // namespace

io::Checkpoint capture(const CheckpointParts& parts, const mpi::Comm& comm, int round) {
  if (!parts.engine.between_rounds()) throw RunError("checkpoint taken in the middle of a round");
  io::Checkpoint c;
  c.round = round;
  c.num_clients = parts.blocks.empty() ? 0 : parts.blocks.back().end;
  c.global = parts.engine.global();
  if (parts.server_optimizer) c.server_optimizer = parts.server_optimizer->state();
  c.topology = parts.topology.save_state();
  // Every rank's topology reports the same width (zero or the model size).
  if (c.topology.client_width > 0)
    c.topology.client_rows = gather_rows(c.topology.client_rows, c.topology.client_width, parts.blocks, comm);
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
