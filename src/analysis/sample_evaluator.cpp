#include "fedhpc/analysis/sample_evaluator.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "fedhpc/client/local_trainer.hpp"
#include "fedhpc/core/exact_sum.hpp"
#include "fedhpc/core/rng.hpp"
#include "fedhpc/data/dataset.hpp"
#include "fedhpc/data/partition.hpp"
#include "fedhpc/model/model.hpp"

namespace fedhpc::analysis {

namespace {

// One pseudo-client whose local test split is the evaluation set: the
// trainer's own evaluation path then serves, with no copy of the images.
data::Partition evaluation_partition(std::vector<std::int64_t> indices) {
  data::Partition p;
  p.train_offsets = {0, 0};
  p.test_offsets = {0, std::int64_t(indices.size())};
  p.test_indices = std::move(indices);
  return p;
}

client::TrainOptions evaluation_options(std::int64_t eval_batch_size) {
  client::TrainOptions t;
  t.client_batch = 1;
  t.eval_batch_size = eval_batch_size;
  return t;
}

}  // namespace

struct SampleEvaluator::Impl {
  data::Dataset dataset;
  std::unique_ptr<model::Model> model;
  data::Partition partition;
  client::LocalTrainer trainer;

  Impl(data::Dataset d, std::unique_ptr<model::Model> m, std::vector<std::int64_t> indices, std::int64_t batch)
      : dataset(std::move(d)),
        model(std::move(m)),
        partition(evaluation_partition(std::move(indices))),
        trainer(*model, dataset, partition, evaluation_options(batch)) {}
};

SampleEvaluator::SampleEvaluator(data::Dataset dataset, std::unique_ptr<model::Model> model,
                                 std::vector<std::int64_t> indices, std::int64_t eval_batch_size) {
  if (indices.empty()) throw std::invalid_argument("SampleEvaluator: no samples");
  impl_ = std::make_unique<Impl>(std::move(dataset), std::move(model), std::move(indices), eval_batch_size);
}

SampleEvaluator::~SampleEvaluator() = default;

PointValue SampleEvaluator::evaluate(const float* params) {
  const auto t = impl_->trainer.evaluate_client(params, 0);
  const double accuracy = impl_->trainer.regression() ? std::numeric_limits<double>::quiet_NaN()
                                                      : double(t.correct) / double(t.count);
  return {t.loss_sum / double(t.count), accuracy};
}

const model::Model& SampleEvaluator::model() const { return *impl_->model; }

std::int64_t SampleEvaluator::samples() const { return impl_->partition.test_count(0); }

std::vector<std::int64_t> sample_subset(std::vector<std::int64_t> indices, std::int64_t k, std::uint64_t seed) {
  if (k > 0 && k < std::int64_t(indices.size())) {
    auto rng = stream(seed, StreamKind::Analysis, 0, 0, 0x5a3b);
    shuffle(indices.begin(), indices.end(), rng);
    indices.resize(std::size_t(k));
  }
  std::sort(indices.begin(), indices.end());
  return indices;
}

}  // namespace fedhpc::analysis
