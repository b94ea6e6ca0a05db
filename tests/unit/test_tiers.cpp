// Client tiers (weak clients, InclusiveFL-style; algorithms.md section 12):
// the specs and their errors, the reproducible draw of tiers, the layer-wise
// mean against hand-computed cases with the clients spread over the ranks,
// the analytic step cost, and small tiered runs: frozen layers come back
// unchanged from local training, a layer nobody trained keeps its value,
// strong-only tiers are FedAvg bit for bit, and the world gives the same
// bits as one rank. Registered at 1, 2 and 4 ranks.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstring>
#include <fstream>
#include <vector>

#include "fedhpc/aggregation/layerwise_mean.hpp"
#include "fedhpc/aggregation/weighted_mean.hpp"
#include "fedhpc/cli/run_command.hpp"
#include "fedhpc/cli/run_options.hpp"
#include "fedhpc/client/tiers.hpp"
#include "fedhpc/core/rng.hpp"
#include "fedhpc/io/hdf5.hpp"
#include "fedhpc/model/layer_cost.hpp"
#include "test_support.hpp"

using namespace fedhpc;
using fedhpc::test::expect_input_error;
using fedhpc::test::read;
using fedhpc::test::same_bits;

namespace {

// a.weight [2], a.bias [1], b.weight [2], b.bias [1]: two weight layers, a = [0, 3), b = [3, 6).
ParamLayout two_layers() {
  ParamLayout l;
  l.add("a.weight", {2}, true);
  l.add("a.bias", {1}, false);
  l.add("b.weight", {2}, true);
  l.add("b.bias", {1}, false);
  return l;
}

struct Upload {
  std::vector<float> params;
  std::int64_t weight;
  std::int64_t from;
};

// Client k is added on rank k % size, in reverse order on odd ranks.
std::vector<float> layerwise(const ParamLayout& layout, const std::vector<Upload>& clients, std::vector<float> out,
                             bool* any = nullptr) {
  const auto world = mpi::Comm::world();
  aggregation::LayerwiseMean mean(layout);
  mean.begin();
  const int n = int(clients.size());
  for (int i = 0; i < n; ++i) {
    const int k = world.rank() % 2 ? n - 1 - i : i;
    if (k % world.size() != world.rank()) continue;
    mean.add(clients[std::size_t(k)].params.data(), clients[std::size_t(k)].weight, clients[std::size_t(k)].from);
  }
  const bool got = mean.finish(out.data(), world);
  if (any) *any = got;
  return out;
}

}  // namespace

TEST(TierSpec, ParsesFractionsAndTrainableCounts) {
  const auto spec = client::parse_tiers("strong:0.5,moderate:0.25,weak:0.25", "moderate:2,weak:1");
  EXPECT_TRUE(spec.enabled);
  EXPECT_EQ(spec.fraction[0], 0.5);
  EXPECT_EQ(spec.fraction[1], 0.25);
  EXPECT_EQ(spec.fraction[2], 0.25);
  EXPECT_EQ(spec.trainable[1], 2);
  EXPECT_EQ(spec.trainable[2], 1);
  EXPECT_FALSE(client::parse_tiers("none", "moderate:2,weak:1").enabled);
  EXPECT_NO_THROW(client::check_trainable(spec, 3, "seed-cnn"));
}

