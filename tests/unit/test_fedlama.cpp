// FedLAMA (Lee et al. 2021; algorithms.md section 9): the discrepancy metric
// and the relaxed-set choice against hand-computed cases; small runs give the
// same bits on the world as on one rank, phi = 1 with one window per round is
// FedAvg bit for bit, the recorded intervals, discrepancies and bytes agree
// with each other, and bad combinations are one-line input errors naming the
// option. Hierarchical FedLAMA (clients sync with their edge, the server
// ends the round): the same bits on the world as on one rank, phi = 1 is
// hierarchical FedAvg at --edge-interval tau' bit for bit, one edge is the
// centralized version bit for bit, and its bytes per level against a hand
// computation. Registered at 1, 2 and 4 ranks.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <numeric>
#include <vector>

#include "fedhpc/aggregation/layer_intervals.hpp"
#include "fedhpc/cli/run_command.hpp"
#include "fedhpc/cli/run_options.hpp"
#include "fedhpc/io/hdf5.hpp"
#include "test_support.hpp"

using namespace fedhpc;
using fedhpc::test::expect_input_error;
using fedhpc::test::read;
using fedhpc::test::same_bits;

TEST(FedLamaRule, DiscrepancyIsTheMeanSquaredDistancePerStepAndCoordinate) {
  // (1/m) sum ||u - x||^2 / (tau_l dim): 12 / 3 / (2 * 4).
  EXPECT_EQ(aggregation::layer_discrepancy(12.0, 3, 2, 4), 0.5);
  EXPECT_TRUE(std::isnan(aggregation::layer_discrepancy(12.0, 0, 2, 4)));
}

TEST(FedLamaRule, RelaxedSetStopsRightAfterDeltaPassesOneMinusLambda) {
  // d*dim = 10, 4, 10, 2 (total 26); dims total 200. Ascending d: #3
  // (delta 2/26, lambda 0.2: 0.077 < 0.8), #0 (delta 12/26 = 0.46,
  // lambda 0.7: 0.46 > 0.3, stop). Relaxed: #3 and #0.
  const auto relaxed = aggregation::relaxed_set({0.1, 0.4, 0.2, 0.05}, {100, 10, 50, 40});
  EXPECT_EQ(relaxed, (std::vector<std::uint8_t>{1, 0, 0, 1}));
  // No discrepancy at all: delta stays 0 and everything is relaxed.
  EXPECT_EQ(aggregation::relaxed_set({0, 0, 0}, {1, 2, 3}), (std::vector<std::uint8_t>{1, 1, 1}));
}

TEST(FedLamaRule, WeightTensorsGetPhiTauBiasesKeepTau) {
  ParamLayout layout;
  layout.add("a.weight", {10, 10}, true);
  layout.add("a.bias", {10}, false);
  layout.add("b.weight", {10, 10}, true);
  layout.add("b.bias", {10}, false);
  layout.add("c.weight", {10}, true);
  layout.add("c.bias", {1}, false);
  // Weight tensors only: d*dim = 1, 2, 10 (total 13), dims 210. a: delta
  // 1/13 = 0.077 vs 1 - 100/210 = 0.52, go on; b: 3/13 = 0.23 vs
  // 1 - 200/210 = 0.048, stop. a and b get phi*tau = 6; c and the biases 2.
  const std::vector<double> d = {0.01, 100.0, 0.02, 100.0, 1.0, 100.0};
  const std::vector<int> current(6, 2);
  EXPECT_EQ(aggregation::next_intervals(layout, d, 2, 3, current), (std::vector<int>{6, 2, 6, 2, 2, 2}));
  // A weight tensor nobody synchronised (NaN) keeps the current intervals.
  auto unknown = d;
  unknown[2] = std::nan("");
  const std::vector<int> odd = {6, 2, 2, 2, 6, 2};
  EXPECT_EQ(aggregation::next_intervals(layout, unknown, 2, 3, odd), odd);
}

namespace {

RunOptions lama_run(const std::string& dir, const std::string& name) {
  RunOptions o = test::synthetic_run(dir + "/" + name + ".h5", 480, 96);
  o.model = "seed-cnn";
  o.clients = 8;
  o.rounds = 2;
  o.batch_size = 16;
  o.optimizer = "sgd";
  o.lr = 0.05;
  o.iteration_steps = 1;
  o.local_iterations = 4;
  o.participation = 0.75;
  o.partition = "dirichlet";
  o.dirichlet_alpha = 0.1;
  o.aggregator = "fedlama";
  o.lama_interval = 1;
  o.lama_phi = 2;
  return o;
}

class FedLamaRun : public testing::Test {
 protected:
  void SetUp() override {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    dir_ = test::shared_temp_dir(MPI_COMM_WORLD, "fedlama");
  }
  int rank_ = 0;
  std::string dir_;
};

}  // namespace

