#include "fedhpc/client/local_trainer.hpp"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "fedhpc/client/batched_trainer.hpp"
#include "fedhpc/core/error.hpp"
#include "fedhpc/core/exact_sum.hpp"
#include "fedhpc/core/interrupt.hpp"
#include "fedhpc/core/rng.hpp"
#include "fedhpc/data/dataset.hpp"
#include "fedhpc/data/partition.hpp"
#include "fedhpc/model/model.hpp"

namespace fedhpc::client {

namespace {

at::Tensor wrap_images(const data::ImageSet& set) {
  return at::from_blob(const_cast<float*>(set.pixel_data()), {set.count, set.channels, set.height, set.width},
                       at::TensorOptions().dtype(at::kFloat));
}

at::Tensor wrap_labels(const data::ImageSet& set) {
  return at::from_blob(const_cast<std::int64_t*>(set.labels.data()), {set.count},
                       at::TensorOptions().dtype(at::kLong));
}

// Regression targets [count, outputs] (Dataset::regression()).
at::Tensor wrap_targets(const data::ImageSet& set) {
  return at::from_blob(const_cast<float*>(set.targets.data()),
                       {set.count, std::int64_t(set.targets.size()) / std::max<std::int64_t>(1, set.count)},
                       at::TensorOptions().dtype(at::kFloat));
}

// A sample's loss: cross-entropy of the logits (classification), or the
// mean over the outputs of the squared error (regression, MSE).
at::Tensor sample_loss(bool regression, const at::Tensor& out, const at::Tensor& y, at::Reduction::Reduction r) {
  if (!regression) return at::nll_loss(at::log_softmax(out, 1), y, {}, r);
  if (r == at::Reduction::Mean) return at::mse_loss(out, y);
  if (r == at::Reduction::None) return at::mse_loss(out, y, at::Reduction::None).mean(1);
  return at::mse_loss(out, y, at::Reduction::Sum).div(double(out.size(1)));
}

at::Tensor index_tensor(const std::int64_t* first, std::int64_t count) {
  return at::from_blob(const_cast<std::int64_t*>(first), {count}, at::TensorOptions().dtype(at::kLong));
}

}  // namespace

struct LocalTrainer::Impl {
  const model::Model& model;
  const data::Dataset& dataset;
  const data::Partition& partition;
  TrainOptions options;
  at::Tensor train_x, train_y, test_x, test_y;
  at::Tensor flat, grad, moment1, moment2;
  at::Tensor denom;  // Adam's denominator, kept to save two allocations per step
  std::vector<at::Tensor> views;
  std::int64_t step = 0;
  std::vector<std::int64_t> order;
  std::vector<double> iteration_loss;
  std::vector<MonitorSample> samples;
  std::vector<float> gradient;
  std::int64_t num_classes = 0;
  bool regression = false;  // MSE on float targets instead of cross-entropy on labels
  const float* anchor = nullptr;  // FedProx anchor; used only with prox_mu != 0
  std::vector<float> block_anchor;  // train_block's copy of its start model
  std::function<void(std::int64_t)> step_observer;  // set_step_observer; empty = none
  std::vector<std::int64_t> step_limits;  // set_step_limits; empty = none
  double training_seconds = 0.0;
  int training_depth = 0;           // nested training calls count once

  // Adds the wall time of the outermost training call to training_seconds.
  struct Clock {
    Impl& s;
    std::chrono::steady_clock::time_point start;
    explicit Clock(Impl& impl) : s(impl) {
      if (s.training_depth++ == 0) start = std::chrono::steady_clock::now();
    }
    ~Clock() {
      if (--s.training_depth == 0)
        s.training_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    Clock(const Clock&) = delete;
    Clock& operator=(const Clock&) = delete;
  };
  std::unique_ptr<BatchedTrainer> batched;  // client-batched train_block, or none

