#include "fedhpc/client/batched_trainer.hpp"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "fedhpc/core/interrupt.hpp"
#include "fedhpc/core/rng.hpp"
#include "fedhpc/data/dataset.hpp"
#include "fedhpc/data/partition.hpp"
#include "fedhpc/model/batched_model.hpp"
#include "fedhpc/model/model.hpp"

namespace fedhpc::client {

namespace {

// One client of the batch: its data, its minibatch walk (as in
// LocalTrainer's for_each_batch) and its losses.
struct Slot {
  std::int64_t client = 0;
  std::int64_t position = 0;  // in the chunk as given
  std::int64_t n = 0;
  const std::int64_t* idx = nullptr;
  std::int64_t b = 0;      // minibatch size
  std::int64_t steps = 0;  // steps per iteration
  std::int64_t cap = -1;   // steps in the whole round (a straggler under --late-policy partial); -1: none
  std::int64_t last = 0;   // size of the last minibatch of a pass
  std::vector<std::int64_t> order;
  std::int64_t pos = 0, pass = -1;
  const std::int64_t* batch = nullptr;  // this step's minibatch
  std::int64_t batch_size = 0;
  double loss_sum = 0.0;
  std::int64_t seen = 0;
  std::vector<double> iteration_loss;
};

// Rows are P floats rounded up, and never exactly P: a [k, P] view of them
// is not contiguous, so ATen runs its element-wise kernels row by row with
// the same vector/tail split as on one client's flat vector.
std::int64_t row_stride(std::int64_t p) { return (p / 16 + 1) * 16; }

}  // namespace

struct BatchedTrainer::Impl {
  const model::Model& model;
  const data::Dataset& data;
  const data::Partition& partition;
  TrainOptions options;
  std::unique_ptr<model::BatchedModel> net;
  std::int64_t k_max, p, stride, inputs;
  at::Tensor params, grads, moment1, moment2;  // [k_max, stride]
  at::Tensor anchor;                           // [p]
  std::vector<Slot> slots;
  std::vector<float> x, loss;
  std::vector<std::int64_t> y;
  std::vector<MonitorSample> no_samples;
  std::vector<char> stepping;  // per slot: whether it takes the current step
  const std::vector<std::int64_t>* step_limits = nullptr;  // LocalTrainer's, per client; null or empty: none

  Impl(const model::Model& m, const data::Dataset& d, const data::Partition& part, const TrainOptions& o,
       std::int64_t k)
      : model(m), data(d), partition(part), options(o), net(m.make_batched()), k_max(k),
        p(m.layout().total()), stride(row_stride(p)), inputs(d.train.sample_size()) {
    params = at::zeros({k_max, stride}, at::kFloat);
    grads = at::zeros({k_max, stride}, at::kFloat);
    moment1 = at::zeros({k_max, stride}, at::kFloat);
    moment2 = at::zeros({k_max, stride}, at::kFloat);
    anchor = at::zeros({p}, at::kFloat);
  }

  at::Tensor rows(const at::Tensor& t, std::int64_t begin, std::int64_t end) const {
    return t.narrow(0, begin, end - begin).narrow(1, 0, p);
  }

  std::uint64_t key(std::int64_t client) const {
    return std::uint64_t(options.client_keys.empty() ? client : options.client_keys[std::size_t(client)]);
  }

  // The label client c trains on: its concept-shift map, then flipping.
  std::int64_t train_label(std::int64_t c, std::int64_t label) const {
    if (!options.label_maps.empty())
      label = options.label_maps[std::size_t(options.label_map_of_client[std::size_t(c)])][std::size_t(label)];
    if (!options.flip_labels.empty() && options.flip_labels[std::size_t(c)] != 0) label = data.num_classes - 1 - label;
    return label;
  }