TEST_F(FedLamaRun, SameBitsOnTheWorldAsOnOneRank) {
  auto o = lama_run(dir_, "world");
  o.dropout_rate = 0.2;
  run_simulation(o, mpi::Comm::world());
  if (rank_ != 0) return;
  auto alone = o;
  alone.output = dir_ + "/alone.h5";
  run_simulation(alone, mpi::Comm::self());
  for (const char* name : {"global/weights", "global/test_loss", "comm/bytes", "fedlama/discrepancy",
                           "comm/layer_bytes", "comm/fedavg_bytes", "comm/ratio_to_fedavg"}) {
    if (std::string(name) == "global/weights") EXPECT_TRUE(same_bits(read<float>(o.output, name), read<float>(alone.output, name))) << name;
    else EXPECT_TRUE(same_bits(read<double>(o.output, name), read<double>(alone.output, name))) << name;
  }
  EXPECT_EQ(read<std::int64_t>(o.output, "fedlama/interval"), read<std::int64_t>(alone.output, "fedlama/interval"));
}

TEST_F(FedLamaRun, PhiOneWithOneWindowPerRoundIsFedAvgBitForBit) {
  auto lama = lama_run(dir_, "phi1");
  lama.lama_phi = 1;
  lama.lama_interval = 4;
  run_simulation(lama, mpi::Comm::world());
  auto avg = lama_run(dir_, "fedavg");
  avg.aggregator = "fedavg";
  run_simulation(avg, mpi::Comm::world());
  if (rank_ != 0) return;
  EXPECT_TRUE(same_bits(read<float>(lama.output, "global/weights"), read<float>(avg.output, "global/weights")));
  EXPECT_TRUE(same_bits(read<double>(lama.output, "comm/bytes"), read<double>(avg.output, "comm/bytes")));
  for (double r : read<double>(lama.output, "comm/ratio_to_fedavg")) EXPECT_EQ(r, 1.0);
}

TEST_F(FedLamaRun, IntervalsDiscrepanciesAndBytesAgree) {
  const auto o = lama_run(dir_, "record");
  run_simulation(o, mpi::Comm::world());
  if (rank_ != 0) return;
  auto file = h5::File::open(o.output, MPI_COMM_NULL, false);
  const auto names = file.root().dataset("model/layer_names").read_strings();
  const auto offsets = read<std::int64_t>(o.output, "model/layer_offsets");
  const std::size_t L = names.size();
  const auto interval = read<std::int64_t>(o.output, "fedlama/interval");
  const auto d = read<double>(o.output, "fedlama/discrepancy");
  // 2 rounds x 4 iterations / (phi tau' = 2) = 4 decision points.
  ASSERT_EQ(interval.size(), 4 * L);
  ASSERT_EQ(d.size(), 4 * L);
  bool relaxed = false, kept = false;
  for (std::size_t s = 0; s < 4; ++s)
    for (std::size_t l = 0; l < L; ++l) {
      const auto v = interval[s * L + l];
      EXPECT_TRUE(v == 1 || v == 2) << v;
      if (names[l].find("bias") != std::string::npos) EXPECT_EQ(v, 1) << names[l];
      else (v == 2 ? relaxed : kept) = true;
      EXPECT_GE(d[s * L + l], 0.0);
    }
  EXPECT_TRUE(relaxed);
  EXPECT_TRUE(kept);
  // Per round: the tensors' bytes add up to the client_server level, which
  // is below FedAvg's at interval tau' once something was relaxed.
  const auto layer = read<double>(o.output, "comm/layer_bytes");
  const auto bytes = read<double>(o.output, "comm/bytes");
  const auto fedavg = read<double>(o.output, "comm/fedavg_bytes");
  const auto ratio = read<double>(o.output, "comm/ratio_to_fedavg");
  const double P = double(offsets.back());
  for (std::size_t r = 0; r < 2; ++r) {
    const double sum = std::accumulate(layer.begin() + long(r * L), layer.begin() + long((r + 1) * L), 0.0);
    EXPECT_EQ(sum, bytes[r * 5]);
    EXPECT_EQ(fedavg[r], 2.0 * 6 * P * 4 * 4);  // 6 clients, down and up, 4 syncs at tau' = 1
    EXPECT_EQ(ratio[r], bytes[r * 5] / fedavg[r]);
    EXPECT_LE(ratio[r], 1.0);
  }
  EXPECT_LT(ratio[1], 1.0);
}

