#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "fedhpc/core/registry.hpp"

namespace fedhpc::aggregation {

// Settings of the server-side optimizer (--server-optimizer and friends),
// FedOpt of Reddi et al. 2021, "Adaptive Federated Optimization".
struct ServerOptimizerOptions {
  std::string name = "sgd";  // sgd | momentum | adam | adagrad | yogi
  double lr = 1.0;           // --server-lr: eta, > 0 and finite
  double momentum = 0.0;     // --server-momentum: mu in [0, 1) (sgd, momentum)
  double beta1 = 0.9;        // --server-beta1 in [0, 1) (adam, yogi)
  double beta2 = 0.99;       // --server-beta2 in [0, 1) (adam, yogi)
  double eps = 1e-3;         // --server-eps: tau, > 0 and finite (adam, adagrad, yogi)
};

// Turns the round's aggregate of the client models into the next global
// model. With the pseudo-gradient Delta = theta_t - aggregate, per coordinate:
//   sgd       theta -= lr * Delta; with momentum mu > 0 it is heavy-ball, as
//             `momentum`. With lr = 1 and mu = 0 the aggregate is copied bit
//             for bit (plain FedAvg).
//   momentum  m = mu * m + Delta; theta -= lr * m. With mu = 0 (the default)
//             it is exactly sgd, including the bit copy at lr = 1.
//   adam      m = b1 m + (1 - b1) Delta; v = b2 v + (1 - b2) Delta^2;
//             theta -= lr * m / (sqrt(v) + eps). No bias correction (FedAdam).
//   adagrad   v += Delta^2; theta -= lr * Delta / (sqrt(v) + eps)
//             (FedAdagrad with beta1 = 0: no first moment).
//   yogi      m as adam; v = v - (1 - b2) Delta^2 sign(v - Delta^2);
//             theta -= lr * m / (sqrt(v) + eps) (FedYogi).
// State m and v starts at 0 (the paper allows v_{-1} >= tau^2; we use 0, so
// the first adaptive step is lr * (1-b1)/sqrt(1-b2) * sign(Delta) roughly,
// and eps alone bounds the step where Delta = 0). The state is held in
// double, sized on the first step; Delta and every update are computed in
// double and theta is rounded to float once per coordinate. Plain loops in
// coordinate order with no threading, so every rank computes the same bits.
class ServerOptimizer {
 public:
  virtual ~ServerOptimizer();
  // global: theta_t on input, theta_{t+1} on output; aggregate: this round's
  // aggregate of the client models. n must be the same on every call.
  virtual void step(float* global, const float* aggregate, std::int64_t n) = 0;
  // The state carried from one step to the next (checkpoint and resume):
  // empty before the first step and for stateless optimizers. set_state
  // takes what state() returned, so the next step is bit for bit the same.
  virtual std::vector<double> state() const { return {}; }
  virtual void set_state(const std::vector<double>& state);
};

using ServerOptimizerFactory = std::function<std::unique_ptr<ServerOptimizer>(const ServerOptimizerOptions&)>;

// The built-in optimizers are registered on first use; user programs may add
// their own before calling fedhpc::cli::main.
Registry<ServerOptimizerFactory>& server_optimizer_registry();

// Validates the options, then makes the named optimizer.
std::unique_ptr<ServerOptimizer> make_server_optimizer(const ServerOptimizerOptions& options);

// Throws InputError naming the offending option (--server-optimizer,
// --server-lr, --server-momentum, --server-beta1, --server-beta2, --server-eps).
void validate(const ServerOptimizerOptions& options);

// True when step() copies the aggregate (sgd or momentum, lr 1, momentum 0),
// so a caller may skip the optimizer altogether.
bool is_identity(const ServerOptimizerOptions& options);

}  // namespace fedhpc::aggregation
