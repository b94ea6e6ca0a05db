#include <cmath>
#include <limits>

#include "fedhpc/aggregation/aggregator.hpp"
#include "fedhpc/client/local_trainer.hpp"
#include "fedhpc/core/error.hpp"
#include "fedhpc/topology/centralized.hpp"

namespace fedhpc::topology {

namespace {

// Centralized FedAvg: every selected client trains from the global model,
// the server takes the aggregate of their models.
class Centralized : public Topology {
 public:
  explicit Centralized(const TopologyContext& ctx)
      : ctx_(ctx), aggregator_(aggregation::make_aggregator(aggregation::AggregatorOptions{ctx.options.aggregator})) {}

  void run_round(int round, const std::vector<std::uint8_t>& selected, std::vector<float>& global,
                 RoundRecord& record) override {
    std::vector<std::int64_t> mine;
    for (auto c = ctx_.block.begin; c < ctx_.block.end; ++c)
      if (selected[std::size_t(c)]) mine.push_back(c);
    aggregator_->begin(ctx_.num_params);
    std::int64_t skipped = 0;
    // Local phase: no communication, so a failure on one rank is agreed on
    // before anyone enters the aggregation collectives.
    mpi::collective_try(ctx_.comm, [&] { train(round, mine, global, record, skipped); });
    mpi::check(MPI_Allreduce(MPI_IN_PLACE, &skipped, 1, MPI_INT64_T, MPI_SUM, ctx_.comm.get()),
               "MPI_Allreduce(skipped)");
    record.nonfinite_skipped = skipped;
    aggregator_->finish(global.data(), ctx_.comm);
    std::int64_t participants = 0;
    for (auto flag : selected) participants += flag;
    record.comm_bytes[kClientServer] = 2.0 * double(participants) * double(ctx_.num_params) * sizeof(float);
  }

 private:
  void train(int round, const std::vector<std::int64_t>& mine, const std::vector<float>& global,
             RoundRecord& record, std::int64_t& skipped) {
    const int iterations = ctx_.options.local_iterations;
    const auto block = ctx_.block.size();
    ctx_.trainer.train_block(global.data(), mine, round, [&](const client::ClientUpdate& u) {
      const auto local = u.client - ctx_.block.begin;
      record.participated[std::size_t(local)] = 1;
      for (int it = 0; it < iterations; ++it)
        record.train_loss[std::size_t(it * block + local)] = static_cast<float>(u.iteration_loss[it]);
      if (ctx_.keep_client_weights)
        std::copy_n(u.params, ctx_.num_params, record.client_weights.begin() + local * ctx_.num_params);
      store_monitoring(u, local, record);
      if (!u.finite) {
        record.nonfinite[std::size_t(local)] = 1;
        if (ctx_.options.on_nonfinite == "abort")
          throw RunError("client " + std::to_string(u.client) + " has non-finite values in round " +
                         std::to_string(round) + " (--on-nonfinite abort)");
        if (ctx_.options.on_nonfinite == "skip") {
          ++skipped;
          return;
        }
      }
      aggregator_->add(u.client, u.params, u.train_samples);
    });
  }

  void store_monitoring(const client::ClientUpdate& u, std::int64_t local, RoundRecord& record) const {
    if (u.gradient)
      std::copy_n(u.gradient, ctx_.num_params, record.gradients.begin() + local * ctx_.num_params);
    if (!u.monitor) return;
    for (std::size_t slot = 0; slot < u.monitor->size(); ++slot)
      record_sample(record, ctx_.block.size(), ctx_.weight_layers, int(slot), local, (*u.monitor)[slot]);
  }

  TopologyContext ctx_;
  std::unique_ptr<aggregation::Aggregator> aggregator_;
};

}  // namespace

std::unique_ptr<Topology> make_centralized(const TopologyContext& ctx) {
  return std::make_unique<Centralized>(ctx);
}

}  // namespace fedhpc::topology
