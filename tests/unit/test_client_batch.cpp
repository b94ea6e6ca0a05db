// Client-batched training (--client-batch, BatchedTrainer): the final weights
// and losses match the per-client path within 1e-6 relative (logreg and mlp,
// iid and Dirichlet with unequal sizes and multi-pass minibatch walks, adam
// and sgd with momentum, clipping on and off, FedProx, label maps and label
// flipping); a client's bits do not depend on K (so not on which clients
// share its batch); and the engine with the batched path gives the same bits
// on the world communicator as on one rank (registered at 1, 2, 3, 4 ranks).
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

#include "fedhpc/client/behaviour.hpp"
#include "fedhpc/client/local_trainer.hpp"
#include "fedhpc/core/rng.hpp"
#include "fedhpc/data/dataset.hpp"
#include "fedhpc/data/partition.hpp"
#include "fedhpc/engine/round_engine.hpp"
#include "fedhpc/model/model.hpp"
#include "fedhpc/topology/layout.hpp"
#include "fedhpc/topology/topology.hpp"

using namespace fedhpc;

namespace {

constexpr std::int64_t kClients = 11;

struct Setup {
  data::Dataset data;
  data::Partition partition;
  std::unique_ptr<model::Model> net;
  std::vector<float> initial;
};

Setup make_setup(const std::string& model, const std::string& partition) {
  Setup s;
  data::DatasetOptions d;
  d.name = "synthetic";
  d.synthetic_train_samples = 900;
  d.synthetic_test_samples = 50;
  d.synthetic_side = 10;
  d.seed = 5;
  s.data = data::load_dataset(d);
  data::PartitionOptions p;
  p.method = partition;
  p.dirichlet_alpha = 0.3;
  p.dirichlet_min_samples = 5;
  p.num_clients = kClients;
  p.local_test_fraction = 0.1;
  p.seed = 5;
  s.partition = data::make_partition(s.data.train.labels, s.data.num_classes, p);
  model::ModelOptions m;
  m.name = model;
  m.hidden = 24;
  m.height = m.width = 10;
  m.classes = s.data.num_classes;
  m.activation = model::Activation::LeakyRelu;
  s.net = model::make_model(m);
  s.initial.resize(std::size_t(s.net->layout().total()));
  auto rng = stream(5, StreamKind::Init);
  s.net->initialize(s.initial.data(), rng);
  return s;
}

struct Trained {
  std::vector<float> weights;  // every client's model after the last round, client order
  std::vector<double> losses;  // every client's iteration losses, every round
  std::vector<std::uint8_t> finite;
  std::int64_t k = 0;
};

// Three rounds of train_block over all clients; each round starts from the
// plain mean of the previous round's models (in double, client order).
Trained train(const Setup& s, client::TrainOptions o, std::int64_t client_batch,
              const std::vector<std::int64_t>& step_limits = {}) {
  o.client_batch = client_batch;
  client::LocalTrainer trainer(*s.net, s.data, s.partition, o);
  trainer.set_step_limits(step_limits);
  std::vector<std::int64_t> clients(kClients);
  for (std::int64_t c = 0; c < kClients; ++c) clients[std::size_t(c)] = c;
  const std::size_t p = s.initial.size();
  std::vector<float> start = s.initial;
  Trained out;
  out.k = trainer.clients_per_batch();
  for (int round = 1; round <= 3; ++round) {
    out.weights.assign(p * kClients, 0.0f);
    std::vector<double> mean(p, 0.0);
    std::int64_t expected = 0;
    trainer.train_block(start.data(), clients, round, [&](const client::ClientUpdate& u) {
      EXPECT_EQ(u.client, expected++);
      std::copy_n(u.params, p, out.weights.begin() + std::ptrdiff_t(p * std::size_t(u.client)));
      for (std::size_t i = 0; i < p; ++i) mean[i] += u.params[i];
      out.losses.insert(out.losses.end(), u.iteration_loss, u.iteration_loss + o.local_iterations);
      out.finite.push_back(u.finite);
    });
    for (std::size_t i = 0; i < p; ++i) start[i] = float(mean[i] / double(kClients));
  }
  return out;
}

// max |a - b| <= tol * max |b|, per client model.
void expect_close(const std::vector<float>& a, const std::vector<float>& b, std::size_t p, const std::string& what) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t c = 0; c * p < a.size(); ++c) {
    double diff = 0.0, scale = 0.0;
    for (std::size_t i = c * p; i < (c + 1) * p; ++i) {
      ASSERT_TRUE(std::isfinite(a[i]) && std::isfinite(b[i])) << what;
      diff = std::max(diff, std::fabs(double(a[i]) - double(b[i])));
      scale = std::max(scale, std::fabs(double(b[i])));
    }
    EXPECT_LE(diff, 1e-6 * scale) << what << " client " << c;
  }
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

struct Case {
  const char* model;
  const char* partition;
  const char* optimizer;
  double clip;
  double prox;
  std::int64_t batch;
  std::int64_t steps;  // --iteration-steps
  bool labels;         // concept-shift maps and label flipping
};

