#pragma once
#include <cstdint>
#include <memory>
#include <vector>

namespace fedhpc::data {
struct Dataset;
}
namespace fedhpc::model {
class Model;
}

namespace fedhpc::analysis {

// Loss and accuracy of one model on the evaluation set.
struct PointValue {
  double loss = 0.0;      // mean cross-entropy per sample
  double accuracy = 0.0;  // fraction correct
};

// Evaluates flat parameter buffers on a fixed set of training samples (true
// labels) with one worker model, in forward passes of eval_batch_size
// samples, summing the per-sample losses exactly. The same buffer gives the
// same bits on every rank, so per-point values can be computed by any rank.
class SampleEvaluator {
 public:
  // Takes ownership of the data set and model; indices are training-set
  // indices (must not be empty).
  SampleEvaluator(data::Dataset dataset, std::unique_ptr<model::Model> model, std::vector<std::int64_t> indices,
                  std::int64_t eval_batch_size);
  ~SampleEvaluator();
  SampleEvaluator(const SampleEvaluator&) = delete;
  SampleEvaluator& operator=(const SampleEvaluator&) = delete;

  PointValue evaluate(const float* params);
  const model::Model& model() const;
  std::int64_t samples() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A seeded subset of k indices (stream (seed, Analysis, 0, 0, 0x5a3b)),
// sorted; all of them when k is 0 or not smaller than their number.
std::vector<std::int64_t> sample_subset(std::vector<std::int64_t> indices, std::int64_t k, std::uint64_t seed);

}  // namespace fedhpc::analysis
