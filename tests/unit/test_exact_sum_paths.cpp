// ExactSum's fast window path, its slow (full Kulisch) path, the packed
// form used for reduction, and the all-reduce, against a reference: the
// straightforward per-term Kulisch accumulator ExactSum was before (every
// term added by digits, word-major), whose rounded values must be matched
// bit for bit.
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <vector>

#include "fedhpc/core/exact_sum.hpp"
#include "fedhpc/core/rng.hpp"
#include "fedhpc/mpi/exact_reduce.hpp"

using namespace fedhpc;

namespace {

class Reference {
 public:
  static constexpr int kWords = 12;
  static constexpr int kMinExponent = -160;
  explicit Reference(std::size_t n) : n_(n), d_(n * kWords, 0), bad_(n, 0) {}
  void add(std::size_t i, double x) {
    if (x == 0.0) return;
    if (!std::isfinite(x)) {
      bad_[i] = 1;
      ++nonfinite_;
      return;
    }
    int exponent = 0;
    const double m = std::frexp(std::fabs(x), &exponent);  // |x| = m 2^exponent, m in [0.5, 1)
    auto mantissa = static_cast<std::uint64_t>(std::ldexp(m, 53));
    int position = exponent - 53 - kMinExponent;
    if (position < 0) {
      if (position <= -64) return;
      mantissa >>= -position;
      position = 0;
    }
    const unsigned __int128 shifted = static_cast<unsigned __int128>(mantissa) << (position % 32);
    for (int k = 0; k < 3 && position / 32 + k < kWords; ++k) {
      const auto digit = static_cast<std::int64_t>((shifted >> (32 * k)) & 0xffffffffu);
      d_[std::size_t(position / 32 + k) * n_ + i] += x < 0 ? -digit : digit;
    }
  }
  void add_scaled(const float* v, double w) {
    for (std::size_t i = 0; i < n_; ++i) add(i, w * static_cast<double>(v[i]));
  }
  double value(std::size_t i) const {
    if (bad_[i]) return std::numeric_limits<double>::quiet_NaN();
    std::int64_t d[kWords];
    for (int w = 0; w < kWords; ++w) d[w] = d_[std::size_t(w) * n_ + i];
    for (int w = 0; w + 1 < kWords; ++w) {
      const std::int64_t carry = d[w] >> 32;
      d[w] -= carry * (std::int64_t{1} << 32);
      d[w + 1] += carry;
    }
    double v = static_cast<double>(d[kWords - 1]);
    for (int w = kWords - 2; w >= 0; --w) v = v * 4294967296.0 + static_cast<double>(d[w]);
    return std::ldexp(v, kMinExponent);
  }
  std::int64_t nonfinite() const { return nonfinite_; }

 private:
  std::size_t n_;
  std::vector<std::int64_t> d_;
  std::vector<std::uint8_t> bad_;
  std::int64_t nonfinite_ = 0;
};

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0 || (std::isnan(a) && std::isnan(b)); }

// Model-like values (normal, scale `scale`) with some exact zeros, some
// values far smaller, a few subnormal floats and, optionally, huge ones.
std::vector<float> values(std::size_t n, std::uint64_t key, double scale, bool huge = false) {
  auto rng = stream(key, StreamKind::Init);
  std::vector<float> v(n);
  for (auto& x : v) {
    const double u = rng.uniform();
    double y = scale * rng.normal();
    if (u < 0.05) y = 0.0;
    else if (u < 0.10) y *= std::pow(2.0, -double(rng.below(120)));  // down to the bottom of the window and below
    else if (u < 0.12) y = std::numeric_limits<float>::denorm_min() * double(1 + rng.below(1000));
    else if (huge && u < 0.14) y = (rng.uniform() < 0.5 ? -1 : 1) * 3e38 * rng.uniform();
    x = static_cast<float>(y);
  }
  return v;
}

