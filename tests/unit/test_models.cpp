// The seed CNN's fast path (channels-last convolutions, activation after
// max-pooling) against the textbook NCHW network, and the exactness of the
// pool/activation reordering it relies on.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cmath>

#include "fedhpc/core/rng.hpp"
#include "fedhpc/model/model.hpp"

using namespace fedhpc;

namespace {

at::Tensor act(model::Activation a, const at::Tensor& x, double slope) {
  switch (a) {
    case model::Activation::Relu: return at::relu(x);
    case model::Activation::LeakyRelu: return at::leaky_relu(x, slope);
    case model::Activation::Tanh: return at::tanh(x);
  }
  return x;
}

// conv -> act -> pool, twice, flatten, dense: contiguous NCHW, in double.
at::Tensor textbook(const std::vector<at::Tensor>& p, const at::Tensor& x, model::Activation a, double slope) {
  auto h = at::max_pool2d(act(a, at::conv2d(x, p[0], p[1]), slope), {2, 2});
  h = at::max_pool2d(act(a, at::conv2d(h, p[2], p[3]), slope), {2, 2});
  return at::linear(h.flatten(1), p[4], p[5]);
}

double max_abs(const at::Tensor& t) { return t.abs().max().item<double>(); }

// Images of `channels` x 13 x 12 (odd height: the second pooling drops a row).
struct Cnn {
  std::unique_ptr<model::Model> net;
  std::vector<float> flat;
  std::vector<at::Tensor> params;  // float views of flat, requiring grad
  at::Tensor x;

  Cnn(model::Activation a, int channels) {
    model::ModelOptions o;
    o.channels = channels;
    o.height = 13;
    o.width = 12;
    o.classes = 4;
    o.activation = a;
    net = model::make_model(o);
    flat.resize(std::size_t(net->layout().total()));
    auto rng = stream(5, StreamKind::Init);
    net->initialize(flat.data(), rng);
    auto all = at::from_blob(flat.data(), {std::int64_t(flat.size())}, at::kFloat);
    for (const auto& l : net->layout().layers())
      params.push_back(all.narrow(0, l.offset, l.size).view(l.shape).requires_grad_(true));
    at::manual_seed(3);
    x = at::rand({6, channels, 13, 12}, at::kFloat);
  }
};

}  // namespace

// Logits, parameter gradients (they land in the [out, in, kh, kw] views of
// the flat buffer) and input gradients agree with the NCHW network in double.
TEST(SeedCnn, ChannelsLastPathMatchesTextbookNchw) {
  for (auto a : {model::Activation::Relu, model::Activation::LeakyRelu, model::Activation::Tanh}) {
    for (int channels : {1, 3}) {
      Cnn f(a, channels);
      auto x = f.x.clone().requires_grad_(true);
      std::vector<at::Tensor> taps;
      auto logits = f.net->forward(f.params, x, &taps);
      at::log_softmax(logits, 1).sum().backward();

      std::vector<at::Tensor> ref;
      for (const auto& p : f.params) ref.push_back(p.detach().to(at::kDouble).requires_grad_(true));
      auto xd = f.x.to(at::kDouble).requires_grad_(true);
      auto ref_logits = textbook(ref, xd, a, 0.3);
      at::log_softmax(ref_logits, 1).sum().backward();

      const std::string what = model::to_string(a) + " channels " + std::to_string(channels);
      ASSERT_EQ(logits.sizes(), ref_logits.sizes());
      EXPECT_LE(max_abs(logits.to(at::kDouble) - ref_logits), 1e-5 * max_abs(ref_logits)) << what;
      for (std::size_t i = 0; i < ref.size(); ++i) {
        ASSERT_TRUE(f.params[i].grad().defined()) << what;
        EXPECT_LE(max_abs(f.params[i].grad().to(at::kDouble) - ref[i].grad()), 1e-4 * max_abs(ref[i].grad()) + 1e-7)
            << what << " " << f.net->layout().layers()[i].name;
      }
      EXPECT_LE(max_abs(x.grad().to(at::kDouble) - xd.grad()), 1e-4 * max_abs(xd.grad())) << what;
      // The monitoring taps: the input, the pooled first layer, the flattened
      // second layer in logical [C, H, W] order (what the dense weights see).
      ASSERT_EQ(taps.size(), 3u);
      EXPECT_TRUE(taps[0].is_same(x));
      // The convolutions really ran channels-last (with one input channel too).
      EXPECT_EQ(taps[1].suggest_memory_format(), at::MemoryFormat::ChannelsLast) << what;
      auto h1 = at::max_pool2d(act(a, at::conv2d(xd, ref[0], ref[1]), 0.3), {2, 2});
      auto h2 = at::max_pool2d(act(a, at::conv2d(h1, ref[2], ref[3]), 0.3), {2, 2}).flatten(1);
      EXPECT_LE(max_abs(taps[1].to(at::kDouble) - h1), 1e-5 * max_abs(h1)) << what;
      EXPECT_LE(max_abs(taps[2].to(at::kDouble) - h2), 1e-5 * max_abs(h2)) << what;
    }
  }
}

