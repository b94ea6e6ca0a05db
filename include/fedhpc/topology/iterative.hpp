#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "fedhpc/aggregation/aggregator.hpp"
#include "fedhpc/topology/client_outcome.hpp"
#include "fedhpc/topology/topology.hpp"

namespace fedhpc::topology {

// Refuses (InputError naming --max-memory-gb) when keeping `per_client_floats`
// for each of `block` clients would exceed the limit.
void check_client_memory(const TopologyOptions& options, const char* topology, std::int64_t block,
                         std::int64_t per_client_floats);

// Base of the topologies whose clients train in lockstep, one local iteration
// at a time, and exchange models between iterations (hierarchical, ring,
// gossip). Every client of the block keeps its parameters and optimizer state
// through the round: 3P+1 floats, about 12 bytes per parameter and client.
class IterativeTopology : public Topology {
 public:
  IterativeTopology(const TopologyContext& ctx, const char* name);
  void run_round(const RoundInput& in, RoundResult& out) override;

 protected:
  // Before the first iteration. Default: every client starts from global
  // with fresh optimizer state.
  virtual void start_round(int round, const std::vector<float>& global);
  // After every participant trained iteration `it`; collective.
  virtual void mix(int round, int it, RoundRecord& record) = 0;
  // After the last iteration; collective. Default: the server aggregator
  // (--aggregator) over the models the clients upload.
  virtual void finish_round(int round, RoundResult& out);
  // The model each client of the block is evaluated on. Default: global.
  virtual void set_client_models(RoundResult& out) const;

  std::int64_t block_size() const { return ctx_.block.size(); }
  std::int64_t id(std::int64_t local) const { return ctx_.block.begin + local; }
  std::int64_t samples(std::int64_t local) const;
  // Took part, did not drop out and, unless --on-nonfinite keep, is finite.
  bool counts(std::int64_t local) const;
  std::int64_t num_params() const { return ctx_.num_params; }
  std::int64_t count_selected() const;
  // Adds the models of the clients that count to `aggregator`.
  void add_uploads(aggregation::Aggregator& aggregator, std::int64_t lo, std::int64_t hi) const;

  TopologyContext ctx_;
  std::unique_ptr<aggregation::Aggregator> server_;
  std::vector<std::vector<float>> params_;     // per local client
  std::vector<std::vector<float>> optimizer_;  // per local client
  std::vector<std::uint8_t> active_;           // per local client: trains this round
  std::vector<std::uint8_t> finite_;           // per local client
  std::vector<std::uint8_t> dropped_;          // per local client
  std::vector<std::uint8_t> selected_;         // all clients
  std::vector<std::uint8_t> dropped_all_;      // all clients

 private:
  void train_iteration(OutcomeRecorder& outcome, int round, int it);
  void keep_outputs(OutcomeRecorder& outcome);
  std::vector<float> before_;  // a faulty client's model before its iteration
  std::vector<float> anchor_;  // the round's starting model (FedProx)
};

}  // namespace fedhpc::topology