TEST(TierSpec, BadSpecsAreOneLineErrorsNamingTheOption) {
  expect_input_error([] { client::parse_tiers("strong:0.5,tiny:0.5", "weak:1"); }, {"--client-tiers", "tiny"});
  expect_input_error([] { client::parse_tiers("strong:0.5,weak:0.4", "weak:1"); }, {"--client-tiers", "sum to 1"});
  expect_input_error([] { client::parse_tiers("strong:0.5,strong:0.5", "weak:1"); }, {"--client-tiers", "twice"});
  expect_input_error([] { client::parse_tiers("strong", "weak:1"); }, {"--client-tiers"});
  expect_input_error([] { client::parse_tiers("strong:x,weak:1", "weak:1"); }, {"--client-tiers"});
  expect_input_error([] { client::parse_tiers("strong:0.5,weak:0.5", "weak:0"); }, {"--tier-trainable"});
  expect_input_error([] { client::parse_tiers("strong:0.5,weak:0.5", "strong:2"); }, {"--tier-trainable", "strong"});
  const auto spec = client::parse_tiers("strong:0.5,moderate:0.25,weak:0.25", "moderate:3,weak:1");
  expect_input_error([&] { client::check_trainable(spec, 2, "mlp"); }, {"--tier-trainable", "moderate:3", "1..2"});
  // A tier that is never drawn needs no valid count.
  const auto no_moderate = client::parse_tiers("strong:0.5,weak:0.5", "moderate:3,weak:1");
  EXPECT_NO_THROW(client::check_trainable(no_moderate, 2, "mlp"));
}

TEST(TierDraw, ReproducibleKeyedByClientAndCloseToTheFractions) {
  const auto spec = client::parse_tiers("strong:0.5,moderate:0.25,weak:0.25", "moderate:2,weak:1");
  std::vector<std::int64_t> keys(20000);
  for (std::size_t i = 0; i < keys.size(); ++i) keys[i] = std::int64_t(i);
  const auto a = client::draw_tiers(spec, 7, keys);
  EXPECT_EQ(a, client::draw_tiers(spec, 7, keys));
  EXPECT_NE(a, client::draw_tiers(spec, 8, keys));
  std::array<double, 3> count{};
  for (auto t : a) count[std::size_t(t)] += 1.0 / double(keys.size());
  EXPECT_NEAR(count[0], 0.5, 0.02);
  EXPECT_NEAR(count[1], 0.25, 0.02);
  EXPECT_NEAR(count[2], 0.25, 0.02);
  // A client's tier follows its key (partition index), not its position.
  std::vector<std::int64_t> reversed(keys.rbegin(), keys.rend());
  const auto b = client::draw_tiers(spec, 7, reversed);
  for (std::size_t i = 0; i < keys.size(); ++i) ASSERT_EQ(b[i], a[keys.size() - 1 - i]);
  // A tier with fraction 0 is never drawn.
  for (auto t : client::draw_tiers(client::parse_tiers("strong:0.5,weak:0.5", "weak:1"), 7, keys))
    ASSERT_NE(t, client::Tier::Moderate);
}

TEST(TierLayers, FirstTrainedOffsetIsTheStartOfAnOutputSideWeightLayer) {
  const auto l = two_layers();
  EXPECT_EQ(client::first_trained_offset(l, 2), 0);
  EXPECT_EQ(client::first_trained_offset(l, 1), 3);
  const auto spec = client::parse_tiers("strong:0.5,weak:0.5", "weak:1");
  const auto from = client::trained_offsets(spec, {client::Tier::Strong, client::Tier::Weak}, l);
  EXPECT_EQ(from, (std::vector<std::int64_t>{0, 3}));
}

TEST(LayerwiseMean, EachLayerIsAveragedOverTheClientsThatTrainedIt) {
  const auto layout = two_layers();
  // Client 0 strong (weight 1), clients 1 and 2 weak (weights 3 and 1): layer a
  // is client 0's alone; layer b is (1 x0 + 3 x1 + 1 x2) / 5.
  const std::vector<Upload> clients = {{{2, 4, 6, 2, 4, 6}, 1, 0},
                                       {{-9, -9, -9, 4, 8, 1}, 3, 3},
                                       {{-9, -9, -9, 7, 1, 3}, 1, 3}};
  const std::vector<float> start = {10, 20, 30, 40, 50, 60};
  const auto out = layerwise(layout, clients, start);
  const std::vector<float> expected = {2, 4, 6, float(21.0 / 5), float(29.0 / 5), float(12.0 / 5)};
  EXPECT_TRUE(same_bits(out, expected)) << out[3] << " " << out[4] << " " << out[5];
}

