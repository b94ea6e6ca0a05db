#include <torch/csrc/autograd/custom_function.h>

#include <cmath>

#include "fedhpc/core/error.hpp"
#include "fedhpc/model/batched_model.hpp"
#include "fedhpc/model/conv_pool.hpp"
#include "fedhpc/model/model.hpp"
#include "fedhpc/model/torchscript.hpp"

namespace fedhpc::model {

at::Tensor Model::activate(const at::Tensor& x) const {
  switch (options_.activation) {
    case Activation::Relu: return at::relu(x);
    case Activation::LeakyRelu: return at::leaky_relu(x, options_.leaky_slope);
    case Activation::Tanh: return at::tanh(x);
  }
  return x;
}

std::unique_ptr<BatchedModel> Model::make_batched() const { return nullptr; }

void fill_glorot(float* out, const LayerInfo& layer, Rng& rng) {
  std::int64_t receptive = 1;
  for (std::size_t d = 2; d < layer.shape.size(); ++d) receptive *= layer.shape[d];
  const double fan_out = double(layer.shape[0]) * receptive;
  const double fan_in = layer.shape.size() > 1 ? double(layer.shape[1]) * receptive : 1.0;
  const double limit = std::sqrt(6.0 / (fan_in + fan_out));
  fill_uniform(out, layer.size, -limit, limit, rng);
}

void fill_uniform(float* out, std::int64_t count, double low, double high, Rng& rng) {
  for (std::int64_t i = 0; i < count; ++i) out[i] = static_cast<float>(rng.uniform(low, high));
}

namespace {

// t [N, C, H, W] with channels-last strides, so that convolutions pick
// their NHWC kernels. With C == 1 the NCHW bytes already are NHWC, but
// contiguous(ChannelsLast) would keep the NCHW strides: a view fixes them.
at::Tensor channels_last(const at::Tensor& t) {
  if (t.size(1) != 1) return t.contiguous(at::MemoryFormat::ChannelsLast);
  auto c = t.contiguous();
  return c.view({c.size(0), c.size(2), c.size(3), 1}).permute({0, 3, 1, 2});
}

// Fills each tensor in layout order: activation-carrying weights by the
// scenario's init, the rest Glorot-uniform; biases 0, except those of
// activation-carrying layers when the init asks for them (InitSpec::bias).
void initialize_layers(const ParamLayout& layout, const std::vector<bool>& activated,
                       const InitSpec& init, float* flat, Rng& rng) {
  const auto& layers = layout.layers();
  for (std::size_t i = 0; i < layers.size(); ++i) {
    float* out = flat + layers[i].offset;
    if (!layers[i].is_weight) {
      const bool drawn = i > 0 && activated[i - 1] && !init.glorot && init.bias;
      if (drawn) fill_uniform(out, layers[i].size, init.low, init.high, rng);
      else std::fill(out, out + layers[i].size, 0.0f);
    } else if (activated[i] && !init.glorot) {
      fill_uniform(out, layers[i].size, init.low, init.high, rng);
    } else {
      fill_glorot(out, layers[i], rng);
    }
  }
}

// max_pool2d(conv2d(x, w, b), 2) through conv_pool.hpp's fused kernels:
// the output is channels-last; only w and b get gradients (x must not need
// one: the fused backward has no input gradient). `keep`: save what the
// backward needs (not when no gradient will be taken, as in evaluation).
struct ConvPool : torch::autograd::Function<ConvPool> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w,
                            const at::Tensor& b, bool keep) {
    const ConvPoolShape s = shape_of(x, w);
    auto xl = x.contiguous(at::MemoryFormat::ChannelsLast);  // with c == 1 already NHWC bytes
    auto wk = w.detach().reshape({s.f, s.taps()}).t().contiguous();
    auto bias = b.detach().contiguous();
    auto out = at::empty({s.n, s.f, s.ph(), s.pw()}, x.options().memory_format(at::MemoryFormat::ChannelsLast));
    at::Tensor arg = at::empty({keep ? s.n * s.ph() * s.pw() * s.f : 0}, x.options().dtype(at::kByte));
    conv_pool_forward(s, xl.data_ptr<float>(), wk.data_ptr<float>(), bias.data_ptr<float>(), out.data_ptr<float>(),
                      keep ? arg.data_ptr<std::uint8_t>() : nullptr);
    if (keep) ctx->save_for_backward({xl, arg});
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& xl = saved[0];
    auto g = grads[0].contiguous(at::MemoryFormat::ChannelsLast);
    const ConvPoolShape s{xl.size(0), xl.size(2), xl.size(3), xl.size(1), g.size(1)};
    const bool want_w = ctx->needs_input_grad(1), want_b = ctx->needs_input_grad(2);
    auto dwk = at::empty({want_w ? s.taps() : 0, s.f}, xl.options());
    auto db = at::empty({want_b ? s.f : 0}, xl.options());
    conv_pool_backward(s, xl.data_ptr<float>(), g.data_ptr<float>(), saved[1].data_ptr<std::uint8_t>(),
                       want_w ? dwk.data_ptr<float>() : nullptr, want_b ? db.data_ptr<float>() : nullptr);
    at::Tensor dw;
    if (want_w) dw = dwk.t().contiguous().view({s.f, s.c, 3, 3});
    return {at::Tensor(), dw, want_b ? db : at::Tensor(), at::Tensor()};
  }

