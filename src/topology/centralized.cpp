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
      : ctx_(ctx), aggregator_(aggregation::make_aggregator(ctx.options.aggregator)) {}

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
      aggregator_->add(u.params, u.train_samples);
    });
  }

  void store_monitoring(const client::ClientUpdate& u, std::int64_t local, RoundRecord& record) const {
    const auto block = std::size_t(ctx_.block.size());
    const auto lw = std::size_t(ctx_.weight_layers);
    const auto c = std::size_t(local);
    if (u.gradient)
      std::copy_n(u.gradient, ctx_.num_params, record.gradients.begin() + local * ctx_.num_params);
    if (!u.monitor) return;
    for (std::size_t slot = 0; slot < u.monitor->size(); ++slot) {
      const auto& m = (*u.monitor)[slot];
      record.gsc[slot * block + c] = static_cast<float>(m.diagnostics.gsc);
      record.update_sum[slot * block + c] = static_cast<float>(m.update_sum);
      record.update_l1[slot * block + c] = static_cast<float>(m.update_l1);
      for (std::size_t k = 0; k < lw; ++k) {
        const auto at = (slot * block + c) * lw + k;
        record.gsc_profile[at] = static_cast<float>(m.diagnostics.gsc_profile[k]);
        record.grad_mean_abs[at] = static_cast<float>(m.diagnostics.grad_mean_abs[k]);
        record.grad_l2[at] = static_cast<float>(m.diagnostics.grad_l2[k]);
      }
    }
  }

  TopologyContext ctx_;
  std::unique_ptr<aggregation::Aggregator> aggregator_;
};

}  // namespace

std::unique_ptr<Topology> make_centralized(const TopologyContext& ctx) {
  return std::make_unique<Centralized>(ctx);
}

}  // namespace fedhpc::topology
