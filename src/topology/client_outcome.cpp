#include "fedhpc/topology/client_outcome.hpp"

#include <algorithm>
#include <string>

#include "fedhpc/client/behaviour.hpp"
#include "fedhpc/client/local_trainer.hpp"
#include "fedhpc/core/error.hpp"

namespace fedhpc::topology {

OutcomeRecorder::OutcomeRecorder(const TopologyContext& ctx, RoundRecord& record, const RoundInput& in)
    : ctx_(ctx), record_(record), in_(in) {
  for (std::int64_t c = 0; c < ctx_.block.size(); ++c)
    record_.dropped[std::size_t(c)] = in_.dropped[std::size_t(ctx_.block.begin + c)];
}

int OutcomeRecorder::slot_of(int it) const { return ctx_.options.monitor == MonitorMode::Every ? it : 0; }

void OutcomeRecorder::participated(std::int64_t local) { record_.participated[std::size_t(local)] = 1; }

void OutcomeRecorder::trained(const client::ClientUpdate& u) {
  const auto local = u.client - ctx_.block.begin;
  participated(local);
  const auto block = ctx_.block.size();
  for (int it = 0; it < ctx_.options.local_iterations; ++it)
    record_.train_loss[std::size_t(it * block + local)] = static_cast<float>(u.iteration_loss[it]);
  // The trainer also computes gradients for FedGMA; they are kept only with
  // --save-gradients.
  if (u.gradient && !record_.gradients.empty()) std::copy_n(u.gradient, ctx_.num_params, gradient_slot(local));
  for (std::size_t slot = 0; u.monitor && slot < u.monitor->size(); ++slot)
    record_sample(record_, block, ctx_.weight_layers, int(slot), local, (*u.monitor)[slot]);
}

void OutcomeRecorder::iteration(std::int64_t local, int it, double loss, const client::MonitorSample* sample) {
  const auto block = ctx_.block.size();
  record_.train_loss[std::size_t(it * block + local)] = static_cast<float>(loss);
  if (sample) record_sample(record_, block, ctx_.weight_layers, slot_of(it), local, *sample);
}

void OutcomeRecorder::handed_over(std::int64_t local, const float* params) {
  if (ctx_.keep_client_weights)
    std::copy_n(params, ctx_.num_params, record_.client_weights.begin() + local * ctx_.num_params);
}

float* OutcomeRecorder::gradient_slot(std::int64_t local) { return record_.gradients.data() + local * ctx_.num_params; }

bool OutcomeRecorder::check_finite(std::int64_t local, bool finite) {
  if (finite) return true;
  record_.nonfinite[std::size_t(local)] = 1;
  switch (ctx_.options.on_nonfinite) {
    case NonFinitePolicy::Abort:
      throw RunError("client " + std::to_string(ctx_.block.begin + local) + " has non-finite values in round " +
                     std::to_string(in_.round) + " (--on-nonfinite abort)");
    case NonFinitePolicy::Skip:
      ++record_.nonfinite_skipped;
      return false;
    case NonFinitePolicy::Keep:
      return true;
  }
  return false;
}

bool OutcomeRecorder::uploads(std::int64_t local, bool finite) const {
  if (record_.dropped[std::size_t(local)]) return false;
  return finite || ctx_.options.on_nonfinite == NonFinitePolicy::Keep;
}

bool OutcomeRecorder::faulty(std::int64_t local) const { return ctx_.behaviour.is_faulty(ctx_.block.begin + local); }

void OutcomeRecorder::corrupt(std::int64_t local, int step, const float* start, float* params) const {
  ctx_.behaviour.corrupt(ctx_.block.begin + local, in_.round, step, start, params, ctx_.num_params);
}

}  // namespace fedhpc::topology