// value(), values() and divide_into() (their fast window route included)
// against the reference, bit for bit.
void expect_matches(const ExactSum& s, const Reference& r, const char* what) {
  std::vector<double> all(s.size());
  std::vector<float> divided(s.size());
  s.values(all.data());
  s.divide_into(divided.data(), 7.0);
  for (std::size_t i = 0; i < s.size(); ++i) {
    ASSERT_TRUE(same_bits(s.value(i), r.value(i))) << what << " coordinate " << i << ": " << s.value(i) << " vs "
                                                   << r.value(i);
    ASSERT_TRUE(same_bits(all[i], r.value(i))) << what << " values() at " << i;
    const float expected = static_cast<float>(r.value(i) / 7.0);
    ASSERT_TRUE(std::memcmp(&divided[i], &expected, sizeof expected) == 0 || (std::isnan(divided[i]) && std::isnan(expected)))
        << what << " divide_into() at " << i;
  }
  EXPECT_EQ(s.nonfinite_terms(), r.nonfinite());
}

// The packed form of a (for a layout that fits both), to compare digits.
std::vector<std::int64_t> packed(const ExactSum& a, const ExactSum& b) {
  std::vector<std::int16_t> sa(2 * a.blocks()), sb(2 * b.blocks());
  a.summary(sa.data());
  b.summary(sb.data());
  for (std::size_t k = 0; k < sa.size(); ++k) sa[k] = std::max(sa[k], sb[k]);
  std::vector<std::int64_t> out(ExactSum::packed_size(sa.data(), a.size(), 1));
  a.pack(sa.data(), 1, out.data());
  return out;
}

}  // namespace

TEST(ExactSumPaths, WeightedFloatsMatchTheReferenceBitForBit) {
  const std::size_t n = 1000;  // not a multiple of the block size
  for (const double weight : {1.0, 3.0, 600.0, 123456789.0, 0.1, -7.25, 1e-30, 3e20}) {
    ExactSum s(n);
    Reference r(n);
    for (int t = 0; t < 6; ++t) {
      const auto v = values(n, 100 + t, 0.05 * (t + 1));
      s.add_scaled(v.data(), weight * (t + 1));
      r.add_scaled(v.data(), weight * (t + 1));
    }
    expect_matches(s, r, "weighted");
  }
}

TEST(ExactSumPaths, HugeTinyAndSubnormalTerms) {
  const std::size_t n = 300;
  ExactSum s(n);
  Reference r(n);
  const auto a = values(n, 1, 1e-20), b = values(n, 2, 1.0, true), c = values(n, 3, 1e30);
  for (const double w : {1.0, 1e-40, 2.0, 1e6}) {  // 1e-40 * subnormals fall below 2^-160: truncated as before
    for (const auto* v : {&a, &b, &c}) {
      s.add_scaled(v->data(), w);
      r.add_scaled(v->data(), w);
    }
  }
  expect_matches(s, r, "huge/tiny");
  const float big = 3e38f;
  EXPECT_THROW(s.add_scaled(std::vector<float>(n, big).data(), 1e30), std::overflow_error);
}

TEST(ExactSumPaths, NegativeTermsCancelExactly) {
  const std::size_t n = 200;
  const auto v = values(n, 9, 0.1, true);
  ExactSum s(n);
  s.add_scaled(v.data(), 37.0);
  s.add(5, 1e30);
  s.add_scaled(v.data(), 1.0);
  s.add_scaled(v.data(), -38.0);
  s.add(5, -1e30);
  for (std::size_t i = 0; i < n; ++i) EXPECT_TRUE(same_bits(s.value(i), 0.0)) << i;
  s.add(7, 1.0);
  EXPECT_EQ(s.value(7), 1.0);
}

TEST(ExactSumPaths, NonFiniteValuesAndWeights) {
  std::vector<float> v(130, 0.5f);
  v[3] = std::numeric_limits<float>::infinity();
  v[70] = -std::numeric_limits<float>::infinity();
  v[129] = std::numeric_limits<float>::quiet_NaN();
  ExactSum s(v.size());
  Reference r(v.size());
  for (const double w : {2.0, 0.0, 3.0}) {  // 0 * inf is NaN: counted, as before
    s.add_scaled(v.data(), w);
    r.add_scaled(v.data(), w);
  }
  expect_matches(s, r, "nonfinite");
  EXPECT_EQ(s.nonfinite_terms(), 9);
  EXPECT_EQ(s.value(4), 2.5);
  ExactSum inf_weight(v.size());
  inf_weight.add_scaled(v.data(), std::numeric_limits<double>::infinity());
  EXPECT_EQ(inf_weight.nonfinite_terms(), std::int64_t(v.size()));
}

