// End-to-end checks of centralized FedAvg through run_simulation: the
// one-step oracle, rank invariance, and the HDF5 file it leaves.
#include <gtest/gtest.h>
#include <mpi.h>

#include <ATen/ATen.h>

#include <cmath>
#include <cstring>

#include "fedhpc/cli/run_command.hpp"
#include "fedhpc/core/rng.hpp"
#include "fedhpc/data/dataset.hpp"
#include "fedhpc/data/partition.hpp"
#include "fedhpc/io/hdf5.hpp"
#include "fedhpc/model/model.hpp"
#include "test_support.hpp"

using namespace fedhpc;
using fedhpc::test::read;
using fedhpc::test::same_bits;

namespace {

RunOptions small_run(const std::string& output) {
  RunOptions o = test::synthetic_run(output, 611, 230);  // 611: uneven client sizes
  o.clients = 7;
  o.model = "seed-cnn";
  o.rounds = 1;
  o.eval_batch_size = 64;
  return o;
}

// One full-batch gradient step on the union of every client's training data.
std::vector<float> one_gd_step(const RunOptions& o) {
  auto data = data::load_dataset(dataset_options(o));
  auto part = data::make_partition(data.train.labels, data.num_classes, partition_options(o));
  model::ModelOptions m;
  m.name = o.model;
  m.height = m.width = o.synthetic_side;
  m.classes = data.num_classes;
  m.hidden = o.hidden;
  auto net = model::make_model(m);
  std::vector<float> w(std::size_t(net->layout().total()));
  auto rng = stream(o.seed, StreamKind::Init);
  net->initialize(w.data(), rng);

  auto flat = at::from_blob(w.data(), {std::int64_t(w.size())}, at::kFloat).to(at::kDouble);
  std::vector<at::Tensor> params;
  for (const auto& l : net->layout().layers())
    params.push_back(flat.narrow(0, l.offset, l.size).view(l.shape).clone().requires_grad_(true));
  auto x = at::from_blob(data.train.pixels.data(), {data.train.count, 1, o.synthetic_side, o.synthetic_side},
                         at::kFloat).to(at::kDouble);
  auto y = at::from_blob(data.train.labels.data(), {data.train.count}, at::kLong);
  auto idx = at::from_blob(part.train_indices.data(), {std::int64_t(part.train_indices.size())}, at::kLong);
  // Double precision makes the reference itself exact to far below 1e-5.
  auto loss = at::nll_loss(at::log_softmax(net->forward(params, x.index_select(0, idx)), 1), y.index_select(0, idx));
  loss.backward();
  std::vector<float> out(w.size());
  const auto& layers = net->layout().layers();
  for (std::size_t i = 0; i < layers.size(); ++i) {
    auto updated = (params[i].detach() - o.lr * params[i].grad()).reshape({-1}).to(at::kFloat).contiguous();
    std::memcpy(out.data() + layers[i].offset, updated.data_ptr<float>(), sizeof(float) * layers[i].size);
  }
  return out;
}

double rel_error(const std::vector<float>& a, const std::vector<float>& b, const std::vector<float>& base) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += (double(b[i]) - base[i]) * (double(b[i]) - base[i]);
  }
  return std::sqrt(num / den);
}

class FedAvg : public testing::Test {
 protected:
  void SetUp() override {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    dir_ = test::shared_temp_dir(MPI_COMM_WORLD, "fedavg");
  }
  int rank_ = 0, size_ = 1;
  std::string dir_;
};

}  // namespace

// FedAvg with one full-batch SGD step per client equals one full-batch GD
// step on the union of the data (algorithms.md section 1).
TEST_F(FedAvg, OneStepOracleMatchesFullBatchGradientStep) {
  for (const std::string partition : {"iid", "dirichlet"}) {
    for (const std::string model_name : {"seed-cnn", "mlp"}) {
      RunOptions o = small_run(dir_ + "/oracle.h5");
      o.partition = partition;
      o.dirichlet_alpha = 0.3;
      o.dirichlet_min_samples = 20;
      o.model = model_name;
      o.hidden = 16;
      o.optimizer = "sgd";
      o.lr = 0.5;
      o.clip_norm = "0";
      o.batch_size = 0;
      o.iteration_steps = 1;
      o.scenario = "baseline";
      run_simulation(o, mpi::Comm::world());
      if (rank_ == 0) {
        auto w = read<float>(o.output, "global/weights");
        const std::size_t P = w.size() / 2;
        std::vector<float> w0(w.begin(), w.begin() + P), w1(w.begin() + P, w.end());
        auto sizes = read<std::int64_t>(o.output, "data/train_offsets");
        auto reference = one_gd_step(o);
        EXPECT_LE(rel_error(w1, reference, w0), 1e-5) << partition << " " << model_name;
        if (partition == "dirichlet") EXPECT_NE(sizes[1] - sizes[0], sizes[2] - sizes[1]);
      }
      MPI_Barrier(MPI_COMM_WORLD);
    }
  }
}

