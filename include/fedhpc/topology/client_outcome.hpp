#pragma once
#include <cstdint>
#include <vector>

#include "fedhpc/topology/topology.hpp"

namespace fedhpc::client {
struct ClientUpdate;
}

namespace fedhpc::topology {

// Records what the clients of this rank did in one round (participation,
// losses, monitoring, gradients, the models they hand over, non-finite
// flags) and applies --on-nonfinite and the faulty-client corruption, the
// same way in every topology.
class OutcomeRecorder {
 public:
  OutcomeRecorder(const TopologyContext& ctx, RoundRecord& record, const RoundInput& in);

  // A client that trained the whole round in one go (train_block): its
  // participation, per-iteration losses, monitored iterations and gradient.
  void trained(const client::ClientUpdate& u);
  // One local iteration of a client trained iteration by iteration.
  void iteration(std::int64_t local, int it, double loss, const client::MonitorSample* sample);
  void participated(std::int64_t local);
  // The model the client hands over (kept with --save-weights clients).
  void handed_over(std::int64_t local, const float* params);
  // The gradient kept with --save-gradients.
  float* gradient_slot(std::int64_t local);
  // Applies --on-nonfinite to a client found non-finite (finite == false):
  // flags it, throws RunError under abort, counts it under skip. Returns
  // whether its model still takes part in aggregation.
  bool check_finite(std::int64_t local, bool finite);
  // Whether the client's model reaches aggregation this round: not dropped
  // and (finite or --on-nonfinite keep).
  bool uploads(std::int64_t local, bool finite) const;
  // The faulty-client corruption of an update made from `start` (no-op for
  // honest clients); step numbers the updates within the round.
  void corrupt(std::int64_t local, int step, const float* start, float* params) const;
  bool faulty(std::int64_t local) const;

 private:
  const TopologyContext& ctx_;
  RoundRecord& record_;
  const RoundInput& in_;
  int slot_of(int it) const;
};

}  // namespace fedhpc::topology
