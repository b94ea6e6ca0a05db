// --dataset synthetic-population (data/population.hpp): each client's data
// is a pure function of (seed, client), generated only for a round's
// participants, and a run gives the same bits on any number of ranks.
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <set>
#include <vector>

#include "fedhpc/cli/run_command.hpp"
#include "fedhpc/cli/run_options.hpp"
#include "fedhpc/data/population.hpp"
#include "fedhpc/engine/round_engine.hpp"
#include "fedhpc/io/hdf5.hpp"
#include "test_support.hpp"

using namespace fedhpc;
using data::Population;
using data::PopulationOptions;
using test::read;
using test::same_bits;

namespace {

PopulationOptions population(std::int64_t clients, std::uint64_t seed) {
  PopulationOptions o;
  o.clients = clients;
  o.seed = seed;
  o.min_samples = 20;
  o.mean_samples = 40;
  o.local_test_fraction = 0.2;
  return o;
}

std::vector<std::int64_t> identity(std::int64_t n) {
  std::vector<std::int64_t> ids(static_cast<std::size_t>(n));
  std::iota(ids.begin(), ids.end(), 0);
  return ids;
}

}  // namespace

TEST(Population, ClientDataIsAFunctionOfSeedAndClientOnly) {
  const Population a(population(1000, 7)), b(population(1000000, 7)), other(population(1000, 8));
  for (std::int64_t key : {0, 5, 999}) {
    ASSERT_EQ(a.samples(key), b.samples(key));  // the population's size does not enter
    const auto n = a.samples(key);
    std::vector<float> xa(static_cast<std::size_t>(n * Population::kFeatures)), xb = xa, xo = xa;
    std::vector<std::int64_t> ya(static_cast<std::size_t>(n)), yb = ya, yo = ya;
    a.generate(key, 0, n, xa.data(), ya.data());
    b.generate(key, 0, n, xb.data(), yb.data());
    other.generate(key, 0, n, xo.data(), yo.data());
    EXPECT_TRUE(same_bits(xa, xb));
    EXPECT_EQ(ya, yb);
    EXPECT_FALSE(same_bits(xa, xo));
    for (auto y : ya) EXPECT_TRUE(y >= 0 && y < Population::kClasses);
  }
  // Global test samples come from another stream than the client's own data.
  std::vector<float> local(Population::kFeatures), global(Population::kFeatures);
  std::int64_t y = 0;
  a.generate(3, 0, 1, local.data(), &y);
  a.generate(3, 1, 1, global.data(), &y);
  EXPECT_FALSE(same_bits(local, global));
}

TEST(Population, SizesAreLogNormalAboveTheMinimumWithTheRequestedMean) {
  const Population p(population(20000, 1));
  const auto sizes = p.sizes(identity(20000));
  double sum = 0.0;
  std::int64_t largest = 0;
  for (std::int64_t c = 0; c < 20000; ++c) {
    const auto n = sizes.train_count(c) + sizes.test_count(c);
    ASSERT_EQ(n, p.samples(c));
    ASSERT_GE(n, 20);
    ASSERT_EQ(sizes.test_count(c), std::int64_t(std::floor(0.2 * double(n))));
    ASSERT_EQ(sizes.test_count(c), p.test_samples(c));
    sum += double(n);
    largest = std::max(largest, n);
  }
  // E[n] = 40 less the floor's 0.5 on average; the standard error is about 0.2.
  EXPECT_NEAR(sum / 20000.0, 39.5, 1.0);
  EXPECT_GT(largest, 200);  // a heavy tail, not a constant
  EXPECT_TRUE(sizes.train_indices.empty());
  EXPECT_TRUE(sizes.test_indices.empty());
}

