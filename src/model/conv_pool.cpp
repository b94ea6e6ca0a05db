#include "fedhpc/model/conv_pool.hpp"

#include "fedhpc/core/cpu_features.hpp"

#include <vector>

// The seed CNN's first layer has one or three input channels: oneDNN's
// convolution runs it far below the machine's speed, and max-pooling then
// reads, and its backward zero-fills and scatters, the full-size output.
// Here each pooled value comes from its four convolution outputs computed
// in registers, and the backward sends every pooled gradient straight to
// the weights through its winning position: the full-size output and its
// gradient never exist. Built for the x86-64 baseline, AVX2 and AVX-512 and
// picked at start-up; with -ffp-contract=off (src/CMakeLists.txt) every
// version does the same float operations in the same order.

namespace fedhpc::model {

namespace {

// kF > 0: the filter count known at compile time (the seed CNN's 32), so
// the accumulators live in registers; kF == 0: s.f at run time.
template <int kF>
__attribute__((always_inline)) inline void forward_loop(const ConvPoolShape& s, const float* __restrict x,
                                                        const float* __restrict wk, const float* __restrict bias,
                                                        float* __restrict out, std::uint8_t* __restrict arg) {
  const std::int64_t F = kF > 0 ? kF : s.f, C = s.c, W = s.w;
  const std::int64_t ph = s.ph(), pw = s.pw();
  constexpr std::int64_t kMax = kF > 0 ? kF : kConvPoolMaxFilters;
  float acc[4][kMax];
  for (std::int64_t n = 0; n < s.n; ++n) {
    const float* image = x + n * s.h * W * C;
    for (std::int64_t pi = 0; pi < ph; ++pi) {
      for (std::int64_t pj = 0; pj < pw; ++pj) {
        // The window's four outputs at once (each weight row is loaded once);
        // each output still adds its taps in order.
        const float* corner = image + (2 * pi * W + 2 * pj) * C;
        for (int pos = 0; pos < 4; ++pos)
          for (std::int64_t o = 0; o < F; ++o) acc[pos][o] = 0.0f;
        for (std::int64_t c = 0; c < C; ++c)
          for (int di = 0; di < 3; ++di)
            for (int dj = 0; dj < 3; ++dj) {
              const float* wrow = wk + (c * 9 + di * 3 + dj) * F;
              const float* tap = corner + (di * W + dj) * C + c;
              const float v0 = tap[0], v1 = tap[C], v2 = tap[W * C], v3 = tap[W * C + C];
              for (std::int64_t o = 0; o < F; ++o) {
                acc[0][o] += v0 * wrow[o];
                acc[1][o] += v1 * wrow[o];
                acc[2][o] += v2 * wrow[o];
                acc[3][o] += v3 * wrow[o];
              }
            }
        const std::int64_t at = ((n * ph + pi) * pw + pj) * F;
        for (std::int64_t o = 0; o < F; ++o) {
          float best = acc[0][o] + bias[o];
          std::uint8_t which = 0;
          for (int pos = 1; pos < 4; ++pos) {
            const float z = acc[pos][o] + bias[o];
            const bool take = (z > best) | (z != z);
            best = take ? z : best;
            which = take ? std::uint8_t(pos) : which;
          }
          out[at + o] = best;
          if (arg) arg[at + o] = which;
        }
      }
    }
  }
}

// Per image: dw and db in float, pooled pixels in order, and for each of
// the four window positions the gradients that won there (0 elsewhere:
// adding +-0 leaves a float sum as it is).
template <int kF>
__attribute__((always_inline)) inline void backward_loop(const ConvPoolShape& s, const float* __restrict x,
                                                         const float* __restrict g,
                                                         const std::uint8_t* __restrict arg,
                                                         float* __restrict dw, float* __restrict db) {
  const std::int64_t F = kF > 0 ? kF : s.f, C = s.c, W = s.w;
  const std::int64_t ph = s.ph(), pw = s.pw();
  constexpr std::int64_t kMax = kF > 0 ? kF : kConvPoolMaxFilters;
  float mine[4][kMax];
  for (std::int64_t n = 0; n < s.n; ++n) {
    const float* image = x + n * s.h * W * C;
    for (std::int64_t pi = 0; pi < ph; ++pi) {
      for (std::int64_t pj = 0; pj < pw; ++pj) {
        const std::int64_t at = ((n * ph + pi) * pw + pj) * F;
        const float* gp = g + at;
        const std::uint8_t* ap = arg + at;
        for (std::int64_t o = 0; o < F; ++o) db[n * F + o] += gp[o];
        if (!dw) continue;
        for (int pos = 0; pos < 4; ++pos)
          for (std::int64_t o = 0; o < F; ++o) mine[pos][o] = ap[o] == pos ? gp[o] : 0.0f;
        // Each weight row is loaded and stored once for the four positions,
        // which it takes in order.
        const float* corner = image + (2 * pi * W + 2 * pj) * C;
        for (std::int64_t c = 0; c < C; ++c)
          for (int di = 0; di < 3; ++di)
            for (int dj = 0; dj < 3; ++dj) {
              const float* tap = corner + (di * W + dj) * C + c;
              const float v0 = tap[0], v1 = tap[C], v2 = tap[W * C], v3 = tap[W * C + C];
              float* drow = dw + (n * 9 * C + c * 9 + di * 3 + dj) * F;
              for (std::int64_t o = 0; o < F; ++o)
                drow[o] = drow[o] + mine[0][o] * v0 + mine[1][o] * v1 + mine[2][o] * v2 + mine[3][o] * v3;
            }
      }
    }
  }
}

// One version of each kernel per instruction set (`attr` its target).
#define FEDHPC_CONV_POOL_VERSION(attr, suffix)                                                              \
  template <int kF>                                                                                       \
  attr void forward_##suffix(const ConvPoolShape& s, const float* x, const float* wk, const float* b,     \
                             float* out, std::uint8_t* arg) {                                             \
    forward_loop<kF>(s, x, wk, b, out, arg);                                                              \
  }                                                                                                       \
  template <int kF>                                                                                       \
  attr void backward_##suffix(const ConvPoolShape& s, const float* x, const float* g,                     \
                              const std::uint8_t* arg, float* dw, float* db) {                            \
    backward_loop<kF>(s, x, g, arg, dw, db);                                                              \
  }
