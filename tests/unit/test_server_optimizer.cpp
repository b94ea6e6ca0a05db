// Server optimizers (FedOpt): hand-computed two-step cases for each, the
// bit-for-bit copy of plain FedAvg, and the option checks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "fedhpc/aggregation/server_optimizer.hpp"
#include "test_support.hpp"

using namespace fedhpc;
using namespace fedhpc::aggregation;

namespace {

ServerOptimizerOptions options(const std::string& name, double lr) {
  ServerOptimizerOptions o;
  o.name = name;
  o.lr = lr;
  return o;
}

// Two rounds from theta_0 = {1, -2}. Round 1's aggregate {0.5, -1} gives
// Delta_1 = {0.5, -1}; round 2's aggregate is theta_1 - delta2 (so Delta_2 is
// delta2 up to the float rounding of the aggregate).
struct TwoSteps {
  std::vector<float> theta1, theta2;
};

TwoSteps run_two(ServerOptimizer& opt, const std::vector<double>& delta2) {
  std::vector<float> theta = {1.0f, -2.0f};
  std::vector<float> agg = {0.5f, -1.0f};
  TwoSteps out;
  opt.step(theta.data(), agg.data(), 2);
  out.theta1 = theta;
  for (std::size_t i = 0; i < 2; ++i) agg[i] = float(double(theta[i]) - delta2[i]);
  opt.step(theta.data(), agg.data(), 2);
  out.theta2 = theta;
  return out;
}

constexpr double kTol = 1e-6;

void expect_near(const std::vector<float>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], kTol) << "coordinate " << i;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

TEST(ServerOptimizer, SgdTwoSteps) {
  // theta -= 0.5 Delta: theta_1 = {1 - 0.25, -2 + 0.5}; Delta_2 = {0.5, -1}: theta_2 = {0.5, -1}.
  auto opt = make_server_optimizer(options("sgd", 0.5));
  auto r = run_two(*opt, {0.5, -1.0});
  expect_near(r.theta1, {0.75, -1.5});
  expect_near(r.theta2, {0.5, -1.0});
}

TEST(ServerOptimizer, MomentumTwoSteps) {
  // mu = 0.5, lr = 0.5. m_1 = Delta_1 = {0.5, -1}; theta_1 = {0.75, -1.5}.
  // Delta_2 = {0.5, 0}: m_2 = 0.5 m_1 + Delta_2 = {0.75, -0.5};
  // theta_2 = theta_1 - 0.5 m_2 = {0.375, -1.25}.
  for (const char* name : {"momentum", "sgd"}) {  // sgd with momentum > 0 is heavy-ball
    auto o = options(name, 0.5);
    o.momentum = 0.5;
    auto opt = make_server_optimizer(o);
    auto r = run_two(*opt, {0.5, 0.0});
    expect_near(r.theta1, {0.75, -1.5});
    expect_near(r.theta2, {0.375, -1.25});
  }
}

TEST(ServerOptimizer, MomentumWithoutMomentumIsSgd) {
  auto a = make_server_optimizer(options("momentum", 0.3));
  auto b = make_server_optimizer(options("sgd", 0.3));
  auto ra = run_two(*a, {0.7, -0.2});
  auto rb = run_two(*b, {0.7, -0.2});
  EXPECT_TRUE(same_bits(ra.theta2, rb.theta2));
}

TEST(ServerOptimizer, AdamTwoSteps) {
  // lr 0.1, b1 0.5, b2 0.75, eps 0.25.
  // m_1 = 0.5 Delta_1 = {0.25, -0.5}; v_1 = 0.25 Delta_1^2 = {0.0625, 0.25};
  // sqrt(v_1) + eps = {0.5, 0.75}; theta_1 = {1 - 0.1*0.25/0.5, -2 + 0.1*0.5/0.75}.
  // Delta_2 = {1, 0}: m_2 = {0.125 + 0.5, -0.25}; v_2 = {0.75*0.0625 + 0.25, 0.75*0.25}.
  auto o = options("adam", 0.1);
  o.beta1 = 0.5;
  o.beta2 = 0.75;
  o.eps = 0.25;
  auto opt = make_server_optimizer(o);
  auto r = run_two(*opt, {1.0, 0.0});
  const double t1a = 1.0 - 0.1 * 0.25 / 0.5, t1b = -2.0 + 0.1 * 0.5 / 0.75;
  expect_near(r.theta1, {t1a, t1b});
  expect_near(r.theta2, {t1a - 0.1 * 0.625 / (std::sqrt(0.296875) + 0.25),
                         t1b + 0.1 * 0.25 / (std::sqrt(0.1875) + 0.25)});
  EXPECT_NEAR(r.theta2[0], 0.8713700, kTol);
  EXPECT_NEAR(r.theta2[1], -1.8967308, kTol);
}

