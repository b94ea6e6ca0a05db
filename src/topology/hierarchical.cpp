// Hierarchical FL (HierFAVG): clients -> edges -> server. Edges average their
// clients every --edge-interval iterations; the server averages at round end.
#include "fedhpc/topology/hierarchical.hpp"

#include "fedhpc/core/exact_sum.hpp"
#include "fedhpc/mpi/exact_reduce.hpp"
#include "fedhpc/topology/iterative.hpp"
#include "fedhpc/topology/layout.hpp"

namespace fedhpc::topology {

namespace {

class Hierarchical : public IterativeTopology {
 public:
  explicit Hierarchical(const TopologyContext& ctx) : IterativeTopology(ctx, "hierarchical") {
    const int ranks = ctx.comm.size(), rank = ctx.comm.rank(), edges = ctx.options.edges;
    int color = MPI_UNDEFINED;
    if (ranks > edges) {
      // The placement gave edge e the ranks [e*R/E, (e+1)*R/E); an edge with
      // more than one rank aggregates over its own communicator.
      int e = 0;
      while ((std::int64_t(e) + 1) * ranks / edges <= rank) ++e;
      my_edges_ = {e};
      const auto first = std::int64_t(e) * ranks / edges, end = (std::int64_t(e) + 1) * ranks / edges;
      if (end - first > 1) color = e;
    } else if (block_size() > 0) {
      // Every edge lies inside one rank: reduce locally.
      const auto& groups = ctx.layout->group_of_client;
      for (int e = groups[std::size_t(ctx.block.begin)]; e <= groups[std::size_t(ctx.block.end - 1)]; ++e)
        my_edges_.push_back(e);
    }
    edge_comm_ = ctx.comm.split(color, rank);
  }

 protected:
  void mix(int, int it, RoundRecord& record) override {
    const int k = ctx_.options.edge_interval;
    const bool last = it == ctx_.options.local_iterations - 1;
    if (last || (it + 1) % k != 0) return;
    for (int e : my_edges_) average_edge(e);
    // Up and down between every participating client and its edge.
    record.comm_bytes[kClientEdge] += 2.0 * double(count_selected()) * model_bytes();
  }

  void finish_round(int round, std::vector<float>& global, RoundRecord& record) override {
    // Edges pass exact partial sums and sample counts up, so the server's
    // result is the sample-weighted mean of the edge models without rounding
    // at the edges (and equals centralized FedAvg when edges never sync).
    IterativeTopology::finish_round(round, global, record);
    std::vector<std::uint8_t> edge_used(std::size_t(ctx_.options.edges), 0);
    for (std::size_t c = 0; c < selected_.size(); ++c)
      if (selected_[c]) edge_used[std::size_t(ctx_.layout->group_of_client[c])] = 1;
    double edges = 0;
    for (auto u : edge_used) edges += u;
    record.comm_bytes[kClientEdge] += 2.0 * double(count_selected()) * model_bytes();
    record.comm_bytes[kEdgeServer] += 2.0 * edges * model_bytes();
  }

 private:
  double model_bytes() const { return double(num_params()) * sizeof(float); }

  std::int64_t edge_begin(int e) const { return ctx_.layout->group_begin[std::size_t(e)]; }
  std::int64_t edge_end(int e) const { return ctx_.layout->group_begin[std::size_t(e) + 1]; }

  void average_edge(int e) {
    ExactSum sum{std::size_t(num_params())};
    std::int64_t weight = 0;
    const auto lo = std::max(edge_begin(e), ctx_.block.begin), hi = std::min(edge_end(e), ctx_.block.end);
    for (auto c = lo; c < hi; ++c) {
      const auto local = c - ctx_.block.begin;
      if (!counts(local)) continue;
      sum.add_scaled(params_[std::size_t(local)].data(), double(samples(local)));
      weight += samples(local);
    }
    if (edge_comm_.valid()) {
      mpi::allreduce(sum, edge_comm_);
      mpi::check(MPI_Allreduce(MPI_IN_PLACE, &weight, 1, MPI_INT64_T, MPI_SUM, edge_comm_.get()),
                 "MPI_Allreduce(edge weight)");
    }
    if (weight == 0) return;
    std::vector<float> model(static_cast<std::size_t>(num_params()));
    sum.divide_into(model.data(), double(weight));
    for (auto c = lo; c < hi; ++c) {
      const auto local = c - ctx_.block.begin;
      if (counts(local)) params_[std::size_t(local)] = model;
    }
  }

  std::vector<int> my_edges_;
  mpi::Comm edge_comm_;
};

}  // namespace

std::unique_ptr<Topology> make_hierarchical(const TopologyContext& ctx) {
  return std::make_unique<Hierarchical>(ctx);
}

}  // namespace fedhpc::topology
