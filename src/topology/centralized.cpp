// Centralized FedAvg: every selected client trains from the global model;
// the server aggregates the models handed over.
#include "fedhpc/topology/centralized.hpp"

#include "fedhpc/aggregation/aggregator.hpp"
#include "fedhpc/client/local_trainer.hpp"
#include "fedhpc/topology/client_outcome.hpp"
#include "fedhpc/topology/iterative.hpp"
#include "fedhpc/topology/layout.hpp"

namespace fedhpc::topology {

namespace {

class Centralized : public Topology {
 public:
  explicit Centralized(const TopologyContext& ctx)
      : ctx_(ctx), aggregator_(aggregation::make_aggregator(ctx.options.aggregator)) {
    // Order statistics hold a copy of every model of the rank until finish().
    if (!aggregator_->is_weighted_mean()) {
      std::int64_t largest = 0;
      for (const auto& b : ctx.layout.blocks) largest = std::max(largest, b.size());
      check_client_memory(ctx.options, "centralized", largest, ctx.num_params);
    }
  }

  void run_round(const RoundInput& in, RoundResult& out) override {
    std::vector<std::int64_t> mine;
    for (auto c = ctx_.block.begin; c < ctx_.block.end; ++c)
      if (in.selected[std::size_t(c)]) mine.push_back(c);
    aggregator_->begin(ctx_.num_params);
    aggregator_->set_start(out.global.data());
    // Local phase: no communication, so a failure on one rank is agreed on
    // before anyone enters the aggregation collectives.
    mpi::collective_try(ctx_.comm, [&] { train(in, mine, out); });
    if (aggregator_->finish(out.global.data(), ctx_.comm) && aggregator_->mask()) out.gma_mask = *aggregator_->mask();
    std::int64_t participants = 0;
    for (auto flag : in.selected) participants += flag;
    out.record.comm_bytes[kClientServer] = 2.0 * double(participants) * double(ctx_.num_params) * sizeof(float);
    out.client_models.assign(std::size_t(ctx_.block.size()), out.global.data());
  }

 private:
  void train(const RoundInput& in, const std::vector<std::int64_t>& mine, RoundResult& out) {
    OutcomeRecorder outcome(ctx_, out.record, in);
    const std::vector<float> start = out.global;
    ctx_.trainer.train_block(start.data(), mine, in.round, [&](const client::ClientUpdate& u) {
      const auto local = u.client - ctx_.block.begin;
      outcome.trained(u);
      const float* model = u.params;
      if (outcome.faulty(local)) {
        scratch_.assign(u.params, u.params + ctx_.num_params);
        outcome.corrupt(local, 0, start.data(), scratch_.data());
        model = scratch_.data();
      }
      outcome.handed_over(local, model);
      const bool usable = outcome.check_finite(local, u.finite);
      if (usable && outcome.uploads(local, u.finite)) aggregator_->add_with_gradient(u.client, model, u.train_samples, u.gradient);
    });
  }

  TopologyContext ctx_;
  std::unique_ptr<aggregation::Aggregator> aggregator_;
  std::vector<float> scratch_;
};

void validate_centralized(const TopologyOptions&) {}

}  // namespace

TopologyDescriptor centralized_descriptor() {
  TopologyDescriptor d;
  d.name = "centralized";
  d.validate = validate_centralized;
  d.make = [](const TopologyContext& ctx) -> std::unique_ptr<Topology> { return std::make_unique<Centralized>(ctx); };
  d.extras = [](const TopologyOptions&, const TopologyLayout&) { return TopologyExtras{}; };
  return d;
}

}  // namespace fedhpc::topology