TEST(ServerOptimizer, AdagradTwoSteps) {
  // lr 0.1, eps 0.25. v_1 = Delta_1^2 = {0.25, 1}; sqrt + eps = {0.75, 1.25};
  // theta_1 = {1 - 0.1*0.5/0.75, -2 + 0.1*1/1.25} = {0.9333333, -1.92}.
  // Delta_2 = {1, 0}: v_2 = {1.25, 1}; theta_2 = {theta_1 - 0.1/(sqrt(1.25)+0.25), -1.92}.
  auto o = options("adagrad", 0.1);
  o.eps = 0.25;
  auto opt = make_server_optimizer(o);
  auto r = run_two(*opt, {1.0, 0.0});
  const double t1a = 1.0 - 0.1 * 0.5 / 0.75;
  expect_near(r.theta1, {t1a, -1.92});
  expect_near(r.theta2, {t1a - 0.1 / (std::sqrt(1.25) + 0.25), -1.92});
  EXPECT_NEAR(r.theta2[0], 0.8602357, kTol);
}

TEST(ServerOptimizer, YogiTwoSteps) {
  // lr 0.1, b1 0.5, b2 0.75, eps 0.25, v_0 = 0.
  // Step 1: v_0 - Delta^2 < 0, so v_1 = 0 + 0.25 Delta_1^2 = {0.0625, 0.25}: as adam,
  // theta_1 = {0.95, -1.9333333}.
  // Step 2, Delta_2 = {1, 0.25}:
  //   coordinate 0: v_1 < 1, v grows: v_2 = 0.0625 + 0.25*1 = 0.3125 (adam: 0.296875);
  //     m_2 = 0.625.
  //   coordinate 1: v_1 = 0.25 > 0.0625, v shrinks: v_2 = 0.25 - 0.25*0.0625 = 0.234375;
  //     m_2 = -0.25 + 0.125 = -0.125.
  auto o = options("yogi", 0.1);
  o.beta1 = 0.5;
  o.beta2 = 0.75;
  o.eps = 0.25;
  auto opt = make_server_optimizer(o);
  auto r = run_two(*opt, {1.0, 0.25});
  const double t1a = 0.95, t1b = -2.0 + 0.1 * 0.5 / 0.75;
  expect_near(r.theta1, {t1a, t1b});
  expect_near(r.theta2, {t1a - 0.1 * 0.625 / (std::sqrt(0.3125) + 0.25),
                         t1b + 0.1 * 0.125 / (std::sqrt(0.234375) + 0.25)});
  EXPECT_NEAR(r.theta2[0], 0.8727458, kTol);
  EXPECT_NEAR(r.theta2[1], -1.9163063, kTol);
}

TEST(ServerOptimizer, YogiKeepsVWhenDeltaSquaredEqualsV) {
  // sign(0) = 0: with Delta_2^2 = v_1 the second moment stays put.
  auto o = options("yogi", 0.1);
  o.beta1 = 0.0;
  o.beta2 = 0.75;
  o.eps = 0.25;
  auto opt = make_server_optimizer(o);
  // Delta_1 = {2, -2}: v_1 = 0.25 * 4 = 1; theta_1 = {1.84, -1.84}.
  // Delta_2 = {1, -1} (aggregates exact in float): Delta^2 = 1 = v_1.
  std::vector<float> theta = {2.0f, -2.0f}, agg = {0.0f, 0.0f};
  opt->step(theta.data(), agg.data(), 2);
  const float t1 = float(2.0 - 0.1 * 2.0 / (1.0 + 0.25));
  EXPECT_EQ(theta[0], t1);
  EXPECT_EQ(theta[1], -t1);
  agg = {t1 - 1.0f, -t1 + 1.0f};
  opt->step(theta.data(), agg.data(), 2);
  // With v_2 = v_1 = 1 the step is 0.1 * 1 / 1.25 (v_2 = 1.25 or 0.75 would differ by > 1e-3).
  EXPECT_NEAR(theta[0], t1 - 0.1 * 1.0 / (1.0 + 0.25), kTol);
  EXPECT_NEAR(theta[1], -t1 + 0.1 * 1.0 / (1.0 + 0.25), kTol);
}

TEST(ServerOptimizer, IdentityCopiesTheAggregateBitForBit) {
  const float inf = std::numeric_limits<float>::infinity();
  const float denorm = std::numeric_limits<float>::denorm_min();
  // theta - (theta - agg) would lose agg where theta dwarfs it, and turn -0 into +0.
  std::vector<float> theta = {1e30f, -1e30f, 3.0f, 1.0f, 0.1f, -inf, 7.0f, 1.0f};
  std::vector<float> agg = {1e-30f, 3.3333333f, -0.0f, denorm, 0.30000001f, 2.0f, inf, 1.0f + 1e-7f};
  ServerOptimizerOptions defaults;
  EXPECT_TRUE(is_identity(defaults));
  for (const char* name : {"sgd", "momentum"}) {
    auto o = options(name, 1.0);
    EXPECT_TRUE(is_identity(o));
    auto opt = make_server_optimizer(o);
    for (int round = 0; round < 2; ++round) {
      auto t = theta;
      opt->step(t.data(), agg.data(), std::int64_t(t.size()));
      EXPECT_TRUE(same_bits(t, agg)) << name << " round " << round;
    }
  }
  auto o = options("sgd", 1.0);
  o.momentum = 0.5;
  EXPECT_FALSE(is_identity(o));
  EXPECT_FALSE(is_identity(options("sgd", 0.999)));
  EXPECT_FALSE(is_identity(options("adam", 1.0)));
}

