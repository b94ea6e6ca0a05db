// The aggregators behind --aggregator: hand-computed cases, the pure
// coordinate-wise functions, and rank invariance (the same bits at any rank
// count and any placement or order of the models).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <numeric>
#include <vector>

#include "fedhpc/aggregation/aggregator.hpp"
#include "fedhpc/aggregation/krum.hpp"
#include "fedhpc/aggregation/median.hpp"
#include "fedhpc/aggregation/sharded_models.hpp"
#include "fedhpc/aggregation/trimmed_mean.hpp"
#include "fedhpc/core/error.hpp"
#include "fedhpc/core/rng.hpp"
#include "fedhpc/mpi/comm.hpp"

using namespace fedhpc;
using namespace fedhpc::aggregation;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kUntouched = 12345.0f;

struct Models {
  std::vector<std::vector<float>> params;
  std::vector<std::int64_t> ids, weights;
  std::int64_t size() const { return std::int64_t(params.size()); }
  std::int64_t num_params() const { return params.empty() ? 0 : std::int64_t(params[0].size()); }
};

struct Result {
  bool ok = false;
  std::vector<float> out;
};

AggregatorOptions options(const std::string& name, double trim = 0.1, int byzantine = 0, int select = 0) {
  AggregatorOptions o;
  o.name = name;
  o.trim_fraction = trim;
  o.byzantine = byzantine;
  o.krum_select = select;
  return o;
}

// Adds, in the given order, the models that owner() puts on this rank, and
// finishes on comm. out starts as kUntouched everywhere.
Result aggregate(const AggregatorOptions& o, const Models& m, const mpi::Comm& comm,
                 const std::function<int(std::int64_t)>& owner, std::vector<std::int64_t> order = {}) {
  if (order.empty()) {
    order.resize(std::size_t(m.size()));
    std::iota(order.begin(), order.end(), std::int64_t{0});
  }
  auto agg = make_aggregator(o);
  agg->begin(m.num_params());
  for (auto k : order) {
    const auto i = std::size_t(k);
    if (owner(k) == comm.rank()) agg->add(m.ids[i], m.params[i].data(), m.weights[i]);
  }
  Result r;
  r.out.assign(std::size_t(m.num_params()), kUntouched);
  r.ok = agg->finish(r.out.data(), comm);
  return r;
}

// Model k on rank k % size of the world.
Result on_world(const AggregatorOptions& o, const Models& m) {
  const auto world = mpi::Comm::world();
  const int ranks = world.size();
  return aggregate(o, m, world, [ranks](std::int64_t k) { return int(k % ranks); });
}