  Slot make_slot(std::int64_t client) const {
    Slot s;
    s.client = client;
    s.n = partition.train_count(client);
    s.idx = partition.train_begin(client);
    s.b = options.batch_size == 0 ? s.n : std::min(options.batch_size, s.n);
    const std::int64_t per_pass = (s.n + s.b - 1) / s.b;
    s.steps = options.iteration_steps > 0 ? options.iteration_steps : per_pass;
    s.last = s.n - (per_pass - 1) * s.b;
    s.iteration_loss.assign(std::size_t(options.local_iterations), 0.0);
    if (step_limits && !step_limits->empty()) s.cap = (*step_limits)[std::size_t(client)];
    return s;
  }

  // The steps slot sl takes in an iteration: a capped client stops part-way,
  // on the prefix of the same walk, as LocalTrainer's for_each_batch does.
  static std::int64_t steps_in(const Slot& sl, int iteration) {
    if (sl.cap < 0) return sl.steps;
    return std::clamp<std::int64_t>(sl.cap - std::int64_t(iteration) * sl.steps, 0, sl.steps);
  }

  // LocalTrainer's for_each_batch, one step at a time.
  void next_batch(Slot& s, int round, int iteration) const {
    if (s.pos >= s.n) {
      ++s.pass;
      s.order.assign(s.idx, s.idx + s.n);
      auto rng = stream(options.seed, StreamKind::Shuffle, key(s.client), round,
                        (std::uint64_t(iteration) << 32) | std::uint64_t(s.pass));
      shuffle(s.order.begin(), s.order.end(), rng);
      s.pos = 0;
    }
    const std::int64_t end = std::min(s.pos + s.b, s.n);
    s.batch = s.order.data() + s.pos;
    s.batch_size = end - s.pos;
    s.pos = end;
  }

  // Loss and gradients of slots [begin, end), which share a minibatch size.
  void loss_and_grad(std::int64_t begin, std::int64_t end) {
    const std::int64_t k = end - begin, b = slots[std::size_t(begin)].batch_size;
    x.resize(std::size_t(k * b * inputs));
    y.resize(std::size_t(k * b));
    for (std::int64_t j = 0; j < k; ++j) {
      const Slot& s = slots[std::size_t(begin + j)];
      for (std::int64_t i = 0; i < b; ++i) {
        const std::int64_t sample = s.batch[i];
        std::copy_n(data.train.sample(sample), inputs, x.data() + (j * b + i) * inputs);
        y[std::size_t(j * b + i)] = train_label(s.client, data.train.labels[std::size_t(sample)]);
      }
    }
    net->loss_and_grad(params.data_ptr<float>() + begin * stride, grads.data_ptr<float>() + begin * stride, stride, k,
                       b, x.data(), y.data(), loss.data() + begin);
  }

  // FedProx's term, then clipping, per tensor of the clients of rows
  // [begin, end): the per-client train_step's order.
  void shape_gradients(std::int64_t begin, std::int64_t end, bool prox) {
    if (!prox && options.clip_norm <= 0.0) return;
    const std::int64_t active = end - begin;
    auto g = grads.narrow(0, begin, active);
    auto w = params.narrow(0, begin, active);
    std::vector<float> scale(static_cast<std::size_t>(active));
    for (const auto& layer : model.layout().layers()) {
      auto gl = g.narrow(1, layer.offset, layer.size);
      if (prox) gl.add_(w.narrow(1, layer.offset, layer.size) - anchor.narrow(0, layer.offset, layer.size),
                        options.prox_mu);
      if (options.clip_norm <= 0.0) continue;
      auto norms = at::linalg_vector_norm(gl, 2, {1}, false, c10::nullopt).contiguous();
      const float* nv = norms.data_ptr<float>();
      bool any = false;
      for (std::int64_t j = 0; j < active; ++j) {
        const double norm = nv[j];
        // Keras clipnorm as in the per-client clip(): g * float(c / ||g||).
        scale[std::size_t(j)] = norm > options.clip_norm ? float(options.clip_norm / norm) : 1.0f;
        any = any || norm > options.clip_norm;
      }
      if (any) gl.mul_(at::from_blob(scale.data(), {active, 1}, at::kFloat));
    }
  }

