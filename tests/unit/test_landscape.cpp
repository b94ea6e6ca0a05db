// Loss landscapes (algorithms.md section 11): filter-normalised and PCA
// directions, the grid, `fedhpc landscape` and `fedhpc interpolate` at any
// rank count, and `fedhpc run --init-from`.
#include <gtest/gtest.h>
#include <mpi.h>

#include <Eigen/Dense>
#include <cmath>
#include <filesystem>

#include "fedhpc/analysis/directions.hpp"
#include "fedhpc/analysis/landscape.hpp"
#include "fedhpc/analysis/run_file.hpp"
#include "fedhpc/cli/analysis_setup.hpp"
#include "fedhpc/cli/interpolate_command.hpp"
#include "fedhpc/cli/landscape_command.hpp"
#include "fedhpc/cli/run_command.hpp"
#include "fedhpc/core/rng.hpp"
#include "test_support.hpp"

using namespace fedhpc;

namespace {

int world_rank() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

ParamLayout small_layout() {
  ParamLayout l;
  l.add("conv.weight", {3, 2, 2, 2}, true);
  l.add("conv.bias", {3}, false);
  l.add("dense.weight", {4, 5}, true);
  l.add("dense.bias", {4}, false);
  return l;
}

std::vector<float> gaussian(std::int64_t n, std::uint64_t key) {
  Rng rng(key);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = float(rng.normal());
  return v;
}

double row_norm(const float* v, std::int64_t n) {
  double s = 0;
  for (std::int64_t i = 0; i < n; ++i) s += double(v[i]) * v[i];
  return std::sqrt(s);
}

// Per output filter / neuron row, ||direction_i|| = ||theta_i||; biases 0.
void expect_filter_normalised(const ParamLayout& layout, const std::vector<float>& theta, const std::vector<float>& d) {
  for (const auto& layer : layout.layers()) {
    if (layer.shape.size() <= 1) {
      for (std::int64_t i = 0; i < layer.size; ++i) EXPECT_EQ(d[std::size_t(layer.offset + i)], 0.0f) << layer.name;
      continue;
    }
    const std::int64_t width = layer.size / layer.shape[0];
    for (std::int64_t r = 0; r < layer.shape[0]; ++r) {
      const auto at = std::size_t(layer.offset + r * width);
      EXPECT_NEAR(row_norm(d.data() + at, width), row_norm(theta.data() + at, width), 1e-5) << layer.name << " row " << r;
    }
  }
}

// A tiny mlp run on synthetic 12x12 images with its global models saved.
RunOptions tiny_run(const std::string& output, std::uint64_t seed, const std::string& partition) {
  RunOptions o = test::synthetic_run(output, 240, 40);
  o.model = "mlp";
  o.hidden = 6;
  o.clients = 4;
  o.rounds = 3;
  o.batch_size = 8;
  o.lr = 0.05;
  o.seed = seed;
  o.partition = partition;
  o.dirichlet_alpha = 0.2;
  return o;
}

std::vector<std::string> args(std::initializer_list<std::string> list) { return list; }

}  // namespace

TEST(LandscapeDirections, FilterNormalisationMatchesTheWeightsRowNorms) {
  const auto layout = small_layout();
  const auto theta = gaussian(layout.total(), 1);
  auto d = gaussian(layout.total(), 2);
  analysis::filter_normalize(layout, theta.data(), d.data());
  expect_filter_normalised(layout, theta, d);
  const auto plane = analysis::random_directions(layout, theta.data(), 7);
  expect_filter_normalised(layout, theta, plane.x);
  expect_filter_normalised(layout, theta, plane.y);
  EXPECT_NE(plane.x, plane.y);
  EXPECT_EQ(plane.x, analysis::random_directions(layout, theta.data(), 7).x);  // seeded
  EXPECT_NE(plane.x, analysis::random_directions(layout, theta.data(), 8).x);
}

