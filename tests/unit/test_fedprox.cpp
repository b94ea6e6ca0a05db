// FedProx's proximal term and label flipping in the local trainer: the
// one-step oracle, the anchor of train_block, the order against clipping,
// bit-identity when off, and flipped labels against manually flipped data.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "fedhpc/client/local_trainer.hpp"
#include "fedhpc/core/rng.hpp"
#include "fedhpc/data/dataset.hpp"
#include "fedhpc/data/partition.hpp"
#include "fedhpc/model/model.hpp"

using namespace fedhpc;
using client::LocalTrainer;
using client::TrainOptions;

namespace {

constexpr int kSide = 8;
constexpr std::int64_t kClients = 4;

struct Setup {
  data::Dataset data;
  data::Partition part;
  std::unique_ptr<model::Model> net;
  std::vector<float> init;
};

std::unique_ptr<Setup> make_setup() {
  auto s = std::make_unique<Setup>();
  data::DatasetOptions d;
  d.name = "synthetic";
  d.synthetic_train_samples = 240;
  d.synthetic_test_samples = 40;
  d.synthetic_side = kSide;
  d.seed = 3;
  s->data = data::load_dataset(d);
  data::PartitionOptions p;
  p.num_clients = kClients;
  p.local_test_fraction = 0.25;
  s->part = data::make_partition(s->data.train.labels, s->data.num_classes, p);
  model::ModelOptions m;
  m.name = "mlp";
  m.height = m.width = kSide;
  m.classes = s->data.num_classes;
  m.hidden = 16;
  s->net = model::make_model(m);
  s->init.resize(std::size_t(s->net->layout().total()));
  auto rng = stream(7, StreamKind::Init);
  s->net->initialize(s->init.data(), rng);
  return s;
}

TrainOptions sgd_full_batch() {
  TrainOptions o;
  o.optimizer = "sgd";
  o.lr = 0.1;
  o.batch_size = 0;  // one full-batch step per iteration
  o.local_iterations = 1;
  return o;
}

std::vector<float> params_of(LocalTrainer& t) { return {t.params(), t.params() + t.num_params()}; }

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(double(a[i]) - b[i]));
  return m;
}

struct BlockResult {
  std::vector<float> params;
  std::vector<double> losses;
};

// train_block of the given clients from `start`, every client's result.
std::vector<BlockResult> train(LocalTrainer& t, const float* start, const std::vector<std::int64_t>& clients,
                               int iterations, int round = 0) {
  std::vector<BlockResult> out;
  t.train_block(start, clients, round, [&](const client::ClientUpdate& u) {
    out.push_back({{u.params, u.params + t.num_params()}, {u.iteration_loss, u.iteration_loss + iterations}});
  });
  return out;
}

bool same_results(const std::vector<BlockResult>& a, const std::vector<BlockResult>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!same_bits(a[i].params, b[i].params)) return false;
    if (std::memcmp(a[i].losses.data(), b[i].losses.data(), a[i].losses.size() * sizeof(double)) != 0) return false;
  }
  return true;
}

}  // namespace

// theta_1 = theta_0 - lr (g + mu (theta_0 - a)): the step without the term
// plus -lr mu (theta_0 - a).
TEST(FedProx, OneStepAddsTheProximalGradient) {
  auto s = make_setup();
  auto o = sgd_full_batch();
  o.prox_mu = 0.5;
  LocalTrainer plain(*s->net, s->data, s->part, sgd_full_batch());
  LocalTrainer prox(*s->net, s->data, s->part, o);
  std::vector<float> anchor(s->init.size());
  for (std::size_t i = 0; i < anchor.size(); ++i) anchor[i] = s->init[i] + 0.05f * float(std::sin(double(i)));

  plain.begin_client(s->init.data());
  const double loss_plain = plain.iterate(1, 0, 0);
  const auto p = params_of(plain);
  prox.begin_client(s->init.data());
  prox.set_anchor(anchor.data());
  const double loss_prox = prox.iterate(1, 0, 0);
  const auto q = params_of(prox);

  EXPECT_EQ(loss_plain, loss_prox);  // the reported loss is the data loss at theta_0
  double max_err = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const double want = double(p[i]) - o.lr * o.prox_mu * (double(s->init[i]) - anchor[i]);
    max_err = std::max(max_err, std::fabs(q[i] - want));
  }
  EXPECT_LT(max_err, 1e-6);
  EXPECT_GT(max_abs_diff(p, q), 1e-3);  // the term is far above the tolerance

  // No anchor: no proximal term.
  prox.begin_client(s->init.data());
  prox.set_anchor(nullptr);
  prox.iterate(1, 0, 0);
  EXPECT_TRUE(same_bits(params_of(prox), p));
}

