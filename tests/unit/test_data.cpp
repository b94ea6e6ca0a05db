#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iostream>
#include <limits>
#include <string>
#include <vector>

#include "fedhpc/core/error.hpp"
#include "fedhpc/data/dataset.hpp"
#include "test_support.hpp"

using namespace fedhpc;
using namespace fedhpc::data;
namespace fs = std::filesystem;

using fedhpc::test::expect_input_error;

namespace {

const std::string kSystemDir = "/usr/share/datasets/fashion-mnist";

bool system_fashion_mnist_present() {
  return fs::exists(kSystemDir + "/train-images-idx3-ubyte.gz");
}


// --- Fashion-MNIST on the system -------------------------------------------

class FashionMnist : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!system_fashion_mnist_present()) return;
    auto t0 = std::chrono::steady_clock::now();
    full_ = new Dataset(load_dataset(DatasetOptions{}));
    load_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cout << "[ info ] fashion-mnist loaded in " << load_seconds_ << " s\n";
  }
  static void TearDownTestSuite() {
    delete full_;
    full_ = nullptr;
  }
  void SetUp() override {
    if (!full_) GTEST_SKIP() << "Debian package dataset-fashion-mnist is not installed";
  }
  static Dataset* full_;
  static double load_seconds_;
};
Dataset* FashionMnist::full_ = nullptr;
double FashionMnist::load_seconds_ = 0.0;

TEST_F(FashionMnist, LoadsTheFullSet) {
  const Dataset& ds = *full_;
  EXPECT_EQ(ds.name, "fashion-mnist");
  EXPECT_EQ(ds.num_classes, 10);
  for (const ImageSet* set : {&ds.train, &ds.test}) {
    EXPECT_EQ(set->channels, 1);
    EXPECT_EQ(set->height, 28);
    EXPECT_EQ(set->width, 28);
    EXPECT_EQ(set->sample_size(), 784);
    EXPECT_EQ(std::int64_t(set->pixels.size()), set->count * 784);
    EXPECT_EQ(std::int64_t(set->labels.size()), set->count);
  }
  EXPECT_EQ(ds.train.count, 60000);
  EXPECT_EQ(ds.test.count, 10000);
  // A generous bound; the loader takes well under a second on a normal machine.
  EXPECT_LT(load_seconds_, 5.0);
}

TEST_F(FashionMnist, PixelsInUnitRangeAndLabelsBalanced) {
  const Dataset& ds = *full_;
  auto [lo, hi] = std::minmax_element(ds.train.pixels.begin(), ds.train.pixels.end());
  EXPECT_EQ(*lo, 0.0f);
  EXPECT_EQ(*hi, 1.0f);
  std::vector<std::int64_t> hist(10, 0);
  for (auto l : ds.train.labels) {
    ASSERT_GE(l, 0);
    ASSERT_LT(l, 10);
    ++hist[std::size_t(l)];
  }
  for (auto h : hist) EXPECT_EQ(h, 6000);
  for (auto l : ds.test.labels) ASSERT_TRUE(l >= 0 && l < 10);
}

TEST_F(FashionMnist, MaxSamplesKeepsTheFirstK) {
  DatasetOptions o;
  o.max_train_samples = 1000;
  o.max_test_samples = 200;
  Dataset ds = load_dataset(o);
  ASSERT_EQ(ds.train.count, 1000);
  ASSERT_EQ(ds.test.count, 200);
  ASSERT_EQ(ds.train.pixels.size(), 1000u * 784u);
  ASSERT_EQ(ds.test.labels.size(), 200u);
  EXPECT_TRUE(
      std::equal(ds.train.pixels.begin(), ds.train.pixels.end(), full_->train.pixels.begin()));
  EXPECT_TRUE(
      std::equal(ds.train.labels.begin(), ds.train.labels.end(), full_->train.labels.begin()));
  EXPECT_TRUE(std::equal(ds.test.labels.begin(), ds.test.labels.end(), full_->test.labels.begin()));
}

TEST_F(FashionMnist, MaxSamplesLargerThanAvailable) {
  DatasetOptions o;
  o.max_train_samples = 60001;
  expect_input_error([&] { load_dataset(o); }, {"--max-train-samples", "60000"});
  o.max_train_samples = 0;
  o.max_test_samples = 10001;
  expect_input_error([&] { load_dataset(o); }, {"--max-test-samples", "10000"});
}

