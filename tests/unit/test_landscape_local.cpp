// Loss landscapes, local scope (paper 004, algorithms.md section 11):
// `fedhpc run --save-weights clients:ROUNDS` keeps only the chosen rounds'
// client models, and `fedhpc landscape --local-round t` projects theta_{t-1},
// each client's theta_m^t and theta_t on a plane around theta_t, at any rank
// count.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <filesystem>

#include "fedhpc/analysis/run_file.hpp"
#include "fedhpc/cli/analysis_setup.hpp"
#include "fedhpc/cli/landscape_command.hpp"
#include "fedhpc/cli/run_command.hpp"
#include "fedhpc/cli/save_weights.hpp"
#include "test_support.hpp"

using namespace fedhpc;

namespace {

int world_rank() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

// A tiny mlp run on synthetic 12x12 images; half the clients train each round.
RunOptions tiny_run(const std::string& output, const std::string& save_weights) {
  RunOptions o = test::synthetic_run(output, 240, 40);
  o.model = "mlp";
  o.hidden = 6;
  o.clients = 4;
  o.rounds = 3;
  o.batch_size = 8;
  o.lr = 0.05;
  o.seed = 3;
  o.partition = "dirichlet";
  o.dirichlet_alpha = 0.3;
  o.participation = 0.5;
  o.save_weights = save_weights;
  return o;
}

std::vector<std::string> args(std::initializer_list<std::string> list) { return list; }

// Runs `fedhpc landscape` on all ranks into `many` and on rank 0 alone into
// `one`; returns whether both succeeded (on every rank).
bool landscape_at_all_and_one(std::vector<std::string> common, const std::string& many, const std::string& one) {
  auto with = [&](const std::string& out) {
    auto v = common;
    v.insert(v.end(), {"--output", out});
    return v;
  };
  if (landscape_command(with(many), mpi::Comm::world()) != 0) return false;
  int status = 0;
  if (world_rank() == 0) status = landscape_command(with(one), mpi::Comm::self());
  MPI_Bcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD);
  return status == 0;
}

}  // namespace

TEST(SaveWeights, ParsesRoundListsAndRefusesBadOnes) {
  EXPECT_EQ(parse_save_weights("clients", 5).kind, "clients");
  EXPECT_TRUE(parse_save_weights("clients", 5).client_rounds.empty());
  const auto w = parse_save_weights("clients:5,1,5,3", 5);
  EXPECT_EQ(w.kind, "clients");
  EXPECT_EQ(w.client_rounds, (std::vector<std::int64_t>{1, 3, 5}));
  EXPECT_EQ(parse_save_weights("global", 5).kind, "global");
  for (const char* bad : {"clients:", "clients:0", "clients:6", "clients:1,,2", "clients:x", "client:1", "all"})
    test::expect_input_error([&] { parse_save_weights(bad, 5); }, {"--save-weights"});
  test::expect_input_error([&] { parse_save_weights("clients:9", 5); }, {"--save-weights", "round 9", "1..5"});
}

class LocalScope : public testing::Test {
 protected:
  void SetUp() override {
    dir = test::shared_temp_dir(MPI_COMM_WORLD, "landscape-local");
    all = dir + "/all.h5";
    some = dir + "/some.h5";
    run_simulation(tiny_run(all, "clients"), world);
    run_simulation(tiny_run(some, "clients:3,2"), world);
  }
  void TearDown() override {
    MPI_Barrier(MPI_COMM_WORLD);
    if (world_rank() == 0) std::filesystem::remove_all(dir);
  }
  mpi::Comm world = mpi::Comm::world();
  std::string dir, all, some;
};

TEST_F(LocalScope, ChosenRoundsKeepTheSameClientModels) {
  if (world_rank() != 0) return;
  auto file = h5::File::open(some, MPI_COMM_NULL, false);
  const auto ds = file.root().dataset("clients/weights");
  const auto P = std::int64_t(ds.dims()[2]);
  EXPECT_EQ(ds.dims(), (h5::Dims{2, 4, hsize_t(P)}));
  EXPECT_EQ(ds.get_attribute_int64s("rounds"), (std::vector<std::int64_t>{2, 3}));
  EXPECT_FALSE(ds.has_attribute("first_round"));  // row 0 is round 2, not round 1
  EXPECT_TRUE(test::same_bits(test::read<float>(some, "global/weights"), test::read<float>(all, "global/weights")));
  for (std::int64_t t : {2, 3})
    EXPECT_TRUE(test::same_bits(analysis::read_client_models(some, t, P, "x"),
                                analysis::read_client_models(all, t, P, "x")))
        << "round " << t;
  test::expect_input_error([&] { analysis::read_client_models(some, 1, P, "--local-round"); },
                           {"--local-round", "round 1", "attribute rounds"});
}

