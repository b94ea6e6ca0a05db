#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace fedhpc {
class ExactSum;
}
namespace fedhpc::data {
struct Dataset;
struct Partition;
}  // namespace fedhpc::data
namespace fedhpc::model {
class Model;
}

namespace fedhpc::client {

struct TrainOptions {
  std::string optimizer = "adam";  // adam | sgd
  double lr = 0.001;
  double momentum = 0.0;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-7;
  double clip_norm = 0.0;           // per gradient tensor; 0 = off
  std::int64_t batch_size = 16;     // 0 = full batch
  int local_iterations = 1;
  std::int64_t iteration_steps = 0;  // 0 = one pass over the local training split
  // Samples per forward pass of evaluation and diagnostics, sized for the
  // cache (README, --eval-batch-size). Evaluation sums losses exactly per
  // sample, so the summation does not depend on it; the forward pass itself
  // may round a sample differently at another batch size (seen at 32 vs 64
  // with OpenBLAS), so the bits may. Diagnostics sum per chunk.
  std::int64_t eval_batch_size = 64;
  std::uint64_t seed = 0;
  // Stream key of each client id (its index in the original partition, so a
  // renumbering by the topology does not change its randomness); empty = id.
  std::vector<std::int64_t> client_keys;
  // Concept shift: client c sees label y as label_maps[label_map_of_client[c]][y]
  // in its training and local test data. Empty = labels as they are.
  std::vector<std::vector<std::int64_t>> label_maps;
  std::vector<int> label_map_of_client;
  // FedProx (Li et al. 2020): mu of the proximal term (mu/2)||theta - anchor||^2
  // added to the local objective. Each step adds mu (theta - anchor) to the
  // minibatch gradient after backward, before clipping (--clip-norm clips the
  // sum) and before the optimizer. The anchor is the round's start model in
  // train_block(), the one given to set_anchor() for iterate(). The reported
  // losses and the diagnostics stay the data loss alone. 0 = off: the term is
  // skipped entirely, so results are bit-identical to a run without it.
  double prox_mu = 0.0;
  // Label flipping (a data-poisoning attacker): a client c with
  // flip_labels[c] != 0 trains on label C-1-y (C classes), applied after its
  // label map, in its training batches and its diagnostics, but not in its
  // local test evaluation. Indexed by the trainer's client ids: size
  // num_clients, or empty for no flipping.
  std::vector<std::uint8_t> flip_labels;
  std::string monitor = "off";   // off | every | last: when to run diagnostics
  bool save_gradients = false;   // hand back dE_mean/dtheta at the end of the round
  // Clients train_block trains at once (BatchedTrainer): 1 = one after
  // another; 0 = automatic (automatic_client_batch). Models without batched
  // support, --monitor and save_gradients always train one at a time.
  // The CLI's default is 0.
  std::int64_t client_batch = 1;
  // Client tiers (weak clients, client/tiers.hpp): client c trains only the
  // flat-buffer range [trained_from[c], num_params); the tensors below run
  // forward only (requires_grad off, no gradient, no optimizer update), so
  // they come back unchanged. Indexed by the trainer's client ids; empty =
  // every client trains everything. Tiers train one client at a time.
  std::vector<std::int64_t> trained_from;
};

// Summed loss, correct predictions and sample count of an evaluation. The
// loss is the exact sum of the per-sample float losses, rounded once, so it
// does not depend on how the samples were batched.
struct EvalTotals {
  double loss_sum = 0.0;
  std::int64_t correct = 0;
  std::int64_t count = 0;
};

// Gradient diagnostics of one parameter vector on a client's whole local
// training split (GSC paper, section 6; algorithms.md sections 6 and 7).
struct Diagnostics {
  double loss_sum = 0.0;                // E: summed cross-entropy
  double gsc = 0.0;                     // ||dE/dX||_F ||X||_F / (sqrt(n) |E|)
  double input_grad_rms = 0.0;          // ||dE/dX||_F / sqrt(n): the scale-sensitive part of the GSC
  std::vector<double> gsc_profile;      // the same with X = input of weight layer k
  std::vector<double> grad_mean_abs;    // mean |dE_mean/dW_k| per weight tensor
  std::vector<double> grad_l2;          // ||dE_mean/dW_k||_2 per weight tensor
  bool finite = true;
};

// Diagnostics after one local iteration, plus that iteration's weight update.
struct MonitorSample {
  int iteration = 0;
  Diagnostics diagnostics;
  double update_sum = 0.0;  // sum(theta_after - theta_before)
  double update_l1 = 0.0;   // sum |theta_after - theta_before|
  double local_test_loss = 0.0;  // mean loss on the client's local test split (NaN without one)
};

// What one client hands back after its local iterations. The pointers are
// valid only during the callback.
struct ClientUpdate {
  std::int64_t client = 0;
  std::int64_t train_samples = 0;
  const float* params = nullptr;
  const double* iteration_loss = nullptr;  // local_iterations entries
  bool finite = true;                       // params, losses and monitored gradients are all finite
  const std::vector<MonitorSample>* monitor = nullptr;  // the monitored iterations, in order
  const float* gradient = nullptr;          // with save_gradients: dE_mean/dtheta at the final params
};

using UpdateSink = std::function<void(const ClientUpdate&)>;



// One worker model per rank that trains simulated clients one after another.
// Minibatch order comes from the stream (seed, Shuffle, client, round,
// iteration), so a client trains identically on any rank.
class LocalTrainer {
 public:
  LocalTrainer(const model::Model& model, const data::Dataset& data, const data::Partition& partition,
               TrainOptions options);
  ~LocalTrainer();
  LocalTrainer(const LocalTrainer&) = delete;
  LocalTrainer& operator=(const LocalTrainer&) = delete;

