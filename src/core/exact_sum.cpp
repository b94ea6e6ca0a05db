#include "fedhpc/core/exact_sum.hpp"

#include "fedhpc/core/cpu_features.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>

namespace fedhpc {

namespace {

constexpr std::int64_t kDigitMask = 0xffffffffLL;
// Adding 1.5 * 2^52 rounds a double of magnitude below 2^51 to an integer,
// which then sits in the low mantissa bits (the classic conversion trick).
constexpr double kMagic = 0x1.8p52;
// Bits of room above the largest term of the call that picks the window, so
// later calls with somewhat larger terms (bigger weights) stay on the fast path.
constexpr int kWindowHeadroom = 8;
constexpr std::size_t kChunk = 256;

std::int64_t bits_of(double x) {
  std::int64_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

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

// Carries so every digit but the top one is in [0, 2^32) (same value).
void normalise(std::int64_t* d, int n) {
  for (int w = 0; w + 1 < n; ++w) {
    const std::int64_t carry = d[w] >> 32;  // arithmetic shift: floor division
    d[w] -= carry * (std::int64_t{1} << 32);
    d[w + 1] += carry;
  }
}

int bit_length(std::uint64_t x) { return x == 0 ? 0 : 64 - __builtin_clzll(x); }

// Bits a sum of `parties` values of magnitude < 2^(top+1) may need above top.
int party_bits(int parties) {
  int b = 0;
  while ((1LL << b) < parties) ++b;
  return b;
}

struct BlockLayout {
  int low = 0;   // lowest bit (of 2^kMinExponent) any value of the block has
  int top = -1;  // highest bit of any |value|; -1: the block is empty
  bool single = false;
  int row_low = 0, row_high = -1;  // digit rows of the multi-row form
  std::size_t per_coordinate() const { return top < 0 ? 0 : single ? 1 : std::size_t(row_high - row_low + 1); }
};

BlockLayout layout_of(const std::int16_t* summary, std::size_t block, int parties) {
  BlockLayout l;
  l.low = -int(summary[2 * block]);
  l.top = summary[2 * block + 1];
  if (l.top < 0) return l;
  // The sum of the parties' values is below parties * 2^(top+1); with the sign
  // it needs top + 2 + party_bits - low bits after dropping the low zero bits.
  l.single = l.top + 2 + party_bits(parties) - l.low <= 64;
  l.row_low = l.low / 32;
  l.row_high = std::max(l.row_low, std::min(ExactSum::kWords - 1, l.top / 32));
  return l;
}

// Adds t = v[j] * scale to the 128-bit two's complement window value
// lo[j] + hi[j] 2^64 (lo unsigned); bad[j] = -1 (and nothing added) where t
// is not an integer or |t| >= 2^95; returns the OR of bad. t is split exactly
// into d2 2^64 + r with the magic-number rounding, r into d1 2^32 + d0, and r
// (|r| <= 2^63) is the low word with a borrow from the high one when
// negative. Branch-free so that it vectorises; compiled once per instruction
// set below and picked at run time. Every operation is exact or correctly
// rounded (no FMA is enabled, and a fused multiply-add would not change an
// exact product anyway), so all versions give the same bits.
template <bool kAdd>
__attribute__((always_inline)) inline std::int64_t split_loop(const float* __restrict v, std::size_t n, double scale,
                                                              std::int64_t* __restrict lo, std::int64_t* __restrict hi,
                                                              std::int64_t* __restrict bad) {
  const std::int64_t magic = bits_of(kMagic);
  std::int64_t any = 0;
  for (std::size_t j = 0; j < n; ++j) {
    const double t = static_cast<double>(v[j]) * scale;
    const double a = t * 0x1p-64 + kMagic;
    const double r = t - (a - kMagic) * 0x1p64;
    const double b = r * 0x1p-32 + kMagic;
    const double r2 = r - (b - kMagic) * 0x1p32;
    const double c = r2 + kMagic;
    const std::int64_t keep = -static_cast<std::int64_t>((std::fabs(t) < 0x1p95) & ((c - kMagic) == r2));
    const std::uint64_t d0 = static_cast<std::uint64_t>(bits_of(c) - magic);
    const std::uint64_t d1 = static_cast<std::uint64_t>(bits_of(b) - magic);
    const std::uint64_t add_lo = ((d1 << 32) + d0) & static_cast<std::uint64_t>(keep);
    const std::int64_t add_hi = ((bits_of(a) - magic) - static_cast<std::int64_t>(r < 0.0)) & keep;
    if (kAdd) {
      const std::uint64_t sum = static_cast<std::uint64_t>(lo[j]) + add_lo;
      hi[j] = hi[j] + add_hi + static_cast<std::int64_t>(sum < add_lo);
      lo[j] = static_cast<std::int64_t>(sum);
    } else {
      lo[j] = static_cast<std::int64_t>(add_lo);
      hi[j] = add_hi;
    }
    bad[j] = ~keep;
    any |= ~keep;
  }
  return any;
}

enum class Isa { plain, avx2, avx512 };

Isa detect_isa() {
#if !defined(FEDHPC_EXACT_SUM_PLAIN)
  const CpuFeatures& cpu = cpu_features();
  if (cpu.avx512f && cpu.avx512dq) return Isa::avx512;
  if (cpu.avx2) return Isa::avx2;
#endif
  return Isa::plain;
}

const Isa kIsa = detect_isa();

// Each kernel compiled for the x86-64 baseline, AVX2 and AVX-512 (GCC only
// vectorises the 64-bit masks and shifts above from SSE4.2/AVX2 on), picked
// once at start-up. Integer and correctly rounded operations only, so every
// version gives the same bits.
// (-DFEDHPC_EXACT_SUM_PLAIN builds only the baseline versions, to test them.)
#if defined(__x86_64__) && defined(__GNUC__) && !defined(FEDHPC_EXACT_SUM_PLAIN)
#define FEDHPC_DISPATCH(ret, name, params, args)                                        \
  ret name##_plain params { return name##_loop args; }                                  \
  __attribute__((target("avx2"))) ret name##_avx2 params { return name##_loop args; }   \
  __attribute__((target("avx512f,avx512dq"))) ret name##_avx512 params { return name##_loop args; } \
  ret name params {                                                                     \
    switch (kIsa) {                                                                     \
      case Isa::avx512: return name##_avx512 args;                                      \
      case Isa::avx2: return name##_avx2 args;                                          \
      default: return name##_plain args;                                                \
    }                                                                                   \
  }
#else
#define FEDHPC_DISPATCH(ret, name, params, args) \
  ret name params { return name##_loop args; }
#endif

// split_add adds the digits to the window, split_store writes them (the
// first add after clear(), which leaves the window unzeroed).
#define split_add_loop split_loop<true>
#define split_store_loop split_loop<false>
FEDHPC_DISPATCH(std::int64_t, split_add,
                (const float* v, std::size_t n, double s, std::int64_t* lo, std::int64_t* hi, std::int64_t* bad),
                (v, n, s, lo, hi, bad))
FEDHPC_DISPATCH(std::int64_t, split_store,
                (const float* v, std::size_t n, double s, std::int64_t* lo, std::int64_t* hi, std::int64_t* bad),
                (v, n, s, lo, hi, bad))
#undef split_add_loop
#undef split_store_loop

// The bounds block_bits() takes from a window-only block, on the two 64-bit
// rows (lo unsigned, hi signed) so that it vectorises: the OR of the values
// and the OR of their magnitudes, |x| = (x ^ s) - s with s the sign mask,
// over 128 bits. out[0..1]: OR of lo, hi; out[2..3]: of |x|'s lo, hi.
__attribute__((always_inline)) inline void window_or_loop(const std::int64_t* __restrict lo,
                                                          const std::int64_t* __restrict hi, std::size_t n,
                                                          std::uint64_t* out) {
  std::uint64_t any_lo = 0, any_hi = 0, mag_lo = 0, mag_hi = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const auto l = static_cast<std::uint64_t>(lo[i]), h = static_cast<std::uint64_t>(hi[i]);
    const auto sign = static_cast<std::uint64_t>(hi[i] >> 63);
    const std::uint64_t one = sign & 1, xl = l ^ sign, xh = h ^ sign;
    const std::uint64_t ml = xl + one;
    const std::uint64_t mh = xh + static_cast<std::uint64_t>(ml < one);
    any_lo |= l, any_hi |= h, mag_lo |= ml, mag_hi |= mh;
  }
  out[0] = any_lo, out[1] = any_hi, out[2] = mag_lo, out[3] = mag_hi;
}

// out[i] = the low 64 bits of (lo[i] + hi[i] 2^64) >> shift (arithmetic),
// shift in [0, 127]: pack_single()'s words for a window-only block.
__attribute__((always_inline)) inline void window_shift_loop(const std::int64_t* __restrict lo,
                                                             const std::int64_t* __restrict hi, std::size_t n,
                                                             int shift, std::int64_t* __restrict out) {
  if (shift == 0) {
    for (std::size_t i = 0; i < n; ++i) out[i] = lo[i];
  } else if (shift < 64) {
    for (std::size_t i = 0; i < n; ++i)
      out[i] = static_cast<std::int64_t>((static_cast<std::uint64_t>(lo[i]) >> shift) |
                                         (static_cast<std::uint64_t>(hi[i]) << (64 - shift)));
  } else {
    for (std::size_t i = 0; i < n; ++i) out[i] = hi[i] >> (shift - 64);
  }
}

// value()'s Horner steps over the four normalised 32-bit digits of the
// 128-bit value x = lo + hi 2^64 (lo unsigned): the top digit x >> 96,
// signed, then three unsigned ones. x as a double, rounded the way value()
// rounds it; on 64-bit lanes, so that its callers' loops vectorise.
__attribute__((always_inline)) inline double horner_lanes(std::int64_t hi, std::uint64_t lo) {
  const double d3 = static_cast<double>(hi >> 32);
  const double d2 = static_cast<double>(static_cast<std::int64_t>(static_cast<std::uint64_t>(hi) & kDigitMask));
  const double d1 = static_cast<double>(static_cast<std::int64_t>(lo >> 32));
  const double d0 = static_cast<double>(static_cast<std::int64_t>(lo & static_cast<std::uint64_t>(kDigitMask)));
  double x = d3 * 4294967296.0 + d2;
  x = x * 4294967296.0 + d1;
  return x * 4294967296.0 + d0;
}

// divide_blocks()'s rounding of one block: x = in[i] << shift (shift in
// [0, 31], as 128 bits), then horner_lanes(x) * scale / divisor as a
// float, so that it vectorises.
__attribute__((always_inline)) inline void divide_run_loop(const std::int64_t* __restrict in, std::size_t n,
                                                           int shift, double scale, double divisor,
                                                           float* __restrict out) {
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t v = in[i];
    const std::int64_t hi = shift == 0 ? (v >> 63) : (v >> (64 - shift));
    const std::uint64_t lo = static_cast<std::uint64_t>(v) << shift;
    out[i] = static_cast<float>(horner_lanes(hi, lo) * scale / divisor);
  }
}

// divide_into()'s rounding of a window-only block: window_values() (Horner
// of the 128-bit window value, times the window's scale), then / divisor as
// a float; the same operations in the same order, vectorised.
__attribute__((always_inline)) inline void window_divide_loop(const std::int64_t* __restrict lo,
                                                              const std::int64_t* __restrict hi, std::size_t n,
                                                              double scale, double divisor, float* __restrict out) {
  for (std::size_t i = 0; i < n; ++i) {
    out[i] = static_cast<float>(horner_lanes(hi[i], static_cast<std::uint64_t>(lo[i])) * scale / divisor);
  }
}

FEDHPC_DISPATCH(void, window_or, (const std::int64_t* lo, const std::int64_t* hi, std::size_t n, std::uint64_t* out),
                     (lo, hi, n, out))
FEDHPC_DISPATCH(void, window_shift,
                     (const std::int64_t* lo, const std::int64_t* hi, std::size_t n, int shift, std::int64_t* out),
                     (lo, hi, n, shift, out))
FEDHPC_DISPATCH(void, window_divide,
                     (const std::int64_t* lo, const std::int64_t* hi, std::size_t n, double scale, double divisor,
                      float* out),
                     (lo, hi, n, scale, divisor, out))
FEDHPC_DISPATCH(void, divide_run,
                     (const std::int64_t* in, std::size_t n, int shift, double scale, double divisor, float* out),
                     (in, n, shift, scale, divisor, out))


// A block's header word in the one-message form: lowest bit, highest bit
// (-1: empty) and a non-finite flag.
std::int64_t header(int low, int top, bool nonfinite) {
  return static_cast<std::int64_t>(std::uint64_t(std::uint16_t(low)) | std::uint64_t(std::uint16_t(top)) << 16 |
                                   std::uint64_t(nonfinite) << 32);
}
int header_low(std::int64_t h) { return std::int16_t(h & 0xffff); }
int header_top(std::int64_t h) { return std::int16_t((h >> 16) & 0xffff); }
bool header_nonfinite(std::int64_t h) { return (h >> 32) & 1; }

// Whether values with these bits, summed over the parties, fit an int64 after
// dropping the low zero bits (the same test as layout_of's).
bool fits(int low, int top, int parties) { return top + 2 + party_bits(parties) - low <= 64; }

}  // namespace

// The normalised digits of one coordinate's exact value.
struct ExactSum::Big {
  std::int64_t d[kWords];
  bool empty() const {
    for (std::int64_t x : d)
      if (x != 0) return false;
    return true;
  }
  int low_bit() const {
    for (int w = 0; w < kWords; ++w)
      if (d[w] != 0) return 32 * w + __builtin_ctzll(static_cast<std::uint64_t>(d[w]));
    return -1;
  }
  // Highest set bit of |value|.
  int high_bit() const {
    std::int64_t m[kWords];
    std::copy(d, d + kWords, m);
    if (d[kWords - 1] < 0) {
      for (auto& x : m) x = -x;
      normalise(m, kWords);
    }
    for (int w = kWords - 1; w >= 0; --w)
      if (m[w] != 0) return 32 * w + bit_length(static_cast<std::uint64_t>(m[w])) - 1;
    return -1;
  }
  // Bits [from, from + 64) of the two's complement value.
  std::uint64_t bits_from(int from) const {
    const int word = from / 32, shift = from % 32;
    unsigned __int128 u = 0;
    for (int k = 0; k < 3; ++k) {
      const int w = word + k;
      std::uint64_t chunk;
      if (w < kWords - 1) chunk = static_cast<std::uint64_t>(d[w]) & kDigitMask;
      else chunk = static_cast<std::uint64_t>(d[kWords - 1] >> std::min(63, 32 * (w - kWords + 1))) & kDigitMask;
      u |= static_cast<unsigned __int128>(chunk) << (32 * k);
    }
    return static_cast<std::uint64_t>(u >> shift);
  }
  // The signed digit of row w when rows above `high` fold into row `high`.
  std::int64_t row(int w, int high) const {
    if (w < high) return d[w];
    std::int64_t v = d[kWords - 1];
    for (int k = kWords - 2; k >= high; --k) v = static_cast<std::int64_t>(static_cast<std::uint64_t>(v) << 32) + d[k];
    return v;
  }
};

// The window's top digit word is base_ + 3, so a value whose highest bit is
// `top` (of 2^kMinExponent) sits 64-95 bits above the window's bit 0: at
// least 31 bits of room for carries below 2^127, and 64-95 bits of it exact
// below that value.
int ExactSum::window_base_for(int top) {
  return std::clamp(top < 0 ? 0 : top / 32 - 2, 0, kWords - kWindowWords);
}

__int128 ExactSum::window_at(std::size_t i) const {
  const auto lo = static_cast<std::uint64_t>(window_[i]);
  return static_cast<__int128>((static_cast<unsigned __int128>(static_cast<std::uint64_t>(window_[length_ + i])) << 64) |
                               lo);
}

void ExactSum::set_window(std::size_t i, __int128 x) {
  window_[i] = static_cast<std::int64_t>(static_cast<std::uint64_t>(x));
  window_[length_ + i] = static_cast<std::int64_t>(x >> 64);
}

// x as four digits of 32 bits, the top one signed (x = sum d_k 2^(32k)).
void ExactSum::window_digits(__int128 x, std::int64_t* d) {
  const auto u = static_cast<unsigned __int128>(x);
  for (int k = 0; k < 3; ++k) d[k] = static_cast<std::int64_t>((u >> (32 * k)) & kDigitMask);
  d[3] = static_cast<std::int64_t>(x >> 96);
}

ExactSum::ExactSum(std::size_t length)
    : length_(length), window_(length * kWindowRows, 0), slow_(nullptr, std::free), flags_(length, 0),
      slow_blocks_(blocks(), 0) {
  low_word_ = kWords;
  high_word_ = -1;
}

ExactSum::ExactSum(const ExactSum& other)
    : length_(other.length_), window_(other.window_), slow_(nullptr, std::free), flags_(other.flags_),
      slow_blocks_(other.slow_blocks_), base_(other.base_), low_word_(other.low_word_),
      high_word_(other.high_word_), nonfinite_(other.nonfinite_) {
  if (other.slow_) {
    ensure_slow();
    std::memcpy(slow_.get(), other.slow_.get(), sizeof(std::int64_t) * length_ * kWords);
  }
}

ExactSum& ExactSum::operator=(const ExactSum& other) {
  if (this != &other) {
    ExactSum copy(other);
    *this = std::move(copy);
  }
  return *this;
}

void ExactSum::ensure_slow() {
  if (slow_) return;
  // calloc: rows that are never used are never touched (zero pages).
  void* p = std::calloc(length_ * kWords + 1, sizeof(std::int64_t));
  if (!p) throw std::bad_alloc();
  slow_.reset(static_cast<std::int64_t*>(p));
}

// The window is not zeroed: while base_ < 0 its content means nothing, and
// the call that picks a base writes it whole.
void ExactSum::clear() {
  base_ = -1;
  if (slow_in_use())
    std::fill(slow_.get() + std::size_t(low_word_) * length_, slow_.get() + std::size_t(high_word_ + 1) * length_, 0);
  std::fill(slow_blocks_.begin(), slow_blocks_.end(), 0);
  low_word_ = kWords;
  high_word_ = -1;
  if (nonfinite_ != 0) std::fill(flags_.begin(), flags_.end(), 0);
  nonfinite_ = 0;
}

void ExactSum::add_slow_digits(std::size_t i, int word, const std::int64_t* digits, int count) {
  ensure_slow();
  for (int k = 0; k < count; ++k) {
    if (digits[k] == 0) continue;
    int w = word + k;
    std::int64_t digit = digits[k];
    if (w >= kWords) {  // only a sum far above any addable term: fold into the top row
      digit = static_cast<std::int64_t>(static_cast<std::uint64_t>(digit) << (32 * (w - kWords + 1)));
      w = kWords - 1;
    }
    slow_[std::size_t(w) * length_ + i] += digit;
    low_word_ = std::min(low_word_, w);
    high_word_ = std::max(high_word_, w);
  }
  slow_blocks_[i / kBlock] = 1;
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
  std::int64_t digits[3];
  for (int k = 0; k < 3; ++k) {
    const auto digit = static_cast<std::int64_t>((shifted >> (32 * k)) & kDigitMask);
    digits[k] = negative ? -digit : digit;
  }
  add_slow_digits(i, word, digits, std::min(3, kWords - word));
}

void ExactSum::choose_window(const float* values, double weight) {
  // On the bit patterns (integers, so the loop vectorises): |x| orders like
  // its bits, and infinities and NaNs are at or above 0x7f800000.
  std::int32_t largest_bits = 0;
  for (std::size_t i = 0; i < length_; ++i) {
    std::int32_t b;
    std::memcpy(&b, values + i, sizeof b);
    b &= 0x7fffffff;
    largest_bits = std::max(largest_bits, b < 0x7f800000 ? b : 0);
  }
  float largest;
  std::memcpy(&largest, &largest_bits, sizeof largest);
  const double top = std::fabs(weight) * double(largest);
  if (top == 0.0 || !std::isfinite(top)) return;
  const int bit = std::ilogb(top) - kMinExponent + kWindowHeadroom;
  base_ = window_base_for(bit);
}

// The fast path: t = weight * v * 2^-(window bit 0) is split exactly into
// t = d0 + d1 2^32 + d2 2^64 by rounding to multiples of 2^64 and 2^32; a lane
// whose term is not an integer there (bits below the window), too large or not
// finite adds nothing here and is added by add() instead.
void ExactSum::add_scaled(const float* values, double weight) {
  bool fresh = false;  // the window was just picked: write it, do not add
  if (base_ < 0) {
    choose_window(values, weight);
    fresh = base_ >= 0;
  }
  const double scale = base_ < 0 ? 0.0 : std::ldexp(weight, -(32 * base_ + kMinExponent));
  if (base_ < 0 || !std::isfinite(scale) || (scale == 0.0 && weight != 0.0)) {
    if (fresh) std::fill(window_.begin(), window_.end(), 0);
    for (std::size_t i = 0; i < length_; ++i) add(i, weight * static_cast<double>(values[i]));
    return;
  }
  std::int64_t* lo = window_.data();
  std::int64_t* hi = lo + length_;
  std::int64_t bad[kChunk];
  const auto split = fresh ? split_store : split_add;
  for (std::size_t start = 0; start < length_; start += kChunk) {
    const std::size_t n = std::min(kChunk, length_ - start);
    if (!split(values + start, n, scale, lo + start, hi + start, bad)) continue;
    for (std::size_t j = 0; j < n; ++j)
      if (bad[j]) add(start + j, weight * static_cast<double>(values[start + j]));
  }
}

void ExactSum::merge(const ExactSum& other) {
  if (other.length_ != length_) throw std::invalid_argument("ExactSum::merge: length mismatch");
  if (other.base_ >= 0) {
    if (base_ < 0) {
      base_ = other.base_;
      window_ = other.window_;
    } else if (base_ == other.base_) {
      for (std::size_t i = 0; i < length_; ++i) set_window(i, window_at(i) + other.window_at(i));
    } else {
      for (std::size_t i = 0; i < length_; ++i) {
        std::int64_t d[kWindowWords];
        window_digits(other.window_at(i), d);
        if (d[0] != 0 || d[1] != 0 || d[2] != 0 || d[3] != 0) add_slow_digits(i, other.base_, d, kWindowWords);
      }
    }
  }
  if (other.slow_in_use()) {
    ensure_slow();
    for (int w = other.low_word_; w <= other.high_word_; ++w)
      for (std::size_t i = 0; i < length_; ++i) slow_[std::size_t(w) * length_ + i] += other.slow_[std::size_t(w) * length_ + i];
    low_word_ = std::min(low_word_, other.low_word_);
    high_word_ = std::max(high_word_, other.high_word_);
    for (std::size_t b = 0; b < slow_blocks_.size(); ++b) slow_blocks_[b] |= other.slow_blocks_[b];
  }
  nonfinite_ += other.nonfinite_;
  for (std::size_t i = 0; i < length_; ++i) flags_[i] |= other.flags_[i];
}

void ExactSum::load(std::size_t i, Big& big) const {
  std::fill(big.d, big.d + kWords, 0);
  if (slow_in_use())
    for (int w = low_word_; w <= high_word_; ++w) big.d[w] = slow_[std::size_t(w) * length_ + i];
  if (base_ >= 0) {
    std::int64_t d[kWindowWords];
    window_digits(window_at(i), d);
    for (int k = 0; k < kWindowWords; ++k) big.d[base_ + k] += d[k];
  }
  normalise(big.d, kWords);
}

double ExactSum::value(std::size_t i) const {
  if (nonfinite_ != 0 && flags_[i]) return std::numeric_limits<double>::quiet_NaN();
  if (base_ < 0 && !slow_in_use()) return 0.0;
  // Evaluate the normalised digits from the top down.
  Big big;
  load(i, big);
  const std::int64_t* d = big.d;
  double v = static_cast<double>(d[kWords - 1]);
  for (int w = kWords - 2; w >= 0; --w) v = v * 4294967296.0 + static_cast<double>(d[w]);
  return std::ldexp(v, kMinExponent);
}

// value() for the coordinates [begin, end) of a block held in the window
// alone, in a few integer and floating-point operations each instead of
// value()'s twelve-word load and normalisation. The same bits: the window's
// 128-bit value x gives the normalised digits of words base_ .. base_ + 3
// ((x >> 96) signed, the rest masked); value()'s Horner steps above them
// leave 0 or -1, its steps below multiply by 2^32 exactly, and the final
// scaling by a power of two rounds the same exact value once (or not at
// all). base_ + 3 < kWords always (window_base_for).
void ExactSum::window_values(std::size_t begin, std::size_t end, double* out) const {
  const double scale = std::ldexp(1.0, 32 * base_ + kMinExponent);
  for (std::size_t i = begin; i < end; ++i)
    out[i - begin] = horner_lanes(window_[length_ + i], static_cast<std::uint64_t>(window_[i])) * scale;
}

void ExactSum::values(double* out) const {
  const bool fast = base_ >= 0 && nonfinite_ == 0;
  for (std::size_t b = 0; b < blocks(); ++b) {
    const std::size_t begin = b * kBlock, end = std::min(length_, begin + kBlock);
    if (fast && !slow_blocks_[b]) {
      window_values(begin, end, out + begin);
      continue;
    }
    for (std::size_t i = begin; i < end; ++i) out[i] = value(i);
  }
}

void ExactSum::divide_into(float* out, double divisor) const {
  double chunk[kBlock];
  const bool fast = base_ >= 0 && nonfinite_ == 0;
  for (std::size_t b = 0; b < blocks(); ++b) {
    const std::size_t begin = b * kBlock, end = std::min(length_, begin + kBlock);
    if (fast && !slow_blocks_[b]) {
      window_divide(window_.data() + begin, window_.data() + length_ + begin, end - begin,
                    std::ldexp(1.0, 32 * base_ + kMinExponent), divisor, out + begin);
      continue;
    }
    for (std::size_t i = begin; i < end; ++i) chunk[i - begin] = value(i);
    for (std::size_t i = begin; i < end; ++i) out[i] = static_cast<float>(chunk[i - begin] / divisor);
  }
}

}  // namespace fedhpc

