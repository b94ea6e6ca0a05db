// FedLAMA: layer-wise adaptive aggregation intervals inside a round.
#include "fedhpc/topology/fedlama.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "fedhpc/aggregation/layer_intervals.hpp"
#include "fedhpc/core/error.hpp"
#include "fedhpc/core/exact_sum.hpp"
#include "fedhpc/mpi/exact_reduce.hpp"
#include "fedhpc/topology/iterative.hpp"

namespace fedhpc::topology {

namespace {

class FedLama : public IterativeTopology {
 public:
  explicit FedLama(const TopologyContext& ctx)
      : IterativeTopology(ctx, "centralized"), layout_(*ctx.param_layout), tau_(ctx.options.lama_interval),
        phi_(ctx.options.lama_phi) {
    intervals_.assign(layout_.layers().size(), tau_);
    discrepancy_.assign(layout_.layers().size(), 0.0);
  }

  TopologyState save_state() const override {
    TopologyState s;
    s.shared_ints.assign(intervals_.begin(), intervals_.end());
    return s;
  }

  void load_state(const TopologyState& state) override {
    if (state.shared_ints.size() != intervals_.size() || state.client_width != 0)
      throw RunError("the checkpoint's FedLAMA intervals do not match the model's layer table");
    intervals_.assign(state.shared_ints.begin(), state.shared_ints.end());
  }

 protected:
  void start_round(int round, const std::vector<float>& global) override {
    IterativeTopology::start_round(round, global);
    global_ = global;
    const auto L = layout_.layers().size();
    layer_floats_.assign(L, 0.0);
    intervals_out_.clear();
    discrepancy_out_.clear();
  }

  // After iteration it: the tensors whose interval has elapsed are
  // averaged; at every phi*tau' boundary the intervals are re-decided.
  void mix(int, int it, RoundRecord& record) override {
    const int step = it + 1;
    std::vector<std::size_t> due;
    for (std::size_t l = 0; l < intervals_.size(); ++l)
      if (step % intervals_[l] == 0) due.push_back(l);
    if (!due.empty()) synchronise(due, record);
    if (step % (phi_ * tau_) == 0) decide();
  }

  void finish_round(int, RoundResult& out) override {
    out.global = global_;
    out.lama_interval = intervals_out_;
    out.lama_discrepancy = discrepancy_out_;
    out.layer_bytes.assign(layer_floats_.size(), 0.0);
    for (std::size_t l = 0; l < layer_floats_.size(); ++l) out.layer_bytes[l] = layer_floats_[l] * sizeof(float);
    // FedAvg at interval tau': every selected client moves the whole model
    // down and up once per tau' iterations.
    const double syncs = double(ctx_.options.local_iterations / tau_);
    out.fedavg_bytes = 2.0 * double(count_selected()) * double(num_params()) * sizeof(float) * syncs;
  }

 private:
  // The sample-weighted mean of the due tensors over the clients that
  // count, packed in layer order (exact sums: the same bits as
  // WeightedMean on the whole model when every tensor is due), then d_l.
  void synchronise(const std::vector<std::size_t>& due, RoundRecord& record) {
    std::int64_t width = 0;
    for (auto l : due) width += layout_.layers()[l].size;
    ExactSum sum{std::size_t(width)};
    std::vector<float> packed(static_cast<std::size_t>(width));
    std::int64_t weight = 0, clients = 0;
    for (std::int64_t c = 0; c < block_size(); ++c) {
      if (!counts(c)) continue;
      pack(due, params_[std::size_t(c)].data(), packed.data());
      sum.add_scaled(packed.data(), double(samples(c)));
      weight += samples(c);
      ++clients;
    }
    weight = mpi::all_reduce(ctx_.comm, weight, mpi::Op::Sum, "MPI_Allreduce(fedlama weight)");
    clients = mpi::all_reduce(ctx_.comm, clients, mpi::Op::Sum, "MPI_Allreduce(fedlama clients)");
    count_bytes(due, record);
    if (weight == 0) {
      for (auto l : due) discrepancy_[l] = std::numeric_limits<double>::quiet_NaN();
      return;
    }
    std::vector<float> mean(static_cast<std::size_t>(width));
    mpi::allreduce_divide(sum, double(weight), mean.data(), ctx_.comm);
    measure(due, mean, clients);
    for (std::int64_t c = 0; c < block_size(); ++c)
      if (counts(c)) unpack(due, mean.data(), params_[std::size_t(c)].data());
    unpack(due, mean.data(), global_.data());
  }