  Impl(const model::Model& m, const data::Dataset& d, const data::Partition& p, TrainOptions o)
      : model(m), dataset(d), partition(p), options(std::move(o)), num_classes(d.num_classes),
        regression(d.regression()) {
    if (!(options.prox_mu >= 0.0) || !std::isfinite(options.prox_mu))
      throw std::invalid_argument("TrainOptions::prox_mu must be finite and >= 0");
    if (!options.flip_labels.empty() && std::int64_t(options.flip_labels.size()) != p.num_clients())
      throw std::invalid_argument("TrainOptions::flip_labels must be empty or have one entry per client");
    if (!options.trained_from.empty() && std::int64_t(options.trained_from.size()) != p.num_clients())
      throw std::invalid_argument("TrainOptions::trained_from must be empty or have one entry per client");
    wrap_data();
    const auto total = m.layout().total();
    flat = at::zeros({total}, at::kFloat);
    grad = at::zeros({total}, at::kFloat);
    moment1 = at::zeros({total}, at::kFloat);
    moment2 = at::zeros({total}, at::kFloat);
    denom = at::empty({total}, at::kFloat);
    // The parameters are views into one flat buffer, so the optimizer and
    // the aggregation see the model as a single vector without copies.
    // Their .grad() are views into the flat gradient buffer, set once:
    // backward() adds each gradient straight into place (zeroed before every
    // backward; 0 + g == g), with no per-step copy and no allocation.
    for (const auto& layer : m.layout().layers()) {
      views.push_back(flat.narrow(0, layer.offset, layer.size).view(layer.shape).requires_grad_(true));
      views.back().mutable_grad() = grad.narrow(0, layer.offset, layer.size).view(layer.shape);
    }
    if (options.client_batch < 0) throw std::invalid_argument("TrainOptions::client_batch must be >= 0");
    const std::int64_t k = clients_per_batch(d);
    if (k > 1) batched = std::make_unique<BatchedTrainer>(m, d, p, options, k);
  }

  // Views of the data set's current buffers (no copies).
  void wrap_data() {
    train_x = wrap_images(dataset.train);
    train_y = regression ? wrap_targets(dataset.train) : wrap_labels(dataset.train);
    test_x = wrap_images(dataset.test);
    test_y = regression ? wrap_targets(dataset.test) : wrap_labels(dataset.test);
  }

  // Diagnostics and gradients are per-client work: they keep the loop.
  std::int64_t clients_per_batch(const data::Dataset& d) const {
    // The batched path computes cross-entropy only.
    if (options.client_batch == 1 || regression || !model.supports_batched() || options.monitor != "off" || options.save_gradients ||
        !options.trained_from.empty())
      return 1;
    // Never more rows than clients: K's stacked state is 16 bytes per parameter and client.
    if (options.client_batch > 1) return std::min(options.client_batch, partition.num_clients());
    std::int64_t largest = 0;
    for (std::int64_t c = 0; c < partition.num_clients(); ++c) largest = std::max(largest, partition.train_count(c));
    const std::int64_t b = options.batch_size == 0 ? largest : std::min(options.batch_size, largest);
    return automatic_client_batch(model, b, d.train.sample_size());
  }

  void load(const float* params) {
    at::NoGradGuard no_grad;
    flat.copy_(at::from_blob(const_cast<float*>(params), {flat.numel()}, at::kFloat));
  }

  void reset_optimizer() {
    moment1.zero_();
    moment2.zero_();
    step = 0;
  }

  // Minibatches of one iteration: `steps` batches walking a shuffled order of
  // the client's training split, reshuffled each time it is used up. Batches
  // are made one at a time: a schedule of --iteration-steps batches is never
  // held in memory. A pending signal stops the walk between steps.
  template <class Fn>
  void for_each_batch(std::int64_t client, int round, int iteration, Fn&& fn) {
    const std::int64_t n = partition.train_count(client);
    const std::int64_t* idx = partition.train_begin(client);
    const std::int64_t b = options.batch_size == 0 ? n : std::min(options.batch_size, n);
    const std::int64_t per_pass = (n + b - 1) / b;
    std::int64_t steps = options.iteration_steps > 0 ? options.iteration_steps : per_pass;
    // A capped straggler stops part-way: the prefix of the same walk.
    const std::int64_t cap = step_limit(client);
    if (cap >= 0) steps = std::min(steps, std::max<std::int64_t>(0, cap - step));
    std::vector<std::int64_t> batch;
    std::int64_t pass = -1;
    std::int64_t pos = n;
    for (std::int64_t s = 0; s < steps; ++s) {
      throw_if_interrupted();
      if (pos >= n) {
        ++pass;
        order.assign(idx, idx + n);
        auto rng = stream(options.seed, StreamKind::Shuffle, key(client), round,
                          (std::uint64_t(iteration) << 32) | std::uint64_t(pass));
        shuffle(order.begin(), order.end(), rng);
        pos = 0;
      }
      const std::int64_t end = std::min(pos + b, n);
      batch.assign(order.begin() + pos, order.begin() + end);
      pos = end;
      fn(batch);
    }
  }

