#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "fedhpc/client/local_trainer.hpp"

namespace fedhpc::client {

// Client-batched local training (--client-batch): up to K clients of a
// block train at once, their parameters and optimizer state stacked as rows,
// each with its own minibatch order, clipping, proximal term and optimizer
// state. Clients are walked in lockstep: in step s every client that still
// has a step s takes it; a client that has finished its steps (or reached its
// step cap, set_step_limits) keeps its parameters and state (it simply
// leaves the batch). Per client the
// arithmetic is the per-client path's (model::BatchedModel, and the same
// ATen element-wise kernels on each row), so a client's result does not
// depend on K or on the other clients of its batch: runs stay bit-identical
// at any rank count. Used by LocalTrainer::train_block without monitoring
// and without save_gradients.
class BatchedTrainer {
 public:
  BatchedTrainer(const model::Model& model, const data::Dataset& data, const data::Partition& partition,
                 const TrainOptions& options, std::int64_t clients_per_batch);
  ~BatchedTrainer();
  BatchedTrainer(const BatchedTrainer&) = delete;
  BatchedTrainer& operator=(const BatchedTrainer&) = delete;

  std::int64_t clients_per_batch() const;
  // Per-client step caps for the round (LocalTrainer::set_step_limits; the
  // vector is read at every train_block, null or empty: none). A capped
  // client takes the first steps of its walk and leaves the batch.
  void set_step_limits(const std::vector<std::int64_t>* limits);
  // As LocalTrainer::train_block; anchor = the FedProx anchor (nullptr: none).
  void train_block(const float* start, const std::vector<std::int64_t>& clients, int round, const float* anchor,
                   const UpdateSink& sink);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// K for --client-batch 0: as many clients as keep the stacked state (four
// rows of parameters: weights, gradients, two moments) and the minibatch
// inputs within about 8 MiB, in [1, 64] (logreg 784->10: 44, mlp with 128
// hidden units: 4); 1 for models without batched support.
std::int64_t automatic_client_batch(const model::Model& model, std::int64_t batch_size, std::int64_t inputs);

}  // namespace fedhpc::client