  // d_l of every due tensor: each client's squared distance to the mean in
  // double, summed exactly over the clients (any rank count, same bits).
  void measure(const std::vector<std::size_t>& due, const std::vector<float>& mean, std::int64_t clients) {
    ExactSum dist{due.size()};
    std::vector<float> packed(mean.size());
    for (std::int64_t c = 0; c < block_size(); ++c) {
      if (!counts(c)) continue;
      pack(due, params_[std::size_t(c)].data(), packed.data());
      std::size_t at = 0;
      for (std::size_t j = 0; j < due.size(); ++j) {
        double sq = 0.0;
        for (std::int64_t k = 0; k < layout_.layers()[due[j]].size; ++k, ++at) {
          const double diff = double(mean[at]) - double(packed[at]);
          sq += diff * diff;
        }
        dist.add(j, sq);
      }
    }
    mpi::allreduce(dist, ctx_.comm);
    for (std::size_t j = 0; j < due.size(); ++j) {
      const auto l = due[j];
      discrepancy_[l] =
          aggregation::layer_discrepancy(dist.value(j), clients, intervals_[l], layout_.layers()[l].size);
    }
  }

  // Every selected client downloads and uploads each due tensor.
  void count_bytes(const std::vector<std::size_t>& due, RoundRecord& record) {
    const double selected = double(count_selected());
    for (auto l : due) {
      const double floats = 2.0 * selected * double(layout_.layers()[l].size);
      layer_floats_[l] += floats;
      record.comm_bytes[kClientServer] += floats * sizeof(float);
    }
  }

  void decide() {
    intervals_ = aggregation::next_intervals(layout_, discrepancy_, tau_, phi_, intervals_);
    intervals_out_.insert(intervals_out_.end(), intervals_.begin(), intervals_.end());
    discrepancy_out_.insert(discrepancy_out_.end(), discrepancy_.begin(), discrepancy_.end());
  }

  void pack(const std::vector<std::size_t>& due, const float* from, float* to) const {
    for (auto l : due) {
      const auto& info = layout_.layers()[l];
      to = std::copy(from + info.offset, from + info.offset + info.size, to);
    }
  }

  void unpack(const std::vector<std::size_t>& due, const float* from, float* to) const {
    for (auto l : due) {
      const auto& info = layout_.layers()[l];
      std::copy(from, from + info.size, to + info.offset);
      from += info.size;
    }
  }

  const ParamLayout& layout_;
  const int tau_;
  const int phi_;
  std::vector<int> intervals_;      // per tensor, tau' or phi*tau'
  std::vector<double> discrepancy_; // per tensor, d_l of its last synchronisation
  std::vector<float> global_;       // the average of each tensor's last synchronisation
  std::vector<double> layer_floats_;
  std::vector<std::int64_t> intervals_out_;
  std::vector<double> discrepancy_out_;
};

}  // namespace

std::unique_ptr<Topology> make_fedlama(const TopologyContext& ctx) {
  if (!ctx.param_layout) throw std::invalid_argument("fedlama: needs TopologyContext::param_layout");
  if (ctx.options.lama_interval < 1 || ctx.options.lama_phi < 1 ||
      ctx.options.local_iterations % (ctx.options.lama_interval * ctx.options.lama_phi) != 0)
    throw std::invalid_argument("fedlama: local_iterations must be a multiple of lama_interval * lama_phi");
  return std::make_unique<FedLama>(ctx);
}

}  // namespace fedhpc::topology
