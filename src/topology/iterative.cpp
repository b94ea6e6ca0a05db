#include "fedhpc/topology/iterative.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "fedhpc/aggregation/weighted_mean.hpp"
#include "fedhpc/client/local_trainer.hpp"
#include "fedhpc/core/error.hpp"
#include "fedhpc/data/partition.hpp"
#include "fedhpc/topology/layout.hpp"

namespace fedhpc::topology {

void check_client_memory(const RunOptions& o, const char* topology, std::int64_t block,
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

IterativeTopology::IterativeTopology(const TopologyContext& ctx, const char* name) : ctx_(ctx) {
  const auto opt = ctx.trainer.optimizer_state_size();
  // The largest block decides, so every rank reaches the same verdict.
  std::int64_t largest = 0;
  for (const auto& b : ctx.layout->blocks) largest = std::max(largest, b.size());
  check_client_memory(ctx.options, name, largest, ctx.num_params + opt);
  params_.assign(std::size_t(block_size()), std::vector<float>(std::size_t(ctx.num_params)));
  optimizer_.assign(std::size_t(block_size()), std::vector<float>(std::size_t(opt)));
}

std::int64_t IterativeTopology::samples(std::int64_t local) const { return ctx_.partition.train_count(id(local)); }

bool IterativeTopology::counts(std::int64_t local) const {
  return active_[std::size_t(local)] && (finite_[std::size_t(local)] || ctx_.options.on_nonfinite == "keep");
}

std::int64_t IterativeTopology::count_selected() const {
  std::int64_t n = 0;
  for (auto s : selected_) n += s;
  return n;
}

void IterativeTopology::start_round(int, const std::vector<float>& global) {
  for (auto& p : params_) std::copy(global.begin(), global.end(), p.begin());
}

void IterativeTopology::run_round(int round, const std::vector<std::uint8_t>& selected, std::vector<float>& global,
                                  RoundRecord& record) {
  selected_ = selected;
  active_.assign(std::size_t(block_size()), 0);
  finite_.assign(std::size_t(block_size()), 1);
  for (std::int64_t c = 0; c < block_size(); ++c) {
    active_[std::size_t(c)] = selected[std::size_t(id(c))];
    record.participated[std::size_t(c)] = active_[std::size_t(c)];
    std::fill(optimizer_[std::size_t(c)].begin(), optimizer_[std::size_t(c)].end(), 0.0f);
  }
  start_round(round, global);
  for (int it = 0; it < ctx_.options.local_iterations; ++it) {
    // Local phase first, agreed on by all ranks before any exchange.
    mpi::collective_try(ctx_.comm, [&] { train_iteration(round, it, record); });
    mix(round, it, record);
  }
  keep_outputs(round, record);
  std::int64_t skipped = 0;
  for (std::int64_t c = 0; c < block_size(); ++c)
    if (active_[std::size_t(c)] && !finite_[std::size_t(c)] && ctx_.options.on_nonfinite == "skip") ++skipped;
  mpi::check(MPI_Allreduce(&skipped, &record.nonfinite_skipped, 1, MPI_INT64_T, MPI_SUM, ctx_.comm.get()),
             "MPI_Allreduce(skipped)");
  finish_round(round, global, record);
}

void IterativeTopology::train_iteration(int round, int it, RoundRecord& record) {
  auto& trainer = ctx_.trainer;
  const bool watch = trainer.monitors(it);
  const int slot = ctx_.options.monitor == "every" ? it : 0;
  for (std::int64_t c = 0; c < block_size(); ++c) {
    if (!active_[std::size_t(c)] || (!finite_[std::size_t(c)] && ctx_.options.on_nonfinite == "skip")) continue;
    trainer.resume(params_[std::size_t(c)].data(), optimizer_[std::size_t(c)].data());
    client::MonitorSample sample;
    const double loss = trainer.iterate(id(c), round, it, watch ? &sample : nullptr);
    record.train_loss[std::size_t(it * block_size() + c)] = static_cast<float>(loss);
    if (watch) record_sample(record, block_size(), ctx_.weight_layers, slot, c, sample);
    const bool ok = std::isfinite(loss) && (!watch || sample.diagnostics.finite) && trainer.params_finite();
    trainer.suspend(params_[std::size_t(c)].data(), optimizer_[std::size_t(c)].data());
    if (!ok) {
      finite_[std::size_t(c)] = 0;
      handle_nonfinite(c, round);
    }
  }
}

void IterativeTopology::handle_nonfinite(std::int64_t local, int round) {
  if (ctx_.options.on_nonfinite == "abort")
    throw RunError("client " + std::to_string(id(local)) + " has non-finite values in round " +
                   std::to_string(round) + " (--on-nonfinite abort)");
}

// Client models before aggregation and the end-of-round gradients, when asked.
void IterativeTopology::keep_outputs(int, RoundRecord& record) {
  const auto P = num_params();
  for (std::int64_t c = 0; c < block_size(); ++c) {
    record.nonfinite[std::size_t(c)] = active_[std::size_t(c)] && !finite_[std::size_t(c)];
    if (!active_[std::size_t(c)]) continue;
    if (ctx_.keep_client_weights)
      std::copy(params_[std::size_t(c)].begin(), params_[std::size_t(c)].end(), record.client_weights.begin() + c * P);
    if (ctx_.options.save_gradients) {
      ctx_.trainer.resume(params_[std::size_t(c)].data(), optimizer_[std::size_t(c)].data());
      ctx_.trainer.diagnose(id(c), record.gradients.data() + c * P);
    }
  }
}

void IterativeTopology::finish_round(int, std::vector<float>& global, RoundRecord&) {
  aggregation::WeightedMean mean;
  mean.begin(num_params());
  for (std::int64_t c = 0; c < block_size(); ++c)
    if (counts(c)) mean.add(id(c), params_[std::size_t(c)].data(), samples(c));
  mean.finish(global.data(), ctx_.comm);
}

}  // namespace fedhpc::topology
