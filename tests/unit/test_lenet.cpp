// Paper 001's LeNet-transfer task: the augmentation is a pure function of
// (seed, client, sample), model files round-trip and are checked, LeNet-5
// has 61,706 parameters and its transfer variant trains only the 850 of the
// last dense layer, and `fedhpc pretrain`, a small `fedhpc run --augment` and
// `fedhpc mi` on lenet5-transfer give the same bits at this job's rank count
// as in one process.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "fedhpc/cli/mi_command.hpp"
#include "fedhpc/cli/pretrain_command.hpp"
#include "fedhpc/cli/run_command.hpp"
#include "fedhpc/core/error.hpp"
#include "fedhpc/core/rng.hpp"
#include "fedhpc/data/augment.hpp"
#include "fedhpc/data/dataset.hpp"
#include "fedhpc/data/partition.hpp"
#include "fedhpc/io/hdf5.hpp"
#include "fedhpc/io/model_file.hpp"
#include "fedhpc/model/model.hpp"
#include "fedhpc/model/pretrain.hpp"
#include "fedhpc/mpi/comm.hpp"

namespace {

using fedhpc::mpi::Comm;
namespace data = fedhpc::data;

std::string file(const std::string& stem) {
  return "lenet_test_" + stem + "_np" + std::to_string(Comm::world().size()) + ".h5";
}

// A file of this rank alone, for the tests every rank runs by itself.
std::string rank_file(const std::string& stem) {
  return file(stem + "_rank" + std::to_string(Comm::world().rank()));
}

// A 28x28 image with structure everywhere (no symmetric blank pixels).
std::vector<float> test_image(int channels = 1) {
  std::vector<float> img(std::size_t(channels * 28 * 28));
  for (std::size_t i = 0; i < img.size(); ++i) img[i] = float((i * 37 % 101) / 100.0);
  return img;
}

std::vector<float> augmented(const std::vector<float>& in, std::uint64_t seed, data::AugmentSpec spec = {}) {
  std::vector<float> out(in.size());
  auto rng = fedhpc::stream(seed, fedhpc::StreamKind::Synthetic, 0, data::kAugmentRound, 0);
  data::augment_image(in.data(), out.data(), int(in.size() / 784), 28, 28, spec, rng);
  return out;
}

TEST(Augment, SameSeedSameBytesOtherSeedOtherBytes) {
  const auto img = test_image(3);
  const auto a = augmented(img, 1), b = augmented(img, 1), c = augmented(img, 2);
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
  EXPECT_NE(a, c);
  EXPECT_NE(a, img);
}

TEST(Augment, ZeroRangesAreTheIdentity) {
  const auto img = test_image();
  EXPECT_EQ(augmented(img, 5, {0.0, 0.0, 0.0}), img);
}

// A pure shift by whole pixels (no rotation, no zoom) moves the image.
TEST(Augment, ShiftMovesPixels) {
  std::vector<float> img(784, 0.0f), out(784);
  img[14 * 28 + 14] = 1.0f;
  // Draw until the shift rounds to whole pixels is not needed: check mass moves.
  auto rng = fedhpc::stream(3, fedhpc::StreamKind::Synthetic, 0, data::kAugmentRound, 0);
  data::augment_image(img.data(), out.data(), 1, 28, 28, {0.0, 0.0, 3.0}, rng);
  double mass = 0;
  for (float v : out) mass += v;
  EXPECT_NEAR(mass, 1.0, 1e-6);  // bilinear splits the pixel, keeps its mass away from the border
  EXPECT_LT(out[14 * 28 + 14], 1.0f);
}

data::Dataset small_images(std::uint64_t seed) {
  data::DatasetOptions o;
  o.name = "synthetic";
  o.seed = seed;
  o.synthetic_train_samples = 60;
  o.synthetic_test_samples = 20;
  return data::load_dataset(o);
}

data::Partition two_clients(const data::Dataset& ds) {
  data::PartitionOptions p;
  p.num_clients = 2;
  p.local_test_fraction = 0.0;
  return data::make_partition(ds.train.labels, ds.num_classes, p);
}

TEST(Augment, DatasetIsDeterministicPerSeedAndLeavesTheTestSet) {
  auto a = small_images(1), b = small_images(1), c = small_images(1);
  const auto original = a.train.pixels;
  const auto test = a.test.pixels;
  const auto p = two_clients(a);
  data::augment_dataset(a, p, {}, 7);
  data::augment_dataset(b, p, {}, 7);
  data::augment_dataset(c, p, {}, 8);
  EXPECT_EQ(std::memcmp(a.train.pixels.data(), b.train.pixels.data(), a.train.pixels.size() * sizeof(float)), 0);
  EXPECT_NE(a.train.pixels, c.train.pixels);
  EXPECT_NE(a.train.pixels, original);
  EXPECT_EQ(a.test.pixels, test);
  // Sample i of client k is keyed (seed, k, i): one image checked by hand.
  const std::int64_t sample = p.train_begin(1)[2];
  std::vector<float> one(784);
  auto rng = fedhpc::stream(7, fedhpc::StreamKind::Synthetic, 1, data::kAugmentRound, 2);
  data::augment_image(original.data() + sample * 784, one.data(), 1, 28, 28, {}, rng);
  EXPECT_EQ(std::memcmp(one.data(), a.train.sample(sample), 784 * sizeof(float)), 0);
}

TEST(Augment, RefusesSignals) {
  data::DatasetOptions o;
  o.name = "signal";
  o.clients = 2;
  o.signal_samples = 5;
  o.signal_test_samples = 5;
  auto ds = data::load_dataset(o);
  data::PartitionOptions p;
  p.method = "natural";
  p.num_clients = 2;
  p.natural_clients = ds.train_clients;
  const auto part = data::make_partition(ds.train.labels, ds.num_classes, p);
  EXPECT_THROW(data::augment_dataset(ds, part, {}, 0), fedhpc::InputError);
}

fedhpc::model::ModelOptions lenet_options(const std::string& name, const std::string& pretrained = "") {
  fedhpc::model::ModelOptions o;
  o.name = name;
  o.activation = fedhpc::model::Activation::Relu;
  o.pretrained = pretrained;
  return o;
}

fedhpc::io::ModelFile tiny_pretrained() {
  fedhpc::model::PretrainOptions o;
  o.epochs = 1;
  o.batch_size = 16;
  o.seed = 3;
  return fedhpc::model::pretrain_lenet5(small_images(2), o);
}

TEST(LeNet, SizesAndModelFileRoundTrip) {
  EXPECT_EQ(fedhpc::model::make_model(lenet_options("lenet5"))->layout().total(), 61706);
  const auto a = tiny_pretrained(), b = tiny_pretrained();
  ASSERT_EQ(a.weights.size(), 61706u);
  EXPECT_EQ(std::memcmp(a.weights.data(), b.weights.data(), a.weights.size() * sizeof(float)), 0);
  EXPECT_GE(a.test_accuracy, 0.0);
  const std::string path = rank_file("model");
  fedhpc::io::write_model_file(path, a, true);
  const auto r = fedhpc::io::read_model_file(path, "--pretrained");
  EXPECT_EQ(r.weights, a.weights);
  EXPECT_EQ(r.model, "lenet5");
  EXPECT_EQ(r.activation, "relu");
  EXPECT_EQ(r.layout.total(), 61706);
  EXPECT_EQ(r.layout.layers().size(), 10u);
  EXPECT_EQ(r.test_accuracy, a.test_accuracy);

  const auto transfer = fedhpc::model::make_model(lenet_options("lenet5-transfer", path));
  ASSERT_EQ(transfer->layout().total(), 850);
  std::vector<float> w(850);
  auto rng = fedhpc::stream(0, fedhpc::StreamKind::Init);
  transfer->initialize(w.data(), rng);
  auto flat = at::from_blob(w.data(), {850}, at::kFloat).clone().set_requires_grad(true);
  std::vector<at::Tensor> views;
  for (const auto& l : transfer->layout().layers()) views.push_back(flat.narrow(0, l.offset, l.size).view(l.shape));
  const auto x = at::rand({4, 1, 28, 28});
  std::vector<at::Tensor> taps;
  const auto out = transfer->forward(views, x, &taps);
  EXPECT_EQ(out.sizes(), (std::vector<std::int64_t>{4, 10}));
  ASSERT_EQ(taps.size(), 1u);
  EXPECT_FALSE(taps[0].requires_grad());  // the frozen part runs without gradient
  EXPECT_EQ(taps[0].sizes(), (std::vector<std::int64_t>{4, 84}));
  out.sum().backward();
  EXPECT_TRUE(flat.grad().defined());
  // The head on the frozen features is the full LeNet-5 with the same fc3.
  std::vector<float> full = a.weights;
  std::copy(w.begin(), w.end(), full.end() - 850);
  auto full_flat = at::from_blob(full.data(), {61706}, at::kFloat);
  std::vector<at::Tensor> full_views;
  const auto lenet = fedhpc::model::make_model(lenet_options("lenet5"));
  for (const auto& l : lenet->layout().layers()) full_views.push_back(full_flat.narrow(0, l.offset, l.size).view(l.shape));
  EXPECT_TRUE(at::allclose(lenet->forward(full_views, x), out.detach(), 1e-6, 1e-6));
}

TEST(LeNet, BadPretrainedFilesNameTheOption) {
  const auto expect_message = [](const std::string& path, const std::string& part) {
    try {
      fedhpc::model::make_model(lenet_options("lenet5-transfer", path));
      ADD_FAILURE() << path << ": no error";
    } catch (const fedhpc::InputError& e) {
      const std::string what = e.what();
      EXPECT_EQ(what.rfind("--pretrained", 0), 0u) << what;
      EXPECT_NE(what.find(part), std::string::npos) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
  };
  expect_message("", "needs a pretrained");
  expect_message(rank_file("missing"), "no such file");
  const std::string not_model = rank_file("not_a_model");
  {
    auto f = fedhpc::h5::File::create(not_model, MPI_COMM_NULL, true);
    f.root().set_attribute("config", "x");
  }
  expect_message(not_model, "not a fedhpc model file");
}

const std::vector<std::string> kPretrain = {"--train-samples", "300", "--test-samples", "100", "--epochs", "1",
                                            "--quiet", "--overwrite"};

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
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

template <class T>
void expect_same(const std::string& a, const std::string& b, const std::vector<const char*>& names) {
  auto fa = fedhpc::h5::File::open(a, MPI_COMM_NULL, false);
  auto fb = fedhpc::h5::File::open(b, MPI_COMM_NULL, false);
  for (const char* name : names) {
    const auto x = fa.root().dataset(name).read_all<T>();
    const auto y = fb.root().dataset(name).read_all<T>();
    ASSERT_EQ(x.size(), y.size()) << name;
    EXPECT_EQ(std::memcmp(x.data(), y.data(), x.size() * sizeof(T)), 0) << name << ": " << a << " vs " << b;
  }
}

// Pretraining, then a run and an mi study on lenet5-transfer with --augment,
// each at this job's rank count and in one process.
TEST(LeNet, PretrainRunAndMiAreRankInvariant) {
  ASSERT_TRUE(run_both(fedhpc::pretrain_command, kPretrain, "pretrain"));
  const bool root = Comm::world().rank() == 0;
  if (root) {
    expect_same<float>(file("pretrain_world"), file("pretrain_self"), {"weights"});
    const auto m = fedhpc::io::read_model_file(file("pretrain_world"), "--pretrained");
    EXPECT_GT(m.test_accuracy, 0.2);  // above chance (0.1) after one epoch on 300 images
    EXPECT_EQ(m.train_samples, 300);
  }
  const std::vector<std::string> run = {"--model", "lenet5-transfer", "--pretrained", file("pretrain_world"),
                                        "--clients", "3", "--max-train-samples", "90", "--max-test-samples", "50",
                                        "--augment", "--batch-size", "10",
                                        "--quiet", "--overwrite"};
  ASSERT_TRUE(run_both(fedhpc::run_command, with(run, {"--rounds", "2"}), "run"));
  if (root) {
    expect_same<double>(file("run_world"), file("run_self"),
                        {"global/test_loss", "global/test_accuracy", "clients/train_loss"});
    expect_same<float>(file("run_world"), file("run_self"), {"global/weights"});
    auto f = fedhpc::h5::File::open(file("run_world"), MPI_COMM_NULL, false);
    EXPECT_EQ(f.root().dataset("global/weights").dims().at(1), 850u);
    EXPECT_EQ(f.root().get_attribute_string("pretrained_checksum").size(), 16u);
  }
  ASSERT_TRUE(run_both(fedhpc::mi_command,
                       with(run, {"--rounds-at", "1", "--mi-samples", "6", "--ksg-k", "2"}), "mi"));
  if (root) expect_same<double>(file("mi_world"), file("mi_self"), {"mi/gaussian", "mi/ksg", "mi/d_euclidean"});
}

}  // namespace