TEST_F(FedLamaRun, BadCombinationsAreInputErrorsNamingTheOption) {
  // Only the server (centralized) and the edges (hierarchical) average
  // inside a round.
  for (const char* topology : {"ring", "gossip", "clustered"}) {
    auto o = lama_run(dir_, "bad");
    o.topology = topology;
    o.participation = 1.0;
    expect_input_error([&] { run_simulation(o, mpi::Comm::world()); },
                       {"--aggregator", "centralized or hierarchical", topology});
  }
  auto o = lama_run(dir_, "bad");
  o.topology = "hierarchical";
  o.edges = 2;
  o.edge_aggregator = "median";
  expect_input_error([&] { run_simulation(o, mpi::Comm::world()); }, {"--edge-aggregator", "same"});
  o = lama_run(dir_, "bad");
  o.local_iterations = 3;
  expect_input_error([&] { run_simulation(o, mpi::Comm::world()); }, {"--local-iterations", "multiple"});
  o = lama_run(dir_, "bad");
  o.server_optimizer = "adam";
  expect_input_error([&] { run_simulation(o, mpi::Comm::world()); }, {"--server-optimizer"});
  o = lama_run(dir_, "bad");
  o.aggregator = "fedavg";
  o.topology = "hierarchical";
  o.edges = 2;
  o.edge_aggregator = "fedlama";
  expect_input_error([&] { run_simulation(o, mpi::Comm::world()); }, {"--edge-aggregator", "centralized"});
  o = lama_run(dir_, "bad");
  o.lama_phi = 0;
  expect_input_error([&] { run_simulation(o, mpi::Comm::world()); }, {"--lama-phi"});
}

namespace {

RunOptions hier_run(const std::string& dir, const std::string& name) {
  RunOptions o = lama_run(dir, name);
  o.topology = "hierarchical";
  // 3 edges: inside one rank each at 1 and 2 ranks; at 4 ranks edge 2 spans
  // two ranks and reduces over its own communicator.
  o.edges = 3;
  return o;
}

// Column `level` of /comm/bytes [R, 5] (client_server, client_edge, edge_server, ...).
double level_bytes(const std::vector<double>& bytes, std::size_t round, std::size_t level) {
  return bytes[round * 5 + level];
}

}  // namespace

TEST_F(FedLamaRun, HierarchicalSameBitsOnTheWorldAsOnOneRank) {
  auto o = hier_run(dir_, "hier_world");
  o.dropout_rate = 0.2;
  run_simulation(o, mpi::Comm::world());
  if (rank_ != 0) return;
  auto alone = o;
  alone.output = dir_ + "/hier_alone.h5";
  run_simulation(alone, mpi::Comm::self());
  EXPECT_TRUE(same_bits(read<float>(o.output, "global/weights"), read<float>(alone.output, "global/weights")));
  for (const char* name : {"global/test_loss", "comm/bytes", "fedlama/discrepancy", "comm/layer_bytes",
                           "comm/fedavg_bytes", "comm/ratio_to_fedavg"})
    EXPECT_TRUE(same_bits(read<double>(o.output, name), read<double>(alone.output, name))) << name;
  EXPECT_EQ(read<std::int64_t>(o.output, "fedlama/interval"), read<std::int64_t>(alone.output, "fedlama/interval"));
  // Something was relaxed, so the clients moved fewer bytes than FedAvg's.
  const auto ratio = read<double>(o.output, "comm/ratio_to_fedavg");
  EXPECT_LT(ratio.back(), 1.0);
}

TEST_F(FedLamaRun, HierarchicalPhiOneIsHierarchicalFedAvgAtEdgeIntervalTauBitForBit) {
  // tau' = 1, 4 iterations: edges sync every tensor after iterations 1-3,
  // the server ends the round; hierarchical FedAvg with --edge-interval 1
  // does the same.
  auto lama = hier_run(dir_, "hier_phi1");
  lama.lama_phi = 1;
  run_simulation(lama, mpi::Comm::world());
  auto avg = hier_run(dir_, "hier_fedavg");
  avg.aggregator = "fedavg";
  avg.edge_interval = 1;
  run_simulation(avg, mpi::Comm::world());
  if (rank_ != 0) return;
  EXPECT_TRUE(same_bits(read<float>(lama.output, "global/weights"), read<float>(avg.output, "global/weights")));
  EXPECT_TRUE(same_bits(read<double>(lama.output, "comm/bytes"), read<double>(avg.output, "comm/bytes")));
  for (double r : read<double>(lama.output, "comm/ratio_to_fedavg")) EXPECT_EQ(r, 1.0);
}

