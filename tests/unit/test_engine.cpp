// The round engine with topologies and aggregators built directly on a
// communicator, without the CLI or HDF5: every topology under every
// aggregator gives the same bits on the world communicator (clients spread
// over the ranks) as on each rank alone; dropped clients stay out of the
// aggregate; faulty clients hand over the corrupted update.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <cstring>
#include <memory>

#include "fedhpc/aggregation/aggregator.hpp"
#include "fedhpc/aggregation/weighted_mean.hpp"
#include "fedhpc/client/behaviour.hpp"
#include "fedhpc/client/local_trainer.hpp"
#include "fedhpc/core/error.hpp"
#include "fedhpc/core/rng.hpp"
#include "fedhpc/data/dataset.hpp"
#include "fedhpc/data/partition.hpp"
#include "fedhpc/engine/round_engine.hpp"
#include "fedhpc/model/model.hpp"
#include "fedhpc/topology/layout.hpp"
#include "fedhpc/topology/topology.hpp"

using namespace fedhpc;

namespace {

constexpr std::int64_t kClients = 8;

struct World {
  data::Dataset data;
  data::Partition partition;
  std::unique_ptr<model::Model> net;
  std::vector<float> initial;

  World() {
    data::DatasetOptions d;
    d.name = "synthetic";
    d.synthetic_train_samples = 640;
    d.synthetic_test_samples = 100;
    d.synthetic_side = 8;
    d.seed = 3;
    data = data::load_dataset(d);
    data::PartitionOptions p;
    p.method = "dirichlet";
    p.dirichlet_alpha = 0.5;
    p.num_clients = kClients;
    p.seed = 3;
    partition = data::make_partition(data.train.labels, data.num_classes, p);
    model::ModelOptions m;
    m.name = "mlp";
    m.hidden = 8;
    m.height = m.width = 8;
    m.classes = data.num_classes;
    net = model::make_model(m);
    initial.resize(std::size_t(net->layout().total()));
    auto rng = stream(3, StreamKind::Init);
    net->initialize(initial.data(), rng);
  }
};

World& world() {
  static World w;
  return w;
}

struct Outcome {
  std::vector<float> global;  // after every round, concatenated
  std::vector<std::uint8_t> dropped;
  std::vector<float> client_weights;  // the last round, this rank's block
  topology::ClientBlock block;
  std::vector<topology::RoundResult> results;  // every round (client_models dangle)
};

// Two rounds of `topology` with `aggregator` on comm.
Outcome run(const mpi::Comm& comm, const std::string& name, const std::string& aggregator,
            client::BehaviourOptions behaviour_options = {}, int rounds = 2, int eval_every = 1) {
  auto& w = world();
  topology::TopologyOptions t;
  t.name = name;
  t.clients = kClients;
  t.seed = 3;
  t.local_iterations = 2;
  t.edges = 2;
  t.rings = 2;
  t.recluster_every = 2;
  t.cluster_min_size = 2;
  t.cluster_threshold = 1e9;
  t.aggregator.name = aggregator;
  t.aggregator.trim_fraction = 0.2;
  t.edge_aggregator = t.aggregator;
  const auto& descriptor = topology::topology_registry().get(name);
  descriptor.validate(t);
  auto layout = topology::make_layout(descriptor, t, w.partition, w.data.train.labels, w.data.num_classes, comm.size());
  const auto partition = topology::reorder(w.partition, layout.order);
  client::TrainOptions train;
  train.optimizer = "sgd";
  train.lr = 0.05;
  train.batch_size = 16;
  train.local_iterations = t.local_iterations;
  train.client_keys = layout.order;
  train.eval_batch_size = 64;
  client::LocalTrainer trainer(*w.net, w.data, partition, train);
  client::ClientBehaviour behaviour(behaviour_options, layout.order);
  const auto block = layout.blocks[std::size_t(comm.rank())];
  topology::TopologyContext ctx{comm, block, trainer, partition, t, layout, behaviour, w.net->layout().total(), true, 2};
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
  e.rounds = rounds;
  e.clients = kClients;
  e.seed = 3;
  e.eval_batch_size = 64;
  e.eval_every = eval_every;
  engine::RoundEngine engine(comm, e, std::move(parts), w.initial);
  Outcome out;
  out.block = block;
  for (int round = 1; round <= rounds; ++round) {
    const auto& r = engine.run_round(round);
    out.results.push_back(r);
    out.global.insert(out.global.end(), r.global.begin(), r.global.end());
    out.dropped = r.record.dropped;
    out.client_weights = r.record.client_weights;
  }
  return out;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

struct Case {
  const char* topology;
  const char* aggregator;
};

class EngineInvariance : public testing::TestWithParam<Case> {};

TEST_P(EngineInvariance, WorldEqualsOneRank) {
  const auto [name, aggregator] = GetParam();
  if (!aggregation::aggregator_registry().contains(aggregator)) GTEST_SKIP() << aggregator << " not registered";
  const auto spread = run(mpi::Comm::world(), name, aggregator);
  const auto alone = run(mpi::Comm::self(), name, aggregator);
  for (float x : spread.global) ASSERT_TRUE(std::isfinite(x));
  EXPECT_TRUE(same_bits(spread.global, alone.global)) << name << " / " << aggregator;
}

INSTANTIATE_TEST_SUITE_P(
    AllTopologies, EngineInvariance,
    testing::Values(Case{"centralized", "fedavg"}, Case{"centralized", "trimmed-mean"}, Case{"centralized", "median"},
                    Case{"centralized", "multi-krum"}, Case{"hierarchical", "fedavg"},
                    Case{"hierarchical", "median"}, Case{"ring", "fedavg"}, Case{"ring", "trimmed-mean"},
                    Case{"clustered", "trimmed-mean"}, Case{"clustered", "fedavg"}, Case{"gossip", "fedavg"},
                    Case{"gossip", "median"}),
    [](const testing::TestParamInfo<Case>& info) {
      std::string s = std::string(info.param.topology) + "_" + info.param.aggregator;
      for (auto& c : s)
        if (c == '-') c = '_';
      return s;
    });

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// --eval-every 2 over 5 rounds: rounds 2, 4 and 5 (the last) are evaluated
// with the bits of an every-round run, on every rank count; rounds 1 and 3
// are NaN; training is untouched.
TEST(Engine, EvalEveryThinsTheEvaluation) {
  const auto every = run(mpi::Comm::self(), "centralized", "fedavg", {}, 5, 1);
  const auto thinned = run(mpi::Comm::world(), "centralized", "fedavg", {}, 5, 2);
  EXPECT_TRUE(same_bits(every.global, thinned.global));
  for (int round = 1; round <= 5; ++round) {
    const auto& a = every.results[std::size_t(round - 1)];
    const auto& b = thinned.results[std::size_t(round - 1)];
    const bool evaluated = round % 2 == 0 || round == 5;
    EXPECT_EQ(b.evaluated, evaluated) << round;
    EXPECT_TRUE(a.evaluated);
    const std::vector<std::pair<double, double>> metrics = {{a.test_loss, b.test_loss},
                                                            {a.test_accuracy, b.test_accuracy},
                                                            {a.aggregated_loss, b.aggregated_loss},
                                                            {a.aggregated_accuracy, b.aggregated_accuracy}};
    for (const auto& [x, y] : metrics) {
      ASSERT_TRUE(std::isfinite(x));
      if (evaluated) EXPECT_TRUE(same_bits(x, y)) << round;
      else EXPECT_TRUE(std::isnan(y)) << round;
    }
    ASSERT_EQ(b.local_test_loss.size(), std::size_t(thinned.block.size()));
    for (std::size_t i = 0; i < b.local_test_loss.size(); ++i) {
      const float x = a.local_test_loss[std::size_t(thinned.block.begin) + i], y = b.local_test_loss[i];
      if (evaluated) EXPECT_EQ(std::memcmp(&x, &y, sizeof x), 0) << round;
      else EXPECT_TRUE(std::isnan(y)) << round;
    }
  }
}

// The engine's phases: non-negative, training takes time, and select..evaluate
// of the reported rank add up to no more than the round's time.
TEST(Engine, PhaseSecondsFitTheRound) {
  const auto out = run(mpi::Comm::world(), "hierarchical", "fedavg", {}, 2, 1);
  for (const auto& r : out.results) {
    double sum = 0.0;
    for (int k = 0; k < 4; ++k) {
      EXPECT_GE(r.phase_seconds[std::size_t(k)], 0.0) << k;
      sum += r.phase_seconds[std::size_t(k)];
    }
    EXPECT_EQ(r.phase_seconds[topology::kWrite], 0.0);
    EXPECT_GT(r.phase_seconds[topology::kTrain], 0.0);
    EXPECT_LE(sum, r.seconds * (1 + 1e-12));
    // Every rank reports the same row.
    const auto max = mpi::all_reduce(mpi::Comm::world(), r.phase_seconds[topology::kTrain], mpi::Op::Max, "max");
    EXPECT_EQ(max, r.phase_seconds[topology::kTrain]);
  }
}

// A robust aggregator changes the result: the aggregator is really used.
TEST(Engine, EveryTopologyUsesItsAggregator) {
  if (!aggregation::aggregator_registry().contains("median")) GTEST_SKIP();
  for (const char* name : {"centralized", "hierarchical", "ring", "clustered", "gossip"}) {
    const auto mean = run(mpi::Comm::self(), name, "fedavg");
    const auto median = run(mpi::Comm::self(), name, "median");
    EXPECT_FALSE(same_bits(mean.global, median.global)) << name;
  }
}

// Dropped clients train but their models stay out: the centralized global
// model is the weighted mean of the others' handed-over models.
TEST(Engine, DroppedClientsStayOutOfTheAggregate) {
  client::BehaviourOptions b;
  b.dropout_rate = 0.4;
  b.seed = 3;
  const auto alone = run(mpi::Comm::self(), "centralized", "fedavg", b);
  const auto P = std::int64_t(world().initial.size());
  int dropped = 0;
  for (auto d : alone.dropped) dropped += d;
  ASSERT_GT(dropped, 0);
  ASSERT_LT(dropped, kClients);
  aggregation::WeightedMean mean;
  mean.begin(P);
  const auto partition = world().partition;  // centralized keeps the partition's order
  for (std::int64_t c = 0; c < kClients; ++c)
    if (!alone.dropped[std::size_t(c)]) mean.add(c, alone.client_weights.data() + c * P, partition.train_count(c));
  std::vector<float> expected(static_cast<std::size_t>(P));
  ASSERT_TRUE(mean.finish(expected.data(), mpi::Comm::self()));
  const std::vector<float> last(alone.global.end() - P, alone.global.end());
  EXPECT_TRUE(same_bits(last, expected));
  // Same draw on any number of ranks.
  const auto spread = run(mpi::Comm::world(), "centralized", "fedavg", b);
  EXPECT_TRUE(same_bits(spread.global, alone.global));
}

// A sign-flipping client hands over start - (theta - start): the honest
// update reversed.
TEST(Engine, SignFlipReversesTheUpdate) {
  client::BehaviourOptions b;
  b.faulty_fraction = 0.25;
  b.fault = client::Fault::SignFlip;
  b.seed = 3;
  client::ClientBehaviour behaviour(b, std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7});
  int faulty = 0;
  for (auto f : behaviour.faulty()) faulty += f;
  EXPECT_EQ(faulty, 2);
  const auto honest = run(mpi::Comm::self(), "centralized", "fedavg");
  const auto flipped = run(mpi::Comm::self(), "centralized", "fedavg", b);
  const auto P = std::int64_t(world().initial.size());
  // Round 2 starts from round 1's global model of each run.
  const std::vector<float> start(flipped.global.begin(), flipped.global.begin() + P);
  const std::vector<float> start_honest(honest.global.begin(), honest.global.begin() + P);
  EXPECT_FALSE(same_bits(start, start_honest));
  for (std::int64_t c = 0; c < kClients; ++c) {
    if (!behaviour.is_faulty(c)) continue;
    const float* w = flipped.client_weights.data() + c * P;
    // An honest rerun of this client from `start` is what it would have sent.
    for (std::int64_t k = 0; k < P; k += 97) EXPECT_TRUE(std::isfinite(w[k]));
  }
  client::ClientBehaviour honest_behaviour({}, std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7});
  std::vector<float> theta = {1.0f, 2.0f}, from = {0.5f, 1.0f};
  std::vector<float> sent = theta;
  const auto id = std::int64_t(std::find(behaviour.faulty().begin(), behaviour.faulty().end(), 1) -
                               behaviour.faulty().begin());
  behaviour.corrupt(id, 1, 0, from.data(), sent.data(), 2);
  EXPECT_EQ(sent, (std::vector<float>{0.0f, 0.0f}));
  sent = theta;
  honest_behaviour.corrupt(id, 1, 0, from.data(), sent.data(), 2);
  EXPECT_EQ(sent, theta);
}

}  // namespace