  // The client's step cap in a round (set_step_limits), -1 = none.
  std::int64_t step_limit(std::int64_t client) const {
    return step_limits.empty() || client < 0 ? -1 : step_limits[std::size_t(client)];
  }

  // Whether a capped client has used up its steps before this iteration.
  bool capped(std::int64_t client) const {
    const auto cap = step_limit(client);
    return cap >= 0 && step >= cap;
  }

  std::uint64_t key(std::int64_t client) const {
    return std::uint64_t(options.client_keys.empty() ? client : options.client_keys[std::size_t(client)]);
  }

  // The labels client `client` sees (concept shift), or y as it is.
  at::Tensor labels_of(std::int64_t client, const at::Tensor& y) const {
    if (options.label_maps.empty() || client < 0 || regression) return y;
    const auto& map = options.label_maps[std::size_t(options.label_map_of_client[std::size_t(client)])];
    return index_tensor(map.data(), std::int64_t(map.size())).index_select(0, y);
  }

  bool flips(std::int64_t client) const {
    return client >= 0 && !regression && !options.flip_labels.empty() && options.flip_labels[std::size_t(client)] != 0;
  }

  // The labels client `client` trains on: its labels_of, flipped to C-1-y
  // for a label-flipping client. Local test evaluation uses labels_of.
  at::Tensor train_labels_of(std::int64_t client, const at::Tensor& y) const {
    auto mapped = labels_of(client, y);
    if (!flips(client)) return mapped;
    return at::rsub(mapped, at::Scalar(num_classes - 1));
  }

  // First trained offset of a client: 0 (everything) without tiers.
  std::int64_t trained_from(std::int64_t client) const {
    return options.trained_from.empty() ? 0 : options.trained_from[std::size_t(client)];
  }

  // While alive, the tensors below `from` take no gradient: autograd skips
  // them (and the input gradients that only they would need), their slice of
  // the flat gradient stays 0 and the optimizer leaves them alone.
  struct Freeze {
    Impl& s;
    std::int64_t from;
    Freeze(Impl& impl, std::int64_t first) : s(impl), from(first) {
      s.from = from;
      set(false);
    }
    ~Freeze() {
      set(true);
      s.from = 0;
    }
    void set(bool trainable) {
      if (from == 0) return;
      const auto& layers = s.model.layout().layers();
      for (std::size_t i = 0; i < s.views.size(); ++i)
        if (layers[i].offset < from) s.views[i].requires_grad_(trainable);
    }
    Freeze(const Freeze&) = delete;
    Freeze& operator=(const Freeze&) = delete;
  };
  std::int64_t from = 0;  // the training client's first trained offset

  // Returns the mean loss of the batch.
  double train_step(std::int64_t client, const std::vector<std::int64_t>& batch) {
    auto idx = index_tensor(batch.data(), std::int64_t(batch.size()));
    auto x = train_x.index_select(0, idx);
    auto y = train_labels_of(client, train_y.index_select(0, idx));
    grad.zero_();
    auto loss = sample_loss(regression, model.forward(views, x), y, at::Reduction::Mean);
    loss.backward();
    const double value = loss.item<double>();
    at::NoGradGuard no_grad;
    const auto& layers = model.layout().layers();
    // FedProx: grad += mu (theta - anchor), before clipping and the optimizer.
    const bool prox = options.prox_mu != 0.0 && anchor != nullptr;
    at::Tensor anchor_flat;
    if (prox) anchor_flat = at::from_blob(const_cast<float*>(anchor), {flat.numel()}, at::kFloat);
    for (std::size_t i = 0; i < views.size(); ++i) {
      if (layers[i].offset < from) continue;  // frozen: no gradient to change
      auto g = grad.narrow(0, layers[i].offset, layers[i].size);
      if (prox)
        g.add_(flat.narrow(0, layers[i].offset, layers[i].size) - anchor_flat.narrow(0, layers[i].offset, layers[i].size),
               options.prox_mu);
      if (options.clip_norm > 0.0) clip(g);
    }
    apply_optimizer();
    return value;
  }