  // The per-client apply_optimizer on rows [begin, end), all at step `step`.
  void optimizer_step(std::int64_t begin, std::int64_t end, std::int64_t step) {
    auto g = rows(grads, begin, end), w = rows(params, begin, end);
    auto m1 = rows(moment1, begin, end), m2 = rows(moment2, begin, end);
    if (options.optimizer == "sgd") {
      if (options.momentum > 0.0) {
        if (step == 1) m1.copy_(g);
        else m1.mul_(options.momentum).add_(g);
        w.add_(m1, -options.lr);
      } else {
        w.add_(g, -options.lr);
      }
      return;
    }
    const double bc1 = 1.0 - std::pow(options.beta1, double(step));
    const double bc2 = 1.0 - std::pow(options.beta2, double(step));
    m1.mul_(options.beta1).add_(g, 1.0 - options.beta1);
    m2.mul_(options.beta2).addcmul_(g, g, 1.0 - options.beta2);
    auto denom = (m2.sqrt() / std::sqrt(bc2)).add_(options.eps);
    w.addcdiv_(m1, denom, -options.lr / bc1);
  }

  // Runs of consecutive stepping slots on which `same` holds pairwise.
  template <class Same, class Fn>
  void for_each_run(const std::vector<char>& stepping, Same&& same, Fn&& fn) {
    const auto n = std::int64_t(stepping.size());
    for (std::int64_t begin = 0; begin < n;) {
      if (!stepping[std::size_t(begin)]) {
        ++begin;
        continue;
      }
      std::int64_t end = begin + 1;
      while (end < n && stepping[std::size_t(end)] && same(slots[std::size_t(begin)], slots[std::size_t(end)])) ++end;
      fn(begin, end);
      begin = end;
    }
  }

  void step(int round, int iteration, std::int64_t s, bool prox) {
    throw_if_interrupted();
    // Slots are sorted by steps, so without caps the clients that still step
    // are a prefix (one run); a capped client leaves a gap.
    stepping.resize(slots.size());
    for (std::size_t j = 0; j < slots.size(); ++j) {
      stepping[j] = s < steps_in(slots[j], iteration);
      if (stepping[j]) next_batch(slots[j], round, iteration);
    }
    for_each_run(stepping, [](const Slot& a, const Slot& b) { return a.batch_size == b.batch_size; },
                 [&](std::int64_t begin, std::int64_t end) { loss_and_grad(begin, end); });
    for (std::size_t j = 0; j < slots.size(); ++j) {
      if (!stepping[j]) continue;
      Slot& sl = slots[j];
      sl.loss_sum += double(loss[j]) * double(sl.batch_size);
      sl.seen += sl.batch_size;
    }
    for_each_run(stepping, [](const Slot&, const Slot&) { return true; },
                 [&](std::int64_t begin, std::int64_t end) { shape_gradients(begin, end, prox); });
    // Adam's bias correction needs the step count: equal within equal `steps`.
    for_each_run(stepping, [](const Slot& a, const Slot& b) { return a.steps == b.steps; },
                 [&](std::int64_t begin, std::int64_t end) {
                   optimizer_step(begin, end, std::int64_t(iteration) * slots[std::size_t(begin)].steps + s + 1);
                 });
  }