TEST_F(LocalScope, ProjectionsAreRankInvariantAndMatchAHandComputation) {
  const std::string many = dir + "/many.h5", one = dir + "/one.h5";
  ASSERT_TRUE(landscape_at_all_and_one(args({some, "--local-round", "2", "--directions", "pca", "--grid", "3",
                                             "--range", "-1:1", "--eval-samples", "50"}),
                                       many, one));
  if (world_rank() != 0) return;
  for (const char* name : {"landscape/loss", "landscape/accuracy", "landscape/local", "landscape/local_global",
                           "landscape/trajectory", "landscape/explained_variance"})
    EXPECT_TRUE(test::same_bits(test::read<double>(many, name), test::read<double>(one, name))) << name;
  // Hand computation: PCA's axes are orthonormal, so a client's coordinates
  // are the dot products of theta_m^2 - theta_2 with the two axes.
  const auto run = analysis::read_run_file(some, "run");
  const auto P = run.num_params();
  const auto clients = analysis::read_client_models(some, 2, P, "x");
  const auto directions = test::read<float>(many, "landscape/directions");
  const auto local = test::read<double>(many, "landscape/local");
  const auto participated = test::read<std::uint8_t>(some, "clients/participated");  // [R, N]
  ASSERT_EQ(local.size(), 4u * 2u);
  int projected = 0;
  for (std::int64_t m = 0; m < 4; ++m) {
    if (!participated[std::size_t(1 * 4 + m)]) {
      EXPECT_TRUE(std::isnan(local[std::size_t(2 * m)])) << "client " << m << " sat out";
      continue;
    }
    ++projected;
    for (int axis = 0; axis < 2; ++axis) {
      double dot = 0;
      for (std::int64_t i = 0; i < P; ++i)
        dot += (double(clients[std::size_t(m * P + i)]) - double(run.model(2)[i])) *
               double(directions[std::size_t(axis * P + i)]);
      EXPECT_NEAR(local[std::size_t(2 * m + axis)], dot, 1e-6 * (1 + std::abs(dot))) << "client " << m;
    }
  }
  EXPECT_EQ(projected, 2);  // participation 0.5 of 4 clients
  // theta_2 is the centre; theta_1 lies where the trajectory puts round 1.
  const auto ends = test::read<double>(many, "landscape/local_global");
  const auto trajectory = test::read<double>(many, "landscape/trajectory");  // [1, 4, 2]
  EXPECT_NEAR(ends[2], 0.0, 1e-9);
  EXPECT_NEAR(ends[3], 0.0, 1e-9);
  EXPECT_EQ(ends[0], trajectory[1 * 2]);
  EXPECT_EQ(ends[1], trajectory[1 * 2 + 1]);
  auto file = h5::File::open(many, MPI_COMM_NULL, false);
  EXPECT_EQ(file.root().group("landscape").get_attribute_int64("local_round"), 2);
  EXPECT_EQ(file.root().group("landscape").get_attribute_int64("centre_round"), 2);
}

TEST_F(LocalScope, ClientSurfaceOnTheSamePlaneIsTheClientsLoss) {
  const std::string global = dir + "/global.h5", mine = dir + "/client.h5", one = dir + "/client1.h5";
  ASSERT_EQ(landscape_command(args({all, "--local-round", "3", "--grid", "3", "--output", global}), world), 0);
  ASSERT_TRUE(landscape_at_all_and_one(
      args({all, "--local-round", "3", "--client", "1", "--directions", global, "--grid", "3"}), mine, one));
  if (world_rank() != 0) return;
  EXPECT_TRUE(test::same_bits(test::read<double>(mine, "landscape/loss"), test::read<double>(one, "landscape/loss")));
  EXPECT_TRUE(test::same_bits(test::read<float>(mine, "landscape/directions"),
                              test::read<float>(global, "landscape/directions")));
  EXPECT_TRUE(test::same_bits(test::read<double>(mine, "landscape/local"), test::read<double>(global, "landscape/local")));
  // The grid's middle point (0, 0) is theta_3 itself, on client 1's data.
  const auto run = analysis::read_run_file(all, "run");
  AnalysisOptions o;
  o.client = 1;
  auto evaluator = make_evaluator(run, o);
  EXPECT_EQ(test::read<double>(mine, "landscape/loss")[4], evaluator->evaluate(run.model(3)).loss);
}

TEST_F(LocalScope, BadLocalRoundIsOneLineWithExitTwo) {
  const std::string out = dir + "/x.h5";
  EXPECT_EQ(landscape_command(args({some, "--local-round", "1", "--output", out}), world), 2);  // not kept
  EXPECT_EQ(landscape_command(args({some, "--local-round", "4", "--output", out}), world), 2);  // past the end
  EXPECT_EQ(landscape_command(args({some, all, "--local-round", "2", "--output", out}), world), 2);
  EXPECT_EQ(landscape_command(args({some, "--local-round", "-1", "--output", out}), world), 2);
  EXPECT_FALSE(std::filesystem::exists(out));
}