class ClientBatch : public testing::TestWithParam<Case> {};

TEST_P(ClientBatch, MatchesPerClientAndIgnoresK) {
  // One process's work: the other rank counts add nothing here.
  if (mpi::Comm::world().size() > 1) GTEST_SKIP() << "runs at 1 rank";
  const Case c = GetParam();
  const auto s = make_setup(c.model, c.partition);
  client::TrainOptions o;
  o.optimizer = c.optimizer;
  o.lr = std::string(c.optimizer) == "sgd" ? 0.05 : 0.003;
  o.momentum = 0.5;
  o.clip_norm = c.clip;
  o.prox_mu = c.prox;
  o.batch_size = c.batch;
  o.iteration_steps = c.steps;
  o.local_iterations = 2;
  o.seed = 5;
  if (c.labels) {
    std::vector<std::int64_t> identity(std::size_t(s.data.num_classes)), shifted(identity.size());
    for (std::size_t y = 0; y < identity.size(); ++y) {
      identity[y] = std::int64_t(y);
      shifted[y] = std::int64_t((y + 3) % identity.size());
    }
    o.label_maps = {identity, shifted};
    for (std::int64_t k = 0; k < kClients; ++k) o.label_map_of_client.push_back(int(k % 2));
    o.flip_labels.assign(kClients, 0);
    o.flip_labels[2] = o.flip_labels[7] = 1;
  }
  const std::size_t p = s.initial.size();
  const auto one = train(s, o, 1);
  ASSERT_EQ(one.k, 1);
  std::vector<float> prev;
  for (std::int64_t k : {7, 0, 3, 2, 16}) {
    const auto batched = train(s, o, k);
    EXPECT_GT(batched.k, 1) << "K " << k;
    const std::string what = std::string(c.model) + " " + c.partition + " " + c.optimizer + " K " + std::to_string(k);
    expect_close(batched.weights, one.weights, p, what);
    ASSERT_EQ(batched.losses.size(), one.losses.size());
    for (std::size_t i = 0; i < one.losses.size(); ++i)
      EXPECT_NEAR(batched.losses[i], one.losses[i], 1e-6 * std::fabs(one.losses[i])) << what;
    EXPECT_EQ(batched.finite, one.finite);
    // A client's bits do not depend on K: the basis of rank invariance.
    if (!prev.empty()) EXPECT_TRUE(same_bits(batched.weights, prev)) << what;
    prev = batched.weights;
    if (!same_bits(batched.weights, one.weights)) std::printf("note: %s differs from per-client in bits\n", what.c_str());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Models, ClientBatch,
    testing::Values(Case{"logreg", "iid", "adam", 0.0, 0.0, 10, 0, false},
                    Case{"logreg", "dirichlet", "adam", 1.0, 0.0, 16, 0, false},
                    Case{"logreg", "dirichlet", "sgd", 0.5, 0.1, 10, 0, true},
                    Case{"logreg", "dirichlet", "sgd", 0.0, 0.0, 7, 13, false},
                    Case{"mlp", "iid", "sgd", 0.0, 0.0, 10, 0, false},
                    Case{"mlp", "dirichlet", "adam", 1.0, 0.1, 16, 0, true},
                    Case{"mlp", "dirichlet", "adam", 0.0, 0.0, 0, 0, false},
                    Case{"mlp", "dirichlet", "sgd", 1.0, 0.0, 9, 11, false}));

// Stragglers under --late-policy partial (LocalTrainer::set_step_limits): a
// capped client stops part-way in the stack too, with the per-client results
// (within 1e-6; NaN losses for the iterations it never reached, which do not
// make it non-finite), and its bits do not depend on K. The trainer stays
// batched. Caps fall before, inside and after the first iteration's steps
// (Dirichlet splits: unequal steps per iteration).
TEST(ClientBatchCaps, CappedClientsLeaveTheBatchLikePerClient) {
  if (mpi::Comm::world().size() > 1) GTEST_SKIP() << "runs at 1 rank";
  const std::vector<std::int64_t> caps = {-1, 0, 1, 2, 3, 5, 8, -1, 13, 4, 1};
  for (const char* model : {"logreg", "mlp"}) {
    const auto s = make_setup(model, "dirichlet");
    client::TrainOptions o;
    o.optimizer = "adam";
    o.lr = 0.003;
    o.clip_norm = 1.0;
    o.batch_size = 10;
    o.local_iterations = 2;
    o.seed = 5;
    const std::size_t p = s.initial.size();
    const auto one = train(s, o, 1, caps);
    ASSERT_EQ(one.k, 1);
    EXPECT_FALSE(same_bits(one.weights, train(s, o, 1).weights)) << model << ": the caps changed nothing";
    for (std::size_t i = 0; i < one.losses.size(); i += kClients * 2)  // client 1 (cap 0), every round
      EXPECT_TRUE(std::isnan(one.losses[i + 2]) && std::isnan(one.losses[i + 3])) << model;
    std::vector<float> prev;
    for (std::int64_t k : {3, 0, 16}) {
      const auto batched = train(s, o, k, caps);
      const std::string what = std::string(model) + " capped, K " + std::to_string(k);
      EXPECT_GT(batched.k, 1) << what;
      expect_close(batched.weights, one.weights, p, what);
      ASSERT_EQ(batched.losses.size(), one.losses.size());
      for (std::size_t i = 0; i < one.losses.size(); ++i) {
        if (std::isnan(one.losses[i])) {
          EXPECT_TRUE(std::isnan(batched.losses[i])) << what << " loss " << i;
          continue;
        }
        EXPECT_NEAR(batched.losses[i], one.losses[i], 1e-6 * std::fabs(one.losses[i])) << what << " loss " << i;
      }
      EXPECT_EQ(batched.finite, one.finite) << what;
      if (!prev.empty()) EXPECT_TRUE(same_bits(batched.weights, prev)) << what;
      prev = batched.weights;
    }
  }
}

TEST(ClientBatchChoice, FallsBackWhereItMust) {
  const auto s = make_setup("logreg", "iid");
  client::TrainOptions o;
  o.client_batch = 0;
  EXPECT_GT(client::LocalTrainer(*s.net, s.data, s.partition, o).clients_per_batch(), 1);
  o.monitor = "last";
  EXPECT_EQ(client::LocalTrainer(*s.net, s.data, s.partition, o).clients_per_batch(), 1);
  o.monitor = "off";
  o.save_gradients = true;
  EXPECT_EQ(client::LocalTrainer(*s.net, s.data, s.partition, o).clients_per_batch(), 1);
  model::ModelOptions m;
  m.height = m.width = 10;
  m.classes = s.data.num_classes;
  auto cnn = model::make_model(m);  // seed-cnn
  EXPECT_FALSE(cnn->supports_batched());
  o.save_gradients = false;
  o.client_batch = 8;
  EXPECT_EQ(client::LocalTrainer(*cnn, s.data, s.partition, o).clients_per_batch(), 1);
}

// Two rounds of centralized FedAvg with the batched path on comm.
std::vector<float> run_engine(const mpi::Comm& comm, const std::string& model, std::int64_t client_batch) {
  static const auto s = make_setup(model, "dirichlet");
  static const auto s_mlp = make_setup("mlp", "dirichlet");
  const Setup& w = model == "mlp" ? s_mlp : s;
  topology::TopologyOptions t;
  t.name = "centralized";
  t.clients = kClients;
  t.seed = 5;
  t.local_iterations = 2;
  t.aggregator.name = "fedavg";
  const auto& descriptor = topology::topology_registry().get(t.name);
  descriptor.validate(t);
  auto layout = topology::make_layout(descriptor, t, w.partition, w.data.train.labels, w.data.num_classes, comm.size());
  const auto partition = topology::reorder(w.partition, layout.order);
  client::TrainOptions train;
  train.optimizer = "adam";
  train.lr = 0.003;
  train.clip_norm = 1.0;
  train.prox_mu = 0.05;
  train.batch_size = 16;
  train.local_iterations = t.local_iterations;
  train.client_keys = layout.order;
  train.eval_batch_size = 64;
  train.client_batch = client_batch;
  client::LocalTrainer trainer(*w.net, w.data, partition, train);
  EXPECT_GT(trainer.clients_per_batch(), 1);
  client::ClientBehaviour behaviour({}, layout.order);
  const auto block = layout.blocks[std::size_t(comm.rank())];
  const int weight_layers = int(w.net->layout().weight_layers().size());
  topology::TopologyContext ctx{comm, block, trainer, partition, t, layout, behaviour, w.net->layout().total(), true,
                                weight_layers};
  auto topo = descriptor.make(ctx);
  engine::EngineParts parts{trainer, partition, *topo, behaviour};
  parts.client_keys = layout.order;
  parts.block = block;
  parts.shape.block = block.size();
  parts.shape.iterations = t.local_iterations;
  parts.shape.params = ctx.num_params;
  parts.shape.keep_weights = true;
  parts.test_samples = w.data.test.count;
  engine::EngineOptions e;
  e.rounds = 2;
  e.clients = kClients;
  e.seed = 5;
  e.eval_batch_size = 64;
  engine::RoundEngine engine(comm, e, std::move(parts), w.initial);
  std::vector<float> global;
  for (int round = 1; round <= 2; ++round) {
    const auto& r = engine.run_round(round);
    global.insert(global.end(), r.global.begin(), r.global.end());
  }
  return global;
}

TEST(ClientBatchEngine, WorldEqualsOneRank) {
  for (const char* model : {"logreg", "mlp"}) {
    for (std::int64_t k : {0, 3}) {
      const auto spread = run_engine(mpi::Comm::world(), model, k);
      const auto alone = run_engine(mpi::Comm::self(), model, k);
      for (float x : spread) ASSERT_TRUE(std::isfinite(x));
      EXPECT_TRUE(same_bits(spread, alone)) << model << " K " << k;
    }
  }
}

}  // namespace