// Models given row by row; ids 0.. and weights 1 unless given.
Models rows(std::vector<std::vector<float>> params, std::vector<std::int64_t> ids = {},
            std::vector<std::int64_t> weights = {}) {
  Models m;
  m.params = std::move(params);
  m.ids = ids.empty() ? std::vector<std::int64_t>(m.params.size()) : ids;
  if (ids.empty()) std::iota(m.ids.begin(), m.ids.end(), std::int64_t{0});
  m.weights = weights.empty() ? std::vector<std::int64_t>(m.params.size(), 1) : weights;
  return m;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

bool is_canonical_nan(float x) { return same_bits(x, kNaN); }

std::string input_error(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

// ---- coordinate_median (pure) ------------------------------------------------

TEST(CoordinateMedian, OddCountIsTheMiddleValueInTheTotalOrder) {
  const std::vector<float> v = {1, -0.0f, kNaN, kInf,  //
                                3, +0.0f, 1, 1,        //
                                2, -0.0f, 2, -kInf};
  std::vector<float> out(4);
  coordinate_median(v.data(), 3, 4, out.data());
  EXPECT_EQ(out[0], 2.0f);
  EXPECT_TRUE(same_bits(out[1], -0.0f));  // -0, -0, +0
  EXPECT_EQ(out[2], 2.0f);                // 1, 2, NaN: NaN is the largest
  EXPECT_EQ(out[3], 1.0f);                // -inf, 1, inf
}

TEST(CoordinateMedian, EvenCountAveragesTheMiddlePairInDouble) {
  const float big = std::numeric_limits<float>::max();
  const float next = std::nextafter(1.0f, 2.0f);
  // columns: plain; signed zeros; a NaN in the middle pair; -inf and +inf;
  // float overflow avoided by double; round half to even.
  const std::vector<float> v = {1,  -0.0f, 1,    -kInf, big, 1,     //
                                2,  +0.0f, kNaN, -kInf, big, next,  //
                                3,  -0.0f, kNaN, kInf,  big, 1,     //
                                10, +0.0f, 2,    kInf,  big, next};
  std::vector<float> out(6);
  coordinate_median(v.data(), 4, 6, out.data());
  EXPECT_EQ(out[0], 2.5f);
  EXPECT_TRUE(same_bits(out[1], +0.0f));  // (-0 + +0) / 2
  EXPECT_TRUE(is_canonical_nan(out[2]));  // middle pair 2, NaN
  EXPECT_TRUE(is_canonical_nan(out[3]));  // (-inf + inf) / 2
  EXPECT_EQ(out[4], big);
  EXPECT_EQ(out[5], 1.0f);  // 1 + 2^-24 rounds to even
}

TEST(CoordinateMedian, NoRowsGiveNaN) {
  float out = 0;
  coordinate_median(nullptr, 0, 1, &out);
  EXPECT_TRUE(std::isnan(out));
}

// ---- krum_scores / krum_ranking (pure) ---------------------------------------

TEST(KrumScores, SumOfNearestSquaredDistancesNaNIsInfinite) {
  // Four points on a line at 0, 1, 3 and a NaN model; n - f - 2 = 2 nearest (f = 0).
  const double nan = std::nan(""), inf = HUGE_VAL;
  const std::vector<double> d = {0, 1, 9, nan,  //
                                 1, 0, 4, inf,  //
                                 9, 4, 0, nan,  //
                                 nan, inf, nan, 0};
  const auto s = krum_scores(d, 4, 0);
  EXPECT_EQ(s[0], 10.0);
  EXPECT_EQ(s[1], 5.0);
  EXPECT_EQ(s[2], 13.0);
  EXPECT_EQ(s[3], inf);
  EXPECT_EQ(krum_ranking(s), (std::vector<std::int64_t>{1, 0, 2, 3}));
  EXPECT_EQ(krum_ranking({inf, 2.0, inf, 2.0}), (std::vector<std::int64_t>{1, 3, 0, 2}));
}

// ---- ShardedModels ---------------------------------------------------------------

TEST(ShardedModels, SlicesAreSortedByIdAndAssembleBack) {
  const auto world = mpi::Comm::world();
  const int ranks = world.size();
  const std::int64_t P = 10;
  ShardedModels sharded(3);  // 4 blocks of 3, 3, 3, 1
  sharded.begin(P);
  std::vector<std::vector<float>> models(5, std::vector<float>(P));
  for (int k = 0; k < 5; ++k)
    for (int j = 0; j < P; ++j) models[std::size_t(k)][std::size_t(j)] = float(100 * k + j);
  for (int k = 4; k >= 0; --k)
    if (k % ranks == world.rank()) sharded.add(10 - k, models[std::size_t(k)].data(), k);
  ASSERT_EQ(sharded.exchange(world), 5);
  EXPECT_EQ(sharded.ids(), (std::vector<std::int64_t>{6, 7, 8, 9, 10}));
  EXPECT_EQ(sharded.weights(), (std::vector<std::int64_t>{4, 3, 2, 1, 0}));
  EXPECT_EQ(sharded.slice_begin() % 3, 0);
  for (std::int64_t k = 0; k < 5; ++k)
    for (std::int64_t j = 0; j < sharded.slice_size(); ++j)
      EXPECT_EQ(sharded.row(k)[j], models[std::size_t(4 - k)][std::size_t(sharded.slice_begin() + j)]);
  std::vector<float> out(P, kUntouched);
  sharded.assemble(sharded.row(0), out.data(), world);
  EXPECT_EQ(out, models[4]);
}

// ---- hand-computed aggregates ------------------------------------------------------

TEST(Aggregators, FedAvgIsTheSampleWeightedMean) {
  const auto r = on_world(options("fedavg"), rows({{1, 0}, {4, 8}}, {}, {3, 1}));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.out, (std::vector<float>{1.75f, 2.0f}));
}

TEST(Aggregators, MedianOddAndEvenCountsIgnoreWeights) {
  // Columns: ties; a NaN (largest); -inf; plain.
  auto m = rows({{2, kNaN, -kInf, 5}, {2, 1, 0, 1}, {7, 2, 1, 3}, {2, 3, 2, 4}, {1, 4, 3, 2}}, {10, 3, 7, 1, 4},
                {100, 1, 1, 1, 1});
  auto r = on_world(options("median"), m);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.out, (std::vector<float>{2, 3, 1, 3}));
  m.params.pop_back();
  m.ids.pop_back();
  m.weights.pop_back();
  r = on_world(options("median"), m);  // 4 models: mean of the middle pair
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.out, (std::vector<float>{2, 2.5f, 0.5f, 3.5f}));
}

