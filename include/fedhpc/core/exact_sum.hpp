#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace fedhpc {

// A vector of exact fixed-point accumulators (a small Kulisch accumulator per
// coordinate). Adding is exact for every double whose lowest set bit is at or
// above 2^kMinExponent, which covers float * integer products such as
// sample-count-weighted parameters. Bits below that are truncated per term, so
// even then the result does not depend on the order of the terms.
//
// Each coordinate keeps kWords signed 64-bit words that each hold a 32-bit
// digit plus headroom for carries, so sums merge by plain integer addition
// (and hence by MPI_SUM on int64) in any order and split.
class ExactSum {
 public:
  static constexpr int kWords = 12;
  static constexpr int kMinExponent = -160;

  explicit ExactSum(std::size_t length = 0);

  std::size_t size() const { return length_; }
  void clear();

  void add(std::size_t i, double x);
  // this[i] += weight * values[i] for every i.
  void add_scaled(const float* values, double weight);
  void merge(const ExactSum& other);

  // Rounded value of coordinate i (deterministic: depends only on the exact sum).
  double value(std::size_t i) const;
  void values(double* out) const;
  // out[i] = float(value(i) / divisor)
  void divide_into(float* out, double divisor) const;

  // Terms that were NaN or infinite. They are not added; the coordinates
  // they hit read as NaN.
  std::int64_t nonfinite_terms() const { return nonfinite_; }
  std::uint8_t* nonfinite_flags() { return flags_.data(); }

  // Raw digit rows for reduction: word w of coordinate i is at w * size() + i.
  // Only words in [low_word(), high_word()] can be non-zero.
  std::int64_t* digits() { return digits_.data(); }
  const std::int64_t* digits() const { return digits_.data(); }
  int low_word() const { return low_word_; }
  int high_word() const { return high_word_; }
  void set_word_range(int low, int high);
  std::int64_t& nonfinite_count() { return nonfinite_; }

 private:
  std::size_t length_;
  std::vector<std::int64_t> digits_;
  std::vector<std::uint8_t> flags_;
  int low_word_;
  int high_word_;
  std::int64_t nonfinite_ = 0;
};

}  // namespace fedhpc