  // Keras clipnorm: g * c / max(||g||, c), per tensor.
  void clip(at::Tensor& g) const {
    const double norm = g.norm().item<double>();
    if (norm > options.clip_norm) g.mul_(options.clip_norm / norm);
  }

  // The optimizer on the trained range [from, total) only (all of it
  // without tiers): element-wise, so each trained coordinate gets the same
  // bits as on the whole buffer, and frozen ones are not touched at all.
  void apply_optimizer() {
    if (from == 0) {
      optimizer_step(flat, grad, moment1, moment2, denom);
      return;
    }
    const auto n = flat.numel() - from;
    optimizer_step(flat.narrow(0, from, n), grad.narrow(0, from, n), moment1.narrow(0, from, n),
                   moment2.narrow(0, from, n), denom.narrow(0, from, n));
  }

  void optimizer_step(at::Tensor p, const at::Tensor& g, at::Tensor m1, at::Tensor m2, at::Tensor d) {
    ++step;
    if (options.optimizer == "sgd") {
      if (options.momentum > 0.0) {
        if (step == 1) m1.copy_(g);
        else m1.mul_(options.momentum).add_(g);
        p.add_(m1, -options.lr);
      } else {
        p.add_(g, -options.lr);
      }
      return;
    }
    // PyTorch's Adam: p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps).
    const double bc1 = 1.0 - std::pow(options.beta1, double(step));
    const double bc2 = 1.0 - std::pow(options.beta2, double(step));
    m1.mul_(options.beta1).add_(g, 1.0 - options.beta1);
    m2.mul_(options.beta2).addcmul_(g, g, 1.0 - options.beta2);
    at::sqrt_out(d, m2).div_(std::sqrt(bc2)).add_(options.eps);
    p.addcdiv_(m1, d, -options.lr / bc1);
  }

  // Sets the model's training noise for one step; unsets it however the step ends.
  struct NoiseScope {
    const model::Model& target;
    NoiseScope(const model::Model& m, Rng* rng) : target(m) { target.set_noise(rng); }
    ~NoiseScope() { target.set_noise(nullptr); }
    NoiseScope(const NoiseScope&) = delete;
    NoiseScope& operator=(const NoiseScope&) = delete;
  };

  double run_iteration(std::int64_t client, int round, int iteration) {
    Freeze freeze(*this, trained_from(client));
    double loss_sum = 0.0;
    std::int64_t seen = 0;
    std::uint64_t s = 0;
    for_each_batch(client, round, iteration, [&](const std::vector<std::int64_t>& batch) {
      // A model with dropout draws this step's masks from (seed, Shuffle,
      // client, round, iteration and step, with the top bit set apart from
      // the minibatch orders' keys): per client, round and mi repeat.
      Rng noise = stream(options.seed, StreamKind::Shuffle, key(client), std::uint64_t(round),
                         (std::uint64_t(1) << 63) | (std::uint64_t(iteration) << 32) | s++);
      NoiseScope scope(model, &noise);
      loss_sum += train_step(client, batch) * double(batch.size());
      seen += std::int64_t(batch.size());
      if (step_observer) step_observer(step);
    });
    return loss_sum / double(seen);
  }