// --- Hand-made IDX files ----------------------------------------------------

void write_gz(const fs::path& path, const std::vector<unsigned char>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  if (!bytes.empty()) {
    ASSERT_EQ(gzwrite(f, bytes.data(), unsigned(bytes.size())), int(bytes.size()));
  }
  ASSERT_EQ(gzclose(f), Z_OK);
}

void put_u32(std::vector<unsigned char>& out, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<unsigned char>(v >> s));
}

std::vector<unsigned char> idx_images(std::uint32_t magic, std::uint32_t count_in_header,
                                      std::uint32_t rows, std::uint32_t cols,
                                      std::uint32_t count_in_data) {
  std::vector<unsigned char> out;
  put_u32(out, magic);
  put_u32(out, count_in_header);
  put_u32(out, rows);
  put_u32(out, cols);
  for (std::uint32_t i = 0; i < count_in_data * rows * cols; ++i)
    out.push_back(static_cast<unsigned char>((i * 7) % 256));
  return out;
}

std::vector<unsigned char> idx_labels(std::uint32_t magic, std::uint32_t count_in_header,
                                      std::uint32_t count_in_data, unsigned char bad_label = 0) {
  std::vector<unsigned char> out;
  put_u32(out, magic);
  put_u32(out, count_in_header);
  for (std::uint32_t i = 0; i < count_in_data; ++i)
    out.push_back(static_cast<unsigned char>(i % 10));
  if (bad_label && count_in_data > 3) out[8 + 3] = bad_label;
  return out;
}

