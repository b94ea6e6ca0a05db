// Client-batched dense stacks (logreg, mlp). Every product is one BLAS sgemm
// per client and layer, called with the arguments ATen's addmm/mm pass for
// the per-client model's autograd step (addmm_impl_cpu_ and cpublas::gemm,
// LibTorch 1.13), so each client gets the per-client bits. ATen's own bmm
// would loop over the same gemm calls through the dispatcher, at several
// microseconds per matrix; element-wise work (activations, softmax, bias
// sums) stays in ATen, one call for all k clients.
#include <ATen/ATen.h>
#include <dlfcn.h>

#include <cmath>
#include <stdexcept>

#include "fedhpc/model/batched_model.hpp"

namespace fedhpc::model {

namespace {

using SgemmFn = void (*)(const char*, const char*, const int*, const int*, const int*, const float*, const float*,
                         const int*, const float*, const int*, const float*, float*, const int*);

// The BLAS that libtorch links (libblas.so.3 on Debian) is in the process
// already; nullptr when ATen carries its own gemm (then ATen's mm is used).
SgemmFn blas_sgemm() {
  static const SgemmFn fn = reinterpret_cast<SgemmFn>(dlsym(RTLD_DEFAULT, "sgemm_"));
  return fn;
}

// Column-major C = A B + beta C as ATen's cpublas::gemm calls BLAS,
// including its normalize_last_dims.
void gemm(char ta, char tb, std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda,
          const float* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc) {
  if (n == 1) ldc = m;
  if (ta != 'N') {
    if (m == 1) lda = k;
  } else if (k == 1) {
    lda = m;
  }
  if (tb != 'N') {
    if (k == 1) ldb = n;
  } else if (n == 1) {
    ldb = k;
  }
  const int mi = int(m), ni = int(n), ki = int(k), la = int(lda), lb = int(ldb), lc = int(ldc);
  const float one = 1.0f;
  blas_sgemm()(&ta, &tb, &mi, &ni, &ki, &one, a, &la, b, &lb, &beta, c, &lc);
}

at::Tensor wrap(const float* p, at::IntArrayRef sizes) {
  return at::from_blob(const_cast<float*>(p), sizes, at::kFloat);
}

// out [B, out] (holding the bias rows) += x [B, in] W^T: at::linear's addmm.
void linear_forward(float* out, const float* x, const float* w, std::int64_t b, std::int64_t in,
                    std::int64_t outs) {
  if (blas_sgemm()) return gemm('T', 'N', outs, b, in, w, in, x, in, 1.0f, out, outs);
  auto o = wrap(out, {b, outs});
  o.addmm_(wrap(x, {b, in}), wrap(w, {outs, in}).t());
}

// gw [out, in] = g^T [out, B] a [B, in]: autograd's weight gradient of addmm.
void weight_grad(float* gw, const float* g, const float* a, std::int64_t b, std::int64_t in, std::int64_t outs) {
  if (blas_sgemm()) return gemm('N', 'T', in, outs, b, a, in, g, outs, 0.0f, gw, in);
  auto o = wrap(gw, {outs, in});
  at::mm_out(o, wrap(g, {b, outs}).t(), wrap(a, {b, in}));
}

// da [B, in] = g [B, out] W [out, in]: autograd's input gradient of addmm.
void input_grad(float* da, const float* g, const float* w, std::int64_t b, std::int64_t in, std::int64_t outs) {
  if (blas_sgemm()) return gemm('N', 'N', in, b, outs, w, in, g, outs, 0.0f, da, in);
  auto o = wrap(da, {b, in});
  at::mm_out(o, wrap(g, {b, outs}), wrap(w, {outs, in}));
}

// at::nll_loss's mean over one client's minibatch (its cascaded sum, so the
// loss has the per-client bits): -sum logp[i, y_i] / B.
float nll_mean(const float* logp, const std::int64_t* y, std::int64_t b, std::int64_t classes) {
  constexpr int levels = 8;
  int ceil_log2 = 0;
  while ((std::int64_t(1) << ceil_log2) < b) ++ceil_log2;
  const std::int64_t power = std::max(4, ceil_log2 / levels);
  const std::int64_t mask = (std::int64_t(1) << power) - 1;
  float partial[levels] = {0};
  for (std::int64_t i = 0; i < b; ++i) {
    partial[0] -= logp[i * classes + y[i]];
    for (int j = 0; j + 1 < levels; ++j) {
      if ((i & (mask << (j * power))) != 0) break;
      partial[j + 1] += partial[j];
      partial[j] = 0;
    }
  }
  float sum = 0;
  for (float p : partial) sum += p;
  return sum / float(b);
}

class BatchedDense : public BatchedModel {
 public:
  BatchedDense(const ParamLayout& layout, Activation activation, double slope)
      : activation_(activation), slope_(slope) {
    const auto& layers = layout.layers();
    if (layers.empty() || layers.size() % 2 != 0) throw std::invalid_argument("batched dense: weight/bias pairs");
    for (std::size_t i = 0; i < layers.size(); i += 2)
      dense_.push_back({layers[i].offset, layers[i + 1].offset, layers[i].shape[1], layers[i].shape[0]});
  }