TEST(Population, MaterializeHoldsOnlyTheListedClients) {
  const Population p(population(50, 3));
  auto ds = p.make_dataset();
  data::Partition part;
  const std::vector<std::int64_t> clients = {2, 17, 49};
  p.materialize(clients, identity(50), ds, part);
  std::int64_t expected = 0;
  for (auto c : clients) expected += p.samples(c);
  ASSERT_EQ(ds.train.count, expected);
  ASSERT_EQ(ds.train.sample_size(), Population::kFeatures);
  ASSERT_EQ(part.num_clients(), 50);
  for (std::int64_t c = 0; c < 50; ++c) {
    const bool listed = std::count(clients.begin(), clients.end(), c) > 0;
    if (!listed) {
      EXPECT_EQ(part.train_count(c) + part.test_count(c), 0);
      continue;
    }
    const auto n = p.samples(c), test = p.test_samples(c);
    ASSERT_EQ(part.train_count(c), n - test);
    ASSERT_EQ(part.test_count(c), test);
    std::vector<float> x(static_cast<std::size_t>(n * Population::kFeatures));
    std::vector<std::int64_t> y(static_cast<std::size_t>(n));
    p.generate(c, 0, n, x.data(), y.data());
    // Training split first, then the local test split, as generated.
    for (std::int64_t i = 0; i < n; ++i) {
      const auto at = i < n - test ? part.train_begin(c)[i] : part.test_begin(c)[i - (n - test)];
      ASSERT_EQ(std::memcmp(ds.train.sample(at), x.data() + i * Population::kFeatures,
                            sizeof(float) * Population::kFeatures), 0);
      ASSERT_EQ(ds.train.labels[std::size_t(at)], y[std::size_t(i)]);
    }
  }
  // The next round's participants replace this round's.
  p.materialize({5}, identity(50), ds, part);
  EXPECT_EQ(ds.train.count, p.samples(5));
  EXPECT_EQ(part.train_count(2), 0);
}

TEST(Population, GlobalTestSetIsAFixedSeededSampleOfClients) {
  const Population big(population(1000000, 4)), small(population(30, 4));
  const auto chosen = big.test_clients();
  ASSERT_EQ(chosen.size(), std::size_t(Population::kTestClients));
  EXPECT_TRUE(std::is_sorted(chosen.begin(), chosen.end()));
  EXPECT_EQ(std::set<std::int64_t>(chosen.begin(), chosen.end()).size(), chosen.size());
  EXPECT_EQ(chosen, Population(population(1000000, 4)).test_clients());
  EXPECT_EQ(small.test_clients(), identity(30));  // N <= 100: every client
  const auto ds = big.make_dataset();
  EXPECT_EQ(ds.test.count, Population::kTestClients * Population::kTestSamplesPerClient);
  EXPECT_EQ(ds.num_classes, Population::kClasses);
  EXPECT_EQ(ds.train.count, 0);
  // Heterogeneous labels: the clients' own models give every class somewhere.
  std::set<std::int64_t> classes(ds.test.labels.begin(), ds.test.labels.end());
  EXPECT_EQ(classes.size(), std::size_t(Population::kClasses));
}

namespace {

RunOptions population_run(const std::string& output) {
  RunOptions o;
  o.dataset = "synthetic-population";
  o.model = "logreg";
  o.clients = 400;
  o.participation = 0.05;
  o.rounds = 3;
  o.lr = 0.01;
  o.output = output;
  o.overwrite = true;
  o.quiet = true;
  return o;
}

}  // namespace

