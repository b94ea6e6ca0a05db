// FedLAMA: layer-wise adaptive aggregation intervals inside a round, with
// the server (centralized) or with the clients' edges (hierarchical).
#include "fedhpc/topology/fedlama.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "fedhpc/aggregation/layer_intervals.hpp"
#include "fedhpc/core/error.hpp"
#include "fedhpc/core/exact_sum.hpp"
#include "fedhpc/mpi/exact_reduce.hpp"
#include "fedhpc/topology/edge_groups.hpp"
#include "fedhpc/topology/iterative.hpp"

namespace fedhpc::topology {

namespace {

class FedLama : public IterativeTopology {
 public:
  FedLama(const TopologyContext& ctx, bool with_edges)
      : IterativeTopology(ctx, with_edges ? "hierarchical" : "centralized"), layout_(*ctx.param_layout),
        tau_(ctx.options.lama_interval), phi_(ctx.options.lama_phi) {
    if (with_edges) edges_ = std::make_unique<EdgeGroups>(ctx);
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
  // With edges, every synchronisation but the round's last is with the
  // client's edge; the last (every tensor is due) is the server's.
  void mix(int, int it, RoundRecord& record) override {
    const int step = it + 1;
    std::vector<std::size_t> due;
    for (std::size_t l = 0; l < intervals_.size(); ++l)
      if (step % intervals_[l] == 0) due.push_back(l);
    const bool server = !edges_ || step == ctx_.options.local_iterations;
    if (!due.empty()) synchronise(due, server, record);
    if (step % (phi_ * tau_) == 0) decide();
  }

  void finish_round(int, RoundResult& out) override {
    out.global = global_;
    out.lama_interval = intervals_out_;
    out.lama_discrepancy = discrepancy_out_;
    out.layer_bytes.assign(layer_floats_.size(), 0.0);
    for (std::size_t l = 0; l < layer_floats_.size(); ++l) out.layer_bytes[l] = layer_floats_[l] * sizeof(float);
    // FedAvg at interval tau' (hierarchical: edge interval tau'): every
    // selected client moves the whole model down and up once per tau'
    // iterations; with edges, every used edge also moves it to the server
    // and back once a round, as FedLAMA's edges do.
    const double model = double(num_params()) * sizeof(float);
    const double syncs = double(ctx_.options.local_iterations / tau_);
    out.fedavg_bytes = 2.0 * double(count_selected()) * model * syncs;
    if (edges_) out.fedavg_bytes += 2.0 * double(edges_->used(selected_)) * model;
  }

 private:
  // One party of a synchronisation: the local clients [lo, hi) and the
  // communicator their average is reduced over.
  struct Group {
    std::int64_t lo, hi;
    const mpi::Comm* comm;
  };

  // The groups of this rank's clients: the server's (all, over ctx.comm) or
  // one per edge of this rank (over the edge's communicator).
  std::vector<Group> groups(bool server) const {
    if (server) return {{0, block_size(), &ctx_.comm}};
    std::vector<Group> out;
    for (int e : edges_->mine()) {
      const auto [lo, hi] = edges_->local_range(e);
      out.push_back({lo, hi, &edges_->comm()});
    }
    return out;
  }

  // Every group replaces the due tensors of its clients that count by their
  // sample-weighted mean (exact sums: the same bits as WeightedMean on the
  // whole model when every tensor is due); the server's mean is also the
  // global model's. Then d_l over all synchronised clients, each measured
  // against the mean it received.
  void synchronise(const std::vector<std::size_t>& due, bool server, RoundRecord& record) {
    std::int64_t width = 0;
    for (auto l : due) width += layout_.layers()[l].size;
    std::vector<float> mean(static_cast<std::size_t>(width)), packed(mean.size());
    ExactSum dist{due.size()};
    std::int64_t clients = 0;
    for (const auto& g : groups(server)) {
      if (!average(due, g, mean, packed)) continue;
      clients += measure(due, g, mean, packed, dist);
      for (auto c = g.lo; c < g.hi; ++c)
        if (counts(c)) unpack(due, mean.data(), params_[std::size_t(c)].data());
      if (server) unpack(due, mean.data(), global_.data());
    }
    count_bytes(due, server, record);
    clients = mpi::all_reduce(ctx_.comm, clients, mpi::Op::Sum, "MPI_Allreduce(fedlama clients)");
    if (clients == 0) {
      for (auto l : due) discrepancy_[l] = std::numeric_limits<double>::quiet_NaN();
      return;
    }
    mpi::allreduce(dist, ctx_.comm);
    for (std::size_t j = 0; j < due.size(); ++j) {
      const auto l = due[j];
      discrepancy_[l] =
          aggregation::layer_discrepancy(dist.value(j), clients, intervals_[l], layout_.layers()[l].size);
    }
  }

  // The mean of group g's uploads of the due tensors, packed in layer order;
  // false when nobody in the group uploads (collective over g.comm).
  bool average(const std::vector<std::size_t>& due, const Group& g, std::vector<float>& mean,
               std::vector<float>& packed) {
    ExactSum sum{mean.size()};
    std::int64_t weight = 0;
    for (auto c = g.lo; c < g.hi; ++c) {
      if (!counts(c)) continue;
      pack(due, params_[std::size_t(c)].data(), packed.data());
      sum.add_scaled(packed.data(), double(samples(c)));
      weight += samples(c);
    }
    weight = mpi::all_reduce(*g.comm, weight, mpi::Op::Sum, "MPI_Allreduce(fedlama weight)");
    if (weight == 0) return false;
    mpi::allreduce_divide(sum, double(weight), mean.data(), *g.comm);
    return true;
  }

  // Adds each local client's squared distance (in double) to the group's
  // mean, per due tensor, to `dist`; returns how many clients that was.
  std::int64_t measure(const std::vector<std::size_t>& due, const Group& g, const std::vector<float>& mean,
                       std::vector<float>& packed, ExactSum& dist) {
    std::int64_t clients = 0;
    for (auto c = g.lo; c < g.hi; ++c) {
      if (!counts(c)) continue;
      ++clients;
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
    return clients;
  }

  // Every selected client downloads and uploads each due tensor, from and
  // to the server or its edge; at the server's synchronisation every used
  // edge also moves each tensor up and down.
  void count_bytes(const std::vector<std::size_t>& due, bool server, RoundRecord& record) {
    const double selected = double(count_selected());
    const double edges = edges_ && server ? double(edges_->used(selected_)) : 0.0;
    const auto client_level = edges_ ? kClientEdge : kClientServer;
    for (auto l : due) {
      const double dim = double(layout_.layers()[l].size);
      layer_floats_[l] += 2.0 * selected * dim + 2.0 * edges * dim;
      record.comm_bytes[client_level] += 2.0 * selected * dim * sizeof(float);
      record.comm_bytes[kEdgeServer] += 2.0 * edges * dim * sizeof(float);
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
  std::unique_ptr<EdgeGroups> edges_;  // hierarchical: clients sync with their edge
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

std::unique_ptr<Topology> make_fedlama(const TopologyContext& ctx, bool with_edges) {
  if (!ctx.param_layout) throw std::invalid_argument("fedlama: needs TopologyContext::param_layout");
  if (ctx.options.lama_interval < 1 || ctx.options.lama_phi < 1 ||
      ctx.options.local_iterations % (ctx.options.lama_interval * ctx.options.lama_phi) != 0)
    throw std::invalid_argument("fedlama: local_iterations must be a multiple of lama_interval * lama_phi");
  return std::make_unique<FedLama>(ctx, with_edges);
}

}  // namespace fedhpc::topology
