// LeNet-5 (paper 001's transfer task) and its transfer variant. LeNet-5 here:
// conv 6@5x5 (padding 2) -> act -> 2x2 max-pool -> conv 16@5x5 -> act ->
// 2x2 max-pool -> dense 120 -> act -> dense 84 -> act -> dense classes, with
// act = the run's --activation (`fedhpc pretrain` uses relu or tanh). On
// 1x28x28 images: 156 + 2,416 + 48,120 + 10,164 + 850 = 61,706 parameters.
#include <algorithm>

#include "fedhpc/core/error.hpp"
#include "fedhpc/io/model_file.hpp"
#include "fedhpc/model/model.hpp"

namespace fedhpc::model {

namespace {

constexpr std::int64_t kConv1 = 6, kConv2 = 16, kFc1 = 120, kFc2 = 84;
constexpr std::size_t kFrozenTensors = 8;  // every tensor below the last dense layer

// Side after conv1 (padded, same size) and pool, conv2 (valid) and pool.
std::int64_t pooled_side(std::int64_t side) { return (side / 2 - 4) / 2; }

void add_lenet_layers(ParamLayout& layout, const ModelOptions& o) {
  const auto h = pooled_side(o.height), w = pooled_side(o.width);
  if (h < 1 || w < 1) throw InputError("--model " + o.name + ": images must be at least 12x12");
  layout.add("conv1.weight", {kConv1, o.channels, 5, 5}, true);
  layout.add("conv1.bias", {kConv1}, false);
  layout.add("conv2.weight", {kConv2, kConv1, 5, 5}, true);
  layout.add("conv2.bias", {kConv2}, false);
  layout.add("fc1.weight", {kFc1, kConv2 * h * w}, true);
  layout.add("fc1.bias", {kFc1}, false);
  layout.add("fc2.weight", {kFc2, kFc1}, true);
  layout.add("fc2.bias", {kFc2}, false);
}

// Glorot-uniform weights, zero biases (the Keras defaults).
void glorot_init(const ParamLayout& layout, float* flat, Rng& rng) {
  for (const auto& l : layout.layers()) {
    if (l.is_weight) fill_glorot(flat + l.offset, l, rng);
    else std::fill(flat + l.offset, flat + l.offset + l.size, 0.0f);
  }
}

class LeNet5 : public Model {
 public:
  explicit LeNet5(const ModelOptions& o) : Model(o) {
    add_lenet_layers(layout_, o);
    layout_.add("fc3.weight", {o.classes, kFc2}, true);
    layout_.add("fc3.bias", {o.classes}, false);
  }

  at::Tensor forward(const std::vector<at::Tensor>& p, const at::Tensor& x,
                     std::vector<at::Tensor>* taps) const override {
    auto h = features(p, x, taps);
    if (taps) taps->push_back(h);
    return at::linear(h, p[8], p[9]);
  }

  void initialize(float* flat, Rng& rng) const override { glorot_init(layout_, flat, rng); }

  std::vector<LayerGeometry> geometry() const override {
    const auto& o = options_;
    const std::int64_t h1 = o.height / 2, w1 = o.width / 2, in0 = std::int64_t(o.channels) * o.height * o.width;
    const std::int64_t out1 = kConv1 * o.height * o.width, out2 = kConv2 * (h1 - 4) * (w1 - 4);
    const std::int64_t flat = kConv2 * pooled_side(o.height) * pooled_side(o.width);
    return {{out1 * o.channels * 25, in0, out1},
            {out2 * kConv1 * 25, kConv1 * h1 * w1, out2},
            {flat * kFc1, flat, kFc1},
            {kFc1 * kFc2, kFc1, kFc2},
            {kFc2 * o.classes, kFc2, o.classes}};
  }