TEST(ExactSumPaths, LaterLargerTermsLeaveTheWindow) {
  // The window is chosen from the first call; terms 2^40 times larger, or far
  // smaller, than that call's take the slow path and stay exact.
  const std::size_t n = 500;
  ExactSum s(n);
  Reference r(n);
  const auto v = values(n, 5, 0.01);
  for (const double w : {1.0, 1e12, 1e-12, 7.0, 1e3}) {
    s.add_scaled(v.data(), w);
    r.add_scaled(v.data(), w);
  }
  expect_matches(s, r, "window");
  s.clear();
  Reference fresh(n);
  s.add_scaled(v.data(), 1e20);  // a new window after clear()
  fresh.add_scaled(v.data(), 1e20);
  expect_matches(s, fresh, "after clear");
}

TEST(ExactSumPaths, AnySplitAndMergeOrderGivesTheSameDigits) {
  const std::size_t n = 777;
  const int terms = 12;
  std::vector<std::vector<float>> models;
  for (int t = 0; t < terms; ++t) models.push_back(values(n, 40 + t, std::pow(10.0, double(t % 5) - 3), t == 4));
  ExactSum whole(n);
  Reference r(n);
  for (int t = 0; t < terms; ++t) {
    whole.add_scaled(models[t].data(), double(t + 1));
    r.add_scaled(models[t].data(), double(t + 1));
  }
  expect_matches(whole, r, "whole");
  for (int parts : {2, 3, 5}) {
    // Term t goes to part (t * 7 + parts) % parts, so every part starts with a
    // different model (and a different window); merge forwards and backwards.
    std::vector<ExactSum> split(std::size_t(parts), ExactSum{n});
    for (int t = terms; t-- > 0;) split[std::size_t((t * 7 + parts) % parts)].add_scaled(models[t].data(), double(t + 1));
    ExactSum forward(n), backward(n);
    for (int p = 0; p < parts; ++p) forward.merge(split[std::size_t(p)]);
    for (int p = parts; p-- > 0;) backward.merge(split[std::size_t(p)]);
    expect_matches(forward, r, "forward merge");
    expect_matches(backward, r, "backward merge");
    EXPECT_EQ(packed(forward, whole), packed(whole, forward)) << parts;
    EXPECT_EQ(packed(backward, whole), packed(whole, backward)) << parts;
  }
  ExactSum copy = whole;
  expect_matches(copy, r, "copy");
}

TEST(ExactSumPaths, PackUnpackRoundTripBothBlockForms) {
  const std::size_t n = 200;
  ExactSum s(n);
  Reference r(n);
  std::vector<float> narrow(n);
  auto rng = stream(70, StreamKind::Init);
  for (auto& x : narrow) x = static_cast<float>(0.05 * rng.normal());
  s.add_scaled(narrow.data(), 3.0);
  r.add_scaled(narrow.data(), 3.0);
  std::vector<std::int16_t> summary(2 * s.blocks());
  s.summary(summary.data());
  EXPECT_EQ(ExactSum::packed_size(summary.data(), n, 4), n);  // one int64 per coordinate
  // Block 1 gets a coordinate far above and one far below the rest, so it
  // needs more than one int64 per coordinate.
  s.add(64, 1e40);
  r.add(64, 1e40);
  s.add(65, 1e-40);
  r.add(65, 1e-40);
  s.summary(summary.data());
  const std::size_t size = ExactSum::packed_size(summary.data(), n, 4);
  EXPECT_EQ(size, n + 64 * 9);  // block 1: rows 0 to 9 (1e40 is near 2^133)
  std::vector<std::int64_t> buffer(size);
  s.pack(summary.data(), 4, buffer.data());
  ExactSum back(n);
  back.unpack(summary.data(), 4, buffer.data());
  expect_matches(back, r, "round trip");
}

