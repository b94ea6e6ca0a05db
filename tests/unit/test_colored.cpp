// Coloured Fashion-MNIST (--dataset colored-fashion-mnist, data/colored.hpp)
// on a stand-in greyscale set: per-client flip rates in [0.1, 0.2] and the
// observed flips matching them, the out-of-distribution reversal at 0.9
// within sampling error, the binary relabelling, and the multiclass colour
// pairs. Colouring is a pure function of (seed, partition), which every rank
// computes alike; test_fedgma checks a coloured run's bits at 1, 2 and 4 ranks.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <vector>

#include "fedhpc/data/colored.hpp"
#include "fedhpc/data/partition.hpp"

using namespace fedhpc;
using namespace fedhpc::data;

namespace {

constexpr std::uint64_t kSeed = 7;

// Greyscale 2x2 images: pixel 0 is 1 (the foreground shows its colour),
// pixel 1 is 0 (the background shows its colour); labels cycle over 10 classes.
Dataset grey(std::int64_t train, std::int64_t test) {
  Dataset ds;
  ds.name = "colored-fashion-mnist";
  ds.num_classes = 10;
  for (auto [set, n] : {std::pair{&ds.train, train}, std::pair{&ds.test, test}}) {
    set->count = n;
    set->height = set->width = 2;
    for (std::int64_t i = 0; i < n; ++i) {
      set->pixels.insert(set->pixels.end(), {1.0f, 0.0f, 0.5f, 0.25f});
      set->labels.push_back(i % 10);
    }
  }
  return ds;
}

Partition partition_of(const Dataset& ds, std::int64_t clients) {
  PartitionOptions o;
  o.method = "iid";
  o.num_clients = clients;
  o.seed = kSeed;
  return make_partition(ds.train.labels, ds.num_classes, o);
}

// Channel ch of pixel p of sample i (3 x 2 x 2 images).
float channel(const ImageSet& set, std::int64_t i, int ch, int p) { return set.sample(i)[ch * 4 + p]; }
bool red(const ImageSet& set, std::int64_t i) { return channel(set, i, 0, 0) == 1.0f && channel(set, i, 1, 0) == 0.0f; }

}  // namespace

TEST(ColoredData, ClientFlipRatesLieInTheirRange) {
  double low = 1, high = 0;
  for (std::int64_t k = 0; k < 200; ++k) {
    const double q = color_flip_rate(kSeed, k);
    EXPECT_GE(q, 0.1);
    EXPECT_LE(q, 0.2);
    low = std::min(low, q);
    high = std::max(high, q);
    EXPECT_EQ(q, color_flip_rate(kSeed, k));
  }
  EXPECT_LT(low, 0.11);  // spread over the range, not one value
  EXPECT_GT(high, 0.19);
  EXPECT_NE(color_flip_rate(kSeed, 3), color_flip_rate(kSeed + 1, 3));
}

TEST(ColoredData, BinaryTrainingFlipsAtEachClientsRateAndTheTestSetIsReversed) {
  auto ds = grey(40000, 20000);
  const auto partition = partition_of(ds, 20);
  colour_dataset(ds, partition, "binary", kSeed);
  ASSERT_EQ(ds.num_classes, 2);
  ASSERT_EQ(ds.train.channels, 3);
  ASSERT_EQ(ds.train.sample_size(), 12);
  for (std::int64_t i = 0; i < 20; ++i) EXPECT_EQ(ds.train.labels[std::size_t(i)], i % 10 < 5 ? 1 : 0);
  double flips_all = 0, expected_all = 0;
  for (std::int64_t c = 0; c < partition.num_clients(); ++c) {
    std::vector<std::int64_t> held(partition.train_begin(c), partition.train_begin(c) + partition.train_count(c));
    held.insert(held.end(), partition.test_begin(c), partition.test_begin(c) + partition.test_count(c));
    double flips = 0;
    for (auto i : held) {
      const bool flipped = red(ds.train, i) != (ds.train.labels[std::size_t(i)] == 1);
      ASSERT_EQ(flipped, color_flipped(kSeed, c, i)) << "client " << c << " sample " << i;
      EXPECT_EQ(channel(ds.train, i, 2, 0), 0.0f);  // red or green, black background
      EXPECT_EQ(channel(ds.train, i, 0, 1) + channel(ds.train, i, 1, 1), 0.0f);
      flips += flipped;
    }
    const double q = color_flip_rate(kSeed, c), n = double(held.size());
    EXPECT_NEAR(flips / n, q, 5 * std::sqrt(q * (1 - q) / n)) << "client " << c;
    flips_all += flips;
    expected_all += q * n;
  }
  const double n = double(ds.train.count);
  EXPECT_NEAR(flips_all / n, expected_all / n, 5 * std::sqrt(0.15 * 0.85 / n));
  double reversed = 0;
  for (std::int64_t i = 0; i < ds.test.count; ++i) {
    const bool r = red(ds.test, i) != (ds.test.labels[std::size_t(i)] == 1);
    EXPECT_EQ(r, test_color_reversed(kSeed, i));
    reversed += r;
  }
  const double m = double(ds.test.count);
  EXPECT_NEAR(reversed / m, 0.9, 5 * std::sqrt(0.9 * 0.1 / m));
}

TEST(ColoredData, MulticlassGivesEachClassItsPairAndTheTestSetRandomPairs) {
  auto ds = grey(2000, 2000);
  colour_dataset(ds, partition_of(ds, 10), "multiclass", kSeed);
  ASSERT_EQ(ds.num_classes, 10);
  ASSERT_EQ(ds.train.channels, 3);
  // pixel 0 is the foreground colour, pixel 1 the background colour.
  const auto pair = [](const ImageSet& s, std::int64_t i) {
    return std::vector<float>{channel(s, i, 0, 0), channel(s, i, 1, 0), channel(s, i, 2, 0),
                              channel(s, i, 0, 1), channel(s, i, 1, 1), channel(s, i, 2, 1)};
  };
  std::set<std::vector<float>> class_pairs, test_pairs;
  for (std::int64_t i = 0; i < ds.train.count; ++i) {
    EXPECT_EQ(pair(ds.train, i), pair(ds.train, i % 10)) << "sample " << i;
    if (i < 10) class_pairs.insert(pair(ds.train, i));
  }
  EXPECT_EQ(class_pairs.size(), 10u);
  for (std::int64_t i = 0; i < ds.test.count; ++i) test_pairs.insert(pair(ds.test, i));
  EXPECT_GT(test_pairs.size(), 60u);  // of 90 (foreground, background) combinations
}