  // Block interface: every client in `clients` starts from `start`, runs
  // local_iterations iterations with fresh optimizer state, and is handed to
  // sink, in the order of `clients`. With client_batch != 1 and a model that
  // supports it, BatchedTrainer trains them K at a time.
  void train_block(const float* start, const std::vector<std::int64_t>& clients, int round,
                   const UpdateSink& sink);

  // Iteration-level interface for topologies that mix models between
  // iterations. begin_client loads parameters and clears optimizer state;
  // suspend/resume park a client mid-round (parameters plus optimizer state).
  void begin_client(const float* start);
  // The FedProx anchor of later iterate() calls (num_params floats, owned by
  // the caller, read at each step); nullptr = no proximal term. Unused when
  // prox_mu is 0. train_block() uses its start model and restores this after.
  void set_anchor(const float* anchor);
  // One local iteration of `client`. With sample, the iteration is monitored
  // (diagnostics, weight update, local test loss); with gradient too, the
  // full mean-loss gradient at the new parameters is stored there.
  double iterate(std::int64_t client, int round, int iteration, MonitorSample* sample = nullptr,
                 float* gradient = nullptr);
  // Whether --monitor asks for diagnostics after this iteration.
  bool monitors(int iteration) const;
  // Analyses that retrain a client many times from one start (fedhpc mi):
  // the seed of the minibatch-order streams of later iterate() calls (the
  // batched train_block keeps the constructor's), and a callback after every
  // optimizer step of iterate(), given the steps since begin_client (it may
  // read params()). An empty function removes it.
  void set_shuffle_seed(std::uint64_t seed);
  void set_step_observer(std::function<void(std::int64_t step)> observer);
  float* params();
  std::int64_t num_params() const;
  // Clients train_block trains at once (1: the per-client loop).
  std::int64_t clients_per_batch() const;
  bool params_finite() const;
  std::int64_t optimizer_state_size() const;  // floats
  void suspend(float* params, float* optimizer_state) const;
  void resume(const float* params, const float* optimizer_state);

  // Diagnostics of the worker's current parameters on the client's training
  // split, in chunks of eval_batch_size, with no parameter update.
  // With gradient (num_params floats) the full mean-loss gradient is stored too.
  Diagnostics diagnose(std::int64_t client, float* gradient = nullptr);

  // Evaluation of a parameter vector (it overwrites the worker's parameters),
  // in forward passes of eval_batch_size samples. Totals go into an exact sum
  // of 3 coordinates (loss, correct, count), one term per sample, so the
  // order in which batches are summed, or dealt to ranks, does not matter.
  void evaluate_test(const float* params, std::int64_t begin, std::int64_t end, ExactSum& totals);
  // The client's local test split; also added to *totals when given.
  EvalTotals evaluate_client(const float* params, std::int64_t client, ExactSum* totals = nullptr);

  // Whether the data set is a regression task (losses are MSE, and there is
  // no accuracy: evaluation leaves EvalTotals::correct at 0).
  bool regression() const;
  // Wraps the data set given to the constructor again after its buffers
  // were refilled (synthetic-population regenerates the round's clients).
  void reload_data();

  // Stragglers under --late-policy partial: client id c stops after
  // limits[c] optimizer steps in a round (counted over its local iterations;
  // < 0 = no cap; empty = nobody is capped). Its first k steps are those of
  // the uncapped walk; iterations it never reaches report a NaN loss and do
  // not make it non-finite. The client-batched path takes the caps too: a
  // capped client leaves the batch at its cap.
  void set_step_limits(std::vector<std::int64_t> limits);

  // Wall seconds spent so far in local training (train_block without its
  // sink, iterate, diagnose): the round engine's "train" phase.
  double training_seconds() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fedhpc::client