TEST(LandscapeDirections, PcaMatchesAReferenceSvdAndCoordinatesReconstruct) {
  const std::int64_t P = 9, n = 6;
  std::vector<std::vector<float>> models;
  for (std::int64_t t = 0; t < n; ++t) models.push_back(gaussian(P, 100 + std::uint64_t(t)));
  std::vector<const float*> rows;
  for (const auto& m : models) rows.push_back(m.data());
  const float* centre = models.back().data();
  const auto plane = analysis::pca_directions(rows, centre, P);
  // Reference: SVD of the centred rows theta_t - centre.
  Eigen::MatrixXd X(n, P);
  for (std::int64_t t = 0; t < n; ++t)
    for (std::int64_t i = 0; i < P; ++i) X(t, i) = double(models[std::size_t(t)][std::size_t(i)]) - centre[i];
  const Eigen::RowVectorXd mean = X.colwise().mean();
  const Eigen::MatrixXd C = X.rowwise() - mean;
  Eigen::JacobiSVD<Eigen::MatrixXd> svd(C, Eigen::ComputeThinV);
  const Eigen::VectorXd s2 = svd.singularValues().array().square();
  for (int k = 0; k < 2; ++k) {
    const auto& d = k == 0 ? plane.x : plane.y;
    double dot = 0, norm = 0;
    for (std::int64_t i = 0; i < P; ++i) {
      dot += d[std::size_t(i)] * svd.matrixV()(i, k);
      norm += double(d[std::size_t(i)]) * d[std::size_t(i)];
    }
    EXPECT_NEAR(std::abs(dot), 1.0, 1e-6) << "axis " << k;
    EXPECT_NEAR(norm, 1.0, 1e-6);
    EXPECT_NEAR(plane.explained[std::size_t(k)], s2(k) / s2.sum(), 1e-9);
  }
  // The centred checkpoints rebuilt from their coordinates miss exactly the
  // unexplained variance (the eigenvalues past the second).
  std::vector<std::array<double, 2>> xy;
  std::array<double, 2> mean_xy{0, 0};
  for (const auto& m : models) {
    xy.push_back(analysis::project(plane, m.data(), centre));
    mean_xy[0] += xy.back()[0] / double(n);
    mean_xy[1] += xy.back()[1] / double(n);
  }
  double residual = 0;
  for (std::int64_t t = 0; t < n; ++t)
    for (std::int64_t i = 0; i < P; ++i) {
      const double rebuilt = (xy[std::size_t(t)][0] - mean_xy[0]) * plane.x[std::size_t(i)] +
                             (xy[std::size_t(t)][1] - mean_xy[1]) * plane.y[std::size_t(i)];
      residual += std::pow(C(t, i) - rebuilt, 2);
    }
  const double unexplained = s2.sum() - s2(0) - s2(1);
  EXPECT_NEAR(residual, unexplained, 1e-5 * s2.sum());
}

TEST(LandscapeDirections, ProjectionInvertsPerturbation) {
  const auto layout = small_layout();
  const auto theta = gaussian(layout.total(), 3);
  const auto plane = analysis::random_directions(layout, theta.data(), 1);
  std::vector<float> point(theta.size());
  analysis::perturb(plane, theta.data(), 0.3, -0.7, point.data());
  const auto c = analysis::project(plane, point.data(), theta.data());
  EXPECT_NEAR(c[0], 0.3, 1e-5);
  EXPECT_NEAR(c[1], -0.7, 1e-5);
}

class LandscapeRuns : public testing::Test {
 protected:
  void SetUp() override {
    dir = test::shared_temp_dir(MPI_COMM_WORLD, "landscape");
    a = dir + "/a.h5";
    b = dir + "/b.h5";
    run_simulation(tiny_run(a, 1, "iid"), world);
    run_simulation(tiny_run(b, 2, "dirichlet"), world);
  }
  void TearDown() override {
    MPI_Barrier(MPI_COMM_WORLD);
    if (world_rank() == 0) std::filesystem::remove_all(dir);
  }
  mpi::Comm world = mpi::Comm::world();
  std::string dir, a, b;
};