TEST(ExactSumPaths, AllReduceMatchesTheReferenceAtAnyRankCount) {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  for (const std::size_t n : {std::size_t(0), std::size_t(1), std::size_t(64), std::size_t(1000)}) {
    const int terms = 9;
    std::vector<std::vector<float>> v;
    std::vector<double> w;
    for (int t = 0; t < terms; ++t) {
      v.push_back(values(n, 300 + t, std::pow(10.0, double(t % 4) * 3 - 6), t == 2));
      if (t == 5 && n > 10) v.back()[10] = std::numeric_limits<float>::infinity();
      w.push_back(t == 7 ? 0.3 : double(100 + t));
    }
    // The reference holds `copies` times every term.
    auto reference = [&](int copies) {
      Reference r(n);
      for (int c = 0; c < copies; ++c) {
        for (int t = 0; t < terms; ++t) r.add_scaled(v[std::size_t(t)].data(), w[std::size_t(t)]);
        if (n > 20) r.add(20, 1e35);
        if (n > 0) r.add(0, 0.5);
      }
      return r;
    };
    ExactSum mine(n);
    for (int t = 0; t < terms; ++t) {
      // With more than two ranks the last one takes no term (an idle rank).
      const int owner = size > 2 ? t % (size - 1) : t % size;
      if (owner == rank) mine.add_scaled(v[std::size_t(t)].data(), w[std::size_t(t)]);
    }
    if (n > 20 && rank == 0) mine.add(20, 1e35);  // a slow-path coordinate on one rank only
    if (n > 0 && rank == size - 1) mine.add(0, 0.5);
    mpi::allreduce(mine, mpi::Comm::world());
    expect_matches(mine, reference(1), "allreduce");
    // Every rank now holds the total; reducing again gives size times it.
    mpi::allreduce(mine, mpi::Comm::world());
    expect_matches(mine, reference(size), "second allreduce");
  }
}

namespace {

std::vector<float> normals(std::size_t n, std::uint64_t key, double scale) {
  auto rng = stream(key, StreamKind::Init);
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(scale * rng.normal());
  return v;
}

}  // namespace

TEST(ExactSumPaths, OneMessageFormMergesInAnyOrder) {
  // Three parties with different windows; block 2 of party c is too wide for
  // one int64 per coordinate. Every merge order gives the same words.
  const std::size_t n = 300;
  ExactSum a(n), b(n), c(n);
  a.add_scaled(normals(n, 1, 0.05).data(), 600.0);
  b.add_scaled(normals(n, 2, 3e-4).data(), 17.0);
  c.add_scaled(normals(n, 3, 40.0).data(), 1.0);
  c.add(130, 1e-30);
  std::vector<std::vector<std::int64_t>> packs;
  for (const ExactSum* s : {&a, &b, &c}) {
    packs.emplace_back(a.blocks() * ExactSum::kBlockWords);
    s->pack_blocks(packs.back().data());
  }
  auto merged = [&](int first, int second, int third) {
    std::vector<std::int64_t> acc = packs[std::size_t(third)];
    std::vector<std::int64_t> pair = packs[std::size_t(second)];
    ExactSum::merge_blocks(packs[std::size_t(first)].data(), pair.data(), a.blocks(), 3);
    ExactSum::merge_blocks(pair.data(), acc.data(), a.blocks(), 3);
    return acc;
  };
  const auto abc = merged(0, 1, 2);
  EXPECT_EQ(abc, merged(2, 1, 0));
  EXPECT_EQ(abc, merged(1, 2, 0));
  ExactSum total(n);
  std::vector<std::int16_t> summary(2 * total.blocks());
  bool nonfinite = true;
  EXPECT_TRUE(total.unpack_blocks(abc.data(), 3, summary.data(), &nonfinite));  // block 2 needs rows
  EXPECT_FALSE(nonfinite);
  EXPECT_EQ(summary[2 * 2 + 1] >= 0, true);
  EXPECT_EQ(summary[2 * 1 + 1], -1);
}

