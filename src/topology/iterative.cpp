#include "fedhpc/topology/iterative.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "fedhpc/client/local_trainer.hpp"
#include "fedhpc/core/error.hpp"
#include "fedhpc/data/partition.hpp"
#include "fedhpc/topology/layout.hpp"

namespace fedhpc::topology {

void check_client_memory(const TopologyOptions& o, const char* topology, std::int64_t block,
                         std::int64_t per_client_floats) {
  const double gb = double(block) * double(per_client_floats) * sizeof(float) / 1e9;
  if (gb <= o.max_memory_gb) return;
  std::ostringstream msg;
  msg.precision(3);
  msg << "--max-memory-gb: --topology " << topology << " keeps " << per_client_floats * sizeof(float)
      << " bytes per client; " << block << " clients on one rank need " << gb << " GB (limit " << o.max_memory_gb
      << "); use more ranks, fewer clients or raise the limit";
  throw InputError(msg.str());
}

IterativeTopology::IterativeTopology(const TopologyContext& ctx, const char* name)
    : ctx_(ctx), server_(aggregation::make_aggregator(ctx.options.aggregator)) {
  const auto opt = ctx.trainer.optimizer_state_size();
  // The largest block decides, so every rank reaches the same verdict.
  std::int64_t largest = 0;
  for (const auto& b : ctx.layout.blocks) largest = std::max(largest, b.size());
  // A robust server aggregator also copies every client model of the rank.
  const std::int64_t copies = server_->is_weighted_mean() ? 0 : ctx.num_params;
  check_client_memory(ctx.options, name, largest, ctx.num_params + opt + copies);
  params_.assign(std::size_t(block_size()), std::vector<float>(std::size_t(ctx.num_params)));
  optimizer_.assign(std::size_t(block_size()), std::vector<float>(std::size_t(opt)));
}

std::int64_t IterativeTopology::samples(std::int64_t local) const { return ctx_.partition.train_count(id(local)); }

bool IterativeTopology::counts(std::int64_t local) const {
  return active_[std::size_t(local)] && !dropped_[std::size_t(local)] &&
         (finite_[std::size_t(local)] || ctx_.options.on_nonfinite == NonFinitePolicy::Keep);
}

std::int64_t IterativeTopology::count_selected() const {
  std::int64_t n = 0;
  for (auto s : selected_) n += s;
  return n;
}

void IterativeTopology::add_uploads(aggregation::Aggregator& aggregator, std::int64_t lo, std::int64_t hi) const {
  for (auto c = lo; c < hi; ++c)
    if (counts(c)) aggregator.add(id(c), params_[std::size_t(c)].data(), samples(c));
}

void IterativeTopology::start_round(int, const std::vector<float>& global) {
  for (auto& p : params_) std::copy(global.begin(), global.end(), p.begin());
}

void IterativeTopology::run_round(const RoundInput& in, RoundResult& out) {
  selected_ = in.selected;
  dropped_all_ = in.dropped;
  active_.assign(std::size_t(block_size()), 0);
  finite_.assign(std::size_t(block_size()), 1);
  dropped_.assign(std::size_t(block_size()), 0);
  OutcomeRecorder outcome(ctx_, out.record, in);
  for (std::int64_t c = 0; c < block_size(); ++c) {
    active_[std::size_t(c)] = in.selected[std::size_t(id(c))];
    dropped_[std::size_t(c)] = in.dropped[std::size_t(id(c))];
    if (active_[std::size_t(c)]) outcome.participated(c);
    std::fill(optimizer_[std::size_t(c)].begin(), optimizer_[std::size_t(c)].end(), 0.0f);
  }
  start_round(in.round, out.global);
  // FedProx pulls every client towards the model the round started from.
  anchor_ = out.global;
  ctx_.trainer.set_anchor(ctx_.options.prox ? anchor_.data() : nullptr);
  for (int it = 0; it < ctx_.options.local_iterations; ++it) {
    // Local phase first, agreed on by all ranks before any exchange.
    mpi::collective_try(ctx_.comm, [&] { train_iteration(outcome, in.round, it); });
    mix(in.round, it, out.record);
  }
  keep_outputs(outcome);
  finish_round(in.round, out);
  set_client_models(out);
}

void IterativeTopology::train_iteration(OutcomeRecorder& outcome, int round, int it) {
  auto& trainer = ctx_.trainer;
  const bool watch = trainer.monitors(it);
  for (std::int64_t c = 0; c < block_size(); ++c) {
    const bool skipped = !finite_[std::size_t(c)] && ctx_.options.on_nonfinite == NonFinitePolicy::Skip;
    if (!active_[std::size_t(c)] || skipped) continue;
    auto& params = params_[std::size_t(c)];
    if (outcome.faulty(c)) before_ = params;
    trainer.resume(params.data(), optimizer_[std::size_t(c)].data());
    client::MonitorSample sample;
    const double loss = trainer.iterate(id(c), round, it, watch ? &sample : nullptr);
    outcome.iteration(c, it, loss, watch ? &sample : nullptr);
    const bool ok = std::isfinite(loss) && (!watch || sample.diagnostics.finite) && trainer.params_finite();
    trainer.suspend(params.data(), optimizer_[std::size_t(c)].data());
    if (outcome.faulty(c)) outcome.corrupt(c, it, before_.data(), params.data());
    if (!ok) {
      finite_[std::size_t(c)] = 0;
      outcome.check_finite(c, false);
    }
  }
}

// Client models before aggregation and the end-of-round gradients, when asked.
void IterativeTopology::keep_outputs(OutcomeRecorder& outcome) {
  for (std::int64_t c = 0; c < block_size(); ++c) {
    if (!active_[std::size_t(c)]) continue;
    outcome.handed_over(c, params_[std::size_t(c)].data());
    if (ctx_.options.save_gradients) {
      ctx_.trainer.resume(params_[std::size_t(c)].data(), optimizer_[std::size_t(c)].data());
      ctx_.trainer.diagnose(id(c), outcome.gradient_slot(c));
    }
  }
}

void IterativeTopology::finish_round(int, RoundResult& out) {
  server_->begin(num_params());
  add_uploads(*server_, 0, block_size());
  server_->finish(out.global.data(), ctx_.comm);
}

void IterativeTopology::set_client_models(RoundResult& out) const {
  out.client_models.assign(std::size_t(block_size()), out.global.data());
}

}  // namespace fedhpc::topology
