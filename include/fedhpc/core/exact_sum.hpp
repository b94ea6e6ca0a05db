#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace fedhpc {

// A vector of exact fixed-point accumulators (a small Kulisch accumulator per
// coordinate). Adding is exact for every double whose lowest set bit is at or
// above 2^kMinExponent, which covers float * integer products such as
// sample-count-weighted parameters. Bits below that are truncated per term, so
// even then the result does not depend on the order of the terms.
//
// The exact value of coordinate i is the sum of signed 64-bit "digits" d_w *
// 2^(32w + kMinExponent), w in [0, kWords); every term adds digits below 2^32
// in magnitude, so sums merge by plain integer addition, in any order and
// split. The digits live in two places, which only changes speed:
//  * a window of kWindowWords consecutive words [window_base(), +4) held as
//    one 128-bit two's complement integer per coordinate (two rows of size()
//    int64: the low and the high half), chosen at the first add_scaled()
//    after clear() from the largest term. add_scaled() adds each term with a
//    few branch-free floating-point and integer operations (vectorised, 16
//    bytes of state per coordinate); it holds at least 2^31 terms;
//  * the full kWords rows (allocated on first use) for the terms that do not
//    fit the window: bits below it, very large terms, add() and merges.
// value() sees only the total, so the rounded result depends only on the exact
// sum, not on where its digits were kept.
class ExactSum {
 public:
  static constexpr int kWords = 12;
  static constexpr int kWindowWords = 4;  // digit words the window spans
  static constexpr int kWindowRows = 2;   // int64 rows that hold it
  static constexpr int kMinExponent = -160;
  // Coordinates per block of the packed (wire) form, see pack().
  static constexpr std::size_t kBlock = 64;

  explicit ExactSum(std::size_t length = 0);
  ExactSum(const ExactSum& other);
  ExactSum& operator=(const ExactSum& other);
  ExactSum(ExactSum&&) noexcept = default;
  ExactSum& operator=(ExactSum&&) noexcept = default;

  std::size_t size() const { return length_; }
  void clear();

  void add(std::size_t i, double x);
  // this[i] += weight * values[i] for every i (the product rounded to double,
  // as weight * double(values[i])).
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
  std::int64_t& nonfinite_count() { return nonfinite_; }

  // The packed form for reduction (MPI_SUM on int64). Per block of kBlock
  // coordinates, summary() writes two int16: minus the lowest set bit and the
  // highest bit of |value| over the block (bit 0 = 2^kMinExponent; an empty
  // block gives {-32768, -1}). Reduced with MAX over all parties, the
  // summaries fix one layout: a block whose values, summed over `parties`
  // accumulators, fit 64 bits after dropping the common trailing zero bits
  // travels as one int64 per coordinate, any other block as its carry-
  // normalised 32-bit digit rows. pack() writes that form, unpack() replaces
  // the accumulator by a packed sum (which must hold the sum of at most
  // `parties` packed forms of the same layout).
  std::size_t blocks() const { return (length_ + kBlock - 1) / kBlock; }
  // Coordinates of block b of a vector of `length` (kBlock but for the last).
  static std::size_t block_length(std::size_t b, std::size_t length) {
    return std::min(length, (b + 1) * kBlock) - b * kBlock;
  }
  void summary(std::int16_t* out) const;
  static std::size_t packed_size(const std::int16_t* summary, std::size_t length, int parties);
  void pack(const std::int16_t* summary, int parties, std::int64_t* out) const;
  void unpack(const std::int16_t* summary, int parties, const std::int64_t* in);

  // The one-message form: per block one header word (its own lowest and
  // highest bit, and whether it holds a non-finite flag) and kBlock int64,
  // the values shifted right by that lowest bit (zeros when they do not fit).
  // merge_blocks() adds two such forms (realigning each block to the lower of
  // the two lowest bits): commutative and associative, so it serves as an
  // MPI_Op, and all parties agree on which blocks did not fit (their bit range
  // over all parties is too wide), which unpack_blocks() leaves untouched and
  // returns as a summary (the rest empty) for pack()/unpack().
  static constexpr std::size_t kBlockWords = kBlock + 1;
  void pack_blocks(std::int64_t* out) const;
  // Blocks [first, first + n) only, written to out (n * kBlockWords words).
  void pack_blocks(std::size_t first, std::size_t n, std::int64_t* out) const;
  static void merge_blocks(const std::int64_t* in, std::int64_t* inout, std::size_t count, int parties);
  // Returns whether any block needs the summary route; *nonfinite: whether
  // any party has non-finite terms.
  bool unpack_blocks(const std::int64_t* in, int parties, std::int16_t* summary, bool* nonfinite);

  // out[i] = float(total_i / divisor) straight from a reduced one-message
  // form of `length` coordinates (the bits divide_into() gives after
  // unpack_blocks()). Blocks that did not fit one word are left unwritten and
  // returned in `summary` as unpack_blocks() does; returns whether any did.
  static bool divide_blocks(const std::int64_t* in, std::size_t length, int parties, double divisor, float* out,
                            std::int16_t* summary, bool* nonfinite);

  int window_base() const { return base_; }

 private:
  struct Big;
  void add_term(std::size_t i, double x);
  void window_values(std::size_t begin, std::size_t end, double* out) const;
  void add_slow_digits(std::size_t i, int word, const std::int64_t* digits, int count);
  void ensure_slow();
  void load(std::size_t i, Big& big) const;
  void choose_window(const float* values, double weight);
  bool slow_in_use() const { return high_word_ >= low_word_; }
  void block_bits(std::size_t b, int& low, int& top) const;
  void pack_single(std::size_t b, int low, std::int64_t* out) const;
  void unpack_single(std::size_t b, int low, const std::int64_t* in);
  void clear_block(std::size_t b);
  void choose_window_for(int top);
  static int window_base_for(int top);
  __int128 window_at(std::size_t i) const;
  void set_window(std::size_t i, __int128 x);
  static void window_digits(__int128 x, std::int64_t* d);

  std::size_t length_;
  std::vector<std::int64_t> window_;  // coordinate i: low half at i, high half at size() + i
  std::unique_ptr<std::int64_t[], void (*)(void*)> slow_;  // word w of i at w * size() + i
  std::vector<std::uint8_t> flags_;
  std::vector<std::uint8_t> slow_blocks_;  // blocks with slow digits
  int base_ = -1;  // window word; -1 until chosen
  int low_word_;   // slow rows that can be non-zero
  int high_word_;
  std::int64_t nonfinite_ = 0;
};

}  // namespace fedhpc
