#include "fedhpc/core/exact_sum.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace fedhpc {

namespace {

constexpr std::int64_t kDigitMask = 0xffffffffLL;

// x = mantissa * 2^exponent with an integer mantissa < 2^53.
void decompose(double x, std::uint64_t& mantissa, int& exponent, bool& negative) {
  std::uint64_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  negative = (bits >> 63) != 0;
  const int biased = static_cast<int>((bits >> 52) & 0x7ff);
  mantissa = bits & ((std::uint64_t{1} << 52) - 1);
  if (biased == 0) {
    exponent = -1074;
  } else {
    mantissa |= std::uint64_t{1} << 52;
    exponent = biased - 1075;
  }
}

}  // namespace

ExactSum::ExactSum(std::size_t length)
    : length_(length), digits_(length * kWords, 0), flags_(length, 0) {
  clear();
}

void ExactSum::clear() {
  std::fill(digits_.begin(), digits_.end(), 0);
  low_word_ = kWords;
  high_word_ = -1;
  if (nonfinite_ != 0) std::fill(flags_.begin(), flags_.end(), 0);
  nonfinite_ = 0;
}

void ExactSum::set_word_range(int low, int high) {
  low_word_ = low;
  high_word_ = high;
}

void ExactSum::add(std::size_t i, double x) {
  if (x == 0.0) return;
  if (!std::isfinite(x)) {
    ++nonfinite_;
    flags_[i] = 1;
    return;
  }
  std::uint64_t mantissa;
  int exponent;
  bool negative;
  decompose(x, mantissa, exponent, negative);
  int position = exponent - kMinExponent;
  if (position < 0) {
    if (position <= -64) return;
    mantissa >>= -position;
    position = 0;
    if (mantissa == 0) return;
  }
  const int word = position / 32;
  const int shift = position % 32;
  const unsigned __int128 shifted = static_cast<unsigned __int128>(mantissa) << shift;
  if (word >= kWords || (word + 3 > kWords && (shifted >> (32 * (kWords - word))) != 0))
    throw std::overflow_error("ExactSum: term too large");
  std::int64_t* column = digits_.data() + i;
  for (int k = 0; k < 3 && word + k < kWords; ++k) {
    const auto digit = static_cast<std::int64_t>((shifted >> (32 * k)) & kDigitMask);
    if (digit == 0) continue;
    column[(word + k) * length_] += negative ? -digit : digit;
    if (word + k < low_word_) low_word_ = word + k;
    if (word + k > high_word_) high_word_ = word + k;
  }
}

void ExactSum::add_scaled(const float* values, double weight) {
  for (std::size_t i = 0; i < length_; ++i) add(i, weight * static_cast<double>(values[i]));
}

void ExactSum::merge(const ExactSum& other) {
  if (other.length_ != length_) throw std::invalid_argument("ExactSum::merge: length mismatch");
  for (std::size_t k = 0; k < digits_.size(); ++k) digits_[k] += other.digits_[k];
  low_word_ = std::min(low_word_, other.low_word_);
  high_word_ = std::max(high_word_, other.high_word_);
  nonfinite_ += other.nonfinite_;
  for (std::size_t i = 0; i < length_; ++i) flags_[i] |= other.flags_[i];
}

double ExactSum::value(std::size_t i) const {
  if (nonfinite_ != 0 && flags_[i]) return std::numeric_limits<double>::quiet_NaN();
  if (high_word_ < 0) return 0.0;
  // Normalise the carries so every digit but the top one is in [0, 2^32),
  // then evaluate from the top down.
  std::int64_t d[kWords];
  for (int w = 0; w < kWords; ++w) d[w] = digits_[w * length_ + i];
  for (int w = 0; w + 1 < kWords; ++w) {
    const std::int64_t carry = d[w] >> 32;  // arithmetic shift: floor division
    d[w] -= carry * (std::int64_t{1} << 32);
    d[w + 1] += carry;
  }
  double v = static_cast<double>(d[kWords - 1]);
  for (int w = kWords - 2; w >= 0; --w) v = v * 4294967296.0 + static_cast<double>(d[w]);
  return std::ldexp(v, kMinExponent);
}

void ExactSum::values(double* out) const {
  for (std::size_t i = 0; i < length_; ++i) out[i] = value(i);
}

void ExactSum::divide_into(float* out, double divisor) const {
  for (std::size_t i = 0; i < length_; ++i) out[i] = static_cast<float>(value(i) / divisor);
}

}  // namespace fedhpc