TEST(LayerwiseMean, ALayerNobodyTrainedKeepsItsValue) {
  const auto layout = two_layers();
  const std::vector<Upload> weak = {{{-9, -9, -9, 1, 2, 3}, 2, 3}, {{-9, -9, -9, 3, 4, 5}, 2, 3}};
  const std::vector<float> start = {10, 20, 30, 40, 50, 60};
  bool any = false;
  const auto out = layerwise(layout, weak, start, &any);
  EXPECT_TRUE(any);
  EXPECT_TRUE(same_bits(out, std::vector<float>{10, 20, 30, 2, 3, 4}));
  // Nobody at all: everything stays, and finish says so.
  const auto none = layerwise(layout, {}, start, &any);
  EXPECT_FALSE(any);
  EXPECT_TRUE(same_bits(none, start));
}

TEST(LayerwiseMean, AllStrongIsTheWeightedMeanBitForBit) {
  ParamLayout layout;
  layout.add("c.weight", {8, 3, 3, 3}, true);
  layout.add("c.bias", {8}, false);
  layout.add("d.weight", {10, 50}, true);
  layout.add("d.bias", {10}, false);
  auto rng = stream(3, StreamKind::Init);
  std::vector<Upload> clients;
  for (int k = 0; k < 7; ++k) {
    Upload u{{}, 1 + std::int64_t(rng.below(40)), 0};
    for (std::int64_t j = 0; j < layout.total(); ++j) u.params.push_back(float(rng.normal()));
    clients.push_back(u);
  }
  const auto out = layerwise(layout, clients, std::vector<float>(std::size_t(layout.total()), 0.0f));
  const auto world = mpi::Comm::world();
  aggregation::WeightedMean mean;
  mean.begin(layout.total());
  for (int k = 0; k < 7; ++k)
    if (k % world.size() == world.rank()) mean.add(k, clients[std::size_t(k)].params.data(), clients[std::size_t(k)].weight);
  std::vector<float> expected(std::size_t(layout.total()));
  ASSERT_TRUE(mean.finish(expected.data(), world));
  EXPECT_TRUE(same_bits(out, expected));
}

TEST(StepCost, MatchesTheFormulaOnAHandComputedCase) {
  // Layers of 10, 20, 30 MACs per sample; batch 4.
  const std::vector<model::LayerGeometry> g = {{10, 5, 6}, {20, 7, 8}, {30, 9, 2}};
  const auto all = model::step_cost(g, 3, 4);
  EXPECT_EQ(all.trained, 3);
  EXPECT_EQ(all.flops, 4.0 * (2 * 60 + 2 * 60 + 2 * 50));  // forward, weight grads, input grads of layers 1, 2
  EXPECT_EQ(all.activation_bytes, 4.0 * 4 * (11 + 15 + 11));
  const auto last = model::step_cost(g, 1, 4);
  EXPECT_EQ(last.flops, 4.0 * (2 * 60 + 2 * 30));
  EXPECT_EQ(last.activation_bytes, 4.0 * 4 * 11);
  const auto two = model::step_cost(g, 2, 4);
  EXPECT_EQ(two.flops, 4.0 * (2 * 60 + 2 * 50 + 2 * 30));
}

namespace {

RunOptions tiny_run(const std::string& dir, const std::string& name) {
  RunOptions o = test::synthetic_run(dir + "/" + name + ".h5", 480, 96);
  o.model = "seed-cnn";
  o.clients = 6;
  o.rounds = 2;
  o.batch_size = 16;
  o.optimizer = "adam";
  o.lr = 0.01;
  o.iteration_steps = 3;
  return o;
}

class TierRun : public testing::Test {
 protected:
  void SetUp() override {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    dir_ = test::shared_temp_dir(MPI_COMM_WORLD, "tiers");
  }
  std::vector<float> weights(const RunOptions& o) { return read<float>(o.output, "global/weights"); }
  int rank_ = 0;
  std::string dir_;
};

}  // namespace

