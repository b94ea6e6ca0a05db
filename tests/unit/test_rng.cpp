#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "fedhpc/core/registry.hpp"
#include "fedhpc/core/rng.hpp"

using namespace fedhpc;

TEST(Rng, StreamsAreKeyedAndRepeatable) {
  auto a = stream(7, StreamKind::Shuffle, 3, 2);
  auto b = stream(7, StreamKind::Shuffle, 3, 2);
  auto c = stream(7, StreamKind::Shuffle, 3, 1);
  auto d = stream(7, StreamKind::Shuffle, 2, 2);
  auto va = a(), vb = b(), vc = c(), vd = d();
  EXPECT_EQ(va, vb);
  EXPECT_NE(va, vc);
  EXPECT_NE(va, vd);
}

TEST(Rng, UniformAndNormalMoments) {
  auto r = stream(1, StreamKind::Init);
  double su = 0, sn = 0, sn2 = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    double u = r.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    su += u;
    double z = r.normal();
    sn += z;
    sn2 += z * z;
  }
  EXPECT_NEAR(su / n, 0.5, 0.01);
  EXPECT_NEAR(sn / n, 0.0, 0.01);
  EXPECT_NEAR(sn2 / n, 1.0, 0.02);
}

TEST(Rng, GammaMeanEqualsShape) {
  auto r = stream(2, StreamKind::Partition);
  for (double shape : {0.1, 0.5, 1.0, 3.0}) {
    double s = 0;
    const int n = 100000;
    for (int i = 0; i < n; ++i) s += r.gamma(shape);
    EXPECT_NEAR(s / n, shape, 0.03 * std::max(1.0, shape)) << shape;
  }
}

TEST(Rng, BelowIsInRangeAndShuffleIsPermutation) {
  auto r = stream(3, StreamKind::Server);
  std::vector<int> v(100);
  for (int i = 0; i < 100; ++i) v[i] = i;
  shuffle(v.begin(), v.end(), r);
  std::vector<int> sorted = v;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 100; ++i) EXPECT_EQ(sorted[i], i);
  for (int i = 0; i < 1000; ++i) EXPECT_LT(r.below(7), 7u);
}

TEST(Registry, RejectsDuplicatesAndNamesAllowedValues) {
  Registry<int> reg("model");
  reg.add("a", 1);
  reg.add("b", 2);
  EXPECT_THROW(reg.add("a", 3), std::logic_error);
  EXPECT_EQ(reg.get("b"), 2);
  try {
    reg.get("zzz", "model");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--model"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("a|b"), std::string::npos);
  }
}
