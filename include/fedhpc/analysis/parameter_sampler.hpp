#pragma once
// Repeated local training of chosen clients from one starting point, for the
// mutual information study (algorithms.md section 8, paper 001). Each
// (client, sample) job trains the client's local epoch from the same start
// with its own minibatch order and records a view of the parameter vector
// after every `every` local steps.
#include <cstdint>
#include <string>
#include <vector>

namespace fedhpc {
class ParamLayout;
}
namespace fedhpc::client {
class LocalTrainer;
}
namespace fedhpc::mpi {
class Comm;
}

namespace fedhpc::analysis {

// What is sampled from the flat parameter vector: all of it, one tensor of
// the layer table (by name, e.g. "fc.weight"), or a seeded Gaussian random
// projection to `project` dimensions (entries N(0, 1/project) from the
// stream (seed, Analysis, 0, 0x70726f6a, row), the same for every client).
class ParameterView {
 public:
  ParameterView(const ParamLayout& layout, const std::string& layer, std::int64_t project, std::uint64_t seed);
  std::int64_t dims() const { return dims_; }
  // out[0..dims) from params (layout.total() floats), in double.
  void apply(const float* params, double* out) const;

 private:
  std::int64_t offset_ = 0, dims_ = 0, total_ = 0;
  std::vector<double> projection_;  // [dims_, total_] when projecting, else empty
};

struct SamplerPlan {
  std::vector<std::int64_t> clients;      // trainer client ids, in output order
  std::vector<std::uint64_t> client_keys; // stream key of each (original partition index)
  std::int64_t samples = 200;             // repeats per client
  std::int64_t every = 1;                 // local steps between two recorded samples
  std::int64_t iterations = 1;            // recorded samples per repeat (steps k, 2k, ..., iterations * k)
  int local_iterations = 1;               // the trainer's iterations per repeat
  int round = 0;                          // the starting point's round: part of the stream key
  std::uint64_t seed = 0;
};

// Seed of the minibatch orders of repeat `sample` of a client: a draw from
// the stream (seed, Analysis, client_key, round, sample), so the orders do
// not depend on which rank trains the job.
std::uint64_t repeat_seed(std::uint64_t seed, std::uint64_t client_key, int round, std::int64_t sample);

// Runs the (client, sample) jobs, client-major, in contiguous blocks over
// comm's ranks and gathers them: every rank returns all samples as
// [clients][samples][iterations][view.dims()]. Collective. The trainer's
// step observer and shuffle seed are changed (left cleared / as the last job
// set them).
// With `metrics`, each recorded sample also evaluates the client's local
// test split (no effect on the training's bits): metrics gets, on every
// rank, [clients][samples][iterations][2] = (mean loss, accuracy; NaN
// without test samples, and accuracy NaN for a regression task).
std::vector<double> sample_parameters(client::LocalTrainer& trainer, const float* start, const SamplerPlan& plan,
                                      const ParameterView& view, const mpi::Comm& comm,
                                      std::vector<double>* metrics = nullptr);

// The mean over the repeats of those metrics: [iterations][clients][2],
// summed in repeat order (the same bits on every rank).
std::vector<double> mean_metrics(const std::vector<double>& metrics, std::int64_t clients, std::int64_t samples,
                                 std::int64_t iterations);

}  // namespace fedhpc::analysis
