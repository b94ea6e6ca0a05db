#include "fedhpc/aggregation/gradient_masked.hpp"

#include <cstdlib>

#include "fedhpc/core/error.hpp"
#include "fedhpc/mpi/exact_reduce.hpp"

namespace fedhpc::aggregation {

namespace {

// sign(x) in {-1, 0, 1}; NaN counts as 0.
std::int64_t sign_of(double x) { return (x > 0) - (x < 0); }

void reset(std::vector<std::int64_t>& v, std::int64_t n) { v.assign(std::size_t(n), 0); }

}  // namespace

void and_mask(const std::int64_t* sign_sum, std::size_t n, std::int64_t clients, double p, std::uint8_t* out) {
  const double needed = p * double(clients);
  for (std::size_t j = 0; j < n; ++j) out[j] = double(std::llabs(sign_sum[j])) >= needed ? 1 : 0;
}

void soft_mask(const std::int64_t* sign_sum, std::size_t n, std::int64_t total_weight, double tau, double* out) {
  for (std::size_t j = 0; j < n; ++j) {
    const double agreement = double(std::llabs(sign_sum[j])) / double(total_weight);
    out[j] = agreement >= tau ? 1.0 : agreement;
  }
}

// ---- workshop version ----

void GradientMaskedAverage::begin(std::int64_t num_params) {
  models_.begin(num_params);
  if (gradients_.size() != std::size_t(num_params)) gradients_ = ExactSum(std::size_t(num_params));
  else gradients_.clear();
  reset(signs_, num_params);
  clients_ = 0;
}

void GradientMaskedAverage::add(std::int64_t, const float*, std::int64_t) {
  throw RunError("--aggregator fedgma: a client handed over no gradient (only --topology centralized provides them)");
}

void GradientMaskedAverage::add_with_gradient(std::int64_t id, const float* params, std::int64_t weight,
                                              const float* gradient) {
  if (!gradient) add(id, params, weight);
  models_.add(id, params, weight);
  gradients_.add_scaled(gradient, 1.0);
  for (std::size_t j = 0; j < signs_.size(); ++j) signs_[j] += sign_of(gradient[j]);
  ++clients_;
}

bool GradientMaskedAverage::finish(float* out, const mpi::Comm& comm) {
  if (!models_.finish_keeping_total(out, comm)) return false;  // the same verdict on every rank
  mpi::all_reduce(comm, signs_, mpi::Op::Sum, "MPI_Allreduce(fedgma signs)");
  mpi::allreduce(gradients_, comm);
  clients_ = mpi::all_reduce(comm, clients_, mpi::Op::Sum, "MPI_Allreduce(fedgma clients)");
  mask_.resize(signs_.size());
  and_mask(signs_.data(), signs_.size(), clients_, threshold_, mask_.data());
  // Kept coordinates are rounded once from the exact mean minus the step;
  // the others keep FedAvg's rounding of the same mean.
  const double n = double(models_.weight()), k = double(clients_);
  for (std::size_t j = 0; j < mask_.size(); ++j)
    if (mask_[j])
      out[j] = static_cast<float>(models_.numerator().value(j) / n - server_lr_ * (gradients_.value(j) / k));
  return true;
}

// ---- journal version ----

void SoftGradientMaskedAverage::begin(std::int64_t num_params) {
  models_.begin(num_params);
  start_.clear();
  reset(signs_, num_params);
}

void SoftGradientMaskedAverage::set_start(const float* start) { start_.assign(start, start + signs_.size()); }

void SoftGradientMaskedAverage::add(std::int64_t id, const float* params, std::int64_t weight) {
  if (start_.empty()) throw RunError("--aggregator fedgma-soft: no start model (only --topology centralized sets it)");
  models_.add(id, params, weight);
  for (std::size_t j = 0; j < signs_.size(); ++j)
    signs_[j] += weight * sign_of(double(start_[j]) - double(params[j]));
}

bool SoftGradientMaskedAverage::finish(float* out, const mpi::Comm& comm) {
  if (!models_.finish_keeping_total(out, comm)) return false;
  mpi::all_reduce(comm, signs_, mpi::Op::Sum, "MPI_Allreduce(fedgma-soft signs)");
  const auto total = models_.weight();
  std::vector<double> m(signs_.size());
  soft_mask(signs_.data(), signs_.size(), total, threshold_, m.data());
  mask_.resize(signs_.size());
  const double n = double(total);
  for (std::size_t j = 0; j < m.size(); ++j) {
    mask_[j] = m[j] == 1.0 ? 1 : 0;
    if (mask_[j]) continue;  // the FedAvg mean, as WeightedMean rounded it
    const double start = start_[j], mean = models_.numerator().value(j) / n;
    out[j] = static_cast<float>(start - m[j] * (start - mean));
  }
  return true;
}

}  // namespace fedhpc::aggregation