TEST(Aggregators, TrimmedMeanDropsTheExtremesAndNonFiniteValues) {
  // beta = 0.2 of 5 models: one dropped at each end. Columns: an outlier;
  // NaN (largest, trimmed); -inf and +inf; two NaNs (one survives); ties.
  const auto m = rows({{1, kNaN, -kInf, kNaN, 2},
                       {2, 1, 5, kNaN, 2},
                       {3, 2, 6, 1, 2},
                       {4, 3, 7, 2, 2},
                       {100, 4, kInf, 3, 2}},
                      {}, {1, 2, 3, 4, 5});
  const auto r = on_world(options("trimmed-mean", 0.2), m);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.out[0], 3.0f);
  EXPECT_EQ(r.out[1], 3.0f);
  EXPECT_EQ(r.out[2], 6.0f);
  EXPECT_TRUE(is_canonical_nan(r.out[3]));
  EXPECT_EQ(r.out[4], 2.0f);
  // beta = 0.25 of 4 models: the mean of the middle two, unweighted; -inf
  // and +inf kept give the canonical NaN.
  const auto even = on_world(options("trimmed-mean", 0.25),
                             rows({{1, -kInf}, {2, -kInf}, {4, kInf}, {100, kInf}}, {}, {9, 1, 1, 9}));
  ASSERT_TRUE(even.ok);
  EXPECT_EQ(even.out[0], 3.0f);
  EXPECT_TRUE(is_canonical_nan(even.out[1]));
}

TEST(Aggregators, TrimmedMeanWithBetaZeroIsFedAvgBitForBit) {
  Models m;
  auto rng = stream(7, StreamKind::Init);
  for (int k = 0; k < 6; ++k) {
    std::vector<float> p(50);
    for (auto& x : p) x = float(rng.normal() * std::pow(10.0, rng.uniform(-3, 3)));
    m.params.push_back(p);
    m.ids.push_back(k);
    m.weights.push_back(1 + 7 * k % 5);
  }
  m.params[2][3] = kNaN;
  const auto trimmed = on_world(options("trimmed-mean", 0.0), m), fedavg = on_world(options("fedavg"), m);
  ASSERT_TRUE(trimmed.ok && fedavg.ok);
  EXPECT_TRUE(same_bits(trimmed.out, fedavg.out));
  EXPECT_TRUE(make_aggregator(options("trimmed-mean", 0.0))->is_weighted_mean());
  EXPECT_FALSE(make_aggregator(options("trimmed-mean", 0.1))->is_weighted_mean());
}

TEST(Aggregators, TrimFractionOutOfRangeIsAnInputError) {
  for (double beta : {-0.1, 0.5, 0.7, std::nan("")})
    EXPECT_NE(input_error([&] { make_aggregator(options("trimmed-mean", beta)); }).find("--trim-fraction"),
              std::string::npos)
        << beta;
}

namespace {

// Scalars 0, 1, 2, 3, 100 (second coordinate 7 everywhere), f = 1, so each
// score sums the 2 nearest squared distances: 5, 2, 2, 5, 9409 + 9604. The
// ids make the ties go against the order of the values.
Models krum_models() {
  return rows({{0, 7}, {1, 7}, {2, 7}, {3, 7}, {100, 7}}, {50, 40, 30, 20, 10}, {1, 2, 3, 4, 5});
}

}  // namespace

