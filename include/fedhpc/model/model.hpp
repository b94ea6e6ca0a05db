#pragma once
// Torch appears here, so include this header only where tensors are used.
#include <ATen/ATen.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fedhpc/core/param_layout.hpp"
#include "fedhpc/core/registry.hpp"
#include "fedhpc/core/rng.hpp"
#include "fedhpc/model/layer_cost.hpp"
#include "fedhpc/model/scenario.hpp"

namespace fedhpc::model {

class BatchedModel;

struct ModelOptions {
  std::string name = "seed-cnn";
  int channels = 1;
  int height = 28;
  int width = 28;
  int classes = 10;
  std::int64_t hidden = 128;
  Activation activation = Activation::LeakyRelu;
  double leaky_slope = 0.3;
  InitSpec conv_init;
  // lenet5-transfer: the pretrained LeNet-5 file (`fedhpc pretrain`) whose
  // frozen layers it runs; empty for the other models.
  std::string pretrained;
  // rnn: dropout rate between the stacked layers (0 = none).
  double dropout = 0.0;
};

// A model is an architecture over a flat parameter buffer: the layer table
// says where each tensor lives, forward() runs on views of that buffer.
class Model {
 public:
  virtual ~Model() = default;
  const ParamLayout& layout() const { return layout_; }

  // Logits [B, classes] for x [B, C, H, W]; params follow layout() order.
  // With taps, the input of every weight layer is appended (layout order),
  // for monitoring the gradient scale at each layer.
  virtual at::Tensor forward(const std::vector<at::Tensor>& params, const at::Tensor& x,
                             std::vector<at::Tensor>* taps = nullptr) const = 0;

  // Writes the initial parameters (layout().total() floats).
  virtual void initialize(float* flat, Rng& rng) const = 0;

  // Client-batched training (many clients' parameters stacked, one BLAS
  // call per layer and client without per-client dispatch): models that
  // support it return a BatchedModel, the others nullptr (trained one
  // client at a time).
  virtual bool supports_batched() const { return false; }

  // Per weight layer (layout order): MACs and input/output elements per
  // sample, for the analytic step cost of client tiers (layer_cost.hpp);
  // empty for a model that does not describe itself.
  virtual std::vector<LayerGeometry> geometry() const { return {}; }
  virtual std::unique_ptr<BatchedModel> make_batched() const;

  // Training noise (dropout): while a stream is set (the local trainer sets
  // one per training step), a model with dropout draws its masks from it;
  // with none (evaluation, diagnostics) forward() drops nothing.
  void set_noise(Rng* rng) const { noise_ = rng; }

 protected:
  explicit Model(ModelOptions options) : options_(std::move(options)) {}
  mutable Rng* noise_ = nullptr;
  at::Tensor activate(const at::Tensor& x) const;
  ModelOptions options_;
  ParamLayout layout_;
};

using ModelFactory = std::function<std::unique_ptr<Model>(const ModelOptions&)>;

// "seed-cnn", "mlp", "logreg", "rnn", "lenet5" and "lenet5-transfer" are
// registered on first use.
Registry<ModelFactory>& model_registry();
std::unique_ptr<Model> make_model(const ModelOptions& options);

// Glorot-uniform limit sqrt(6 / (fan_in + fan_out)), Keras fans.
void fill_glorot(float* out, const LayerInfo& layer, Rng& rng);
void fill_uniform(float* out, std::int64_t count, double low, double high, Rng& rng);

}  // namespace fedhpc::model
