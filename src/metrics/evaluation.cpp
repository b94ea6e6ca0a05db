#include "fedhpc/metrics/evaluation.hpp"

#include <limits>

#include "fedhpc/client/local_trainer.hpp"
#include "fedhpc/core/exact_sum.hpp"
#include "fedhpc/data/partition.hpp"
#include "fedhpc/mpi/exact_reduce.hpp"

namespace fedhpc::metrics {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// totals = (loss sum, correct, count), summed exactly over ranks. A
// regression task has no accuracy: NaN.
LossAccuracy reduce(ExactSum& totals, const mpi::Comm& comm, bool regression) {
  mpi::allreduce(totals, comm);
  const double count = totals.value(2);
  if (count == 0.0) return {kNaN, kNaN};
  return {totals.value(0) / count, regression ? kNaN : totals.value(1) / count};
}

}  // namespace

LossAccuracy evaluate_global(client::LocalTrainer& trainer, const float* params, std::int64_t test_samples,
                             std::int64_t chunk, const mpi::Comm& comm) {
  ExactSum totals(3);
  mpi::collective_try(comm, [&] {
    const std::int64_t chunks = (test_samples + chunk - 1) / chunk;
    for (std::int64_t c = comm.rank(); c < chunks; c += comm.size())
      trainer.evaluate_test(params, c * chunk, std::min(test_samples, (c + 1) * chunk), totals);
  });
  return reduce(totals, comm, trainer.regression());
}

ClientEvaluation evaluate_clients(client::LocalTrainer& trainer,
                                  const std::function<const float*(std::int64_t)>& model_of,
                                  const data::Partition& partition, topology::ClientBlock block,
                                  const mpi::Comm& comm) {
  ClientEvaluation out;
  out.loss.assign(std::size_t(block.size()), std::numeric_limits<float>::quiet_NaN());
  out.accuracy = out.loss;
  ExactSum totals(3);
  mpi::collective_try(comm, [&] {
    for (auto c = block.begin; c < block.end; ++c) {
      if (partition.test_count(c) == 0) continue;
      const auto t = trainer.evaluate_client(model_of(c), c, &totals);
      out.loss[std::size_t(c - block.begin)] = static_cast<float>(t.loss_sum / double(t.count));
      out.accuracy[std::size_t(c - block.begin)] =
          trainer.regression() ? std::numeric_limits<float>::quiet_NaN() : float(double(t.correct) / double(t.count));
    }
  });
  out.aggregated = reduce(totals, comm, trainer.regression());
  return out;
}

}  // namespace fedhpc::metrics