// A small but valid fashion-mnist directory (100 train, 20 test images) that
// each test then damages in one way.
class IdxFiles : public testing::Test {
 protected:
  void SetUp() override {
    static int counter = 0;
    dir_ = fs::temp_directory_path() /
           ("fedhpc_test_data_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(dir_);
    write_gz(path("train-images-idx3-ubyte.gz"), idx_images(0x803, 100, 28, 28, 100));
    write_gz(path("train-labels-idx1-ubyte.gz"), idx_labels(0x801, 100, 100));
    write_gz(path("t10k-images-idx3-ubyte.gz"), idx_images(0x803, 20, 28, 28, 20));
    write_gz(path("t10k-labels-idx1-ubyte.gz"), idx_labels(0x801, 20, 20));
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  Dataset load() const {
    DatasetOptions o;
    o.data_dir = dir_.string();
    return load_dataset(o);
  }
  void expect_error_naming(const std::string& file, const std::string& what) {
    expect_input_error([&] { load(); }, {path(file), what});
  }

  fs::path dir_;
};

TEST_F(IdxFiles, ValidFilesLoadExactly) {
  Dataset ds = load();
  ASSERT_EQ(ds.train.count, 100);
  ASSERT_EQ(ds.test.count, 20);
  for (std::size_t i = 0; i < ds.train.pixels.size(); ++i)
    ASSERT_EQ(ds.train.pixels[i], float((i * 7) % 256) / 255.0f) << i;
  for (std::size_t i = 0; i < ds.train.labels.size(); ++i)
    ASSERT_EQ(ds.train.labels[i], int(i % 10));
}

TEST_F(IdxFiles, MissingFileNamesThePackage) {
  fs::remove(path("t10k-labels-idx1-ubyte.gz"));
  expect_error_naming("t10k-labels-idx1-ubyte.gz", "dataset-fashion-mnist");
  DatasetOptions o;
  o.data_dir = (dir_ / "nowhere").string();
  expect_input_error([&] { load_dataset(o); },
                     {o.data_dir + "/train-images-idx3-ubyte.gz", "--data-dir"});
}

TEST_F(IdxFiles, WrongImageMagic) {
  write_gz(path("train-images-idx3-ubyte.gz"), idx_images(0x801, 100, 28, 28, 100));
  expect_error_naming("train-images-idx3-ubyte.gz", "magic");
}

TEST_F(IdxFiles, WrongLabelMagic) {
  write_gz(path("t10k-labels-idx1-ubyte.gz"), idx_labels(0x803, 20, 20));
  expect_error_naming("t10k-labels-idx1-ubyte.gz", "magic");
}

TEST_F(IdxFiles, TruncatedPixels) {
  write_gz(path("train-images-idx3-ubyte.gz"), idx_images(0x803, 100, 28, 28, 50));
  expect_error_naming("train-images-idx3-ubyte.gz", "truncated");
}

TEST_F(IdxFiles, TruncatedGzipStream) {
  // Cut the compressed file itself in half.
  const std::string p = path("train-images-idx3-ubyte.gz");
  const auto size = fs::file_size(p);
  fs::resize_file(p, size / 2);
  expect_error_naming("train-images-idx3-ubyte.gz", "truncated");
}

TEST_F(IdxFiles, TruncatedHeader) {
  write_gz(path("train-labels-idx1-ubyte.gz"), {0, 0, 8});
  expect_error_naming("train-labels-idx1-ubyte.gz", "truncated");
}

TEST_F(IdxFiles, NotGzipButGarbage) {
  // zlib reads a non-gzip file as raw bytes, so the magic check catches it.
  const std::string p = path("train-images-idx3-ubyte.gz");
  fs::remove(p);
  {
    std::FILE* f = std::fopen(p.c_str(), "wb");
    std::fputs("hello world, not an IDX file", f);
    std::fclose(f);
  }
  expect_error_naming("train-images-idx3-ubyte.gz", "magic");
}

TEST_F(IdxFiles, LabelCountDiffersFromImageCount) {
  write_gz(path("train-labels-idx1-ubyte.gz"), idx_labels(0x801, 99, 99));
  expect_input_error([&] { load(); },
                     {path("train-labels-idx1-ubyte.gz"), "99 labels", "100 images"});
}

TEST_F(IdxFiles, LabelHeaderCountTooLarge) {
  write_gz(path("train-labels-idx1-ubyte.gz"), idx_labels(0x801, 101, 100));
  expect_error_naming("train-labels-idx1-ubyte.gz", "truncated");
}

TEST_F(IdxFiles, TrailingData) {
  write_gz(path("train-labels-idx1-ubyte.gz"), idx_labels(0x801, 100, 101));
  expect_error_naming("train-labels-idx1-ubyte.gz", "unexpected data");
}

TEST_F(IdxFiles, LabelOutOfRange) {
  write_gz(path("t10k-labels-idx1-ubyte.gz"), idx_labels(0x801, 20, 20, 10));
  expect_error_naming("t10k-labels-idx1-ubyte.gz", "label 10");
}

TEST_F(IdxFiles, WrongDimensions) {
  write_gz(path("train-images-idx3-ubyte.gz"), idx_images(0x803, 100, 27, 28, 100));
  expect_error_naming("train-images-idx3-ubyte.gz", "27x28");
}

TEST_F(IdxFiles, ImplausibleCount) {
  write_gz(path("train-images-idx3-ubyte.gz"), idx_images(0x803, 0xffffffffu, 28, 28, 1));
  expect_error_naming("train-images-idx3-ubyte.gz", "count");
}

TEST_F(IdxFiles, MaxSamplesOnSmallSet) {
  DatasetOptions o;
  o.data_dir = dir_.string();
  o.max_train_samples = 101;
  expect_input_error([&] { load_dataset(o); }, {"--max-train-samples", "100"});
  o.max_train_samples = -1;
  expect_input_error([&] { load_dataset(o); }, {"--max-train-samples"});
}

TEST(Datasets, UnknownNameListsTheAllowedOnes) {
  DatasetOptions o;
  o.name = "cifar-1000";
  expect_input_error([&] { load_dataset(o); },
                     {"--dataset", "cifar-1000", "fashion-mnist", "synthetic"});
  EXPECT_TRUE(dataset_registry().contains("fashion-mnist"));
  EXPECT_TRUE(dataset_registry().contains("synthetic"));
}

// --- Synthetic ---------------------------------------------------------------

DatasetOptions synthetic(std::uint64_t seed, std::int64_t train = 2000, std::int64_t test = 500) {
  DatasetOptions o;
  o.name = "synthetic";
  o.seed = seed;
  o.synthetic_train_samples = train;
  o.synthetic_test_samples = test;
  return o;
}

TEST(Synthetic, SizesAndShape) {
  DatasetOptions o = synthetic(1, 300, 70);
  o.synthetic_classes = 5;
  o.synthetic_side = 12;
  Dataset ds = load_dataset(o);
  EXPECT_EQ(ds.name, "synthetic");
  EXPECT_EQ(ds.num_classes, 5);
  EXPECT_EQ(ds.train.count, 300);
  EXPECT_EQ(ds.test.count, 70);
  for (const ImageSet* s : {&ds.train, &ds.test}) {
    EXPECT_EQ(s->channels, 1);
    EXPECT_EQ(s->height, 12);
    EXPECT_EQ(s->width, 12);
    EXPECT_EQ(std::int64_t(s->pixels.size()), s->count * 144);
    EXPECT_EQ(std::int64_t(s->labels.size()), s->count);
    for (auto l : s->labels) ASSERT_TRUE(l >= 0 && l < 5);
    for (auto p : s->pixels) ASSERT_TRUE(std::isfinite(p));
  }
}

TEST(Synthetic, SameSeedSameDataOtherSeedOtherData) {
  Dataset a = load_dataset(synthetic(7));
  Dataset b = load_dataset(synthetic(7));
  Dataset c = load_dataset(synthetic(8));
  EXPECT_EQ(a.train.pixels, b.train.pixels);
  EXPECT_EQ(a.train.labels, b.train.labels);
  EXPECT_EQ(a.test.pixels, b.test.pixels);
  EXPECT_NE(a.train.pixels, c.train.pixels);
  EXPECT_NE(a.train.labels, c.train.labels);
  // Train and test come from different streams.
  EXPECT_FALSE(std::equal(a.test.pixels.begin(), a.test.pixels.end(), a.train.pixels.begin()));
}

TEST(Synthetic, SampleDoesNotDependOnTheSetSize) {
  // The large set is big enough to be generated by several threads.
  Dataset small = load_dataset(synthetic(3, 100, 10));
  Dataset large = load_dataset(synthetic(3, 8000, 50));
  EXPECT_TRUE(
      std::equal(small.train.pixels.begin(), small.train.pixels.end(), large.train.pixels.begin()));
  EXPECT_TRUE(
      std::equal(small.train.labels.begin(), small.train.labels.end(), large.train.labels.begin()));
  EXPECT_TRUE(
      std::equal(small.test.pixels.begin(), small.test.pixels.end(), large.test.pixels.begin()));
}

TEST(Synthetic, MaxSamplesKeepsThePrefix) {
  DatasetOptions o = synthetic(3, 1000, 50);
  o.max_train_samples = 100;
  o.max_test_samples = 10;
  Dataset cut = load_dataset(o);
  Dataset small = load_dataset(synthetic(3, 100, 10));
  EXPECT_EQ(cut.train.pixels, small.train.pixels);
  EXPECT_EQ(cut.test.labels, small.test.labels);
}

TEST(Synthetic, ClassesAreBalanced) {
  Dataset ds = load_dataset(synthetic(11, 20000, 10));
  std::vector<int> hist(10, 0);
  for (auto l : ds.train.labels) ++hist[std::size_t(l)];
  for (int h : hist) EXPECT_NEAR(h, 2000, 200);
}

TEST(Synthetic, NoiseHasTheRequestedSpread) {
  // Per-pixel variance around each class mean estimates noise^2.
  Dataset ds = load_dataset(synthetic(5, 4000, 10));
  const std::int64_t d = ds.train.sample_size();
  std::vector<double> sum(std::size_t(10 * d), 0.0), sq(std::size_t(10 * d), 0.0);
  std::vector<int> n(10, 0);
  for (std::int64_t i = 0; i < ds.train.count; ++i) {
    auto c = std::size_t(ds.train.labels[std::size_t(i)]);
    ++n[c];
    for (std::int64_t k = 0; k < d; ++k) {
      double v = ds.train.sample(i)[k];
      sum[c * d + k] += v;
      sq[c * d + k] += v * v;
    }
  }
  double var = 0;
  for (std::size_t c = 0; c < 10; ++c)
    for (std::int64_t k = 0; k < d; ++k) {
      double m = sum[c * d + k] / n[c];
      var += sq[c * d + k] / n[c] - m * m;
    }
  var /= 10.0 * d;
  EXPECT_NEAR(std::sqrt(var), 0.35, 0.01);
}

TEST(Synthetic, ClassesAreSeparable) {
  // Nearest class mean (learnt on train) must classify the test set well, so
  // a model has something to learn and prototypes are distinct.
  Dataset ds = load_dataset(synthetic(2, 2000, 500));
  const std::int64_t d = ds.train.sample_size();
  std::vector<double> mean(std::size_t(10 * d), 0.0);
  std::vector<int> n(10, 0);
  for (std::int64_t i = 0; i < ds.train.count; ++i) {
    auto c = std::size_t(ds.train.labels[std::size_t(i)]);
    ++n[c];
    for (std::int64_t k = 0; k < d; ++k) mean[c * d + k] += ds.train.sample(i)[k];
  }
  for (std::size_t c = 0; c < 10; ++c)
    for (std::int64_t k = 0; k < d; ++k) mean[c * d + k] /= n[c];
  int correct = 0;
  for (std::int64_t i = 0; i < ds.test.count; ++i) {
    double best = std::numeric_limits<double>::max();
    std::int64_t arg = -1;
    for (std::int64_t c = 0; c < 10; ++c) {
      double dist = 0;
      for (std::int64_t k = 0; k < d; ++k) {
        double diff = ds.test.sample(i)[k] - mean[std::size_t(c * d + k)];
        dist += diff * diff;
      }
      if (dist < best) best = dist, arg = c;
    }
    correct += arg == ds.test.labels[std::size_t(i)];
  }
  EXPECT_GT(correct, 0.95 * double(ds.test.count));
}

TEST(Synthetic, BadOptions) {
  DatasetOptions o = synthetic(1);
  o.synthetic_classes = 1;
  expect_input_error([&] { load_dataset(o); }, {"--synthetic-classes"});
  o = synthetic(1, 0, 10);
  expect_input_error([&] { load_dataset(o); }, {"--synthetic-train-samples"});
  o = synthetic(1);
  o.synthetic_noise = -1;
  expect_input_error([&] { load_dataset(o); }, {"--synthetic-noise"});
  o = synthetic(1);
  o.synthetic_side = 0;
  expect_input_error([&] { load_dataset(o); }, {"--synthetic-side"});
}

}  // namespace

TEST(Normalize, StandardGivesZeroMeanUnitVarianceOnTheTrainingSet) {
  fedhpc::data::DatasetOptions o;
  o.name = "synthetic";
  o.synthetic_train_samples = 300;
  o.synthetic_test_samples = 50;
  o.synthetic_side = 8;
  o.normalize = "standard";
  auto ds = fedhpc::data::load_dataset(o);
  double sum = 0, sq = 0;
  for (float p : ds.train.pixels) {
    sum += p;
    sq += double(p) * p;
  }
  const double n = double(ds.train.pixels.size());
  EXPECT_NEAR(sum / n, 0.0, 1e-5);
  EXPECT_NEAR(sq / n, 1.0, 1e-4);
  o.normalize = "minmax";
  EXPECT_THROW(fedhpc::data::load_dataset(o), fedhpc::InputError);
}

// --- Your own data: --dataset hdf5:FILE -------------------------------------

#include <mpi.h>

#include "fedhpc/data/partition.hpp"
#include "fedhpc/io/hdf5.hpp"

namespace {

struct OwnData {
  std::vector<std::uint8_t> train_x;  // [12, 1, 3, 3]
  std::vector<std::int64_t> train_y, clients;
  std::vector<float> test_x;          // [4, 1, 3, 3]
  std::vector<std::int64_t> test_y;
};

OwnData own_data() {
  OwnData d;
  for (int i = 0; i < 12 * 9; ++i) d.train_x.push_back(std::uint8_t(i * 7 % 256));
  d.train_y = {0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2};
  d.clients = {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2};
  for (int i = 0; i < 4 * 9; ++i) d.test_x.push_back(float(i) / 36.0f);
  d.test_y = {2, 1, 0, 1};
  return d;
}

// Writes the file; `edit` may change or remove parts before it is closed.
std::string write_own(const std::string& name, const std::function<void(h5::Group&)>& edit = {},
                      bool with_scale = false) {
  const auto path = (fs::temp_directory_path() / ("fedhpc-own-" + std::to_string(::getpid()) + "-" + name)).string();
  const auto d = own_data();
  auto file = h5::File::create(path, MPI_COMM_NULL, true);
  auto root = file.root();
  auto x = root.create_dataset<std::uint8_t>("train/x", {12, 1, 3, 3});
  x.write_all(d.train_x);
  if (with_scale) x.set_attribute("scale", 0.5);
  root.create_dataset<std::int64_t>("train/y", {12}).write_all(d.train_y);
  root.create_dataset<std::int64_t>("train/client", {12}).write_all(d.clients);
  root.create_dataset<float>("test/x", {4, 1, 3, 3}).write_all(d.test_x);
  root.create_dataset<std::int64_t>("test/y", {4}).write_all(d.test_y);
  if (edit) edit(root);
  file.close();
  return path;
}

Dataset load_own(const std::string& path) {
  DatasetOptions o;
  o.name = "hdf5:" + path;
  return load_dataset(o);
}

}  // namespace

TEST(OwnData, LoadsShapesPixelsLabelsAndClients) {
  const auto d = own_data();
  const auto ds = load_own(write_own("ok.h5"));
  EXPECT_EQ(ds.train.count, 12);
  EXPECT_EQ(ds.train.channels, 1);
  EXPECT_EQ(ds.train.height, 3);
  EXPECT_EQ(ds.train.width, 3);
  EXPECT_EQ(ds.test.count, 4);
  EXPECT_EQ(ds.num_classes, 3);
  EXPECT_EQ(ds.train.labels, d.train_y);
  EXPECT_EQ(ds.test.labels, d.test_y);
  EXPECT_EQ(ds.train_clients, d.clients);
  for (std::size_t i = 0; i < d.train_x.size(); ++i)  // uint8 without `scale`: / 255
    ASSERT_EQ(ds.train.pixels[i], float(float(d.train_x[i]) * (1.0 / 255.0))) << i;
  EXPECT_EQ(ds.test.pixels, d.test_x);  // float: as stored
  const auto scaled = load_own(write_own("scaled.h5", {}, true));
  EXPECT_EQ(scaled.train.pixels[3], float(d.train_x[3] * 0.5));
}

TEST(OwnData, NaturalPartitionFollowsTheClientIds) {
  const auto ds = load_own(write_own("natural.h5"));
  PartitionOptions p;
  p.method = "natural";
  p.num_clients = 3;
  p.local_test_fraction = 0.25;
  p.natural_clients = ds.train_clients;
  const auto part = make_partition(ds.train.labels, ds.num_classes, p);
  for (std::int64_t c = 0; c < 3; ++c) {
    EXPECT_EQ(part.train_count(c), 3);
    EXPECT_EQ(part.test_count(c), 1);
    for (std::int64_t k = 0; k < part.train_count(c); ++k) EXPECT_EQ(ds.train_clients[part.train_begin(c)[k]], c);
    EXPECT_EQ(ds.train_clients[part.test_begin(c)[0]], c);
  }
  p.num_clients = 4;
  expect_input_error([&] { make_partition(ds.train.labels, ds.num_classes, p); }, {"--clients 4", "3 clients"});
  p.natural_clients.clear();
  expect_input_error([&] { make_partition(ds.train.labels, ds.num_classes, p); }, {"--partition natural", "/train/client"});
}

TEST(OwnData, BadFilesNameTheDatasetPath) {
  expect_input_error([] { load_own("/nonexistent-fedhpc/own.h5"); }, {"hdf5:/nonexistent-fedhpc/own.h5", "cannot open"});
  const auto missing = write_own("missing.h5", [](h5::Group& root) { H5Ldelete(root.id(), "test/y", H5P_DEFAULT); });
  expect_input_error([&] { load_own(missing); }, {missing, "/test/y is missing"});
  const auto negative = write_own("negative.h5", [](h5::Group& root) {
    root.dataset("train/y").write_all(std::vector<std::int64_t>{0, 1, 2, 0, 1, -2, 0, 1, 2, 0, 1, 2});
  });
  expect_input_error([&] { load_own(negative); }, {"/train/y", "-2"});
  const auto short_y = write_own("short.h5", [](h5::Group& root) {
    H5Ldelete(root.id(), "train/y", H5P_DEFAULT);
    root.create_dataset<std::int64_t>("train/y", {5}).write_all(std::vector<std::int64_t>(5, 0));
  });
  expect_input_error([&] { load_own(short_y); }, {"/train/y", "one label per sample (12)"});
  const auto shape = write_own("shape.h5", [](h5::Group& root) {
    H5Ldelete(root.id(), "test/x", H5P_DEFAULT);
    root.create_dataset<float>("test/x", {4, 9}).write_all(std::vector<float>(36, 0.f));
  });
  expect_input_error([&] { load_own(shape); }, {"/test/x", "shape"});
  const auto text = write_own("text.h5", [](h5::Group& root) {
    H5Ldelete(root.id(), "test/y", H5P_DEFAULT);
    root.create_string_dataset("test/y", {"a", "b", "c", "d"});
  });
  expect_input_error([&] { load_own(text); }, {"/test/y", "integers"});
}
