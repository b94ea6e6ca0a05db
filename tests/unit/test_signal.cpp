// Paper 001's regression task: the signal generator is a pure function of
// (seed, client, sample), the rnn has the documented 358 parameters, and a
// small `fedhpc run` and `fedhpc mi` on it give the same bits at this job's
// rank count as in one process, with MSE as loss and no accuracy.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "fedhpc/cli/mi_command.hpp"
#include "fedhpc/cli/run_command.hpp"
#include "fedhpc/core/rng.hpp"
#include "fedhpc/data/dataset.hpp"
#include "fedhpc/io/hdf5.hpp"
#include "fedhpc/model/model.hpp"
#include "fedhpc/mpi/comm.hpp"

namespace {

using fedhpc::mpi::Comm;

fedhpc::data::Dataset signals(std::uint64_t seed, std::int64_t clients) {
  fedhpc::data::DatasetOptions o;
  o.name = "signal";
  o.seed = seed;
  o.clients = clients;
  o.signal_samples = 30;
  o.signal_test_samples = 40;
  return fedhpc::data::load_dataset(o);
}

TEST(Signal, DeterministicPerSeedAndClient) {
  const auto a = signals(7, 3), b = signals(7, 3), c = signals(8, 3), two = signals(7, 2);
  EXPECT_EQ(a.task, "regression");
  EXPECT_EQ(a.train.count, 90);
  EXPECT_EQ(a.train.width, 64);
  EXPECT_EQ(a.test.count, 40);
  EXPECT_EQ(a.train.pixels, b.train.pixels);
  EXPECT_EQ(a.train.targets, b.train.targets);
  EXPECT_EQ(a.test.pixels, b.test.pixels);
  EXPECT_NE(a.train.pixels, c.train.pixels);
  EXPECT_NE(a.train.targets, c.train.targets);
  // A client's signals do not depend on how many clients there are.
  EXPECT_TRUE(std::equal(two.train.pixels.begin(), two.train.pixels.end(), a.train.pixels.begin()));
  EXPECT_EQ(a.test.pixels, two.test.pixels);
  // Natural clients: 30 samples each, in client order.
  for (std::int64_t i = 0; i < a.train.count; ++i) EXPECT_EQ(a.train_clients[std::size_t(i)], i / 30);
}

// The targets are the signal's mean (shift) and standard deviation (scale).
TEST(Signal, TargetsAreShiftAndScale) {
  const auto d = signals(3, 2);
  for (std::int64_t i = 0; i < d.train.count; ++i) {
    const float* x = d.train.sample(i);
    double sum = 0, sq = 0;
    for (int t = 0; t < 64; ++t) sum += x[t];
    const double mean = sum / 64;
    for (int t = 0; t < 64; ++t) sq += (x[t] - mean) * (x[t] - mean);
    const float shift = d.train.targets[std::size_t(2 * i)], scale = d.train.targets[std::size_t(2 * i + 1)];
    EXPECT_NEAR(mean, shift, 1e-5);
    EXPECT_NEAR(std::sqrt(sq / 64), scale, 1e-5);
    EXPECT_GE(shift, -1.0f);
    EXPECT_LT(shift, 1.0f);
    EXPECT_GE(scale, 0.5f);
    EXPECT_LT(scale, 2.0f);
  }
}

TEST(Signal, RnnHas358Parameters) {
  fedhpc::model::ModelOptions o;
  o.name = "rnn";
  o.channels = 1;
  o.height = 1;
  o.width = 64;
  o.classes = 2;
  const auto m = fedhpc::model::make_model(o);
  EXPECT_EQ(m->layout().total(), 358);
  std::vector<float> w(358);
  auto rng = fedhpc::stream(0, fedhpc::StreamKind::Init);
  m->initialize(w.data(), rng);
  std::vector<at::Tensor> views;
  auto flat = at::from_blob(w.data(), {358}, at::kFloat);
  for (const auto& l : m->layout().layers()) views.push_back(flat.narrow(0, l.offset, l.size).view(l.shape));
  const auto out = m->forward(views, at::ones({5, 1, 1, 64}));
  EXPECT_EQ(out.sizes(), (std::vector<std::int64_t>{5, 2}));
}

const std::vector<std::string> kRun = {"--dataset", "signal", "--model", "rnn", "--clients", "4",
                                       "--partition", "natural", "--signal-samples", "20",
                                       "--signal-test-samples", "30", "--signal-length", "16",
                                       "--batch-size", "5", "--quiet", "--overwrite"};

std::string file(const std::string& stem) {
  return "signal_test_" + stem + "_np" + std::to_string(Comm::world().size()) + ".h5";
}

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

void expect_same(const std::string& a, const std::string& b, const std::vector<const char*>& names) {
  auto fa = fedhpc::h5::File::open(a, MPI_COMM_NULL, false);
  auto fb = fedhpc::h5::File::open(b, MPI_COMM_NULL, false);
  for (const char* name : names) {
    const auto x = fa.root().dataset(name).read_all<double>();
    const auto y = fb.root().dataset(name).read_all<double>();
    ASSERT_EQ(x.size(), y.size()) << name;
    EXPECT_EQ(std::memcmp(x.data(), y.data(), x.size() * sizeof(double)), 0) << name << ": " << a << " vs " << b;
  }
}

// Runs args on this job's ranks and in one process (rank 0); true when both succeed.
bool run_both(int (*command)(const std::vector<std::string>&, const Comm&), const std::vector<std::string>& args,
              const std::string& stem) {
  const auto world = Comm::world();
  if (command(with(args, {"--output", file(stem + "_world")}), world) != 0) return false;
  int ok = 1;
  if (world.rank() == 0) ok = command(with(args, {"--output", file(stem + "_self")}), Comm::self()) == 0;
  MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
  return ok != 0;
}

TEST(Signal, RunIsRankInvariantWithMse) {
  ASSERT_TRUE(run_both(fedhpc::run_command, with(kRun, {"--rounds", "2"}), "run"));
  if (Comm::world().rank() != 0) return;
  expect_same(file("run_world"), file("run_self"),
              {"global/weights", "global/test_loss", "global/aggregated_loss", "clients/train_loss"});
  auto f = fedhpc::h5::File::open(file("run_world"), MPI_COMM_NULL, false);
  EXPECT_EQ(f.root().get_attribute_string("loss"), "mse");
  EXPECT_EQ(f.root().group("data").get_attribute_string("task"), "regression");
  EXPECT_EQ(f.root().dataset("global/test_loss").get_attribute_string("units"), "squared target units");
  const auto loss = f.root().dataset("global/test_loss").read_all<double>();
  const auto acc = f.root().dataset("global/test_accuracy").read_all<double>();
  for (double v : loss) EXPECT_TRUE(std::isfinite(v) && v >= 0.0);
  for (double v : acc) EXPECT_TRUE(std::isnan(v));
}

TEST(Signal, MiIsRankInvariantWithMseMetric) {
  const std::vector<std::string> mi = {"--rounds-at", "0,1", "--mi-samples", "12", "--mi-every", "2",
                                       "--mi-layer", "dense.weight"};
  ASSERT_TRUE(run_both(fedhpc::mi_command, with(kRun, mi), "mi"));
  if (Comm::world().rank() != 0) return;
  expect_same(file("mi_world"), file("mi_self"),
              {"mi/gaussian", "mi/ksg", "mi/d_euclidean", "mi/d_manhattan", "mi/d_chebyshev", "mi/test_loss"});
  auto f = fedhpc::h5::File::open(file("mi_world"), MPI_COMM_NULL, false);
  EXPECT_EQ(f.root().group("mi").get_attribute_string("loss"), "mse");
  for (double v : f.root().dataset("mi/test_loss").read_all<double>()) EXPECT_TRUE(std::isfinite(v));
  for (double v : f.root().dataset("mi/test_accuracy").read_all<double>()) EXPECT_TRUE(std::isnan(v));
}

// --rnn-dropout: masks only in training steps (a noise stream set), the same
// masks for the same stream, other masks for another; runs and mi studies
// with dropout keep their bits at any rank count.
TEST(Signal, RnnDropoutIsSeededAndOnlyInTraining) {
  fedhpc::model::ModelOptions o;
  o.name = "rnn";
  o.channels = 1;
  o.height = 1;
  o.width = 16;
  o.classes = 2;
  const auto plain = fedhpc::model::make_model(o);
  o.dropout = 0.5;
  const auto dropping = fedhpc::model::make_model(o);
  std::vector<float> w(358);
  auto rng = fedhpc::stream(0, fedhpc::StreamKind::Init);
  plain->initialize(w.data(), rng);
  std::vector<at::Tensor> views;
  auto flat = at::from_blob(w.data(), {358}, at::kFloat);
  for (const auto& l : plain->layout().layers()) views.push_back(flat.narrow(0, l.offset, l.size).view(l.shape));
  const auto x = at::rand({6, 1, 1, 16});
  const auto with_noise = [&](std::uint64_t key) {
    auto noise = fedhpc::stream(key, fedhpc::StreamKind::Shuffle);
    dropping->set_noise(&noise);
    auto out = dropping->forward(views, x);
    dropping->set_noise(nullptr);
    return out;
  };
  EXPECT_TRUE(at::equal(dropping->forward(views, x), plain->forward(views, x)));  // evaluation: no dropout
  EXPECT_TRUE(at::equal(with_noise(1), with_noise(1)));
  EXPECT_FALSE(at::equal(with_noise(1), with_noise(2)));
  EXPECT_FALSE(at::equal(with_noise(1), plain->forward(views, x)));
}

TEST(Signal, RunAndMiWithDropoutAreRankInvariant) {
  const auto args = with(kRun, {"--rnn-dropout", "0.3"});
  ASSERT_TRUE(run_both(fedhpc::run_command, with(args, {"--rounds", "2"}), "dropout_run"));
  const std::vector<std::string> mi = {"--rounds-at", "1", "--mi-samples", "8", "--mi-every", "2",
                                       "--mi-layer", "dense.weight"};
  ASSERT_TRUE(run_both(fedhpc::mi_command, with(args, mi), "dropout_mi"));
  if (Comm::world().rank() != 0) return;
  expect_same(file("dropout_run_world"), file("dropout_run_self"),
              {"global/weights", "global/test_loss", "clients/train_loss"});
  expect_same(file("dropout_mi_world"), file("dropout_mi_self"), {"mi/gaussian", "mi/ksg", "mi/d_euclidean"});
}

}  // namespace
