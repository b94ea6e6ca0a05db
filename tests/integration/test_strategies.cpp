// Aggregators, server optimizers, FedProx and misbehaving clients through
// run_simulation: the HDF5 file records them, the results do not depend on
// the number of ranks, and each strategy really changes the run.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>

#include "fedhpc/cli/run_command.hpp"
#include "fedhpc/core/error.hpp"
#include "fedhpc/io/hdf5.hpp"
#include "test_support.hpp"

using namespace fedhpc;
using fedhpc::test::read;
using fedhpc::test::same_bits;

namespace {

RunOptions base() {
  RunOptions o = test::synthetic_run("", 800, 200);
  o.model = "mlp";
  o.hidden = 16;
  o.clients = 10;
  o.rounds = 2;
  o.local_iterations = 2;
  o.batch_size = 16;
  o.lr = 0.01;
  o.save_weights = "clients";
  return o;
}

class Strategies : public testing::Test {
 protected:
  void SetUp() override {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    dir_ = test::shared_temp_dir(MPI_COMM_WORLD, "strategies");
  }
  // The run on every rank of the world, and (on rank 0) the same run alone.
  std::string run(RunOptions o, const std::string& name) {
    o.output = dir_ + "/" + name + ".h5";
    run_simulation(o, mpi::Comm::world());
    if (rank_ == 0) {
      RunOptions alone = o;
      alone.output = dir_ + "/" + name + "-alone.h5";
      run_simulation(alone, mpi::Comm::self());
      EXPECT_TRUE(same_bits(read<float>(o.output, "global/weights"), read<float>(alone.output, "global/weights")))
          << name << ": world and one rank differ";
    }
    return o.output;
  }
  std::vector<float> weights(const std::string& path) { return read<float>(path, "global/weights"); }
  int rank_ = 0;
  std::string dir_;
};

}  // namespace

TEST_F(Strategies, RobustAggregatorsAndServerOptimizersChangeTheRunAndAreRecorded) {
  const auto fedavg = run(base(), "fedavg");
  auto o = base();
  o.aggregator = "multi-krum";
  o.byzantine = 2;
  const auto krum = run(o, "multi-krum");
  o = base();
  o.server_optimizer = "adam";
  o.server_lr = 0.01;
  const auto adam = run(o, "fedadam");
  o = base();
  o.prox_mu = 0.5;
  const auto prox = run(o, "fedprox");
  o = base();
  o.topology = "hierarchical";
  o.edges = 2;
  o.aggregator = "median";
  o.edge_aggregator = "trimmed-mean";
  o.trim_fraction = 0.2;
  const auto hier = run(o, "hier-robust");
  if (rank_ != 0) return;
  for (const auto& other : {krum, adam, prox, hier}) EXPECT_FALSE(same_bits(weights(fedavg), weights(other))) << other;
  auto file = h5::File::open(adam, MPI_COMM_NULL, false);
  EXPECT_EQ(file.root().get_attribute_string("server_optimizer"), "adam");
  EXPECT_EQ(file.root().get_attribute_string("aggregator"), "fedavg");
  auto h = h5::File::open(hier, MPI_COMM_NULL, false);
  EXPECT_EQ(h.root().get_attribute_string("aggregator"), "median");
  EXPECT_EQ(h.root().group("topology").get_attribute_string("edge_aggregator"), "trimmed-mean");
}

TEST_F(Strategies, DroppedAndFaultyClientsAreRecorded) {
  auto o = base();
  o.dropout_rate = 0.3;
  o.faulty_fraction = 0.2;
  o.fault = "sign-flip";
  o.fault_scale = 2.0;
  const auto path = run(o, "misbehaving");
  // Label flipping poisons the data instead of the update.
  o = base();
  o.faulty_fraction = 0.3;
  o.fault = "label-flip";
  const auto flipped = run(o, "label-flip");
  const auto honest = run(base(), "honest");
  if (rank_ != 0) return;
  EXPECT_FALSE(same_bits(weights(honest), weights(flipped)));
  const auto faulty = read<std::uint8_t>(path, "clients/faulty");
  int count = 0;
  for (auto f : faulty) count += f;
  EXPECT_EQ(count, 2);
  const auto dropped = read<std::uint8_t>(path, "clients/dropped");
  const auto participated = read<std::uint8_t>(path, "clients/participated");
  ASSERT_EQ(dropped.size(), 20u);
  int drops = 0;
  for (std::size_t i = 0; i < dropped.size(); ++i) {
    drops += dropped[i];
    if (dropped[i]) EXPECT_TRUE(participated[i]);
  }
  EXPECT_GT(drops, 0);
  EXPECT_LT(drops, 20);
  auto file = h5::File::open(path, MPI_COMM_NULL, false);
  EXPECT_EQ(file.root().get_attribute_string("fault"), "sign-flip");
}

TEST_F(Strategies, NonsenseCombinationsAreInputErrors) {
  auto base = [&] {
    auto o = ::base();
    o.output = dir_ + "/nonsense.h5";
    return o;
  };
  auto o = base();
  o.topology = "gossip";
  o.server_optimizer = "adam";
  test::expect_input_error([&] { run_simulation(o, mpi::Comm::world()); }, {"--server-optimizer", "gossip"});
  o = base();
  o.topology = "gossip";
  o.prox_mu = 0.1;
  test::expect_input_error([&] { run_simulation(o, mpi::Comm::world()); }, {"--prox-mu", "gossip"});
  o = base();
  o.topology = "clustered";
  o.server_lr = 0.5;
  test::expect_input_error([&] { run_simulation(o, mpi::Comm::world()); }, {"--server-optimizer", "clustered"});
  o = base();
  o.aggregator = "krum";
  o.byzantine = 4;  // needs more than 10 models; found at the first aggregation
  test::expect_input_error([&] { run_simulation(o, mpi::Comm::world()); }, {"--byzantine", "2f+2", "status failed"});
  o = base();
  o.faulty_fraction = 0.2;
  test::expect_input_error([&] { run_simulation(o, mpi::Comm::world()); }, {"--fault"});
}