// train_block anchors at its start: the first step is the plain one, the
// second adds -lr mu (theta_1 - start); set_anchor's anchor comes back after.
TEST(FedProx, TrainBlockAnchorsAtTheStartModel) {
  auto s = make_setup();
  auto o = sgd_full_batch();
  o.prox_mu = 0.5;
  o.local_iterations = 2;
  auto plain_options = sgd_full_batch();
  plain_options.local_iterations = 2;
  LocalTrainer plain(*s->net, s->data, s->part, plain_options);
  LocalTrainer prox(*s->net, s->data, s->part, o);

  std::vector<float> other(s->init.size(), 0.25f);
  prox.set_anchor(other.data());
  const auto block = train(prox, s->init.data(), {2}, 2);
  ASSERT_EQ(block.size(), 1u);

  // The same two iterations through the iteration API with the anchor = start.
  LocalTrainer manual(*s->net, s->data, s->part, o);
  manual.begin_client(s->init.data());
  manual.set_anchor(s->init.data());
  manual.iterate(2, 0, 0);
  const auto theta1 = params_of(manual);
  manual.iterate(2, 0, 1);
  EXPECT_TRUE(same_bits(params_of(manual), block[0].params));

  // Step 1 equals the plain step (theta_0 - anchor = 0).
  plain.begin_client(s->init.data());
  plain.iterate(2, 0, 0);
  EXPECT_TRUE(same_bits(params_of(plain), theta1));
  // Step 2 is the plain step from theta_1 minus lr mu (theta_1 - start).
  plain.begin_client(theta1.data());
  plain.iterate(2, 0, 1);
  const auto r = params_of(plain);
  double max_err = 0;
  for (std::size_t i = 0; i < r.size(); ++i) {
    const double want = double(r[i]) - o.lr * o.prox_mu * (double(theta1[i]) - s->init[i]);
    max_err = std::max(max_err, std::fabs(block[0].params[i] - want));
  }
  EXPECT_LT(max_err, 1e-6);
  EXPECT_GT(max_abs_diff(r, block[0].params), 0.0);

  // After train_block the caller's anchor is in force again.
  LocalTrainer fresh(*s->net, s->data, s->part, o);
  fresh.begin_client(s->init.data());
  fresh.set_anchor(other.data());
  fresh.iterate(2, 0, 0);
  prox.begin_client(s->init.data());
  prox.iterate(2, 0, 0);
  EXPECT_TRUE(same_bits(params_of(prox), params_of(fresh)));
}

// The proximal term is added before clipping: with a tiny clip norm every
// tensor moves by at most lr * clip_norm however large the term is.
TEST(FedProx, ProximalTermIsClippedWithTheGradient) {
  auto s = make_setup();
  auto o = sgd_full_batch();
  o.prox_mu = 100.0;
  o.clip_norm = 1e-2;
  LocalTrainer t(*s->net, s->data, s->part, o);
  std::vector<float> anchor(s->init.size());
  for (std::size_t i = 0; i < anchor.size(); ++i) anchor[i] = s->init[i] + 1.0f;
  t.begin_client(s->init.data());
  t.set_anchor(anchor.data());
  t.iterate(0, 0, 0);
  const auto after = params_of(t);
  for (const auto& layer : s->net->layout().layers()) {
    double sq = 0;
    for (std::int64_t i = layer.offset; i < layer.offset + layer.size; ++i)
      sq += (double(after[i]) - s->init[i]) * (double(after[i]) - s->init[i]);
    EXPECT_LE(std::sqrt(sq), o.lr * o.clip_norm * (1 + 1e-2)) << "layer at " << layer.offset;
    // The term points the whole tensor at the anchor (+1 everywhere), so it dominates.
    EXPECT_GT(after[std::size_t(layer.offset)], s->init[std::size_t(layer.offset)]);
  }
}