TEST(PopulationRun, SameBitsOnTheWorldAsOnOneRankAndOnlyParticipantsAreEvaluated) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  const auto dir = test::shared_temp_dir(MPI_COMM_WORLD, "population");
  auto o = population_run(dir + "/world.h5");
  run_simulation(o, mpi::Comm::world());
  if (rank != 0) return;
  auto alone = o;
  alone.output = dir + "/alone.h5";
  run_simulation(alone, mpi::Comm::self());
  for (const char* name : {"global/weights", "clients/local_test_loss", "clients/train_loss"})
    EXPECT_TRUE(same_bits(read<float>(o.output, name), read<float>(alone.output, name))) << name;
  for (const char* name : {"global/test_loss", "global/aggregated_loss"})
    EXPECT_TRUE(same_bits(read<double>(o.output, name), read<double>(alone.output, name))) << name;
  // The participants layout: m = 20 columns per round, named by round_clients.
  EXPECT_TRUE(same_bits(read<std::int64_t>(o.output, "clients/round_clients"),
                        read<std::int64_t>(alone.output, "clients/round_clients")));
  const auto ids = read<std::int64_t>(o.output, "clients/round_clients");
  const auto local = read<float>(o.output, "clients/local_test_loss");
  ASSERT_EQ(ids.size(), 3u * 20u);
  ASSERT_EQ(local.size(), 3u * 20u);
  ASSERT_EQ(read<float>(o.output, "clients/train_loss").size(), 3u * 20u);
  for (int r = 0; r < 3; ++r) {
    const auto first = ids.begin() + r * 20;
    EXPECT_TRUE(std::is_sorted(first, first + 20));
    EXPECT_EQ(std::set<std::int64_t>(first, first + 20).size(), 20u);
    // The engine's own draw of the round's clients.
    engine::EngineOptions e;
    e.clients = 400;
    e.participation = 0.05;
    e.seed = o.seed;
    const auto selected = engine::RoundEngine::select_clients(e, r + 1, identity(400));
    for (int j = 0; j < 20; ++j) EXPECT_EQ(selected[std::size_t(first[j])], 1) << r << " " << j;
  }
  for (auto v : local) EXPECT_FALSE(std::isnan(v));  // every participant evaluated on its local split
  auto file = h5::File::open(o.output, MPI_COMM_NULL, false);
  EXPECT_EQ(file.root().group("clients").get_attribute_string("layout"), "participants");
  EXPECT_EQ(file.root().dataset("clients/train_loss").get_attribute_string("dims"), "round,iteration,participant");
  EXPECT_FALSE(file.root().exists("clients/participated"));
  // /data holds every client's sizes, no sample indices.
  const Population p(population(400, o.seed));
  const auto offsets = read<std::int64_t>(o.output, "data/train_offsets");
  ASSERT_EQ(offsets.size(), 401u);
  EXPECT_EQ(offsets[1] - offsets[0], p.samples(0) - p.test_samples(0));
  EXPECT_TRUE(read<std::int64_t>(o.output, "data/train_indices").empty());
  const auto weights = read<float>(o.output, "global/weights");
  EXPECT_FALSE(same_bits(std::vector<float>(weights.begin(), weights.begin() + 610),
                         std::vector<float>(weights.end() - 610, weights.end())));  // it trained
}

TEST(PopulationRun, BadCombinationsAreOneLineErrorsNamingTheOption) {
  auto o = population_run("unused.h5");
  auto with = [&](auto change) {
    auto copy = o;
    change(copy);
    return [copy] { validate(copy); };
  };
  test::expect_input_error(with([](RunOptions& r) { r.model = "seed-cnn"; }), {"--model", "60 features"});
  test::expect_input_error(with([](RunOptions& r) { r.topology = "gossip"; }), {"--topology", "centralized"});
  test::expect_input_error(with([](RunOptions& r) { r.population_mean_samples = 10; }),
                           {"--population-mean-samples", ">= --population-min-samples"});
  test::expect_input_error(with([](RunOptions& r) { r.given = {"partition"}; }),
                           {"--partition", "other than synthetic-population"});
  test::expect_input_error(with([](RunOptions& r) {
                             r.dataset = "synthetic";
                             r.given = {"population-alpha"};
                           }),
                           {"--population-alpha", "--dataset synthetic-population"});
  test::expect_input_error(with([](RunOptions& r) { r.population_min_samples = 1; }), {"--population-min-samples"});
  // A round's samples and the per-client vectors count against --max-memory-gb.
  test::expect_input_error(with([](RunOptions& r) {
                             r.clients = 100000000;
                             r.participation = 0.5;
                             r.max_memory_gb = 1;
                           }),
                           {"--participation", "--max-memory-gb"});
  test::expect_input_error(with([](RunOptions& r) {
                             r.clients = 100000000;
                             r.participation = 1e-6;
                             r.max_memory_gb = 1;
                           }),
                           {"--clients", "--max-memory-gb"});
  auto fits = o;
  fits.clients = 1000000;
  fits.participation = 0.01;
  EXPECT_NO_THROW(validate(fits));  // the run, at the default 16 GB
}