TEST(Aggregators, KrumPicksTheLowestScoreTiesByLowerId) {
  const auto r = on_world(options("krum", 0, 1), krum_models());
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.out, (std::vector<float>{2, 7}));  // ids 40 and 30 tie at 2: id 30
}

TEST(Aggregators, MultiKrumIsTheWeightedMeanOfTheBest) {
  // m = 3: ids 30 (2, weight 3), 40 (1, weight 2), then 20 (3, weight 4) beats 50 on the tie at 5.
  auto r = on_world(options("multi-krum", 0, 1, 3), krum_models());
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.out, (std::vector<float>{float(20.0 / 9.0), 7}));
  // m = 0: n - f = 4 models, the outlier out.
  r = on_world(options("multi-krum", 0, 1, 0), krum_models());
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.out, (std::vector<float>{2, 7}));
}

TEST(Aggregators, KrumWithNonFiniteModels) {
  auto m = krum_models();
  m.params[4] = {kNaN, 7};  // distances to it are +inf
  m.params[3] = {kInf, 7};
  // f = 0: 3 nearest of 4 others, two of them non-finite, so every score is
  // +inf and all tie: the lowest id, 10, is the NaN model. NaN propagates.
  auto r = on_world(options("krum", 0, 0), m);
  ASSERT_TRUE(r.ok);
  EXPECT_TRUE(is_canonical_nan(r.out[0]));
  // f = 1: 2 nearest; the finite models 0, 1, 2 score 1+4, 1+1, 1+4, the
  // non-finite ones +inf, so they are never chosen.
  r = on_world(options("krum", 0, 1), m);
  EXPECT_EQ(r.out, (std::vector<float>{1, 7}));
  r = on_world(options("multi-krum", 0, 1, 3), m);
  EXPECT_EQ(r.out, (std::vector<float>{float((0 * 1 + 1 * 2 + 2 * 3) / 6.0), 7}));
}

TEST(Aggregators, MultiKrumOfAllModelsIsFedAvgBitForBit) {
  auto m = krum_models();
  m.params[1][0] = 1.1f;
  m.params[3][1] = kNaN;
  const auto multi = on_world(options("multi-krum", 0, 0, 5), m), fedavg = on_world(options("fedavg"), m);
  ASSERT_TRUE(multi.ok && fedavg.ok);
  EXPECT_TRUE(same_bits(multi.out, fedavg.out));
}

TEST(Aggregators, KrumNeedsMoreThanTwoFPlusTwoModels) {
  for (const char* name : {"krum", "multi-krum"}) {
    const auto what = input_error([&] { on_world(options(name, 0, 2), krum_models()); });
    EXPECT_EQ(what, std::string("--byzantine: ") + name +
                        " needs more than 2f+2 = 6 models at an aggregation point; it got 5");
  }
  EXPECT_NE(input_error([] { make_aggregator(options("krum", 0, -1)); }).find("--byzantine"), std::string::npos);
}

TEST(Aggregators, BadKrumSelectIsAnInputError) {
  EXPECT_NE(input_error([] { on_world(options("multi-krum", 0, 1, 6), krum_models()); }).find("--krum-select"),
            std::string::npos);
  EXPECT_NE(input_error([] { make_aggregator(options("multi-krum", 0, 1, -1)); }).find("--krum-select"),
            std::string::npos);
  EXPECT_TRUE(on_world(options("multi-krum", 0, 1, 5), krum_models()).ok);  // m = n is allowed
}

TEST(Aggregators, NoModelsReturnFalseAndLeaveOutAlone) {
  const Models none = rows({{1, 2, 3}});
  for (const auto& o : {options("fedavg"), options("trimmed-mean", 0.0), options("trimmed-mean", 0.2),
                        options("median"), options("krum", 0, 3), options("multi-krum", 0, 3, 2)}) {
    const auto r = aggregate(o, none, mpi::Comm::world(), [](std::int64_t) { return -1; });  // nobody adds
    EXPECT_FALSE(r.ok) << o.name;
    EXPECT_EQ(r.out, std::vector<float>(3, kUntouched)) << o.name;
  }
}