namespace fedhpc {

// Blocks without slow digits get their bounds from the window rows with
// OR-reductions (vectorised): a sum of multiples of 2^k is one, and
// sum_k |d_k| 2^(32k) bounds the value. Both bounds are safe, if a bit loose.
void ExactSum::block_bits(std::size_t b, int& low, int& top) const {
  const std::size_t begin = b * kBlock, end = std::min(length_, begin + kBlock);
  low = std::numeric_limits<int>::max();
  top = -1;
  if (slow_blocks_[b]) {
    Big big;
    for (std::size_t i = begin; i < end; ++i) {
      load(i, big);
      if (big.empty()) continue;
      low = std::min(low, big.low_bit());
      top = std::max(top, big.high_bit());
    }
  } else if (base_ >= 0) {
    // A two's complement value has its magnitude's lowest set bit, and the
    // OR of the magnitudes has the largest one's bit length.
    std::uint64_t ors[4];
    window_or(window_.data() + begin, window_.data() + length_ + begin, end - begin, ors);
    if ((ors[0] | ors[1]) == 0) return;
    low = 32 * base_ + (ors[0] != 0 ? __builtin_ctzll(ors[0]) : 64 + __builtin_ctzll(ors[1]));
    top = 32 * base_ + (ors[3] != 0 ? 64 + bit_length(ors[3]) : bit_length(ors[2])) - 1;
  }
}

void ExactSum::summary(std::int16_t* out) const {
  for (std::size_t b = 0; b < blocks(); ++b) {
    int low, top;
    block_bits(b, low, top);
    out[2 * b] = static_cast<std::int16_t>(top < 0 ? -32768 : -low);
    out[2 * b + 1] = static_cast<std::int16_t>(top);
  }
}

std::size_t ExactSum::packed_size(const std::int16_t* summary, std::size_t length, int parties) {
  std::size_t total = 0;
  for (std::size_t b = 0; b * kBlock < length; ++b)
    total += layout_of(summary, b, parties).per_coordinate() * block_length(b, length);
  return total;
}

// x = value >> low for every coordinate of block b (which must fit an int64).
void ExactSum::pack_single(std::size_t b, int low, std::int64_t* out) const {
  const std::size_t begin = b * kBlock, end = std::min(length_, begin + kBlock);
  if (!slow_blocks_[b]) {
    // The window value shifted right by low - its bit 0: drops only zero bits
    // (low is the block's lowest set bit), and fits since the block does.
    if (base_ < 0) {
      std::fill(out, out + (end - begin), 0);
      return;
    }
    window_shift(window_.data() + begin, window_.data() + length_ + begin, end - begin,
                 std::clamp(low - 32 * base_, 0, 127), out);
    return;
  }
  Big big;
  for (std::size_t i = begin; i < end; ++i) {
    load(i, big);
    *out++ = static_cast<std::int64_t>(big.bits_from(low));
  }
}

void ExactSum::pack(const std::int16_t* summary, int parties, std::int64_t* out) const {
  Big big;
  for (std::size_t b = 0; b < blocks(); ++b) {
    const BlockLayout l = layout_of(summary, b, parties);
    if (l.top < 0) continue;
    const std::size_t begin = b * kBlock, end = std::min(length_, begin + kBlock);
    if (l.single) {
      pack_single(b, l.low, out);
      out += end - begin;
    } else {
      for (std::size_t i = begin; i < end; ++i) {
        load(i, big);
        for (int w = l.row_low; w <= l.row_high; ++w) *out++ = big.row(w, l.row_high);
      }
    }
  }
}

void ExactSum::choose_window_for(int top) {
  if (base_ >= 0 || top < 0) return;
  base_ = window_base_for(top);
  std::fill(window_.begin(), window_.end(), 0);
}

void ExactSum::clear_block(std::size_t b) {
  const std::size_t begin = b * kBlock, end = std::min(length_, begin + kBlock);
  for (int k = 0; k < kWindowRows; ++k)
    std::fill(window_.data() + k * length_ + begin, window_.data() + k * length_ + end, 0);
  if (slow_blocks_[b]) {
    for (int w = low_word_; w <= high_word_; ++w)
      std::fill(slow_.get() + w * length_ + begin, slow_.get() + w * length_ + end, 0);
    slow_blocks_[b] = 0;
  }
}

// Block b becomes x_i * 2^low: in the window when it fits there, else slow.
void ExactSum::unpack_single(std::size_t b, int low, const std::int64_t* in) {
  const std::size_t begin = b * kBlock, end = std::min(length_, begin + kBlock);
  clear_block(b);
  const int shift = low - 32 * base_;
  if (base_ >= 0 && shift >= 0 && shift < 64) {  // |x 2^shift| < 2^127
    for (std::size_t i = begin; i < end; ++i)
      set_window(i, static_cast<__int128>(static_cast<unsigned __int128>(static_cast<__int128>(*in++)) << shift));
    return;
  }
  for (std::size_t i = begin; i < end; ++i) {
    const auto v = static_cast<__int128>(static_cast<unsigned __int128>(static_cast<__int128>(*in++)) << (low % 32));
    const std::int64_t d[3] = {static_cast<std::int64_t>(v & kDigitMask),
                               static_cast<std::int64_t>((v >> 32) & kDigitMask), static_cast<std::int64_t>(v >> 64)};
    add_slow_digits(i, low / 32, d, 3);
  }
}

// Blocks that are empty in the summary are left as they are: every party's
// own block is empty then (or holds digits that sum to zero).
void ExactSum::unpack(const std::int16_t* summary, int parties, const std::int64_t* in) {
  int top = -1;
  for (std::size_t b = 0; b < blocks(); ++b) top = std::max(top, int(summary[2 * b + 1]));
  choose_window_for(top);
  for (std::size_t b = 0; b < blocks(); ++b) {
    const BlockLayout l = layout_of(summary, b, parties);
    if (l.top < 0) continue;
    const std::size_t count = block_length(b, length_);
    if (l.single) {
      unpack_single(b, l.low, in);
      in += count;
      continue;
    }
    clear_block(b);
    const int rows = l.row_high - l.row_low + 1;
    for (std::size_t i = b * kBlock; i < b * kBlock + count; ++i, in += rows) add_slow_digits(i, l.row_low, in, rows);
  }
}

void ExactSum::pack_blocks(std::int64_t* out) const { pack_blocks(0, blocks(), out); }

void ExactSum::pack_blocks(std::size_t first, std::size_t n, std::int64_t* out) const {
  for (std::size_t b = first; b < first + n; ++b, out += kBlockWords) {
    const std::size_t begin = b * kBlock, count = block_length(b, length_);
    bool nonfinite = false;
    if (nonfinite_ != 0)
      for (std::size_t i = begin; i < begin + count; ++i) nonfinite |= flags_[i] != 0;
    int low, top;
    block_bits(b, low, top);
    out[0] = header(top < 0 ? 0 : low, top, nonfinite);
    std::size_t written = 0;
    if (top >= 0 && fits(low, top, 1)) {
      pack_single(b, low, out + 1);
      written = count;
    }
    std::fill(out + 1 + written, out + kBlockWords, 0);
  }
}

void ExactSum::merge_blocks(const std::int64_t* in, std::int64_t* inout, std::size_t count, int parties) {
  for (std::size_t b = 0; b < count; ++b, in += kBlockWords, inout += kBlockWords) {
    const bool nonfinite = header_nonfinite(in[0]) || header_nonfinite(inout[0]);
    const int low_a = header_low(in[0]), top_a = header_top(in[0]);
    const int low_b = header_low(inout[0]), top_b = header_top(inout[0]);
    if (top_a < 0) {
      inout[0] = header(low_b, top_b, nonfinite);
      continue;
    }
    if (top_b < 0) {
      std::copy(in + 1, in + kBlockWords, inout + 1);
      inout[0] = header(low_a, top_a, nonfinite);
      continue;
    }
    const int low = std::min(low_a, low_b), top = std::max(top_a, top_b);
    inout[0] = header(low, top, nonfinite);
    // The partial sums are bounded like the full one, so when the union of
    // the bit ranges fits, neither realignment nor the sum can overflow. When
    // it does not, the block goes the multi-row way and its words here are
    // zeroed, so every merge order gives the same words.
    if (!fits(low, top, parties)) {
      std::fill(inout + 1, inout + kBlockWords, 0);
      continue;
    }
    const int shift_a = low_a - low, shift_b = low_b - low;
    for (std::size_t i = 1; i < kBlockWords; ++i)
      inout[i] = static_cast<std::int64_t>((static_cast<std::uint64_t>(inout[i]) << shift_b) +
                                           (static_cast<std::uint64_t>(in[i]) << shift_a));
  }
}

bool ExactSum::unpack_blocks(const std::int64_t* in, int parties, std::int16_t* summary, bool* nonfinite) {
  int highest = -1;
  for (std::size_t b = 0; b < blocks(); ++b) highest = std::max(highest, header_top(in[b * kBlockWords]));
  choose_window_for(highest);
  bool rest = false;
  *nonfinite = false;
  for (std::size_t b = 0; b < blocks(); ++b) {
    const std::int64_t* block = in + b * kBlockWords;
    const int low = header_low(block[0]), top = header_top(block[0]);
    *nonfinite |= header_nonfinite(block[0]);
    summary[2 * b] = -32768;
    summary[2 * b + 1] = -1;
    if (top < 0) continue;
    if (fits(low, top, parties)) {
      unpack_single(b, low, block + 1);
    } else {
      summary[2 * b] = static_cast<std::int16_t>(-low);
      summary[2 * b + 1] = static_cast<std::int16_t>(top);
      rest = true;
    }
  }
  return rest;
}

// A reduced one-word block is x_i * 2^low exactly, so its rounded value is
// horner_lanes of x_i << (low % 32) scaled by the word of low: the same bits as
// value() after unpacking (see window_values), without building the digits.
bool ExactSum::divide_blocks(const std::int64_t* in, std::size_t length, int parties, double divisor, float* out,
                             std::int16_t* summary, bool* nonfinite) {
  bool wide = false;
  *nonfinite = false;
  for (std::size_t b = 0; b * kBlock < length; ++b, in += kBlockWords) {
    const std::size_t begin = b * kBlock, count = block_length(b, length);
    const int low = header_low(in[0]), top = header_top(in[0]);
    *nonfinite |= header_nonfinite(in[0]);
    summary[2 * b] = -32768;
    summary[2 * b + 1] = -1;
    if (top < 0) {
      std::fill(out + begin, out + begin + count, static_cast<float>(0.0 / divisor));
      continue;
    }
    if (!fits(low, top, parties) || low / 32 + 3 >= kWords) {
      summary[2 * b] = static_cast<std::int16_t>(-low);
      summary[2 * b + 1] = static_cast<std::int16_t>(top);
      wide = true;
      continue;
    }
    divide_run(in + 1, count, low % 32, std::ldexp(1.0, 32 * (low / 32) + kMinExponent), divisor, out + begin);
  }
  return wide;
}

}  // namespace fedhpc