  // One forward/backward per chunk on the summed loss. Input gradients of a
  // sample depend only on its own loss term, so the squared norms add up over
  // chunks; weight gradients accumulate in .grad() across chunks.
  Diagnostics diagnose(std::int64_t client, float* gradient) {
    const std::int64_t n = partition.train_count(client);
    const std::int64_t* idx = partition.train_begin(client);
    const auto weights = model.layout().weight_layers();
    const std::size_t lw = weights.size();
    std::vector<double> tap_sq(lw, 0.0), tap_grad_sq(lw, 0.0), tap_count(lw, 0.0);
    double x_sq = 0.0, x_grad_sq = 0.0, x_count = 0.0;
    std::size_t taps_seen = lw;
    Diagnostics d;
    grad.zero_();
    for (std::int64_t lo = 0; lo < n; lo += options.eval_batch_size) {
      const std::int64_t hi = std::min(n, lo + options.eval_batch_size);
      auto sel = index_tensor(idx + lo, hi - lo);
      auto x = train_x.index_select(0, sel).requires_grad_(true);
      std::vector<at::Tensor> taps;
      auto logits = model.forward(views, x, &taps);
      taps_seen = std::min(taps_seen, taps.size());
      for (auto& t : taps)
        if (!t.is_leaf()) t.retain_grad();
      auto y = train_labels_of(client, train_y.index_select(0, sel));
      auto loss = sample_loss(regression, logits, y, at::Reduction::Sum);
      loss.backward();
      d.loss_sum += loss.item<double>();
      x_sq += x.detach().to(at::kDouble).pow(2).sum().item<double>();
      x_grad_sq += x.grad().to(at::kDouble).pow(2).sum().item<double>();
      x_count += double(x.numel());
      for (std::size_t k = 0; k < lw && k < taps.size(); ++k) {
        tap_sq[k] += taps[k].detach().to(at::kDouble).pow(2).sum().item<double>();
        tap_grad_sq[k] += taps[k].grad().to(at::kDouble).pow(2).sum().item<double>();
        tap_count[k] += double(taps[k].numel());
      }
    }
    const double e = std::fabs(d.loss_sum);
    d.gsc = std::sqrt(x_grad_sq) * std::sqrt(x_sq) / (std::sqrt(x_count) * e);
    d.input_grad_rms = std::sqrt(x_grad_sq) / std::sqrt(x_count);
    const double untapped = std::numeric_limits<double>::quiet_NaN();
    for (std::size_t k = 0; k < lw; ++k) {
      // A model without a tap for layer k (torchscript) has no profile entry there.
      const bool tapped = k < taps_seen;
      d.gsc_profile.push_back(tapped ? std::sqrt(tap_grad_sq[k]) * std::sqrt(tap_sq[k]) / (std::sqrt(tap_count[k]) * e)
                                     : untapped);
      auto g = views[weights[k]].grad().to(at::kDouble) / double(n);
      d.grad_mean_abs.push_back(g.abs().mean().item<double>());
      d.grad_l2.push_back(g.norm().item<double>());
    }
    if (gradient) {
      const auto& layers = model.layout().layers();
      for (std::size_t i = 0; i < views.size(); ++i) {
        auto g = (views[i].grad().reshape({-1}) / double(n)).contiguous();
        std::copy_n(g.data_ptr<float>(), layers[i].size, gradient + layers[i].offset);
      }
    }
    d.finite = std::isfinite(d.loss_sum) && std::isfinite(d.gsc) && std::isfinite(d.input_grad_rms);
    for (std::size_t k = 0; k < lw; ++k)
      d.finite = d.finite && (k >= taps_seen || std::isfinite(d.gsc_profile[k])) && std::isfinite(d.grad_mean_abs[k]);
    return d;
  }

  // client < 0: no label map (the global test set). Adds one term per
  // sample to totals (loss, correct, count): exact sums, so the batching
  // does not change the result.
  void evaluate(const at::Tensor& x_all, const at::Tensor& y_all, const std::int64_t* idx, std::int64_t begin,
                std::int64_t end, std::int64_t client, ExactSum& totals) {
    at::NoGradGuard no_grad;
    for (std::int64_t lo = begin; lo < end; lo += options.eval_batch_size) {
      throw_if_interrupted();
      const std::int64_t hi = std::min(end, lo + options.eval_batch_size);
      at::Tensor x, y;
      if (idx) {
        auto sel = index_tensor(idx + lo, hi - lo);
        x = x_all.index_select(0, sel);
        y = labels_of(client, y_all.index_select(0, sel));
      } else {
        x = x_all.narrow(0, lo, hi - lo);
        y = y_all.narrow(0, lo, hi - lo);
      }
      auto logits = model.forward(views, x);
      const auto losses = sample_loss(regression, logits, y, at::Reduction::None).contiguous();
      const float* loss = losses.data_ptr<float>();
      for (std::int64_t i = 0; i < hi - lo; ++i) totals.add(0, double(loss[i]));
      if (!regression) totals.add(1, double(logits.argmax(1).eq(y).sum().item<std::int64_t>()));
      totals.add(2, double(hi - lo));
    }
  }