#if defined(__x86_64__) && defined(__GNUC__)
#define FEDHPC_TARGET(isa) __attribute__((target(isa)))
#else
#define FEDHPC_TARGET(isa)
#endif
FEDHPC_CONV_POOL_VERSION(, any)
FEDHPC_CONV_POOL_VERSION(FEDHPC_TARGET("avx2"), avx2)
FEDHPC_CONV_POOL_VERSION(FEDHPC_TARGET("avx512f,avx512bw"), avx512)
#undef FEDHPC_TARGET

// 2: AVX-512 (F and BW), 1: AVX2, 0: the baseline (and other architectures).
int isa() {
  static const int level = [] {
    const CpuFeatures& cpu = cpu_features();
    if (cpu.avx512f && cpu.avx512bw) return 2;
    return cpu.avx2 ? 1 : 0;
  }();
  return level;
}

template <int kF>
void forward_dispatch(const ConvPoolShape& s, const float* x, const float* wk, const float* b, float* out,
                      std::uint8_t* arg) {
  switch (isa()) {
    case 2: return forward_avx512<kF>(s, x, wk, b, out, arg);
    case 1: return forward_avx2<kF>(s, x, wk, b, out, arg);
    default: return forward_any<kF>(s, x, wk, b, out, arg);
  }
}
template <int kF>
void backward_dispatch(const ConvPoolShape& s, const float* x, const float* g, const std::uint8_t* arg, float* dw,
                       float* db) {
  switch (isa()) {
    case 2: return backward_avx512<kF>(s, x, g, arg, dw, db);
    case 1: return backward_avx2<kF>(s, x, g, arg, dw, db);
    default: return backward_any<kF>(s, x, g, arg, dw, db);
  }
}
#undef FEDHPC_CONV_POOL_VERSION

}  // namespace

void conv_pool_forward(const ConvPoolShape& s, const float* x, const float* wk, const float* bias, float* out,
                       std::uint8_t* arg) {
  if (s.f == 32) return forward_dispatch<32>(s, x, wk, bias, out, arg);
  forward_dispatch<0>(s, x, wk, bias, out, arg);
}

void conv_pool_backward(const ConvPoolShape& s, const float* x, const float* g, const std::uint8_t* arg, float* dwk,
                        float* dbias) {
  // Per-image partial sums (float), then the images in order (double).
  const std::int64_t per_w = s.taps() * s.f;
  std::vector<float> dw(dwk ? std::size_t(s.n * per_w) : 0, 0.0f), db(std::size_t(s.n * s.f), 0.0f);
  if (s.f == 32) backward_dispatch<32>(s, x, g, arg, dwk ? dw.data() : nullptr, db.data());
  else backward_dispatch<0>(s, x, g, arg, dwk ? dw.data() : nullptr, db.data());
  auto total = [&](const std::vector<float>& parts, std::int64_t per, float* out) {
    std::vector<double> sum(std::size_t(per), 0.0);
    for (std::int64_t n = 0; n < s.n; ++n)
      for (std::int64_t k = 0; k < per; ++k) sum[std::size_t(k)] += parts[std::size_t(n * per + k)];
    for (std::int64_t k = 0; k < per; ++k) out[k] = static_cast<float>(sum[std::size_t(k)]);
  };
  if (dwk) total(dw, per_w, dwk);
  if (dbias) total(db, s.f, dbias);
}

}  // namespace fedhpc::model