// act(max_pool(z)) == max_pool(act(z)) bit for bit for the non-decreasing
// activations, in both memory formats, and so are the gradients w.r.t. z
// when the window values are distinct (with ties under relu too: the
// gradient is 0 at every non-positive maximum either way).
TEST(SeedCnn, PoolingCommutesWithTheActivationsExactly) {
  at::manual_seed(7);
  // Distinct values 0.01 apart in [-2, 2), shuffled; then a relu case full of ties and zeros.
  auto distinct = (at::randperm(400 * 81, at::kLong).to(at::kFloat) / 81.0f - 200.0f) * 0.01f;
  auto ties = at::randint(-3, 2, {400 * 81}, at::kLong).to(at::kFloat);
  struct Case {
    model::Activation a;
    double slope;
    at::Tensor values;
  };
  std::vector<Case> cases = {{model::Activation::Relu, 0.0, distinct},
                             {model::Activation::LeakyRelu, 0.3, distinct},
                             {model::Activation::LeakyRelu, 0.0, distinct},
                             {model::Activation::Tanh, 0.0, distinct},
                             {model::Activation::Relu, 0.0, ties}};
  for (const auto& c : cases) {
    for (auto format : {at::MemoryFormat::Contiguous, at::MemoryFormat::ChannelsLast}) {
      auto base = c.values.view({4, 100, 9, 9}).contiguous(format);  // odd side: floor mode drops a row
      auto g = at::rand({4, 100, 4, 4}, at::kFloat);
      auto z1 = base.clone().requires_grad_(true);
      auto z2 = base.clone().requires_grad_(true);
      auto textbook_order = at::max_pool2d(act(c.a, z1, c.slope), {2, 2});
      auto fast_order = act(c.a, at::max_pool2d(z2, {2, 2}), c.slope);
      EXPECT_TRUE(at::equal(textbook_order, fast_order)) << model::to_string(c.a);
      textbook_order.backward(g);
      fast_order.backward(g);
      EXPECT_TRUE(at::equal(z1.grad(), z2.grad())) << model::to_string(c.a) << " slope " << c.slope;
    }
  }
}

