#include "fedhpc/analysis/parameter_sampler.hpp"

#include <cmath>
#include <stdexcept>

#include "fedhpc/client/local_trainer.hpp"
#include "fedhpc/core/error.hpp"
#include "fedhpc/core/param_layout.hpp"
#include "fedhpc/core/rng.hpp"
#include "fedhpc/mpi/comm.hpp"

namespace fedhpc::analysis {

ParameterView::ParameterView(const ParamLayout& layout, const std::string& layer, std::int64_t project,
                             std::uint64_t seed)
    : total_(layout.total()) {
  dims_ = total_;
  if (!layer.empty()) {
    bool found = false;
    for (const auto& info : layout.layers())
      if (info.name == layer) {
        offset_ = info.offset;
        dims_ = info.size;
        found = true;
      }
    if (!found) {
      std::string names;
      for (const auto& info : layout.layers()) names += (names.empty() ? "" : "|") + info.name;
      throw std::invalid_argument("no tensor named '" + layer + "'; allowed: " + names);
    }
  }
  if (project > 0) {
    // A projection of the selected slice (the layer, or the whole vector).
    const std::int64_t width = dims_;
    projection_.resize(std::size_t(project * width));
    const double scale = 1.0 / std::sqrt(double(project));
    for (std::int64_t r = 0; r < project; ++r) {
      auto rng = stream(seed, StreamKind::Analysis, 0, 0x70726f6a, std::uint64_t(r));
      for (std::int64_t c = 0; c < width; ++c) projection_[std::size_t(r * width + c)] = scale * rng.normal();
    }
    total_ = width;
    dims_ = project;
  }
}

void ParameterView::apply(const float* params, double* out) const {
  const float* p = params + offset_;
  if (projection_.empty()) {
    for (std::int64_t i = 0; i < dims_; ++i) out[i] = double(p[i]);
    return;
  }
  for (std::int64_t r = 0; r < dims_; ++r) {
    const double* row = &projection_[std::size_t(r * total_)];
    double sum = 0.0;  // one fixed order: the same bits on every rank
    for (std::int64_t c = 0; c < total_; ++c) sum += row[c] * double(p[c]);
    out[r] = sum;
  }
}

std::uint64_t repeat_seed(std::uint64_t seed, std::uint64_t client_key, int round, std::int64_t sample) {
  auto rng = stream(seed, StreamKind::Analysis, client_key, std::uint64_t(round), std::uint64_t(sample));
  return rng();
}

namespace {

// One repeat: trains the client's local iterations from start and records
// the view after steps every, 2 every, ..., iterations * every.
// With metrics (2 per iteration), the local test split is evaluated on a
// copy of the parameters at every recorded step.
void run_job(client::LocalTrainer& trainer, const float* start, const SamplerPlan& plan, std::size_t c,
             std::int64_t sample, const ParameterView& view, double* out, double* metrics) {
  const auto d = view.dims();
  std::vector<float> copy;
  trainer.set_shuffle_seed(repeat_seed(plan.seed, plan.client_keys[c], plan.round, sample));
  trainer.set_step_observer([&](std::int64_t step) {
    if (step % plan.every != 0 || step / plan.every > plan.iterations) return;
    const auto t = step / plan.every - 1;
    view.apply(trainer.params(), out + t * d);
    if (!metrics) return;
    copy.assign(trainer.params(), trainer.params() + trainer.num_params());
    const auto e = trainer.evaluate_client(copy.data(), plan.clients[c]);
    const double n = double(e.count);
    metrics[2 * t] = e.count > 0 ? e.loss_sum / n : std::nan("");
    metrics[2 * t + 1] = e.count > 0 && !trainer.regression() ? double(e.correct) / n : std::nan("");
  });
  // The observer refers to this frame: removed however the job ends.
  struct Clear {
    client::LocalTrainer& t;
    ~Clear() { t.set_step_observer({}); }
  } clear{trainer};
  trainer.begin_client(start);
  for (int it = 0; it < plan.local_iterations; ++it) trainer.iterate(plan.clients[c], plan.round, it);
}

}  // namespace

std::vector<double> sample_parameters(client::LocalTrainer& trainer, const float* start, const SamplerPlan& plan,
                                      const ParameterView& view, const mpi::Comm& comm, std::vector<double>* metrics) {
  const auto clients = std::int64_t(plan.clients.size());
  const std::int64_t jobs = clients * plan.samples;
  const std::int64_t per_job = plan.iterations * view.dims();
  const auto ranks = std::int64_t(comm.size()), rank = std::int64_t(comm.rank());
  const std::int64_t begin = jobs * rank / ranks, end = jobs * (rank + 1) / ranks;
  std::vector<double> mine(std::size_t((end - begin) * per_job), std::nan(""));
  const std::int64_t per_metrics = 2 * plan.iterations;
  std::vector<double> my_metrics(metrics ? std::size_t((end - begin) * per_metrics) : 0, std::nan(""));
  mpi::collective_try(comm, [&] {
    for (std::int64_t j = begin; j < end; ++j)
      run_job(trainer, start, plan, std::size_t(j / plan.samples), j % plan.samples, view,
              mine.data() + (j - begin) * per_job, metrics ? my_metrics.data() + (j - begin) * per_metrics : nullptr);
  });
  if (metrics) {
    std::vector<std::size_t> counts;
    for (std::int64_t r = 0; r < ranks; ++r)
      counts.push_back(std::size_t((jobs * (r + 1) / ranks - jobs * r / ranks) * per_metrics));
    metrics->assign(std::size_t(jobs * per_metrics), 0.0);
    mpi::all_gatherv(comm, my_metrics.data(), my_metrics.size(), metrics->data(), counts, {}, "sample metrics");
  }
  std::vector<std::size_t> counts;
  for (std::int64_t r = 0; r < ranks; ++r)
    counts.push_back(std::size_t((jobs * (r + 1) / ranks - jobs * r / ranks) * per_job));
  std::vector<double> all(std::size_t(jobs * per_job));
  mpi::all_gatherv(comm, mine.data(), mine.size(), all.data(), counts, {}, "parameter samples");
  return all;
}

std::vector<double> mean_metrics(const std::vector<double>& metrics, std::int64_t clients, std::int64_t samples,
                                 std::int64_t iterations) {
  std::vector<double> out(std::size_t(iterations * clients * 2), 0.0);
  for (std::int64_t c = 0; c < clients; ++c)
    for (std::int64_t t = 0; t < iterations; ++t)
      for (int m = 0; m < 2; ++m) {
        double sum = 0.0;
        for (std::int64_t n = 0; n < samples; ++n)
          sum += metrics[std::size_t(((c * samples + n) * iterations + t) * 2 + m)];
        out[std::size_t((t * clients + c) * 2 + m)] = sum / double(samples);
      }
  return out;
}

}  // namespace fedhpc::analysis