  EvalTotals evaluate_split(std::int64_t client, ExactSum* into) {
    ExactSum totals(3);
    evaluate(train_x, train_y, partition.test_begin(client), 0, partition.test_count(client), client, totals);
    if (into) into->merge(totals);
    EvalTotals t;
    t.loss_sum = totals.value(0);
    t.correct = std::int64_t(totals.value(1));
    t.count = std::int64_t(totals.value(2));
    return t;
  }
};

LocalTrainer::LocalTrainer(const model::Model& model, const data::Dataset& data,
                           const data::Partition& partition, TrainOptions options)
    : impl_(std::make_unique<Impl>(model, data, partition, std::move(options))) {}

LocalTrainer::~LocalTrainer() = default;

void LocalTrainer::train_block(const float* start, const std::vector<std::int64_t>& clients, int round,
                               const UpdateSink& sink) {
  auto& s = *impl_;
  const int iterations = s.options.local_iterations;
  s.iteration_loss.assign(std::size_t(iterations), 0.0);
  if (s.options.save_gradients) s.gradient.assign(std::size_t(num_params()), 0.0f);
  // FedProx anchors every client of the block at the start model (copied, so
  // a start that aliases params() stays put); set_anchor's value comes back after.
  struct RestoreAnchor {
    Impl& s;
    const float* saved;
    ~RestoreAnchor() { s.anchor = saved; }
  } restore{s, s.anchor};
  if (s.options.prox_mu != 0.0) {
    s.block_anchor.assign(start, start + num_params());
    s.anchor = s.block_anchor.data();
  }
  if (s.batched) {
    // The sink (aggregation) is not training time: its share is taken out.
    double sink_seconds = 0.0;
    const UpdateSink timed = [&](const ClientUpdate& u) {
      const auto t0 = std::chrono::steady_clock::now();
      sink(u);
      sink_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    };
    {
      Impl::Clock clock(s);
      s.batched->train_block(start, clients, round, s.anchor, timed);
    }
    s.training_seconds -= sink_seconds;
    return;
  }
  for (auto client : clients) {
    bool finite = true;
    {
      Impl::Clock clock(s);  // the sink (aggregation) is not training time
      begin_client(start);
      s.samples.clear();
      bool gradient_done = false;
      for (int it = 0; it < iterations; ++it) {
        const bool last = it == iterations - 1;
        MonitorSample sample;
        const bool watch = monitors(it);
        float* gradient = last && s.options.save_gradients ? s.gradient.data() : nullptr;
        if (s.capped(client)) {  // a straggler's unreached iteration: nothing ran
          s.iteration_loss[it] = std::numeric_limits<double>::quiet_NaN();
          continue;
        }
        s.iteration_loss[it] = iterate(client, round, it, watch ? &sample : nullptr, watch ? gradient : nullptr);
        gradient_done = gradient_done || (watch && gradient);
        finite = finite && std::isfinite(s.iteration_loss[it]);
        if (!watch) continue;
        finite = finite && sample.diagnostics.finite;
        s.samples.push_back(std::move(sample));
      }
      if (s.options.save_gradients && !gradient_done) s.diagnose(client, s.gradient.data());
      finite = finite && params_finite();
    }
    ClientUpdate update;
    update.client = client;
    update.train_samples = s.partition.train_count(client);
    update.params = s.flat.data_ptr<float>();
    update.iteration_loss = s.iteration_loss.data();
    update.finite = finite;
    update.monitor = &s.samples;
    update.gradient = s.options.save_gradients ? s.gradient.data() : nullptr;
    sink(update);
  }
}

void LocalTrainer::begin_client(const float* start) {
  impl_->load(start);
  impl_->reset_optimizer();
}

void LocalTrainer::set_step_limits(std::vector<std::int64_t> limits) {
  auto& s = *impl_;
  if (!limits.empty() && std::int64_t(limits.size()) != s.partition.num_clients())
    throw std::invalid_argument("LocalTrainer::set_step_limits: one entry per client or none");
  s.step_limits = std::move(limits);
  if (s.batched) s.batched->set_step_limits(&s.step_limits);
}

void LocalTrainer::set_anchor(const float* anchor) { impl_->anchor = anchor; }

bool LocalTrainer::monitors(int iteration) const {
  const auto& mode = impl_->options.monitor;
  return mode == "every" || (mode == "last" && iteration == impl_->options.local_iterations - 1);
}

double LocalTrainer::iterate(std::int64_t client, int round, int iteration, MonitorSample* sample,
                             float* gradient) {
  auto& s = *impl_;
  Impl::Clock clock(s);
  at::Tensor before;
  if (sample) before = s.flat.clone();
  const double loss = s.run_iteration(client, round, iteration);
  if (!sample) return loss;
  sample->iteration = iteration;
  const auto delta = (s.flat - before).to(at::kDouble);
  sample->update_sum = delta.sum().item<double>();
  sample->update_l1 = delta.abs().sum().item<double>();
  sample->diagnostics = s.diagnose(client, gradient);
  const auto t = s.evaluate_split(client, nullptr);
  sample->local_test_loss = t.count > 0 ? t.loss_sum / double(t.count) : std::nan("");
  return loss;
}

void LocalTrainer::set_shuffle_seed(std::uint64_t seed) { impl_->options.seed = seed; }

void LocalTrainer::set_step_observer(std::function<void(std::int64_t)> observer) {
  impl_->step_observer = std::move(observer);
}

float* LocalTrainer::params() { return impl_->flat.data_ptr<float>(); }

std::int64_t LocalTrainer::num_params() const { return impl_->flat.numel(); }

std::int64_t LocalTrainer::clients_per_batch() const {
  return impl_->batched ? impl_->batched->clients_per_batch() : 1;
}

bool LocalTrainer::params_finite() const { return impl_->flat.isfinite().all().item<bool>(); }

std::int64_t LocalTrainer::optimizer_state_size() const { return 2 * impl_->flat.numel() + 1; }

void LocalTrainer::suspend(float* params, float* optimizer_state) const {
  const auto n = impl_->flat.numel();
  std::copy_n(impl_->flat.data_ptr<float>(), n, params);
  std::copy_n(impl_->moment1.data_ptr<float>(), n, optimizer_state);
  std::copy_n(impl_->moment2.data_ptr<float>(), n, optimizer_state + n);
  // Steps stay far below 2^24, so a float holds the count exactly.
  optimizer_state[2 * n] = static_cast<float>(impl_->step);
}

void LocalTrainer::resume(const float* params, const float* optimizer_state) {
  const auto n = impl_->flat.numel();
  impl_->load(params);
  std::copy_n(optimizer_state, n, impl_->moment1.data_ptr<float>());
  std::copy_n(optimizer_state + n, n, impl_->moment2.data_ptr<float>());
  impl_->step = static_cast<std::int64_t>(optimizer_state[2 * n]);
}

Diagnostics LocalTrainer::diagnose(std::int64_t client, float* gradient) {
  Impl::Clock clock(*impl_);
  return impl_->diagnose(client, gradient);
}

void LocalTrainer::evaluate_test(const float* params, std::int64_t begin, std::int64_t end, ExactSum& totals) {
  impl_->load(params);
  impl_->evaluate(impl_->test_x, impl_->test_y, nullptr, begin, end, -1, totals);
}

EvalTotals LocalTrainer::evaluate_client(const float* params, std::int64_t client, ExactSum* totals) {
  impl_->load(params);
  return impl_->evaluate_split(client, totals);
}

bool LocalTrainer::regression() const { return impl_->regression; }

double LocalTrainer::training_seconds() const { return impl_->training_seconds; }

void LocalTrainer::reload_data() { impl_->wrap_data(); }

}  // namespace fedhpc::client