// The same run on 1..size ranks (sub-communicators of the world) writes
// bit-identical global models and metrics.
TEST_F(FedAvg, ResultsAreBitIdenticalForAnyNumberOfRanks) {
  RunOptions o = small_run("");
  o.clients = 13;
  o.participation = 0.6;
  o.rounds = 3;
  o.local_iterations = 2;
  o.batch_size = 8;
  o.optimizer = "adam";
  o.lr = 0.01;
  for (int k = 1; k <= size_; ++k) {
    auto sub = mpi::Comm::world().split(rank_ < k ? 0 : MPI_UNDEFINED, rank_);
    o.output = dir_ + "/ranks" + std::to_string(k) + ".h5";
    if (sub.valid()) run_simulation(o, sub);
    MPI_Barrier(MPI_COMM_WORLD);
  }
  if (rank_ != 0) return;
  const std::string first = dir_ + "/ranks1.h5";
  for (int k = 2; k <= size_; ++k) {
    const std::string other = dir_ + "/ranks" + std::to_string(k) + ".h5";
    EXPECT_TRUE(same_bits(read<float>(first, "global/weights"), read<float>(other, "global/weights"))) << k;
    EXPECT_TRUE(same_bits(read<double>(first, "global/test_loss"), read<double>(other, "global/test_loss"))) << k;
    EXPECT_TRUE(same_bits(read<double>(first, "global/aggregated_loss"), read<double>(other, "global/aggregated_loss")))
        << k;
    EXPECT_TRUE(same_bits(read<float>(first, "clients/train_loss"), read<float>(other, "clients/train_loss"))) << k;
  }
  // The run really trained and sampled: weights moved, some clients sat out.
  auto w = read<float>(first, "global/weights");
  const std::size_t P = w.size() / 4;
  EXPECT_FALSE(std::equal(w.begin(), w.begin() + P, w.begin() + 3 * P));
  auto participated = read<std::uint8_t>(first, "clients/participated");
  int count = 0;
  for (auto v : participated) count += v;
  EXPECT_EQ(count, 3 * 8);  // round(0.6 * 13) = 8 per round
}

TEST_F(FedAvg, FileHasTheDocumentedSchema) {
  RunOptions o = small_run(dir_ + "/schema.h5");
  o.rounds = 2;
  o.local_iterations = 3;
  o.save_weights = "clients";
  run_simulation(o, mpi::Comm::world());
  if (rank_ != 0) return;
  auto file = h5::File::open(o.output, MPI_COMM_NULL, false);
  auto root = file.root();
  EXPECT_EQ(root.get_attribute_string("status"), "complete");
  EXPECT_EQ(root.get_attribute_int64("num_clients"), 7);
  EXPECT_EQ(root.get_attribute_int64("num_ranks"), size_);
  EXPECT_EQ(root.get_attribute_int64("seed"), 0);
  EXPECT_NE(root.get_attribute_string("config").find("clients = 7"), std::string::npos);
  EXPECT_NE(root.get_attribute_string("fedhpc_version"), "");
  const std::int64_t P = 34826 - 64 * 25 * 10 + 64 * 1 * 10;  // seed-cnn on 12x12 inputs
  auto names = root.dataset("model/layer_names").read_strings();
  EXPECT_EQ(names.size(), 6u);
  EXPECT_EQ(names[0], "conv1.weight");
  EXPECT_EQ(root.dataset("model/layer_shapes").dims(), (h5::Dims{6, 4}));
  auto offsets = root.dataset("model/layer_offsets").read_all<std::int64_t>();
  EXPECT_EQ(offsets.back(), P);
  EXPECT_EQ(root.dataset("data/train_offsets").dims(), (h5::Dims{8}));
  EXPECT_EQ(root.dataset("data/test_offsets").dims(), (h5::Dims{8}));
  EXPECT_EQ(root.dataset("global/weights").dims(), (h5::Dims{3, hsize_t(P)}));
  EXPECT_EQ(root.dataset("global/test_loss").dims(), (h5::Dims{3}));
  EXPECT_EQ(root.dataset("global/test_accuracy").dims(), (h5::Dims{3}));
  EXPECT_EQ(root.dataset("global/aggregated_loss").dims(), (h5::Dims{2}));
  EXPECT_EQ(root.dataset("global/aggregated_accuracy").dims(), (h5::Dims{2}));
  EXPECT_EQ(root.dataset("clients/train_loss").dims(), (h5::Dims{2, 3, 7}));
  EXPECT_EQ(root.dataset("clients/local_test_loss").dims(), (h5::Dims{2, 7}));
  EXPECT_EQ(root.dataset("clients/local_test_accuracy").dims(), (h5::Dims{2, 7}));
  EXPECT_EQ(root.dataset("clients/weights").dims(), (h5::Dims{2, 7, hsize_t(P)}));
  EXPECT_EQ(root.dataset("timing/round_seconds").dims(), (h5::Dims{2}));
  for (double s : root.dataset("timing/round_seconds").read_all<double>()) EXPECT_GT(s, 0.0);
  // Client models before aggregation average (by samples) to the new global model.
  auto cw = root.dataset("clients/weights").read_all<float>();
  auto gw = root.dataset("global/weights").read_all<float>();
  auto off = root.dataset("data/train_offsets").read_all<std::int64_t>();
  double worst = 0;
  for (std::int64_t j = 0; j < P; j += 97) {
    double num = 0, den = 0;
    for (int c = 0; c < 7; ++c) {
      num += double(off[c + 1] - off[c]) * cw[std::size_t(c * P + j)];
      den += double(off[c + 1] - off[c]);
    }
    worst = std::max(worst, std::fabs(num / den - gw[std::size_t(P + j)]));
  }
  EXPECT_LT(worst, 1e-6);
}