  static ConvPoolShape shape_of(const at::Tensor& x, const at::Tensor& w) {
    return {x.size(0), x.size(2), x.size(3), x.size(1), w.size(0)};
  }

  // Float tensors, 3x3 filters, no input gradient wanted, at least one
  // pooled pixel: else the caller takes ATen's conv2d and max_pool2d.
  static bool applies(const at::Tensor& x, const at::Tensor& w) {
    return !x.requires_grad() && x.scalar_type() == at::kFloat && w.scalar_type() == at::kFloat && x.dim() == 4 &&
           w.size(2) == 3 && w.size(3) == 3 && w.size(0) <= kConvPoolMaxFilters && x.size(2) >= 4 && x.size(3) >= 4;
  }
};

// The GSC paper's network: two unpadded 3x3 convs (32, 64 filters) with
// 2x2 max-pooling, then one dense layer. 28x28x1 -> 34,826 parameters.
class SeedCnn : public Model {
 public:
  explicit SeedCnn(const ModelOptions& o) : Model(o) {
    const std::int64_t h = ((o.height - 2) / 2 - 2) / 2;
    const std::int64_t w = ((o.width - 2) / 2 - 2) / 2;
    if (h < 1 || w < 1) throw InputError("--model seed-cnn: images must be at least 10x10");
    layout_.add("conv1.weight", {32, o.channels, 3, 3}, true);
    layout_.add("conv1.bias", {32}, false);
    layout_.add("conv2.weight", {64, 32, 3, 3}, true);
    layout_.add("conv2.bias", {64}, false);
    layout_.add("dense.weight", {o.classes, 64 * h * w}, true);
    layout_.add("dense.bias", {o.classes}, false);
  }

  // Convolutions run in channels-last (NHWC) memory format, about 1.5x
  // faster on CPU than NCHW; the parameters stay in the flat buffer in
  // [out, in, kh, kw] order and the conv weights are converted per call
  // (a copy of at most 18k floats; their gradients flow back through it).
  at::Tensor forward(const std::vector<at::Tensor>& p, const at::Tensor& x,
                     std::vector<at::Tensor>* taps) const override {
    if (taps) taps->push_back(x);
    auto h = first_layer(p, x);
    if (taps) taps->push_back(h);
    h = pool_activate(at::conv2d(h, channels_last(p[2]), p[3]));
    h = h.flatten(1);  // a copy in logical [C, H, W] order: the dense weights keep their meaning
    if (taps) taps->push_back(h);
    return at::linear(h, p[4], p[5]);
  }

  // Training and evaluation take the fused convolution and pooling
  // (ConvPool); the input-gradient diagnostics (GSC) take ATen's layers.
  at::Tensor first_layer(const std::vector<at::Tensor>& p, const at::Tensor& x) const {
    if (monotone() && ConvPool::applies(x, p[0])) {
      // Without a gradient to come, the backward's inputs are not kept.
      const bool keep = at::GradMode::is_enabled() && (p[0].requires_grad() || p[1].requires_grad());
      return activate(ConvPool::apply(x, p[0], p[1], keep));
    }
    return pool_activate(at::conv2d(channels_last(x), channels_last(p[0]), p[1]));
  }

  bool monotone() const { return options_.activation != Activation::LeakyRelu || options_.leaky_slope >= 0.0; }

