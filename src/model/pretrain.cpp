#include "fedhpc/model/pretrain.hpp"

#include <ATen/ATen.h>

#include <numeric>

#include "fedhpc/core/error.hpp"
#include "fedhpc/core/rng.hpp"
#include "fedhpc/model/model.hpp"

namespace fedhpc::model {

namespace {

// Samples `indices` of set as one [B, C, H, W] batch and their labels.
std::pair<at::Tensor, at::Tensor> batch_of(const data::ImageSet& set, const std::int64_t* indices, std::int64_t n) {
  auto x = at::empty({n, set.channels, set.height, set.width}, at::kFloat);
  auto y = at::empty({n}, at::kLong);
  const std::int64_t size = set.sample_size();
  for (std::int64_t i = 0; i < n; ++i) {
    std::copy_n(set.sample(indices[i]), size, x.data_ptr<float>() + i * size);
    y.data_ptr<std::int64_t>()[i] = set.labels[std::size_t(indices[i])];
  }
  return {x, y};
}

// The tensors of the layer table as views of the flat tensor w.
std::vector<at::Tensor> views_of(const at::Tensor& w, const ParamLayout& layout) {
  std::vector<at::Tensor> views;
  for (const auto& l : layout.layers()) views.push_back(w.narrow(0, l.offset, l.size).view(l.shape));
  return views;
}

double accuracy(const Model& model, const at::Tensor& w, const data::ImageSet& test) {
  at::NoGradGuard no_grad;
  const auto params = views_of(w, model.layout());
  std::vector<std::int64_t> order(std::size_t(test.count));
  std::iota(order.begin(), order.end(), 0);
  std::int64_t right = 0;
  for (std::int64_t at = 0; at < test.count; at += 1000) {
    const std::int64_t n = std::min<std::int64_t>(1000, test.count - at);
    auto [x, y] = batch_of(test, order.data() + at, n);
    right += model.forward(params, x).argmax(1).eq(y).sum().item<std::int64_t>();
  }
  return test.count > 0 ? double(right) / double(test.count) : 0.0;
}

// One epoch of SGD with momentum; returns the mean minibatch loss.
double train_epoch(const Model& model, at::Tensor& w, at::Tensor& velocity, const data::ImageSet& train,
                   const PretrainOptions& o, std::int64_t epoch) {
  std::vector<std::int64_t> order(std::size_t(train.count));
  std::iota(order.begin(), order.end(), 0);
  auto rng = stream(o.seed, StreamKind::Shuffle, 0, std::uint64_t(epoch));
  shuffle(order.begin(), order.end(), rng);
  double total = 0.0;
  std::int64_t batches = 0;
  for (std::int64_t at = 0; at < train.count; at += o.batch_size, ++batches) {
    const std::int64_t n = std::min(o.batch_size, train.count - at);
    auto [x, y] = batch_of(train, order.data() + at, n);
    if (w.grad().defined()) w.mutable_grad().zero_();
    auto loss = at::nll_loss(at::log_softmax(model.forward(views_of(w, model.layout()), x), 1), y);
    loss.backward();
    total += loss.item<double>();
    at::NoGradGuard no_grad;
    velocity.mul_(o.momentum).add_(w.grad());
    w.sub_(velocity, o.lr);
  }
  return total / double(std::max<std::int64_t>(1, batches));
}

}  // namespace

io::ModelFile pretrain_lenet5(const data::Dataset& ds, const PretrainOptions& o, const EpochReport& report) {
  if (ds.regression()) throw InputError("--dataset: fedhpc pretrain needs a classification data set");
  ModelOptions mo;
  mo.name = "lenet5";
  mo.channels = ds.train.channels, mo.height = ds.train.height, mo.width = ds.train.width;
  mo.classes = ds.num_classes;
  if (o.activation == "relu") mo.activation = Activation::Relu;
  else if (o.activation == "tanh") mo.activation = Activation::Tanh;
  else throw InputError("--activation: expected relu|tanh; got '" + o.activation + "'");
  const auto model = make_model(mo);
  io::ModelFile file;
  file.weights.resize(std::size_t(model->layout().total()));
  auto rng = stream(o.seed, StreamKind::Init);
  model->initialize(file.weights.data(), rng);
  auto w = at::from_blob(file.weights.data(), {model->layout().total()}, at::kFloat);
  w.set_requires_grad(true);
  auto velocity = at::zeros_like(w);
  for (std::int64_t e = 0; e < o.epochs; ++e) {
    const double loss = train_epoch(*model, w, velocity, ds.train, o, e);
    if (report) report(e + 1, loss);
  }
  file.model = "lenet5";
  file.dataset = ds.name;
  file.activation = o.activation;
  file.channels = mo.channels, file.height = mo.height, file.width = mo.width, file.classes = mo.classes;
  file.test_accuracy = accuracy(*model, w, ds.test);
  file.test_samples = ds.test.count;
  file.train_samples = ds.train.count;
  file.epochs = o.epochs;
  file.lr = o.lr;
  file.batch_size = o.batch_size;
  file.seed = o.seed;
  file.layout = model->layout();
  return file;
}

}  // namespace fedhpc::model