namespace {

// The typed collectives: rank order, all-to-all round trip, and the one place
// where MPI's int counts are checked.
TEST(Collectives, TypedAndCountChecked) {
  const auto world = mpi::Comm::world();
  const int rank = world.rank(), size = world.size();
  const auto ranks = mpi::all_gather(world, std::int64_t(10 * rank), "all_gather");
  for (int r = 0; r < size; ++r) EXPECT_EQ(ranks[std::size_t(r)], 10 * r);
  // Rank r sends q+1 copies of (100 r + q) to rank q.
  std::vector<double> send;
  std::vector<std::size_t> send_counts, recv_counts;
  for (int q = 0; q < size; ++q) {
    send_counts.push_back(std::size_t(q + 1));
    recv_counts.push_back(std::size_t(rank + 1));
    for (int k = 0; k <= q; ++k) send.push_back(100.0 * rank + q);
  }
  const auto got = mpi::all_to_allv(world, send, send_counts, recv_counts, "all_to_allv");
  ASSERT_EQ(got.size(), std::size_t(size * (rank + 1)));
  for (int q = 0; q < size; ++q)
    for (int k = 0; k <= rank; ++k) EXPECT_EQ(got[std::size_t(q * (rank + 1) + k)], 100.0 * q + rank);
  EXPECT_EQ(mpi::all_reduce(world, 1.5, mpi::Op::Max, "all_reduce"), 1.5);
  EXPECT_EQ(mpi::all_reduce(world, std::int64_t(1), mpi::Op::Sum, "all_reduce"), size);
  EXPECT_EQ(mpi::count_of(std::size_t(1) << 30, "fits"), 1 << 30);
  try {
    mpi::count_of(std::size_t(1) << 31, "MPI_Allgatherv(models)");
    ADD_FAILURE() << "no RunError";
  } catch (const RunError& e) {
    EXPECT_NE(std::string(e.what()).find("MPI_Allgatherv(models)"), std::string::npos) << e.what();
  }
}

}  // namespace
