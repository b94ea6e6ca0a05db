#pragma once
#include <cstdint>
#include <vector>

#include "fedhpc/topology/topology.hpp"

namespace fedhpc::topology {

// Refuses (InputError naming --max-memory-gb) when keeping `per_client_floats`
// for each of `block` clients would exceed the limit.
void check_client_memory(const RunOptions& options, const char* topology, std::int64_t block,
                         std::int64_t per_client_floats);

// Base of the topologies whose clients train in lockstep, one local iteration
// at a time, and exchange models between iterations (hierarchical, ring,
// gossip). Every client of the block keeps its parameters and optimizer state
// through the round: 3P+1 floats, about 12 bytes per parameter and client.
class IterativeTopology : public Topology {
 public:
  IterativeTopology(const TopologyContext& ctx, const char* name);
  void run_round(int round, const std::vector<std::uint8_t>& selected, std::vector<float>& global,
                 RoundRecord& record) override;

 protected:
  // Before the first iteration. Default: every client starts from global
  // with fresh optimizer state.
  virtual void start_round(int round, const std::vector<float>& global);
  // After every participant trained iteration `it`; collective.
  virtual void mix(int round, int it, RoundRecord& record) = 0;
  // After the last iteration; collective. Default: the exact sample-weighted
  // mean of the participants' models.
  virtual void finish_round(int round, std::vector<float>& global, RoundRecord& record);

  std::int64_t block_size() const { return ctx_.block.size(); }
  std::int64_t id(std::int64_t local) const { return ctx_.block.begin + local; }
  std::int64_t samples(std::int64_t local) const;
  // Participates and, unless --on-nonfinite keep, is still finite.
  bool counts(std::int64_t local) const;
  std::int64_t num_params() const { return ctx_.num_params; }
  std::int64_t count_selected() const;

  TopologyContext ctx_;
  std::vector<std::vector<float>> params_;     // per local client
  std::vector<std::vector<float>> optimizer_;  // per local client
  std::vector<std::uint8_t> active_;           // per local client: trains this round
  std::vector<std::uint8_t> finite_;           // per local client
  std::vector<std::uint8_t> selected_;         // all clients

 private:
  void train_iteration(int round, int it, RoundRecord& record);
  void handle_nonfinite(std::int64_t local, int round);
  void keep_outputs(int round, RoundRecord& record);
};

}  // namespace fedhpc::topology