TEST(ServerOptimizer, DeterministicAcrossInstances) {
  std::vector<float> theta(1000), agg(1000);
  for (std::size_t i = 0; i < theta.size(); ++i) {
    theta[i] = float(std::sin(double(i)));
    agg[i] = float(std::cos(double(i) * 0.7));
  }
  for (const auto& name : server_optimizer_registry().names()) {
    auto o = options(name, 0.3);
    o.momentum = 0.9;
    auto a = make_server_optimizer(o), b = make_server_optimizer(o);
    auto ta = theta, tb = theta;
    for (int r = 0; r < 3; ++r) {
      a->step(ta.data(), agg.data(), 1000);
      b->step(tb.data(), agg.data(), 1000);
    }
    EXPECT_TRUE(same_bits(ta, tb)) << name;
    for (float x : ta) ASSERT_TRUE(std::isfinite(x)) << name;
  }
}

TEST(ServerOptimizer, StateSizeIsFixedOnFirstStep) {
  auto o = options("adam", 0.1);
  auto opt = make_server_optimizer(o);
  std::vector<float> theta(4, 1.0f), agg(4, 0.0f);
  opt->step(theta.data(), agg.data(), 4);
  EXPECT_THROW(opt->step(theta.data(), agg.data(), 3), std::invalid_argument);
}

TEST(ServerOptimizer, Registry) {
  for (const char* name : {"adagrad", "adam", "momentum", "sgd", "yogi"})
    EXPECT_TRUE(server_optimizer_registry().contains(name)) << name;
}

TEST(ServerOptimizer, ValidationNamesTheOption) {
  using test::expect_input_error;
  const double nan = std::nan("");
  const double inf = std::numeric_limits<double>::infinity();
  const auto bad = [](auto set) {
    ServerOptimizerOptions o;
    set(o);
    return o;
  };
  EXPECT_NO_THROW(validate(ServerOptimizerOptions{}));
  expect_input_error([&] { make_server_optimizer(bad([](auto& o) { o.name = "lamb"; })); },
                     {"--server-optimizer", "lamb", "adam", "yogi"});
  for (double lr : {0.0, -1.0, nan, inf})
    expect_input_error([&] { validate(bad([&](auto& o) { o.lr = lr; })); }, {"--server-lr"});
  for (double mu : {-0.1, 1.0, nan})
    expect_input_error([&] { validate(bad([&](auto& o) { o.momentum = mu; })); }, {"--server-momentum"});
  for (double b : {-0.1, 1.0, nan}) {
    expect_input_error([&] { validate(bad([&](auto& o) { o.beta1 = b; })); }, {"--server-beta1"});
    expect_input_error([&] { validate(bad([&](auto& o) { o.beta2 = b; })); }, {"--server-beta2"});
  }
  for (double e : {0.0, -1e-3, nan, inf})
    expect_input_error([&] { validate(bad([&](auto& o) { o.eps = e; })); }, {"--server-eps"});
  // make_server_optimizer validates too.
  expect_input_error([&] { make_server_optimizer(bad([](auto& o) { o.lr = 0.0; })); }, {"--server-lr"});
  // Edge values that are allowed.
  EXPECT_NO_THROW(validate(bad([](auto& o) {
    o.momentum = 0.0;
    o.beta1 = 0.0;
    o.beta2 = 0.0;
    o.lr = 1e6;
  })));
}

// Checkpoint and resume: an optimizer rebuilt from another's state() takes
// the next steps bit for bit as the original does.
TEST(ServerOptimizer, StateRestoresTheNextStepsBitForBit) {
  for (const std::string name : {"sgd", "momentum", "adam", "adagrad", "yogi"}) {
    SCOPED_TRACE(name);
    auto o = options(name, 0.3);
    if (name == "sgd" || name == "momentum") o.momentum = 0.9;
    auto original = make_server_optimizer(o);
    std::vector<float> theta = {1.0f, -2.0f, 0.25f}, agg = {0.5f, -1.0f, 0.75f};
    original->step(theta.data(), agg.data(), 3);
    auto resumed = make_server_optimizer(o);
    resumed->set_state(original->state());
    EXPECT_EQ(resumed->state(), original->state());
    std::vector<float> copy = theta;
    for (int step = 0; step < 3; ++step) {
      for (auto& a : agg) a *= 0.5f;
      original->step(theta.data(), agg.data(), 3);
      resumed->step(copy.data(), agg.data(), 3);
      EXPECT_EQ(0, std::memcmp(theta.data(), copy.data(), theta.size() * sizeof(float)));
    }
  }
}

TEST(ServerOptimizer, PlainFedAvgKeepsNoState) {
  auto plain = make_server_optimizer(options("sgd", 1.0));
  std::vector<float> theta = {1.0f}, agg = {0.5f};
  plain->step(theta.data(), agg.data(), 1);
  EXPECT_TRUE(plain->state().empty());
}