  // The 84 features below the last dense layer; p holds at least the first
  // eight tensors. With taps, the input of every weight layer but the last.
  at::Tensor features(const std::vector<at::Tensor>& p, const at::Tensor& x, std::vector<at::Tensor>* taps) const {
    if (taps) taps->push_back(x);
    auto h = at::max_pool2d(activate(at::conv2d(x, p[0], p[1], {1, 1}, {2, 2})), {2, 2});
    if (taps) taps->push_back(h);
    h = at::max_pool2d(activate(at::conv2d(h, p[2], p[3])), {2, 2}).flatten(1);
    if (taps) taps->push_back(h);
    h = activate(at::linear(h, p[4], p[5]));
    if (taps) taps->push_back(h);
    return activate(at::linear(h, p[6], p[7]));
  }
};

Activation activation_named(const std::string& name, const std::string& where) {
  if (name == "relu") return Activation::Relu;
  if (name == "tanh") return Activation::Tanh;
  if (name == "leaky-relu") return Activation::LeakyRelu;
  throw InputError(where + "unknown activation '" + name + "'");
}

// The pretrained LeNet-5 of options.pretrained with everything frozen but the
// last dense layer: the flat buffer (aggregation, MI sampling, the output
// file) holds only fc3.weight [classes, 84] and fc3.bias (850 parameters for
// 10 classes). The frozen layers run without gradient, with the activation
// the file was trained with. fc3 starts from the run's seeded Glorot draw:
// the file's own head is not used, so the head is learnt on the new task.
class LeNet5Transfer : public Model {
 public:
  explicit LeNet5Transfer(const ModelOptions& o) : Model(o), base_(base_options(o)) {
    layout_.add("fc3.weight", {o.classes, kFc2}, true);
    layout_.add("fc3.bias", {o.classes}, false);
    const auto& frozen_layout = file_.layout.layers();
    for (std::size_t i = 0; i < kFrozenTensors; ++i) {
      const auto& l = frozen_layout[i];
      frozen_.push_back(at::from_blob(file_.weights.data() + l.offset, l.shape, at::kFloat).clone());
    }
  }

  at::Tensor forward(const std::vector<at::Tensor>& p, const at::Tensor& x,
                     std::vector<at::Tensor>* taps) const override {
    at::Tensor h;
    {
      at::NoGradGuard frozen;
      h = base_.features(frozen_, x, nullptr);
    }
    if (taps) taps->push_back(h);
    return at::linear(h, p[0], p[1]);
  }

  void initialize(float* flat, Rng& rng) const override { glorot_init(layout_, flat, rng); }

  std::vector<LayerGeometry> geometry() const override { return {base_.geometry().back()}; }

 private:
  // Reads and checks the file (into file_, declared before base_) and returns
  // the options of the full LeNet-5 it holds.
  ModelOptions base_options(const ModelOptions& o) {
    if (o.pretrained.empty() || o.pretrained == "none")
      throw InputError("--pretrained: --model lenet5-transfer needs a pretrained LeNet-5 file (fedhpc pretrain)");
    file_ = io::read_model_file(o.pretrained, "--pretrained");
    const std::string where = "--pretrained: '" + o.pretrained + "': ";
    if (file_.model != "lenet5") throw InputError(where + "holds a " + file_.model + " model, not lenet5");
    if (file_.channels != o.channels || file_.height != o.height || file_.width != o.width)
      throw InputError(where + "trained on " + shape(file_.channels, file_.height, file_.width) +
                       " images, the data set has " + shape(o.channels, o.height, o.width));
    ModelOptions base = o;
    base.name = "lenet5";
    base.classes = file_.classes;
    base.activation = activation_named(file_.activation, where);
    ParamLayout expected;
    add_lenet_layers(expected, base);
    bool same = file_.layout.layers().size() == kFrozenTensors + 2;
    for (std::size_t i = 0; same && i < kFrozenTensors; ++i)
      same = file_.layout.layers()[i].shape == expected.layers()[i].shape;
    if (!same) throw InputError(where + "its layer table is not LeNet-5's");
    return base;
  }

  static std::string shape(int c, int h, int w) {
    return std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w);
  }

  io::ModelFile file_;
  LeNet5 base_;
  std::vector<at::Tensor> frozen_;
};

}  // namespace

std::unique_ptr<Model> make_lenet5(const ModelOptions& o) { return std::make_unique<LeNet5>(o); }
std::unique_ptr<Model> make_lenet5_transfer(const ModelOptions& o) { return std::make_unique<LeNet5Transfer>(o); }

}  // namespace fedhpc::model
