// Centralized FedAvg: every selected client trains from the global model;
// the server aggregates the models handed over.
#include "fedhpc/topology/centralized.hpp"

#include <stdexcept>

#include "fedhpc/aggregation/aggregator.hpp"
#include "fedhpc/aggregation/layerwise_mean.hpp"
#include "fedhpc/client/behaviour.hpp"
#include "fedhpc/client/local_trainer.hpp"
#include "fedhpc/topology/client_outcome.hpp"
#include "fedhpc/topology/fedlama.hpp"
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
    if (!ctx.options.trained_from.empty()) {
      if (!ctx.param_layout) throw std::invalid_argument("centralized: client tiers need TopologyContext::param_layout");
      layerwise_ = std::make_unique<aggregation::LayerwiseMean>(*ctx.param_layout);
    }
  }

  void run_round(const RoundInput& in, RoundResult& out) override {
    std::vector<std::int64_t> mine;
    for (auto c = ctx_.block.begin; c < ctx_.block.end; ++c)
      if (in.selected[std::size_t(c)]) mine.push_back(c);
    aggregator_->begin(ctx_.num_params);
    aggregator_->set_start(out.global.data());
    if (layerwise_) layerwise_->begin();
    // Local phase: no communication, so a failure on one rank is agreed on
    // before anyone enters the aggregation collectives.
    mpi::collective_try(ctx_.comm, [&] { train(in, mine, out); });
    // Tiers: layers nobody trained keep the round's start model (out.global).
    if (layerwise_) layerwise_->finish(out.global.data(), ctx_.comm);
    else if (aggregator_->finish(out.global.data(), ctx_.comm) && aggregator_->mask()) out.gma_mask = *aggregator_->mask();
    out.record.comm_bytes[kClientServer] = round_bytes(in);
    out.client_models.assign(std::size_t(ctx_.block.size()), out.global.data());
  }

 private:
  void train(const RoundInput& in, const std::vector<std::int64_t>& mine, RoundResult& out) {
    OutcomeRecorder outcome(ctx_, out.record, in);
    const std::vector<float> start = out.global;
    const auto nova = ctx_.behaviour.stragglers().nova_scales(in.selected, in.dropped);
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
      if (!usable || !outcome.uploads(local, u.finite)) return;
      if (!nova.empty()) model = normalised(model, start.data(), nova[std::size_t(u.client)]);
      if (layerwise_) layerwise_->add(model, u.train_samples, trained_from(u.client));
      else aggregator_->add_with_gradient(u.client, model, u.train_samples, u.gradient);
    });
  }

  // FedNova (--late-policy partial): the server takes w + s (w_i - w), so
  // the weighted mean of these is w + tau_eff sum p_i (w_i - w) / tau_i.
  // s == 1 keeps the model as it is (bit for bit).
  const float* normalised(const float* model, const float* start, double scale) {
    if (scale == 1.0) return model;
    nova_.resize(std::size_t(ctx_.num_params));
    for (std::int64_t k = 0; k < ctx_.num_params; ++k)
      nova_[std::size_t(k)] = float(double(start[k]) + scale * (double(model[k]) - double(start[k])));
    return nova_.data();
  }

  std::int64_t trained_from(std::int64_t client) const {
    const auto& from = ctx_.options.trained_from;
    return from.empty() ? 0 : from[std::size_t(client)];
  }

  // Every selected client downloads the model and uploads what it trained
  // (all of it without tiers; a frozen layer is not uploaded or counted).
  double round_bytes(const RoundInput& in) const {
    double floats = 0.0;
    for (std::size_t c = 0; c < in.selected.size(); ++c)
      if (in.selected[c]) floats += double(ctx_.num_params) + double(ctx_.num_params - trained_from(std::int64_t(c)));
    return floats * sizeof(float);
  }

  TopologyContext ctx_;
  std::unique_ptr<aggregation::Aggregator> aggregator_;
  std::unique_ptr<aggregation::LayerwiseMean> layerwise_;  // client tiers, else null
  std::vector<float> scratch_;
  std::vector<float> nova_;  // a partial round's normalised model
};

void validate_centralized(const TopologyOptions&) {}

}  // namespace

TopologyDescriptor centralized_descriptor() {
  TopologyDescriptor d;
  d.name = "centralized";
  d.validate = validate_centralized;
  d.make = [](const TopologyContext& ctx) -> std::unique_ptr<Topology> {
    // FedLAMA averages layers inside the round: clients train in lockstep.
    if (ctx.options.aggregator.name == "fedlama") return make_fedlama(ctx);
    return std::make_unique<Centralized>(ctx);
  };
  d.extras = [](const TopologyOptions&, const TopologyLayout&) { return TopologyExtras{}; };
  return d;
}

}  // namespace fedhpc::topology