TEST_F(LandscapeRuns, GridPointEqualsADirectEvaluation) {
  const auto run = analysis::read_run_file(a, "run");
  AnalysisOptions o;
  o.eval_samples = 60;
  auto evaluator = make_evaluator(run, o);
  const auto plane = analysis::random_directions(run.layout, run.final_model(), 4);
  analysis::GridSpec grid;
  grid.gx = 3;
  grid.gy = 4;
  grid.xmin = -0.5, grid.xmax = 1.0, grid.ymin = -1.0, grid.ymax = 0.5;
  const auto values = analysis::evaluate_grid(grid, plane, run.final_model(),
                                              [&](const float* p) { return evaluator->evaluate(p); }, world);
  const float* theta = run.final_model();
  std::vector<float> direct(plane.x.size());
  for (std::int64_t i = 0; i < grid.gx; ++i)
    for (std::int64_t j = 0; j < grid.gy; ++j) {
      const double alpha = grid.x(i), beta = grid.y(j);
      for (std::size_t k = 0; k < direct.size(); ++k)
        direct[k] = float(double(theta[k]) + alpha * double(plane.x[k]) + beta * double(plane.y[k]));
      const auto v = evaluator->evaluate(direct.data());
      EXPECT_EQ(values.loss[std::size_t(i * grid.gy + j)], v.loss) << i << "," << j;
      EXPECT_EQ(values.accuracy[std::size_t(i * grid.gy + j)], v.accuracy) << i << "," << j;
    }
  // The centre itself: the final model's own loss.
  EXPECT_EQ(evaluator->evaluate(theta).loss, evaluator->evaluate(run.final_model()).loss);
}

TEST_F(LandscapeRuns, LandscapeIsBitIdenticalToOneRank) {
  for (const char* kind : {"random", "pca"}) {
    const std::string many = dir + "/many-" + kind + ".h5", one = dir + "/one-" + kind + ".h5";
    const auto common = args({a, b, "--directions", kind, "--grid", "4", "--range", "-0.5:0.5:-1:1",
                              "--eval-samples", "50", "--seed", "3"});
    auto with = [&](const std::string& out) {
      auto v = common;
      v.insert(v.end(), {"--output", out});
      return v;
    };
    ASSERT_EQ(landscape_command(with(many), world), 0);
    int status = 0;
    if (world_rank() == 0) status = landscape_command(with(one), mpi::Comm::self());
    MPI_Bcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD);
    ASSERT_EQ(status, 0);
    if (world_rank() != 0) continue;
    for (const char* name : {"landscape/loss", "landscape/accuracy", "landscape/trajectory", "landscape/axes",
                             "landscape/explained_variance"})
      EXPECT_TRUE(test::same_bits(test::read<double>(many, name), test::read<double>(one, name))) << kind << " " << name;
    EXPECT_TRUE(test::same_bits(test::read<float>(many, "landscape/directions"),
                                test::read<float>(one, "landscape/directions")));
    const auto loss = test::read<double>(many, "landscape/loss");
    EXPECT_EQ(loss.size(), 16u);
    for (double l : loss) EXPECT_TRUE(std::isfinite(l) && l > 0);
    const auto trajectory = test::read<double>(many, "landscape/trajectory");
    ASSERT_EQ(trajectory.size(), 2u * 4u * 2u);  // [runs, R+1, 2]
    EXPECT_NEAR(trajectory[3 * 2], 0.0, 1e-9);  // run a's final model is the centre
    EXPECT_NEAR(trajectory[3 * 2 + 1], 0.0, 1e-9);
    if (std::string(kind) == "pca") {
      const auto e = test::read<double>(many, "landscape/explained_variance");
      EXPECT_GT(e[0], e[1]);
      EXPECT_LE(e[0] + e[1], 1.0 + 1e-12);
    }
  }
  // --directions FILE reuses the stored directions.
  const std::string again = dir + "/again.h5";
  ASSERT_EQ(landscape_command(args({a, "--directions", dir + "/many-pca.h5", "--grid", "2", "--output", again}), world), 0);
  if (world_rank() == 0)
    EXPECT_TRUE(test::same_bits(test::read<float>(again, "landscape/directions"),
                                test::read<float>(dir + "/many-pca.h5", "landscape/directions")));
}

TEST_F(LandscapeRuns, InterpolationEndsAreTheModelsOwnLoss) {
  const std::string out = dir + "/interp.h5";
  ASSERT_EQ(interpolate_command(args({a, b, "--points", "5", "--eval-samples", "70", "--output", out}), world), 0);
  const auto s = test::read<double>(out, "interpolation/s");
  const auto loss = test::read<double>(out, "interpolation/loss");
  ASSERT_EQ(s.size(), 7u);  // -0.25, 0.125, 0.5, 0.875, 1.25 plus 0 and 1
  AnalysisOptions o;
  o.eval_samples = 70;
  const auto run_a = analysis::read_run_file(a, "run"), run_b = analysis::read_run_file(b, "run");
  auto evaluator = make_evaluator(run_a, o);
  const double la = evaluator->evaluate(run_a.final_model()).loss, lb = evaluator->evaluate(run_b.final_model()).loss;
  double barrier = 0;
  for (std::size_t k = 0; k < s.size(); ++k) {
    if (s[k] == 0.0) EXPECT_EQ(loss[k], la);
    if (s[k] == 1.0) EXPECT_EQ(loss[k], lb);
    if (s[k] >= 0 && s[k] <= 1) barrier = std::max(barrier, loss[k] - ((1 - s[k]) * la + s[k] * lb));
  }
  auto file = h5::File::open(out, MPI_COMM_NULL, false);
  EXPECT_EQ(file.root().group("interpolation").get_attribute_double("barrier_height"), barrier);
}