TEST_F(TierRun, SameBitsOnTheWorldAsOnOneRankAndTheTiersAreRecorded) {
  auto o = tiny_run(dir_, "mixed");
  o.client_tiers = "strong:0.4,moderate:0.3,weak:0.3";
  o.tier_trainable = "moderate:2,weak:1";
  o.participation = 0.7;
  run_simulation(o, mpi::Comm::world());
  if (rank_ != 0) return;
  auto alone = o;
  alone.output = dir_ + "/mixed-alone.h5";
  run_simulation(alone, mpi::Comm::self());
  EXPECT_TRUE(same_bits(weights(o), weights(alone)));
  EXPECT_TRUE(same_bits(read<double>(o.output, "global/test_loss"), read<double>(alone.output, "global/test_loss")));
  EXPECT_TRUE(same_bits(read<double>(o.output, "comm/bytes"), read<double>(alone.output, "comm/bytes")));
  const auto tiers = read<std::int64_t>(o.output, "clients/tier");
  ASSERT_EQ(tiers.size(), 6u);
  EXPECT_EQ(tiers, read<std::int64_t>(alone.output, "clients/tier"));
  // The same draw as the library's (keys = partition indices; centralized keeps the order).
  const auto spec = client::parse_tiers(o.client_tiers, o.tier_trainable);
  const auto drawn = client::draw_tiers(spec, o.seed, {0, 1, 2, 3, 4, 5});
  for (std::size_t c = 0; c < 6; ++c) EXPECT_EQ(tiers[c], std::int64_t(drawn[c]));
  auto file = h5::File::open(o.output, MPI_COMM_NULL, false);
  EXPECT_EQ(file.root().dataset("clients/tier").get_attribute_string("names"), "strong,moderate,weak");
  const auto cost = read<double>(o.output, "clients/tier_cost");
  ASSERT_EQ(cost.size(), 9u);
  EXPECT_EQ(cost[0], 3.0);  // strong trains all three weight layers
  EXPECT_EQ(cost[3], 2.0);
  EXPECT_EQ(cost[6], 1.0);
  EXPECT_GT(cost[1], cost[4]);
  EXPECT_GT(cost[4], cost[7]);
  EXPECT_GT(cost[2], cost[5]);
  EXPECT_GT(cost[5], cost[8]);
}

TEST_F(TierRun, FrozenLayersComeBackUnchangedAndStayPutWhenNobodyTrainsThem) {
  // Every client weak: conv1 and conv2 run forward only, so each client's
  // handed-over model and the new global model keep them bit for bit, while
  // the dense layer moves. The clients upload only the dense layer. Adam with
  // the baseline's clipping, and SGD with momentum plus FedProx's term.
  // Moderate (conv2 and dense trained) freezes conv1 only.
  struct Case {
    const char* tier;
    const char* optimizer;
    std::size_t first_trained_tensor;  // dense.weight = 4, conv2.weight = 2
  };
  for (const Case& k : {Case{"weak", "adam", 4}, Case{"weak", "sgd", 4}, Case{"moderate", "adam", 2}}) {
    const std::string optimizer = k.optimizer;
    auto o = tiny_run(dir_, std::string(k.tier) + "-" + optimizer);
    o.client_tiers = std::string(k.tier) + ":1";
    o.tier_trainable = std::string(k.tier) + (k.first_trained_tensor == 4 ? ":1" : ":2");
    o.save_weights = "clients";
    o.optimizer = optimizer;
    if (o.optimizer == "sgd") {
      o.momentum = 0.9;
      o.prox_mu = 0.1;
    }
    run_simulation(o, mpi::Comm::world());
    if (rank_ != 0) continue;
    const auto offsets = read<std::int64_t>(o.output, "model/layer_offsets");
    const auto frozen = std::size_t(offsets[k.first_trained_tensor]);
    const auto P = std::size_t(offsets.back());
    const auto global = weights(o);
    const auto clients = read<float>(o.output, "clients/weights");
    for (std::size_t r = 1; r <= 2; ++r) {
      const float* start = global.data() + (r - 1) * P;
      const float* end = global.data() + r * P;
      EXPECT_EQ(std::memcmp(start, end, frozen * sizeof(float)), 0) << k.tier << " " << optimizer << " round " << r;
      EXPECT_NE(std::memcmp(start + frozen, end + frozen, (P - frozen) * sizeof(float)), 0) << k.tier << " " << optimizer << " round " << r;
      for (std::size_t c = 0; c < 6; ++c) {
        const float* handed = clients.data() + ((r - 1) * 6 + c) * P;
        EXPECT_EQ(std::memcmp(start, handed, frozen * sizeof(float)), 0) << k.tier << " " << optimizer << " round " << r << " client " << c;
      }
    }
    const auto bytes = read<double>(o.output, "comm/bytes");  // [R, 5]; level 0 = client_server
    EXPECT_EQ(bytes[0], 6.0 * double(P + (P - frozen)) * 4.0);
  }
}