TEST(Aggregators, RegistryListsTheBuiltIns) {
  for (const char* name : {"fedavg", "trimmed-mean", "median", "krum", "multi-krum"})
    EXPECT_TRUE(aggregator_registry().contains(name)) << name;
}

// ---- rank invariance ------------------------------------------------------------

namespace {

// Nine seeded models over three 4096-coordinate blocks (the last partial),
// with an outlier, a NaN, an inf and a -0.
Models random_models() {
  const std::int64_t P = 2 * ShardedModels::kDefaultBlock + 1000;
  Models m;
  const std::vector<std::int64_t> ids = {17, 3, 42, 8, 25, 1, 99, 60, 12};
  for (std::size_t k = 0; k < ids.size(); ++k) {
    auto rng = stream(2024, StreamKind::Init, k);
    std::vector<float> p(static_cast<std::size_t>(P));
    for (auto& x : p) x = float(rng.normal() * (k == 8 ? 50.0 : 1.0));
    m.params.push_back(std::move(p));
    m.ids.push_back(ids[k]);
    m.weights.push_back(std::int64_t(1 + (5 * k) % 7));
  }
  m.params[3][5] = kNaN;
  m.params[5][4100] = kInf;
  m.params[6][7] = -0.0f;
  return m;
}

std::vector<AggregatorOptions> all_aggregators() {
  return {options("fedavg"),         options("trimmed-mean", 0.0), options("trimmed-mean", 0.1),
          options("trimmed-mean", 0.25), options("trimmed-mean", 0.45), options("median"),
          options("krum", 0, 0),      options("krum", 0, 1),        options("krum", 0, 3),
          options("multi-krum", 0, 1), options("multi-krum", 0, 2, 3), options("multi-krum", 0, 0, 9)};
}

}  // namespace

TEST(Aggregators, SameBitsForAnyRankCountAndPlacement) {
  const auto m = random_models();
  const auto world = mpi::Comm::world();
  const int ranks = world.size();
  const auto n = m.size();
  std::vector<std::int64_t> shuffled(static_cast<std::size_t>(n));
  std::iota(shuffled.begin(), shuffled.end(), std::int64_t{0});
  auto rng = stream(5, StreamKind::Init);
  fedhpc::shuffle(shuffled.begin(), shuffled.end(), rng);
  for (const auto& o : all_aggregators()) {
    const std::string what = o.name + " beta=" + std::to_string(o.trim_fraction) + " f=" +
                             std::to_string(o.byzantine) + " m=" + std::to_string(o.krum_select);
    const auto reference = aggregate(o, m, mpi::Comm::self(), [](std::int64_t) { return 0; });
    ASSERT_TRUE(reference.ok) << what;
    const auto blocks = aggregate(o, m, world, [&](std::int64_t k) { return int(k * ranks / n); });
    const auto round_robin =
        aggregate(o, m, world, [&](std::int64_t k) { return int(k % ranks); }, shuffled);
    EXPECT_TRUE(blocks.ok && round_robin.ok) << what;
    EXPECT_TRUE(same_bits(blocks.out, reference.out)) << what;
    EXPECT_TRUE(same_bits(round_robin.out, reference.out)) << what;
  }
}

TEST(Aggregators, RobustAggregatesResistTheOutlier) {
  // The outlier (x50) moves fedavg but not median or krum; a sanity check
  // that the rank-invariance test compares meaningful results.
  const auto m = random_models();
  const auto self = mpi::Comm::self();
  auto all = [](std::int64_t) { return 0; };
  const auto krum = aggregate(options("krum", 0, 1), m, self, all);
  EXPECT_FALSE(same_bits(krum.out, m.params[8]));
  const auto median = aggregate(options("median"), m, self, all);
  EXPECT_FALSE(std::isnan(median.out[5]));  // one NaN of nine is not the median
  double spread = 0;
  for (float x : median.out) spread = std::max(spread, std::fabs(double(x)));
  EXPECT_LT(spread, 10.0);
}