TEST_F(FedLamaRun, HierarchicalWithOneEdgeIsCentralizedBitForBit) {
  auto hier = hier_run(dir_, "hier_one_edge");
  hier.edges = 1;
  run_simulation(hier, mpi::Comm::world());
  const auto central = lama_run(dir_, "central");
  run_simulation(central, mpi::Comm::world());
  if (rank_ != 0) return;
  EXPECT_TRUE(same_bits(read<float>(hier.output, "global/weights"), read<float>(central.output, "global/weights")));
  EXPECT_TRUE(same_bits(read<double>(hier.output, "fedlama/discrepancy"),
                        read<double>(central.output, "fedlama/discrepancy")));
  EXPECT_EQ(read<std::int64_t>(hier.output, "fedlama/interval"), read<std::int64_t>(central.output, "fedlama/interval"));
  // The clients' bytes move from client_server to client_edge.
  const auto h = read<double>(hier.output, "comm/bytes"), c = read<double>(central.output, "comm/bytes");
  for (std::size_t r = 0; r < 2; ++r) EXPECT_EQ(level_bytes(h, r, 1), level_bytes(c, r, 0));
}

TEST_F(FedLamaRun, HierarchicalBytesPerLevelMatchAHandComputation) {
  // logreg: one weight tensor W [C, F] and one bias b [C]. tau' = 1, phi =
  // 2, 2 iterations per round, 8 clients (all take part) on 2 edges.
  auto o = hier_run(dir_, "hier_bytes");
  o.model = "logreg";
  o.participation = 1.0;
  o.edges = 2;
  o.local_iterations = 2;
  run_simulation(o, mpi::Comm::world());
  if (rank_ != 0) return;
  const auto offsets = read<std::int64_t>(o.output, "model/layer_offsets");
  ASSERT_EQ(offsets.size(), 3u);
  const double W = double(offsets[1]), C = double(offsets[2] - offsets[1]), P = W + C, m = 8, E = 2;
  // The lone weight tensor is relaxed at every decision (delta = 1 > 1 -
  // lambda = 0 right after it); the bias keeps tau'.
  EXPECT_EQ(read<std::int64_t>(o.output, "fedlama/interval"), (std::vector<std::int64_t>{2, 1, 2, 1}));
  const auto bytes = read<double>(o.output, "comm/bytes");
  const auto layer = read<double>(o.output, "comm/layer_bytes");
  const auto fedavg = read<double>(o.output, "comm/fedavg_bytes");
  const auto ratio = read<double>(o.output, "comm/ratio_to_fedavg");
  // Round 1 (every interval tau'): both tensors with the edge after step 1,
  // with the server after step 2 (clients -> edge -> server and back).
  EXPECT_EQ(level_bytes(bytes, 0, 0), 0.0);
  EXPECT_EQ(level_bytes(bytes, 0, 1), 2 * (2 * m * P * 4));
  EXPECT_EQ(level_bytes(bytes, 0, 2), 2 * E * P * 4);
  EXPECT_EQ(layer[0], 2 * (2 * m * W * 4) + 2 * E * W * 4);
  EXPECT_EQ(layer[1], 2 * (2 * m * C * 4) + 2 * E * C * 4);
  // Round 2: W waits for step 2; b syncs with the edge after step 1.
  EXPECT_EQ(level_bytes(bytes, 1, 1), 2 * m * C * 4 + 2 * m * P * 4);
  EXPECT_EQ(level_bytes(bytes, 1, 2), 2 * E * P * 4);
  EXPECT_EQ(layer[2], 2 * m * W * 4 + 2 * E * W * 4);
  EXPECT_EQ(layer[3], 2 * (2 * m * C * 4) + 2 * E * C * 4);
  // Hierarchical FedAvg at edge interval tau' = 1: the whole model after
  // each step, and the edges once with the server.
  const double avg = 2 * (2 * m * P * 4) + 2 * E * P * 4;
  EXPECT_EQ(fedavg[0], avg);
  EXPECT_EQ(fedavg[1], avg);
  EXPECT_EQ(ratio[0], 1.0);
  EXPECT_EQ(ratio[1], (2 * m * C * 4 + 2 * m * P * 4 + 2 * E * P * 4) / avg);
}
