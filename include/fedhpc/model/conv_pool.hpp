#pragma once
// Torch-free: a first convolution layer fused with its max-pooling (see
// conv_pool.cpp), the hot spot of the seed CNN on a CPU.
#include <cstdint>

namespace fedhpc::model {

// A 3x3 valid convolution with bias over channels-last images, followed by
// a 2x2 max-pool with stride 2 (floor: an odd last row or column is
// dropped). x is [n, h, w, c]; the weights are packed tap-major, wk[k * f +
// o] = W[o][k] for W [f, c, 3, 3] flattened over (c, 3, 3); the pooled
// output and the winning position (0-3, row-major in the window) are [n,
// ph, pw, f].
struct ConvPoolShape {
  std::int64_t n = 0, h = 0, w = 0, c = 0, f = 0;
  std::int64_t ph() const { return (h - 2) / 2; }
  std::int64_t pw() const { return (w - 2) / 2; }
  std::int64_t taps() const { return 9 * c; }
};

// Filters per call the kernels take (their accumulators are on the stack).
constexpr std::int64_t kConvPoolMaxFilters = 256;

// Each convolution output is (sum over taps k in order of x * wk) + bias,
// in float without fused multiply-adds, so every build and instruction set
// gives the same bits. The pool keeps the first maximum in window order and
// a NaN over any number (as ATen's max_pool2d does).
void conv_pool_forward(const ConvPoolShape& s, const float* x, const float* wk, const float* bias, float* out,
                       std::uint8_t* arg);

// Gradients of the weights (packed like wk) and the bias from the pooled
// output's gradient g [n, ph, pw, f]: each pooled gradient reaches the tap
// inputs of its winning position only. Summed per image in float, over the
// images in double, in a fixed order. dwk or dbias may be null (not wanted).
void conv_pool_backward(const ConvPoolShape& s, const float* x, const float* g, const std::uint8_t* arg, float* dwk,
                        float* dbias);

}  // namespace fedhpc::model