  // act(max_pool(z)): a non-decreasing activation commutes with max-pooling
  // (the same values, on 4x fewer elements; the gradient reaches a position
  // holding the window's maximum either way). A negative leaky slope is not
  // monotone and keeps the textbook order.
  at::Tensor pool_activate(const at::Tensor& z) const {
    if (monotone()) return activate(at::max_pool2d(z, {2, 2}));
    return at::max_pool2d(activate(z), {2, 2});
  }

  void initialize(float* flat, Rng& rng) const override {
    initialize_layers(layout_, {true, false, true, false, false, false}, options_.conv_init, flat, rng);
  }

  // Unpadded 3x3 convs, each followed by 2x2 pooling (floor).
  std::vector<LayerGeometry> geometry() const override {
    const auto& o = options_;
    const std::int64_t h0 = o.height, w0 = o.width, h1 = (h0 - 2) / 2, w1 = (w0 - 2) / 2;
    const std::int64_t h2 = (h1 - 2) / 2, w2 = (w1 - 2) / 2;
    const std::int64_t conv1_out = 32 * (h0 - 2) * (w0 - 2), conv2_out = 64 * (h1 - 2) * (w1 - 2);
    const std::int64_t dense_in = 64 * h2 * w2;
    return {{conv1_out * o.channels * 9, std::int64_t(o.channels) * h0 * w0, conv1_out},
            {conv2_out * 32 * 9, 32 * h1 * w1, conv2_out},
            {dense_in * o.classes, dense_in, o.classes}};
  }
};

class Mlp : public Model {
 public:
  explicit Mlp(const ModelOptions& o) : Model(o) {
    const std::int64_t in = std::int64_t(o.channels) * o.height * o.width;
    layout_.add("fc1.weight", {o.hidden, in}, true);
    layout_.add("fc1.bias", {o.hidden}, false);
    layout_.add("fc2.weight", {o.classes, o.hidden}, true);
    layout_.add("fc2.bias", {o.classes}, false);
  }

  at::Tensor forward(const std::vector<at::Tensor>& p, const at::Tensor& x,
                     std::vector<at::Tensor>* taps) const override {
    auto h = x.flatten(1);
    if (taps) taps->push_back(h);
    h = activate(at::linear(h, p[0], p[1]));
    if (taps) taps->push_back(h);
    return at::linear(h, p[2], p[3]);
  }

  void initialize(float* flat, Rng& rng) const override {
    initialize_layers(layout_, {true, false, false, false}, options_.conv_init, flat, rng);
  }

  std::vector<LayerGeometry> geometry() const override {
    const std::int64_t in = std::int64_t(options_.channels) * options_.height * options_.width;
    return {{in * options_.hidden, in, options_.hidden},
            {options_.hidden * options_.classes, options_.hidden, options_.classes}};
  }

  bool supports_batched() const override { return true; }
  std::unique_ptr<BatchedModel> make_batched() const override {
    return make_batched_dense(layout_, options_.activation, options_.leaky_slope);
  }
};

class LogReg : public Model {
 public:
  explicit LogReg(const ModelOptions& o) : Model(o) {
    layout_.add("dense.weight", {o.classes, std::int64_t(o.channels) * o.height * o.width}, true);
    layout_.add("dense.bias", {o.classes}, false);
  }

  at::Tensor forward(const std::vector<at::Tensor>& p, const at::Tensor& x,
                     std::vector<at::Tensor>* taps) const override {
    auto h = x.flatten(1);
    if (taps) taps->push_back(h);
    return at::linear(h, p[0], p[1]);
  }

  void initialize(float* flat, Rng& rng) const override {
    initialize_layers(layout_, {false, false}, options_.conv_init, flat, rng);
  }

  std::vector<LayerGeometry> geometry() const override {
    const std::int64_t in = std::int64_t(options_.channels) * options_.height * options_.width;
    return {{in * options_.classes, in, options_.classes}};
  }

  bool supports_batched() const override { return true; }
  std::unique_ptr<BatchedModel> make_batched() const override {
    return make_batched_dense(layout_, options_.activation, options_.leaky_slope);
  }
};

// Paper 001's signal model: a stack of 10 simple (Elman) RNN layers of 4
// tanh units over the sequence, then a dense layer on the top layer's last
// state. A sample [C, H, W] is read as H*W time steps of C features (the
// signal: 64 steps of 1). One bias per layer (Keras SimpleRNN), so 1 input:
// 24 + 9 * 36 + 10 = 358 parameters for 2 outputs. With dropout p
// (--rnn-dropout), each layer's output sequence is multiplied, in training
// steps only, by a mask of 0 or 1/(1-p) per sample and unit, the same at
// every time step, drawn from the trainer's noise stream. The activation is
// tanh whatever --activation says.
class Rnn : public Model {
 public:
  static constexpr int kLayers = 10;
  static constexpr std::int64_t kUnits = 4;