TEST_F(LandscapeRuns, InitFromStartsFromTheChosenRound) {
  auto o = tiny_run(dir + "/warm.h5", 5, "iid");
  o.init_from = a;
  o.init_round = 2;
  o.given = {"init-from", "init-round"};
  run_simulation(o, world);
  const auto start = analysis::read_global_model(dir + "/warm.h5", 0, "x");
  EXPECT_TRUE(test::same_bits(start, analysis::read_global_model(a, 2, "x")));
  auto bad = tiny_run(dir + "/bad.h5", 5, "iid");
  bad.hidden = 7;
  bad.init_from = a;
  test::expect_input_error([&] { run_simulation(bad, world); }, {"--init-from", "parameters"});
  bad.hidden = 6;
  bad.init_round = 9;
  test::expect_input_error([&] { run_simulation(bad, world); }, {"--init-from", "round 9"});
}

TEST_F(LandscapeRuns, BadInputIsOneLineWithExitTwo) {
  const std::string out = dir + "/x.h5";
  EXPECT_EQ(landscape_command(args({a, "--grid", "1", "--output", out}), world), 2);
  EXPECT_EQ(landscape_command(args({a, "--range", "1:0", "--output", out}), world), 2);
  EXPECT_EQ(landscape_command(args({a, "--client", "9", "--output", out}), world), 2);
  EXPECT_EQ(landscape_command(args({dir + "/none.h5", "--output", out}), world), 2);
  EXPECT_EQ(interpolate_command(args({a, "--output", out}), world), 2);
  EXPECT_FALSE(std::filesystem::exists(out));
}

// Runs whose data are finished per client after partitioning (coloured
// Fashion-MNIST, --augment): the evaluator must finish them again from the
// run's stored config. With a learning rate too small to move a weight, the
// run's full-batch training loss of each client is the initial model's loss
// on that client's training split: the evaluator must see the same images.
static void expect_evaluator_sees_each_clients_training_images(RunOptions o, const std::string& tag) {
  const auto dir = test::shared_temp_dir(MPI_COMM_WORLD, tag);
  o.output = dir + "/run.h5";
  o.max_train_samples = 400;
  o.max_test_samples = 100;
  o.model = "mlp";
  o.hidden = 6;
  o.clients = 5;
  o.rounds = 1;
  o.batch_size = 0;
  o.optimizer = "sgd";
  o.lr = 1e-30;
  o.seed = 5;
  mpi::Comm world = mpi::Comm::world();
  run_simulation(o, world);
  const auto run = analysis::read_run_file(o.output, "run");
  const auto losses = test::read<float>(o.output, "clients/train_loss");  // [1, 1, 5]
  ASSERT_EQ(losses.size(), 5u);
  for (std::int64_t c = 0; c < 5; ++c) {
    AnalysisOptions a;
    a.client = c;
    const double loss = make_evaluator(run, a)->evaluate(run.final_model()).loss;
    EXPECT_NEAR(loss, losses[std::size_t(c)], 1e-5 * std::fabs(loss)) << tag << " client " << c;
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (world_rank() == 0) std::filesystem::remove_all(dir);
}

TEST(LandscapeFinishedData, EvaluatesEachClientsColouredTrainingImages) {
  RunOptions o = test::synthetic_run("", 100, 100);  // the synthetic sizes are unused
  o.dataset = "colored-fashion-mnist";
  o.partition = "pathological";
  expect_evaluator_sees_each_clients_training_images(o, "landscape-coloured");
}

TEST(LandscapeFinishedData, EvaluatesEachClientsAugmentedTrainingImages) {
  RunOptions o = test::synthetic_run("", 100, 100);
  o.dataset = "fashion-mnist";
  o.augment = true;
  expect_evaluator_sees_each_clients_training_images(o, "landscape-augmented");
}
