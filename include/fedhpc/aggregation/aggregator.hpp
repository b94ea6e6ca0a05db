#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fedhpc/core/registry.hpp"
#include "fedhpc/mpi/comm.hpp"

namespace fedhpc::aggregation {

// Settings of the aggregation strategies (--aggregator and friends).
struct AggregatorOptions {
  std::string name = "fedavg";
  double trim_fraction = 0.1;  // trimmed-mean: beta in [0, 0.5); 0 = the sample-weighted mean
  int byzantine = 0;           // krum, multi-krum: f, the tolerated number of faulty models
  int krum_select = 0;         // multi-krum: m models averaged; 0 = n - f
  double gma_threshold = 0.8;  // fedgma, fedgma-soft: p (tau) of the sign-agreement mask, in [0, 1]
  double gma_server_lr = 1.0;  // fedgma: eta_s of the masked gradient step (--server-lr)
};

// Combines the models of one aggregation point (the server, an edge, a
// cluster, a gossip neighbourhood) into one. Models are added on whichever
// rank holds them; finish() is collective over the communicator of the ranks
// that take part and must give the same bits for any placement of the models
// and any number of ranks.
class Aggregator {
 public:
  virtual ~Aggregator() = default;
  // Starts a new aggregation of models of num_params floats.
  virtual void begin(std::int64_t num_params) = 0;
  // id: a global identifier of the model (a client id, an edge id), unique
  // within the aggregation; order statistics and ties are resolved by it, so
  // results do not depend on the order of add() calls. weight: the model's
  // training samples.
  virtual void add(std::int64_t id, const float* params, std::int64_t weight) = 0;
  // Writes the aggregate into out on every rank of comm; returns false (out
  // untouched) when no model was added on any rank. Throws InputError when
  // the aggregator cannot work with the number of models it got (same
  // verdict on every rank).
  virtual bool finish(float* out, const mpi::Comm& comm) = 0;
  // True when finish() is the sample-weighted mean (FedAvg). Topologies that
  // aggregate at several levels may then pass exact partial sums up instead
  // of rounded means.
  virtual bool is_weighted_mean() const { return false; }

  // Aggregators that need more than the models (FedGMA). A topology that
  // supports them calls set_start() after begin(), on every rank of the
  // aggregation, with the model the clients started from, and add_with_gradient() instead of add() with each
  // client's gradient (nullptr when the trainer kept none).
  virtual bool needs_gradients() const { return false; }
  virtual void set_start(const float* start) { (void)start; }
  virtual void add_with_gradient(std::int64_t id, const float* params, std::int64_t weight, const float* gradient) {
    (void)gradient;
    add(id, params, weight);
  }
  // After a successful finish(): 1 where a masking aggregator kept the
  // coordinate (num_params entries, the same on every rank); nullptr for
  // aggregators without a mask.
  virtual const std::vector<std::uint8_t>* mask() const { return nullptr; }
};

using AggregatorFactory = std::function<std::unique_ptr<Aggregator>(const AggregatorOptions&)>;

// The built-in aggregators are registered on first use; user programs may add
// their own before calling fedhpc::cli::main.
Registry<AggregatorFactory>& aggregator_registry();
std::unique_ptr<Aggregator> make_aggregator(const AggregatorOptions& options);

}  // namespace fedhpc::aggregation
