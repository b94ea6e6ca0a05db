#include "fedhpc/aggregation/server_optimizer.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <vector>

#include "fedhpc/core/error.hpp"

namespace fedhpc::aggregation {

ServerOptimizer::~ServerOptimizer() = default;

void ServerOptimizer::set_state(const std::vector<double>& state) {
  if (!state.empty()) throw std::invalid_argument("ServerOptimizer::set_state: this optimizer keeps no state");
}

namespace {

void check_size(std::vector<double>& state, std::int64_t n) {
  if (state.empty()) state.assign(std::size_t(n), 0.0);
  else if (state.size() != std::size_t(n))
    throw std::invalid_argument("ServerOptimizer::step: model size changed from " + std::to_string(state.size()) +
                                " to " + std::to_string(n));
}

// sgd and momentum: m = mu m + Delta; theta -= lr m (m = Delta when mu = 0).
class HeavyBall : public ServerOptimizer {
 public:
  explicit HeavyBall(const ServerOptimizerOptions& o) : lr_(o.lr), mu_(o.momentum), identity_(is_identity(o)) {}

  void step(float* global, const float* aggregate, std::int64_t n) override {
    if (identity_) {
      std::copy_n(aggregate, n, global);
      return;
    }
    if (mu_ == 0.0) {
      for (std::int64_t i = 0; i < n; ++i) {
        const double delta = double(global[i]) - double(aggregate[i]);
        global[i] = float(double(global[i]) - lr_ * delta);
      }
      return;
    }
    check_size(m_, n);
    for (std::int64_t i = 0; i < n; ++i) {
      const double delta = double(global[i]) - double(aggregate[i]);
      m_[std::size_t(i)] = mu_ * m_[std::size_t(i)] + delta;
      global[i] = float(double(global[i]) - lr_ * m_[std::size_t(i)]);
    }
  }

  std::vector<double> state() const override { return m_; }
  void set_state(const std::vector<double>& state) override { m_ = state; }

 private:
  double lr_, mu_;
  bool identity_;
  std::vector<double> m_;
};

enum class Second { Adam, Adagrad, Yogi };

// adam, adagrad, yogi: the adaptive methods of FedOpt, without bias correction.
class Adaptive : public ServerOptimizer {
 public:
  Adaptive(const ServerOptimizerOptions& o, Second kind)
      : lr_(o.lr), beta1_(o.beta1), beta2_(o.beta2), eps_(o.eps), kind_(kind) {}

  void step(float* global, const float* aggregate, std::int64_t n) override {
    check_size(v_, n);
    if (kind_ != Second::Adagrad) check_size(m_, n);
    for (std::int64_t i = 0; i < n; ++i) {
      const auto k = std::size_t(i);
      const double delta = double(global[i]) - double(aggregate[i]);
      const double sq = delta * delta;
      double first = delta;
      switch (kind_) {
        case Second::Adam:
          v_[k] = beta2_ * v_[k] + (1.0 - beta2_) * sq;
          break;
        case Second::Adagrad:
          v_[k] = v_[k] + sq;
          break;
        case Second::Yogi: {
          const double diff = v_[k] - sq;
          const double sign = diff > 0.0 ? 1.0 : (diff < 0.0 ? -1.0 : 0.0);
          v_[k] = v_[k] - (1.0 - beta2_) * sq * sign;
          break;
        }
      }
      if (kind_ != Second::Adagrad) {
        m_[k] = beta1_ * m_[k] + (1.0 - beta1_) * delta;
        first = m_[k];
      }
      global[i] = float(double(global[i]) - lr_ * first / (std::sqrt(v_[k]) + eps_));
    }
  }

  // v, then m except for adagrad (which keeps none); each n long, or
  // empty before the first step.
  std::vector<double> state() const override {
    std::vector<double> out = v_;
    out.insert(out.end(), m_.begin(), m_.end());
    return out;
  }
  void set_state(const std::vector<double>& state) override {
    const bool first = kind_ != Second::Adagrad;
    if (first && state.size() % 2 != 0) throw std::invalid_argument("ServerOptimizer::set_state: odd state size");
    const auto n = std::ptrdiff_t(first ? state.size() / 2 : state.size());
    v_.assign(state.begin(), state.begin() + n);
    m_.assign(state.begin() + n, state.end());
  }

 private:
  double lr_, beta1_, beta2_, eps_;
  Second kind_;
  std::vector<double> m_, v_;
};

void require(bool ok, const std::string& option, const std::string& message) {
  if (!ok) throw InputError("--" + option + ": " + message);
}

std::string quoted(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

Registry<ServerOptimizerFactory>& server_optimizer_registry() {
  static Registry<ServerOptimizerFactory> registry = [] {
    Registry<ServerOptimizerFactory> r("server optimizer");
    const auto heavy = [](const ServerOptimizerOptions& o) -> std::unique_ptr<ServerOptimizer> {
      return std::make_unique<HeavyBall>(o);
    };
    r.add("sgd", heavy);
    r.add("momentum", heavy);
    r.add("adam", [](const ServerOptimizerOptions& o) -> std::unique_ptr<ServerOptimizer> {
      return std::make_unique<Adaptive>(o, Second::Adam);
    });
    r.add("adagrad", [](const ServerOptimizerOptions& o) -> std::unique_ptr<ServerOptimizer> {
      return std::make_unique<Adaptive>(o, Second::Adagrad);
    });
    r.add("yogi", [](const ServerOptimizerOptions& o) -> std::unique_ptr<ServerOptimizer> {
      return std::make_unique<Adaptive>(o, Second::Yogi);
    });
    return r;
  }();
  return registry;
}

void validate(const ServerOptimizerOptions& o) {
  server_optimizer_registry().get(o.name, "server-optimizer");
  require(std::isfinite(o.lr) && o.lr > 0.0, "server-lr", "must be a finite number > 0 (got " + quoted(o.lr) + ")");
  require(o.momentum >= 0.0 && o.momentum < 1.0, "server-momentum",
          "must be in [0, 1) (got " + quoted(o.momentum) + ")");
  require(o.beta1 >= 0.0 && o.beta1 < 1.0, "server-beta1", "must be in [0, 1) (got " + quoted(o.beta1) + ")");
  require(o.beta2 >= 0.0 && o.beta2 < 1.0, "server-beta2", "must be in [0, 1) (got " + quoted(o.beta2) + ")");
  require(std::isfinite(o.eps) && o.eps > 0.0, "server-eps",
          "must be a finite number > 0 (got " + quoted(o.eps) + ")");
}

bool is_identity(const ServerOptimizerOptions& o) {
  return (o.name == "sgd" || o.name == "momentum") && o.lr == 1.0 && o.momentum == 0.0;
}

std::unique_ptr<ServerOptimizer> make_server_optimizer(const ServerOptimizerOptions& options) {
  validate(options);
  return server_optimizer_registry().get(options.name, "server-optimizer")(options);
}

}  // namespace fedhpc::aggregation
