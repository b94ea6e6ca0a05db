#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "fedhpc/mpi/comm.hpp"
#include "fedhpc/topology/round_result.hpp"
#include "fedhpc/topology/topology.hpp"

namespace fedhpc::client {
class LocalTrainer;
class ClientBehaviour;
}  // namespace fedhpc::client
namespace fedhpc::data {
struct Partition;
}
namespace fedhpc::aggregation {
class ServerOptimizer;
}

namespace fedhpc::engine {

struct EngineOptions {
  int rounds = 5;
  std::int64_t clients = 10;
  double participation = 1.0;  // fraction sampled per round, (0, 1]
  std::uint64_t seed = 0;
  std::int64_t eval_batch_size = 64;   // samples per forward pass and per unit dealt to ranks
  int eval_every = 1;          // evaluate every k rounds and in the last round
  int fail_at_round = 0;       // fault injection: the last rank fails in this round (0 = never)
};

// What a run's rounds need; the engine keeps references, so the parts must
// outlive it.
struct EngineParts {
  client::LocalTrainer& trainer;
  const data::Partition& partition;
  topology::Topology& topology;
  const client::ClientBehaviour& behaviour;
  // nullptr: the aggregate becomes the global model (plain FedAvg).
  aggregation::ServerOptimizer* server_optimizer = nullptr;
  std::vector<std::int64_t> client_keys;  // partition index of every client id
  topology::ClientBlock block;            // this rank's clients
  topology::RecordShape shape;            // per-round buffers of this rank
  std::int64_t test_samples = 0;          // global test set size
  // Called after the round's clients are chosen, before they train: data
  // generated on demand (synthetic-population) fills in the participants
  // (selected, one flag per client id). Empty = nothing to do.
  std::function<void(int round, const std::vector<std::uint8_t>& selected)> prepare_round;
};

// The straggler outcome of one round (--round-deadline; README, "Stragglers").
struct StragglerRound {
  std::vector<std::uint8_t> late;  // [block]: selected and could not finish its steps by the deadline
  double simulated_seconds = 0.0;  // the round's time on the simulated clock
  std::int64_t late_clients = 0;   // of all ranks
  std::int64_t uploading = 0;      // selected clients that hand something over in time (all ranks)
};

// The round loop of every topology: client selection -> the topology's round
// (local training, mixing, aggregation) -> server optimizer -> evaluation.
// Collective over comm; every rank returns the same global model.
class RoundEngine {
 public:
  RoundEngine(const mpi::Comm& comm, EngineOptions options, EngineParts parts, std::vector<float> initial);

  // Global test loss and accuracy of the initial model.
  std::pair<double, double> evaluate_initial();
  // Runs round `round` (1-based, in order); the result stays valid until the
  // next call. Rounds --eval-every skips leave the evaluation NaN.
  const topology::RoundResult& run_round(int round);
  const std::vector<float>& global() const { return global_; }
  // Resuming from a checkpoint: the global model after its round.
  void set_global(std::vector<float> global);
  // False from the moment a round starts changing the topology's and server
  // optimizer's state until run_round returns: a round abandoned in between
  // (an interrupt during training or evaluation) leaves state that belongs
  // to no finished round, so no checkpoint may take it.
  bool between_rounds() const { return between_rounds_; }
  // The last round's stragglers (empty flags and 0 s without a deadline).
  const StragglerRound& stragglers() const { return stragglers_; }

  // Clients of a round: all, or round(f*N) (at least one) drawn from the
  // server stream over partition indices, so a topology's renumbering does
  // not change who takes part. One flag per client id.
  static std::vector<std::uint8_t> select_clients(const EngineOptions& options, int round,
                                                  const std::vector<std::int64_t>& client_keys);
  // Whether round `round` is evaluated: every eval_every rounds and the last.
  static bool evaluates(const EngineOptions& options, int round);

 private:
  void evaluate(topology::RoundResult& result);
  void skip_evaluation(topology::RoundResult& result) const;
  void gather_phases(topology::RoundResult& result, const std::array<double, 4>& mine) const;
  const mpi::Comm& comm_;
  EngineOptions options_;
  EngineParts parts_;
  std::vector<float> global_;
  topology::RoundResult result_;
  bool between_rounds_ = true;
  StragglerRound stragglers_;
  std::vector<std::uint8_t> apply_deadline(const std::vector<std::uint8_t>& selected, std::vector<std::uint8_t> dropped);
};

}  // namespace fedhpc::engine