  explicit Rnn(const ModelOptions& o) : Model(o) {
    for (int l = 0; l < kLayers; ++l) {
      const std::string name = "rnn" + std::to_string(l);
      layout_.add(name + ".weight_ih", {kUnits, l == 0 ? std::int64_t(o.channels) : kUnits}, true);
      layout_.add(name + ".weight_hh", {kUnits, kUnits}, true);
      layout_.add(name + ".bias", {kUnits}, false);
    }
    layout_.add("dense.weight", {o.classes, kUnits}, true);
    layout_.add("dense.bias", {o.classes}, false);
  }

  // Each layer: the input projection of all steps in one call, then the
  // recurrence h_t = tanh(pre_t + h_{t-1} W_hh^T) step by step. No layer
  // taps (--monitor's GSC profile stays NaN): the weight layers' inputs are
  // sequences, not one tensor per weight layer.
  at::Tensor forward(const std::vector<at::Tensor>& p, const at::Tensor& x,
                     std::vector<at::Tensor>*) const override {
    const auto b = x.size(0);
    auto seq = x.reshape({b, x.size(1), -1}).transpose(1, 2);  // [B, steps, C]
    const auto steps = seq.size(1);
    at::Tensor h;
    for (int l = 0; l < kLayers; ++l) {
      const auto& w_hh = p[std::size_t(3 * l + 1)];
      auto pre = at::linear(seq, p[std::size_t(3 * l)], p[std::size_t(3 * l + 2)]);
      std::vector<at::Tensor> states;
      h = at::tanh(pre.select(1, 0));
      states.push_back(h);
      for (std::int64_t t = 1; t < steps; ++t) {
        h = at::tanh(at::addmm(pre.select(1, t), h, w_hh.t()));
        if (l + 1 < kLayers) states.push_back(h);
      }
      if (l + 1 < kLayers) seq = drop(at::stack(states, 1));
    }
    return at::linear(h, p[3 * kLayers], p[3 * kLayers + 1]);
  }

  void initialize(float* flat, Rng& rng) const override {
    initialize_layers(layout_, std::vector<bool>(layout_.layers().size(), false), options_.conv_init, flat, rng);
  }

 private:
  // seq [B, steps, units] times a [B, 1, units] mask of 0 or 1/(1-p), drawn
  // sample by sample, unit by unit; seq itself outside training steps.
  at::Tensor drop(const at::Tensor& seq) const {
    const double p = options_.dropout;
    if (!noise_ || p <= 0.0) return seq;
    const auto b = seq.size(0), units = seq.size(2);
    auto mask = at::empty({b, 1, units}, at::kFloat);
    float* m = mask.data_ptr<float>();
    const float keep = float(1.0 / (1.0 - p));
    for (std::int64_t i = 0; i < b * units; ++i) m[i] = noise_->uniform() < p ? 0.0f : keep;
    return seq * mask;
  }
};

}  // namespace

// lenet.cpp
std::unique_ptr<Model> make_lenet5(const ModelOptions& options);
std::unique_ptr<Model> make_lenet5_transfer(const ModelOptions& options);

namespace {

template <class T>
ModelFactory factory() {
  return [](const ModelOptions& o) -> std::unique_ptr<Model> { return std::make_unique<T>(o); };
}

}  // namespace

Registry<ModelFactory>& model_registry() {
  static Registry<ModelFactory> registry = [] {
    Registry<ModelFactory> r("model");
    r.add("seed-cnn", factory<SeedCnn>());
    r.add("mlp", factory<Mlp>());
    r.add("logreg", factory<LogReg>());
    r.add("rnn", factory<Rnn>());
    r.add("lenet5", make_lenet5);
    r.add("lenet5-transfer", make_lenet5_transfer);
    return r;
  }();
  return registry;
}

std::unique_ptr<Model> make_model(const ModelOptions& options) {
  if (is_torchscript_model(options.name)) return load_torchscript_model(options);
  return model_registry().get(options.name, "model")(options);
}

}  // namespace fedhpc::model
