#include "fedhpc/engine/round_engine.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "fedhpc/aggregation/server_optimizer.hpp"
#include "fedhpc/client/behaviour.hpp"
#include "fedhpc/client/local_trainer.hpp"
#include "fedhpc/core/error.hpp"
#include "fedhpc/core/interrupt.hpp"
#include "fedhpc/core/rng.hpp"
#include "fedhpc/core/test_kill.hpp"
#include "fedhpc/metrics/evaluation.hpp"

namespace fedhpc::engine {

RoundEngine::RoundEngine(const mpi::Comm& comm, EngineOptions options, EngineParts parts, std::vector<float> initial)
    : comm_(comm), options_(options), parts_(std::move(parts)), global_(std::move(initial)) {}

void RoundEngine::set_global(std::vector<float> global) {
  if (global.size() != global_.size()) throw RunError("the checkpoint's global model has a different size");
  global_ = std::move(global);
}

std::vector<std::uint8_t> RoundEngine::select_clients(const EngineOptions& o, int round,
                                                      const std::vector<std::int64_t>& keys) {
  std::vector<std::uint8_t> selected(std::size_t(o.clients), o.participation >= 1.0 ? 1 : 0);
  if (o.participation >= 1.0) return selected;
  const auto m = std::max<std::int64_t>(1, std::llround(o.participation * double(o.clients)));
  std::vector<std::int64_t> ids(std::size_t(o.clients));
  for (std::int64_t c = 0; c < o.clients; ++c) ids[std::size_t(c)] = c;
  auto rng = stream(o.seed, StreamKind::Server, 0, std::uint64_t(round));
  for (std::int64_t i = 0; i < m; ++i) {
    const auto j = i + std::int64_t(rng.below(std::uint64_t(o.clients - i)));
    std::swap(ids[std::size_t(i)], ids[std::size_t(j)]);
    selected[std::size_t(ids[std::size_t(i)])] = 1;
  }
  std::vector<std::uint8_t> renumbered(selected.size());
  for (std::size_t c = 0; c < keys.size(); ++c) renumbered[c] = selected[std::size_t(keys[c])];
  return renumbered;
}

std::pair<double, double> RoundEngine::evaluate_initial() {
  const auto r = metrics::evaluate_global(parts_.trainer, global_.data(), parts_.test_samples,
                                          options_.eval_batch_size, comm_);
  return {r.loss, r.accuracy};
}

bool RoundEngine::evaluates(const EngineOptions& o, int round) {
  return round % std::max(1, o.eval_every) == 0 || round >= o.rounds;
}

const topology::RoundResult& RoundEngine::run_round(int round) {
  comm_.barrier();
  const double t0 = MPI_Wtime();
  auto& r = result_;
  r.round = round;
  r.record.reset(parts_.shape);
  r.global = global_;
  r.client_models.clear();
  r.cluster_of_client.clear();
  r.cluster_models.clear();
  r.gma_mask.clear();
  r.lama_interval.clear();
  r.lama_discrepancy.clear();
  r.layer_bytes.clear();
  r.fedavg_bytes = 0.0;
  mpi::collective_try(comm_, [&] {
    throw_if_interrupted();
    if (round == options_.fail_at_round && comm_.rank() == comm_.size() - 1)
      throw RunError("injected failure in round " + std::to_string(round) + " (--fail-at-round)");
  });
  kill_point(round, "start", comm_.rank());  // test-only (FEDHPC_TEST_KILL_AT)
  const auto selected = select_clients(options_, round, parts_.client_keys);
  const auto dropped = apply_deadline(selected, parts_.behaviour.dropped(round, selected));
  if (parts_.prepare_round) parts_.prepare_round(round, selected);
  const double t1 = MPI_Wtime();
  const double trained_before = parts_.trainer.training_seconds();
  between_rounds_ = false;
  parts_.topology.run_round(topology::RoundInput{round, selected, dropped}, r);
  kill_point(round, "train", comm_.rank());  // test-only: trained and mixed, nothing written
  r.record.nonfinite_skipped =
      mpi::all_reduce(comm_, r.record.nonfinite_skipped, mpi::Op::Sum, "MPI_Allreduce(skipped)");
  // The server optimizer steps from the previous global model towards the
  // round's aggregate (FedOpt's pseudo-gradient).
  if (parts_.server_optimizer) {
    parts_.server_optimizer->step(global_.data(), r.global.data(), std::int64_t(global_.size()));
    r.global = global_;
  } else {
    global_ = r.global;
  }
  const double t2 = MPI_Wtime();
  if (evaluates(options_, round)) evaluate(r);
  else skip_evaluation(r);
  const double t3 = MPI_Wtime();
  // Everything of the topology's round that is not local training is
  // aggregation: mixing, model exchange, the aggregator, waiting for peers.
  const double train = parts_.trainer.training_seconds() - trained_before;
  gather_phases(r, {t1 - t0, train, (t2 - t1) - train, t3 - t2});
  between_rounds_ = true;
  return r;
}

// Clients that cannot hand anything over by the deadline (late under drop,
// late with no finished step under partial) leave the round like dropouts:
// they train, then do not upload. Every rank computes the same flags.
std::vector<std::uint8_t> RoundEngine::apply_deadline(const std::vector<std::uint8_t>& selected,
                                                      std::vector<std::uint8_t> dropped) {
  const auto& stragglers = parts_.behaviour.stragglers();
  stragglers_ = {};
  if (!stragglers.active()) return dropped;
  for (std::size_t c = 0; c < selected.size(); ++c) {
    if (!selected[c]) continue;
    stragglers_.late_clients += stragglers.late(std::int64_t(c));
    if (!stragglers.uploads(std::int64_t(c))) dropped[c] = 1;
    stragglers_.uploading += !dropped[c];
  }
  for (auto c = parts_.block.begin; c < parts_.block.end; ++c)
    stragglers_.late.push_back(selected[std::size_t(c)] && stragglers.late(c) ? 1 : 0);
  stragglers_.simulated_seconds = stragglers.round_seconds(selected, dropped);
  return dropped;
}

// One all-gather gives every rank every rank's phases; the row reported is
// that of the rank that trained longest (lowest rank on a tie), whose other
// phases hold the least waiting for peers.
void RoundEngine::gather_phases(topology::RoundResult& r, const std::array<double, 4>& mine) const {
  const std::size_t ranks = std::size_t(comm_.size());
  std::vector<double> all(4 * ranks);
  mpi::all_gatherv(comm_, mine.data(), 4, all.data(), std::vector<std::size_t>(ranks, 4), {},
                   "MPI_Allgatherv(phases)");
  std::size_t slowest = 0;
  r.seconds = 0.0;
  for (std::size_t q = 0; q < ranks; ++q) {
    const double* row = all.data() + 4 * q;
    r.seconds = std::max(r.seconds, row[0] + row[1] + row[2] + row[3]);
    if (row[topology::kTrain] > all[4 * slowest + topology::kTrain]) slowest = q;
  }
  r.phase_seconds.fill(0.0);
  std::copy_n(all.data() + 4 * slowest, 4, r.phase_seconds.begin());
}

void RoundEngine::evaluate(topology::RoundResult& r) {
  const auto test = metrics::evaluate_global(parts_.trainer, r.global.data(), parts_.test_samples,
                                             options_.eval_batch_size, comm_);
  const auto local = metrics::evaluate_clients(
      parts_.trainer, [&](std::int64_t c) { return r.client_models[std::size_t(c - parts_.block.begin)]; },
      parts_.partition, parts_.block, comm_);
  r.evaluated = true;
  r.test_loss = test.loss;
  r.test_accuracy = test.accuracy;
  r.aggregated_loss = local.aggregated.loss;
  r.aggregated_accuracy = local.aggregated.accuracy;
  r.local_test_loss = local.loss;
  r.local_test_accuracy = local.accuracy;
}

void RoundEngine::skip_evaluation(topology::RoundResult& r) const {
  constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  r.evaluated = false;
  r.test_loss = r.test_accuracy = r.aggregated_loss = r.aggregated_accuracy = nan;
  r.local_test_loss.assign(std::size_t(parts_.block.size()), std::numeric_limits<float>::quiet_NaN());
  r.local_test_accuracy = r.local_test_loss;
}

}  // namespace fedhpc::engine