TEST_F(TierRun, StrongOnlyTiersAreFedAvgBitForBit) {
  auto plain = tiny_run(dir_, "plain");
  run_simulation(plain, mpi::Comm::world());
  auto strong = tiny_run(dir_, "strong");
  strong.client_tiers = "strong:1";
  run_simulation(strong, mpi::Comm::world());
  if (rank_ != 0) return;
  EXPECT_TRUE(same_bits(weights(plain), weights(strong)));
  EXPECT_TRUE(same_bits(read<double>(plain.output, "comm/bytes"), read<double>(strong.output, "comm/bytes")));
}

TEST_F(TierRun, StoredConfigReproducesATieredRun) {
  auto o = tiny_run(dir_, "config-first");
  o.client_tiers = "strong:0.5,moderate:0.25,weak:0.25";
  o.tier_trainable = "moderate:2,weak:1";
  run_simulation(o, mpi::Comm::world());
  const std::string ini = dir_ + "/stored.ini";
  if (rank_ == 0) {
    auto file = h5::File::open(o.output, MPI_COMM_NULL, false);
    const auto config = file.root().get_attribute_string("config");
    EXPECT_NE(config.find("\nclient-tiers = strong:0.5,moderate:0.25,weak:0.25\n"), std::string::npos) << config;
    EXPECT_NE(config.find("\ntier-trainable = moderate:2,weak:1\n"), std::string::npos) << config;
    std::ofstream(ini) << config;
  }
  MPI_Barrier(MPI_COMM_WORLD);
  auto again = parse_run_options({"--config", ini, "--output", dir_ + "/config-second.h5", "--overwrite"}).options;
  run_simulation(again, mpi::Comm::world());
  if (rank_ != 0) return;
  EXPECT_TRUE(same_bits(weights(o), weights(again)));
  EXPECT_EQ(read<std::int64_t>(o.output, "clients/tier"), read<std::int64_t>(again.output, "clients/tier"));
}

TEST_F(TierRun, OtherTopologiesAndAggregatorsAreRefused) {
  auto o = tiny_run(dir_, "refused");
  o.client_tiers = "strong:0.5,weak:0.5";
  o.topology = "ring";
  expect_input_error([&] { run_simulation(o, mpi::Comm::world()); }, {"--client-tiers", "centralized"});
  o.topology = "centralized";
  o.aggregator = "median";
  expect_input_error([&] { run_simulation(o, mpi::Comm::world()); }, {"--client-tiers", "fedavg"});
  o.aggregator = "fedavg";
  o.model = "logreg";
  o.tier_trainable = "weak:2";
  expect_input_error([&] { run_simulation(o, mpi::Comm::world()); }, {"--tier-trainable", "1..1"});
}
