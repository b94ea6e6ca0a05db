#pragma once
#include <cstdint>
#include <vector>

#include "fedhpc/aggregation/aggregator.hpp"
#include "fedhpc/aggregation/weighted_mean.hpp"

namespace fedhpc::aggregation {

// FedGMA, gradient-masked averaging (Tenison et al.; algorithms.md section 10).
// Both versions need only sums over the clients: an exact integer all-reduce
// of (weighted) signs and exact all-reduces of values, so the result is the
// same bits on any number of ranks and in any client order.

// The AND-mask of the workshop version: keep coordinate j when
// |sign_sum[j]| >= p * clients. out gets 1 (kept) or 0 per coordinate.
void and_mask(const std::int64_t* sign_sum, std::size_t n, std::int64_t clients, double p, std::uint8_t* out);

// The soft mask of the journal version: A_j = |sign_sum[j]| / total_weight,
// m_j = 1 when A_j >= tau, else A_j. out gets m_j.
void soft_mask(const std::int64_t* sign_sum, std::size_t n, std::int64_t total_weight, double tau, double* out);

// --aggregator fedgma, the workshop version (the paper in papers/003):
// clients hand over their model theta_k and their last local gradient g_k;
//   theta = sum_k (n_k/n) theta_k - eta_s * mask .* (1/K) sum_k g_k,
// mask_j = [|sum_k sign(g_kj)| >= p K]. With eta_s = 0 it is FedAvg bit for
// bit (kept coordinates are rounded once from the same exact mean).
class GradientMaskedAverage : public Aggregator {
 public:
  GradientMaskedAverage(double threshold, double server_lr) : threshold_(threshold), server_lr_(server_lr) {}
  void begin(std::int64_t num_params) override;
  // Throws RunError: the workshop version needs the gradient.
  void add(std::int64_t id, const float* params, std::int64_t weight) override;
  bool needs_gradients() const override { return true; }
  void add_with_gradient(std::int64_t id, const float* params, std::int64_t weight, const float* gradient) override;
  bool finish(float* out, const mpi::Comm& comm) override;
  const std::vector<std::uint8_t>* mask() const override { return &mask_; }

 private:
  double threshold_, server_lr_;
  WeightedMean models_;
  ExactSum gradients_;
  std::vector<std::int64_t> signs_;  // sum_k sign(g_kj)
  std::int64_t clients_ = 0;
  std::vector<std::uint8_t> mask_;
};

// --aggregator fedgma-soft, the journal version: with Delta_k = theta_t -
// theta_k and p_k = n_k / n, A_j = |sum_k p_k sign(Delta_kj)|, m_j = 1 if
// A_j >= tau else A_j, and the aggregate is theta_t - m .* sum_k p_k Delta_k.
// The server optimizer then steps towards it (sgd: theta_t - eta_s m .*
// sum_k p_k Delta_k, the journal's update with eta_s = --server-lr).
// Coordinates with m_j = 1 are the exact FedAvg mean, so tau = 0 with plain
// sgd at lr 1 is FedAvg bit for bit.
class SoftGradientMaskedAverage : public Aggregator {
 public:
  explicit SoftGradientMaskedAverage(double threshold) : threshold_(threshold) {}
  void begin(std::int64_t num_params) override;
  void set_start(const float* start) override;
  void add(std::int64_t id, const float* params, std::int64_t weight) override;
  bool finish(float* out, const mpi::Comm& comm) override;
  const std::vector<std::uint8_t>* mask() const override { return &mask_; }

 private:
  double threshold_;
  WeightedMean models_;
  std::vector<float> start_;
  std::vector<std::int64_t> signs_;  // sum_k n_k sign(theta_t,j - theta_kj)
  std::vector<std::uint8_t> mask_;   // 1 where m_j = 1
};

}  // namespace fedhpc::aggregation
