// fedhpc with one more aggregator: the geometric median of the client models
// (Weiszfeld's algorithm with smoothing, as in Pillutla et al., "Robust
// Aggregation for Federated Learning"). It is registered as "geomedian", so
//   fedhpc-geomedian run --aggregator geomedian ...
// works like `fedhpc run` with that aggregator.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <numeric>
#include <vector>

#include "fedhpc/aggregation/aggregator.hpp"
#include "fedhpc/cli/main.hpp"
#include "fedhpc/mpi/comm.hpp"

namespace {

namespace agg = fedhpc::aggregation;
namespace mpi = fedhpc::mpi;

class GeometricMedian : public agg::Aggregator {
 public:
  static constexpr int kMaxIterations = 50;
  static constexpr double kTolerance = 1e-6;  // stop when the estimate moves less (L2)
  static constexpr double kSmoothing = 1e-6;  // nu: distances below it count as nu

  void begin(std::int64_t num_params) override {
    num_params_ = std::size_t(num_params);
    ids_.clear();
    weights_.clear();
    params_.clear();
  }

  void add(std::int64_t id, const float* params, std::int64_t weight) override {
    ids_.push_back(id);
    weights_.push_back(weight);
    params_.insert(params_.end(), params, params + num_params_);
  }

  bool finish(float* out, const mpi::Comm& comm) override {
    // Every rank gets every model, in rank order...
    const auto local = std::int64_t(ids_.size());
    const auto per_rank = mpi::all_gather(comm, local, "MPI_Allgather(geomedian models)");
    std::vector<std::size_t> counts, param_counts;
    for (auto c : per_rank) {
      counts.push_back(std::size_t(c));
      param_counts.push_back(std::size_t(c) * num_params_);
    }
    const std::size_t n = std::accumulate(counts.begin(), counts.end(), std::size_t(0));
    if (n == 0) return false;
    std::vector<std::int64_t> ids(n), weights(n);
    std::vector<float> params(n * num_params_);
    mpi::all_gatherv(comm, ids_.data(), ids_.size(), ids.data(), counts, {}, "MPI_Allgatherv(geomedian ids)");
    mpi::all_gatherv(comm, weights_.data(), weights_.size(), weights.data(), counts, {},
                     "MPI_Allgatherv(geomedian weights)");
    mpi::all_gatherv(comm, params_.data(), params_.size(), params.data(), param_counts, {},
                     "MPI_Allgatherv(geomedian params)");

    // ...and takes them in id order, so every rank, at any rank count and
    // placement of the models, does the same arithmetic.
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t(0));
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return ids[a] < ids[b]; });
    auto model = [&](std::size_t k) { return params.data() + order[k] * num_params_; };
    auto weight = [&](std::size_t k) { return double(weights[order[k]]); };

    const std::size_t p = num_params_;
    double total_weight = 0;
    for (std::size_t k = 0; k < n; ++k) total_weight += weight(k);
    // Models without samples count equally rather than not at all.
    const bool uniform = total_weight <= 0;
    auto alpha = [&](std::size_t k) { return uniform ? 1.0 : weight(k); };

    // Start from the weighted mean.
    std::vector<double> z(p, 0.0), next(p);
    double norm = 0;
    for (std::size_t k = 0; k < n; ++k) norm += alpha(k);
    for (std::size_t k = 0; k < n; ++k) {
      const float* x = model(k);
      const double a = alpha(k) / norm;
      for (std::size_t j = 0; j < p; ++j) z[j] += a * double(x[j]);
    }

    // Weiszfeld: z <- sum_k beta_k x_k / sum_k beta_k, beta_k = alpha_k / max(nu, |z - x_k|).
    std::vector<double> beta(n);
    for (int it = 0; it < kMaxIterations; ++it) {
      double beta_sum = 0;
      for (std::size_t k = 0; k < n; ++k) {
        const float* x = model(k);
        double d2 = 0;
        for (std::size_t j = 0; j < p; ++j) {
          const double d = z[j] - double(x[j]);
          d2 += d * d;
        }
        beta[k] = alpha(k) / std::max(kSmoothing, std::sqrt(d2));
        beta_sum += beta[k];
      }
      std::fill(next.begin(), next.end(), 0.0);
      for (std::size_t k = 0; k < n; ++k) {
        const float* x = model(k);
        const double b = beta[k] / beta_sum;
        for (std::size_t j = 0; j < p; ++j) next[j] += b * double(x[j]);
      }
      double moved2 = 0;
      for (std::size_t j = 0; j < p; ++j) {
        const double d = next[j] - z[j];
        moved2 += d * d;
      }
      z.swap(next);
      if (std::sqrt(moved2) < kTolerance) break;
    }
    for (std::size_t j = 0; j < p; ++j) out[j] = float(z[j]);
    return true;
  }

 private:
  std::size_t num_params_ = 0;
  std::vector<std::int64_t> ids_, weights_;
  std::vector<float> params_;
};

}  // namespace

int main(int argc, char** argv) {
  agg::aggregator_registry().add("geomedian", [](const agg::AggregatorOptions&) -> std::unique_ptr<agg::Aggregator> {
    return std::make_unique<GeometricMedian>();
  });
  return fedhpc::cli::main(argc, argv);
}