TEST(ExactSumPaths, AllReduceOfModelLikeSumsIsOneMessageAndExact) {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const std::size_t n = 5000;
  const int clients = 7;
  Reference r(n);
  ExactSum mine(n);
  for (int c = 0; c < clients; ++c) {
    const auto v = normals(n, 500 + c, 0.05 * (c + 1));
    r.add_scaled(v.data(), double(300 + 11 * c));
    if (c % size == rank) mine.add_scaled(v.data(), double(300 + 11 * c));
  }
  // One wide block (the rest travel as one int64 per coordinate), a
  // non-finite term, and a coordinate that cancels to zero.
  r.add(4100, 1e-25);
  if (rank == size - 1) mine.add(4100, 1e-25);
  r.add(7, std::numeric_limits<double>::quiet_NaN());
  if (rank == 0) mine.add(7, std::numeric_limits<double>::quiet_NaN());
  mpi::allreduce(mine, mpi::Comm::world());
  expect_matches(mine, r, "model-like allreduce");
}

// The FedAvg route: reduce-scatter of the exact form, rounding of a slice
// per rank, all-gather of floats. The same floats as the reference's
// total divided, at any rank count, for sizes below, at and above the
// number of ranks' blocks, with and without the fallbacks (non-finite terms,
// blocks too wide for one word). 70037 coordinates (1095 blocks, the last
// one short) make slices of several of the ring's pieces (256 blocks), of
// unequal sizes at 3 and 4 ranks.
TEST(ExactSumPaths, AllReduceDivideMatchesTheReferenceAtAnyRankCount) {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  for (const std::size_t n :
       {std::size_t(0), std::size_t(1), std::size_t(64), std::size_t(130), std::size_t(5000), std::size_t(70037)}) {
    // 0: model-like, 1: a non-finite term, 2: wide blocks everywhere, 3:
    // model-like with a few wide blocks (one of them the short last block)
    for (const int variant : {0, 1, 2, 3}) {
      const int terms = 7;
      std::vector<std::vector<float>> v;
      for (int t = 0; t < terms; ++t) {
        v.push_back(variant == 2 ? values(n, 900 + t, std::pow(10.0, double(t % 4) * 3 - 6), t == 2)
                                 : normals(n, 900 + t, 0.05));
        if (variant == 1 && t == 3 && n > 10) v.back()[10] = std::numeric_limits<float>::quiet_NaN();
      }
      Reference r(n);
      ExactSum mine(n);
      for (int t = 0; t < terms; ++t) {
        const double w = double(100 + 13 * t);
        r.add_scaled(v[std::size_t(t)].data(), w);
        if (t % size == rank) mine.add_scaled(v[std::size_t(t)].data(), w);
      }
      if (variant == 3)
        for (const std::size_t i : {n / 3, n / 2 + 1, n - 1}) {
          if (i >= n) continue;
          r.add(i, 1e-25);
          if (int(i % std::size_t(size)) == rank) mine.add(i, 1e-25);
        }
      std::vector<float> out(n, -1.0f);
      mpi::allreduce_divide(mine, 911.0, out.data(), mpi::Comm::world());
      for (std::size_t i = 0; i < n; ++i) {
        const float expected = static_cast<float>(r.value(i) / 911.0);
        ASSERT_TRUE(std::memcmp(&out[i], &expected, sizeof expected) == 0 || (std::isnan(out[i]) && std::isnan(expected)))
            << "n " << n << " variant " << variant << " coordinate " << i << ": " << out[i] << " vs " << expected;
      }
    }
  }
}

// allreduce_divide's route: the ring up to 4 ranks whenever every rank gets a
// block, above that only with 16 blocks per rank (a small model at 1,000
// ranks takes the log-step route).
TEST(ExactSumPaths, RingOnlyWhereItPays) {
  EXPECT_FALSE(mpi::ring_pays(100, 1));
  EXPECT_FALSE(mpi::ring_pays(0, 2));
  EXPECT_TRUE(mpi::ring_pays(2, 2));
  EXPECT_FALSE(mpi::ring_pays(3, 4));
  EXPECT_TRUE(mpi::ring_pays(4, 4));
  EXPECT_FALSE(mpi::ring_pays(95, 6));
  EXPECT_TRUE(mpi::ring_pays(96, 6));
  EXPECT_FALSE(mpi::ring_pays(545, 1000));
  EXPECT_TRUE(mpi::ring_pays(16000, 1000));
}