  void train_chunk(const float* start, const std::int64_t* clients, std::int64_t k, int round, bool prox) {
    slots.clear();
    for (std::int64_t j = 0; j < k; ++j) {
      slots.push_back(make_slot(clients[j]));
      slots.back().position = j;
    }
    // Most steps first, then the larger last minibatch: clients that still
    // step form a prefix, and equal minibatch sizes sit together.
    std::stable_sort(slots.begin(), slots.end(), [](const Slot& a, const Slot& b) {
      return a.steps != b.steps ? a.steps > b.steps : a.last > b.last;
    });
    auto start_row = at::from_blob(const_cast<float*>(start), {1, p}, at::kFloat);
    rows(params, 0, k).copy_(start_row.expand({k, p}));
    moment1.narrow(0, 0, k).zero_();
    moment2.narrow(0, 0, k).zero_();
    loss.assign(std::size_t(k), 0.0f);
    for (int it = 0; it < options.local_iterations; ++it) {
      for (auto& sl : slots) {
        sl.pos = sl.n;
        sl.pass = -1;
        sl.loss_sum = 0.0;
        sl.seen = 0;
      }
      for (std::int64_t s = 0; s < slots.front().steps; ++s) step(round, it, s, prox);
      // An iteration a capped client never reached has no loss.
      for (auto& sl : slots)
        sl.iteration_loss[std::size_t(it)] =
            sl.seen > 0 ? sl.loss_sum / double(sl.seen) : std::numeric_limits<double>::quiet_NaN();
    }
  }

  // Hands the chunk's clients to the sink in the order they were given.
  void emit(std::int64_t k, const UpdateSink& sink) {
    std::vector<std::int64_t> slot_of(static_cast<std::size_t>(k));
    for (std::int64_t r = 0; r < k; ++r) slot_of[std::size_t(slots[std::size_t(r)].position)] = r;
    for (std::int64_t j = 0; j < k; ++j) {
      const std::int64_t r = slot_of[std::size_t(j)];
      const Slot& sl = slots[std::size_t(r)];
      const float* w = params.data_ptr<float>() + r * stride;
      bool finite = std::all_of(w, w + p, [](float v) { return std::isfinite(v); });
      for (int it = 0; it < options.local_iterations; ++it)
        finite = finite && (steps_in(sl, it) == 0 || std::isfinite(sl.iteration_loss[std::size_t(it)]));
      ClientUpdate update;
      update.client = sl.client;
      update.train_samples = sl.n;
      update.params = w;
      update.iteration_loss = sl.iteration_loss.data();
      update.finite = finite;
      update.monitor = &no_samples;
      sink(update);
    }
  }
};

BatchedTrainer::BatchedTrainer(const model::Model& model, const data::Dataset& data,
                               const data::Partition& partition, const TrainOptions& options,
                               std::int64_t clients_per_batch)
    : impl_(std::make_unique<Impl>(model, data, partition, options, clients_per_batch)) {}

BatchedTrainer::~BatchedTrainer() = default;

std::int64_t BatchedTrainer::clients_per_batch() const { return impl_->k_max; }

void BatchedTrainer::set_step_limits(const std::vector<std::int64_t>* limits) { impl_->step_limits = limits; }

void BatchedTrainer::train_block(const float* start, const std::vector<std::int64_t>& clients, int round,
                                 const float* anchor, const UpdateSink& sink) {
  auto& s = *impl_;
  // Copies: the caller's start or anchor may alias memory a sink changes.
  const std::vector<float> start_copy(start, start + s.p);
  if (anchor) std::copy_n(anchor, s.p, s.anchor.data_ptr<float>());
  const bool prox = anchor != nullptr && s.options.prox_mu != 0.0;
  for (std::size_t c0 = 0; c0 < clients.size(); c0 += std::size_t(s.k_max)) {
    const std::int64_t k = std::min<std::int64_t>(s.k_max, std::int64_t(clients.size() - c0));
    s.train_chunk(start_copy.data(), clients.data() + c0, k, round, prox);
    s.emit(k, sink);
  }
}

std::int64_t automatic_client_batch(const model::Model& model, std::int64_t batch_size, std::int64_t inputs) {
  if (!model.supports_batched()) return 1;
  // Measured (benchmarks/RESULTS.md): past a few MiB of stacked rows the
  // element-wise passes leave the cache and a larger K stops paying.
  constexpr double budget = 8.0 * 1024 * 1024;
  const double per_client = 16.0 * double(row_stride(model.layout().total())) + 8.0 * double(batch_size) * double(inputs);
  return std::clamp<std::int64_t>(std::int64_t(budget / per_client), 1, 64);
}

}  // namespace fedhpc::client