// prox_mu = 0 and an all-zero flip_labels leave every bit as it was, also
// with an anchor set, minibatches, adam and clipping.
TEST(FedProx, OffIsBitIdentical) {
  auto s = make_setup();
  TrainOptions base;  // adam, batch 16
  base.local_iterations = 2;
  base.clip_norm = 0.5;
  auto off = base;
  off.prox_mu = 0.0;
  off.flip_labels.assign(std::size_t(kClients), 0);
  LocalTrainer a(*s->net, s->data, s->part, base);
  LocalTrainer b(*s->net, s->data, s->part, off);
  std::vector<float> anchor(s->init.size(), 0.5f);
  b.set_anchor(anchor.data());
  const std::vector<std::int64_t> all = {0, 1, 2, 3};
  EXPECT_TRUE(same_results(train(a, s->init.data(), all, 2, 1), train(b, s->init.data(), all, 2, 1)));
  a.begin_client(s->init.data());
  b.begin_client(s->init.data());
  EXPECT_EQ(a.iterate(3, 0, 0), b.iterate(3, 0, 0));
  EXPECT_TRUE(same_bits(params_of(a), params_of(b)));
}

// A flipped client trains exactly as on data whose labels are C-1-y, in its
// training and diagnostics; its local test evaluation keeps the true labels.
TEST(LabelFlip, TrainsOnFlippedLabelsButTestsOnTrueOnes) {
  auto s = make_setup();
  const int C = s->data.num_classes;
  ASSERT_GT(C, 2);
  auto flipped_data = s->data;
  for (auto& y : flipped_data.train.labels) y = C - 1 - y;

  TrainOptions o;
  o.local_iterations = 2;
  auto flip = o;
  flip.flip_labels = {0, 1, 0, 0};
  LocalTrainer plain(*s->net, s->data, s->part, o);
  LocalTrainer flipped(*s->net, s->data, s->part, flip);
  LocalTrainer manual(*s->net, flipped_data, s->part, o);

  const auto f1 = train(flipped, s->init.data(), {1}, 2);
  const auto m1 = train(manual, s->init.data(), {1}, 2);
  const auto p1 = train(plain, s->init.data(), {1}, 2);
  EXPECT_TRUE(same_results(f1, m1));
  EXPECT_GT(max_abs_diff(f1[0].params, p1[0].params), 1e-4);
  EXPECT_NE(f1[0].losses[0], p1[0].losses[0]);
  // Other clients are untouched.
  EXPECT_TRUE(same_results(train(flipped, s->init.data(), {0, 2}, 2), train(plain, s->init.data(), {0, 2}, 2)));

  // Diagnostics see the flipped labels.
  flipped.begin_client(s->init.data());
  manual.begin_client(s->init.data());
  plain.begin_client(s->init.data());
  const auto df = flipped.diagnose(1), dm = manual.diagnose(1), dp = plain.diagnose(1);
  EXPECT_EQ(df.loss_sum, dm.loss_sum);
  EXPECT_EQ(df.grad_l2, dm.grad_l2);
  EXPECT_NE(df.loss_sum, dp.loss_sum);

  // The local test split keeps its true labels.
  ASSERT_GT(s->part.test_count(1), 0);
  const auto ef = flipped.evaluate_client(f1[0].params.data(), 1);
  const auto ep = plain.evaluate_client(f1[0].params.data(), 1);
  const auto em = manual.evaluate_client(f1[0].params.data(), 1);
  EXPECT_EQ(ef.loss_sum, ep.loss_sum);
  EXPECT_EQ(ef.correct, ep.correct);
  EXPECT_NE(ef.loss_sum, em.loss_sum);
}

// The flip applies after the concept-shift label map: y -> C-1-map[y].
TEST(LabelFlip, ComposesWithLabelMaps) {
  auto s = make_setup();
  const int C = s->data.num_classes;
  std::vector<std::int64_t> identity(static_cast<std::size_t>(C)), shifted(static_cast<std::size_t>(C));
  for (int y = 0; y < C; ++y) {
    identity[std::size_t(y)] = y;
    shifted[std::size_t(y)] = (y + 3) % C;
  }
  auto expected = s->data;
  for (auto& y : expected.train.labels) y = C - 1 - shifted[std::size_t(y)];

  TrainOptions o;
  o.label_maps = {identity, shifted};
  o.label_map_of_client = {0, 1, 0, 1};
  o.flip_labels = {0, 1, 0, 0};
  LocalTrainer t(*s->net, s->data, s->part, o);
  LocalTrainer manual(*s->net, expected, s->part, TrainOptions{});
  EXPECT_TRUE(same_results(train(t, s->init.data(), {1}, 1), train(manual, s->init.data(), {1}, 1)));
}

TEST(LabelFlip, RejectsAWrongSize) {
  auto s = make_setup();
  TrainOptions o;
  o.flip_labels = {1, 0};
  EXPECT_THROW(LocalTrainer(*s->net, s->data, s->part, o), std::invalid_argument);
}