// Training and evaluation (no input gradient) take the fused first layer
// (model/conv_pool.hpp): logits and every parameter gradient agree with the
// textbook NCHW network in double; evaluation under NoGradGuard gives the
// training forward's bits; a frozen first layer gets no gradient and the
// others keep theirs. A negative leaky slope keeps ATen's layers.
TEST(SeedCnn, FusedFirstLayerMatchesTextbookNchw) {
  for (auto a : {model::Activation::Relu, model::Activation::LeakyRelu, model::Activation::Tanh}) {
    for (int channels : {1, 3}) {
      for (bool frozen : {false, true}) {
        Cnn f(a, channels);
        if (frozen) f.params[0].requires_grad_(false), f.params[1].requires_grad_(false);
        auto logits = f.net->forward(f.params, f.x, nullptr);
        at::log_softmax(logits, 1).sum().backward();
        at::Tensor evaluated;
        {
          at::NoGradGuard no_grad;
          evaluated = f.net->forward(f.params, f.x, nullptr);
        }
        std::vector<at::Tensor> ref;
        for (const auto& p : f.params) ref.push_back(p.detach().to(at::kDouble).requires_grad_(true));
        auto ref_logits = textbook(ref, f.x.to(at::kDouble), a, 0.3);
        at::log_softmax(ref_logits, 1).sum().backward();
        const std::string what = model::to_string(a) + " channels " + std::to_string(channels) + (frozen ? " frozen" : "");
        EXPECT_TRUE(at::equal(logits.detach(), evaluated)) << what;
        EXPECT_LE(max_abs(logits.to(at::kDouble) - ref_logits), 1e-5 * max_abs(ref_logits)) << what;
        for (std::size_t i = 0; i < ref.size(); ++i) {
          if (frozen && i < 2) {
            EXPECT_FALSE(f.params[i].grad().defined()) << what;
            continue;
          }
          ASSERT_TRUE(f.params[i].grad().defined()) << what;
          EXPECT_LE(max_abs(f.params[i].grad().to(at::kDouble) - ref[i].grad()), 1e-4 * max_abs(ref[i].grad()) + 1e-7)
              << what << " " << f.net->layout().layers()[i].name;
        }
      }
    }
  }
}

// The fused kernel against ATen's conv2d + max_pool2d bit for bit where
// every sum is exact (small integers): ties (many equal window values: the
// first one wins, and gets the gradient), both image parities, 1 and 3
// channels, the weight and bias gradients from integer pooled gradients;
// then a NaN input, which wins its windows as in ATen.
TEST(SeedCnn, FusedFirstLayerKeepsMaxPoolSemanticsBitForBit) {
  at::manual_seed(11);
  for (int channels : {1, 3}) {
    for (std::int64_t side : {11, 12}) {
      model::ModelOptions o;
      o.channels = channels;
      o.height = side;
      o.width = side + 1;
      o.classes = 3;
      o.activation = model::Activation::Relu;
      auto net = model::make_model(o);
      std::vector<at::Tensor> params;
      for (const auto& l : net->layout().layers()) params.push_back(at::zeros(l.shape, at::kFloat));
      params[0] = at::randint(-1, 2, {32, channels, 3, 3}, at::kLong).to(at::kFloat).requires_grad_(true);
      params[1] = at::randint(-2, 3, {32}, at::kLong).to(at::kFloat).requires_grad_(true);
      auto x = at::randint(-1, 2, {3, channels, side, side + 1}, at::kLong).to(at::kFloat);
      const std::string what = "channels " + std::to_string(channels) + " side " + std::to_string(side);

      auto w = params[0].detach().clone().requires_grad_(true), b = params[1].detach().clone().requires_grad_(true);
      auto ref = at::relu(at::max_pool2d(at::conv2d(x, w, b), {2, 2}));
      auto g = at::randint(-3, 4, ref.sizes(), at::kLong).to(at::kFloat);
      (ref * g).sum().backward();

      std::vector<at::Tensor> taps;  // tap 1: the pooled, activated first layer
      net->forward(params, x, &taps);
      ASSERT_GE(taps.size(), 2u);
      ASSERT_EQ(taps[1].sizes(), ref.sizes()) << what;
      EXPECT_TRUE(at::equal(taps[1], ref)) << what;
      (taps[1] * g).sum().backward();
      EXPECT_TRUE(at::equal(params[0].grad(), w.grad())) << what;
      EXPECT_TRUE(at::equal(params[1].grad(), b.grad())) << what;

      x.index_put_({1, 0, 4, 5}, std::nanf(""));
      at::NoGradGuard no_grad;
      taps.clear();
      net->forward(params, x, &taps);
      auto with_nan = at::relu(at::max_pool2d(at::conv2d(x, w, b), {2, 2}));
      EXPECT_GT(at::isnan(with_nan).sum().item<std::int64_t>(), 0) << what;
      EXPECT_TRUE(at::equal(at::isnan(taps[1]), at::isnan(with_nan))) << what;
      EXPECT_TRUE(at::equal(at::nan_to_num(taps[1], 0.0), at::nan_to_num(with_nan, 0.0))) << what;
    }
  }
}
