#pragma once
// Torch-free: client-batched training of small models (see batched_dense.cpp).
#include <cstdint>
#include <memory>

#include "fedhpc/core/param_layout.hpp"
#include "fedhpc/model/scenario.hpp"

namespace fedhpc::model {

// Loss and gradient of k clients at once. Each client's parameters are one
// row of a stacked buffer (layout() order, rows `stride` floats apart), so
// an optimizer can update all k rows with one call per operation.
//
// Per client the arithmetic is that of one autograd step of the per-client
// model (the same kernels with the same arguments, the same order), so a
// client's gradient does not depend on k or on which clients share the
// call; on the BLAS that ATen itself calls it is the per-client gradient,
// bit for bit.
class BatchedModel {
 public:
  virtual ~BatchedModel() = default;
  // k clients with `batch` samples each: x is [k, batch, inputs], labels
  // [k, batch]. Writes into each client's grads row the gradient of its mean
  // cross-entropy over its minibatch, and that mean into loss[client].
  virtual void loss_and_grad(const float* params, float* grads, std::int64_t stride, std::int64_t k,
                             std::int64_t batch, const float* x, const std::int64_t* labels, float* loss) = 0;
};

// A stack of dense layers (weight [out, in] then bias [out] in `layout`),
// `activation` after every layer but the last: logreg (one layer) and mlp.
std::unique_ptr<BatchedModel> make_batched_dense(const ParamLayout& layout, Activation activation,
                                                 double leaky_slope);

}  // namespace fedhpc::model