  void loss_and_grad(const float* params, float* grads, std::int64_t stride, std::int64_t k, std::int64_t batch,
                     const float* x, const std::int64_t* labels, float* loss) override {
    const std::size_t n_layers = dense_.size();
    // inputs[l]: the input of layer l; pre[l]: its output before activation.
    std::vector<at::Tensor> inputs{wrap(x, {k * batch, dense_[0].in})}, pre;
    for (std::size_t l = 0; l < n_layers; ++l) {
      const auto& d = dense_[l];
      auto z = at::empty({k, batch, d.out}, at::kFloat);
      float* zp = z.data_ptr<float>();
      const float* in = inputs[l].data_ptr<float>();
      for (std::int64_t c = 0; c < k; ++c) {
        const float* p = params + c * stride;
        float* zc = zp + c * batch * d.out;
        for (std::int64_t r = 0; r < batch; ++r) std::copy_n(p + d.bias, d.out, zc + r * d.out);
        linear_forward(zc, in + c * batch * d.in, p + d.weight, batch, d.in, d.out);
      }
      z = z.view({k * batch, d.out});
      pre.push_back(z);
      if (l + 1 < n_layers) inputs.push_back(activate(z));
    }
    const std::int64_t classes = dense_.back().out;
    auto logp = at::_log_softmax(pre.back(), 1, false);
    // nll_loss's backward for a mean: -1/B at each target (in float).
    auto grad = at::zeros({k * batch, classes}, at::kFloat);
    float* gp = grad.data_ptr<float>();
    const float target_grad = -(1.0f / float(batch));
    for (std::int64_t i = 0; i < k * batch; ++i) gp[i * classes + labels[i]] = target_grad;
    for (std::int64_t c = 0; c < k; ++c)
      loss[c] = nll_mean(logp.data_ptr<float>() + c * batch * classes, labels + c * batch, batch, classes);
    grad = at::_log_softmax_backward_data(grad, logp, 1, at::kFloat);
    for (std::size_t l = n_layers; l-- > 0;) grad = backward_layer(l, grad, inputs[l], l > 0 ? &pre[l - 1] : nullptr,
                                                                    l > 0 ? &inputs[l] : nullptr, params, grads,
                                                                    stride, k, batch);
  }

 private:
  struct Dense {
    std::int64_t weight, bias, in, out;
  };

  at::Tensor activate(const at::Tensor& z) const {
    switch (activation_) {
      case Activation::Relu: return at::relu(z);
      case Activation::LeakyRelu: return at::leaky_relu(z, slope_);
      case Activation::Tanh: return at::tanh(z);
    }
    return z;
  }

  // Autograd's derivative formulas of the three activations.
  at::Tensor activation_backward(const at::Tensor& grad, const at::Tensor& z, const at::Tensor& out) const {
    switch (activation_) {
      case Activation::Relu: return at::threshold_backward(grad, out, 0);
      case Activation::LeakyRelu: return at::leaky_relu_backward(grad, z, slope_, false);
      case Activation::Tanh: return at::tanh_backward(grad, out);
    }
    return grad;
  }

  // Weight and bias gradients of layer l from grad = dE/d(its output);
  // returns dE/d(the pre-activation of layer l-1), or nothing for l = 0.
  at::Tensor backward_layer(std::size_t l, const at::Tensor& grad, const at::Tensor& input, const at::Tensor* z,
                            const at::Tensor* out, const float* params, float* grads, std::int64_t stride,
                            std::int64_t k, std::int64_t batch) const {
    const auto& d = dense_[l];
    const float* g = grad.data_ptr<float>();
    const float* a = input.data_ptr<float>();
    for (std::int64_t c = 0; c < k; ++c)
      weight_grad(grads + c * stride + d.weight, g + c * batch * d.out, a + c * batch * d.in, batch, d.in, d.out);
    // The bias gradient: autograd's sum over the minibatch (dim 0 per client).
    auto bias = at::sum(grad.view({k, batch, d.out}), {1}).contiguous();
    const float* bp = bias.data_ptr<float>();
    for (std::int64_t c = 0; c < k; ++c) std::copy_n(bp + c * d.out, d.out, grads + c * stride + d.bias);
    if (l == 0) return {};
    auto da = at::empty({k * batch, d.in}, at::kFloat);
    float* dap = da.data_ptr<float>();
    for (std::int64_t c = 0; c < k; ++c)
      input_grad(dap + c * batch * d.in, g + c * batch * d.out, params + c * stride + d.weight, batch, d.in, d.out);
    return activation_backward(da, *z, *out);
  }

  Activation activation_;
  double slope_;
  std::vector<Dense> dense_;
};

}  // namespace

std::unique_ptr<BatchedModel> make_batched_dense(const ParamLayout& layout, Activation activation,
                                                 double leaky_slope) {
  return std::make_unique<BatchedDense>(layout, activation, leaky_slope);
}

}  // namespace fedhpc::model
