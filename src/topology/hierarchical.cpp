// Hierarchical FL (HierFAVG): clients -> edges -> server. Edges aggregate
// their clients every --edge-interval iterations with --edge-aggregator; the
// server aggregates at round end with --aggregator.
#include "fedhpc/topology/hierarchical.hpp"

#include "fedhpc/core/error.hpp"
#include "fedhpc/topology/grouping.hpp"
#include "fedhpc/topology/iterative.hpp"
#include "fedhpc/topology/layout.hpp"

namespace fedhpc::topology {

namespace {

class Hierarchical : public IterativeTopology {
 public:
  explicit Hierarchical(const TopologyContext& ctx)
      : IterativeTopology(ctx, "hierarchical"), edge_(aggregation::make_aggregator(ctx.options.edge_aggregator)) {
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
      // Every edge lies inside one rank: aggregate locally.
      const auto& groups = ctx.layout.group_of_client;
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
    std::vector<float> model(static_cast<std::size_t>(num_params()));
    for (int e : my_edges_) {
      if (!aggregate_edge(e, model)) continue;
      const auto [lo, hi] = local_range(e);
      for (auto c = lo; c < hi; ++c)
        if (counts(c)) params_[std::size_t(c)] = model;
    }
    // Up and down between every participating client and its edge.
    record.comm_bytes[kClientEdge] += 2.0 * double(count_selected()) * model_bytes();
  }

  void finish_round(int round, RoundResult& out) override {
    // Two fedavg levels: the edges pass exact partial sums and sample counts
    // up, so the server's result is the sample-weighted mean of the edge
    // models without rounding at the edges (and equals centralized FedAvg
    // when edges never sync).
    if (server_->is_weighted_mean() && edge_->is_weighted_mean()) IterativeTopology::finish_round(round, out);
    else aggregate_edges(out);
    std::vector<std::uint8_t> edge_used(std::size_t(ctx_.options.edges), 0);
    for (std::size_t c = 0; c < selected_.size(); ++c)
      if (selected_[c]) edge_used[std::size_t(ctx_.layout.group_of_client[c])] = 1;
    double edges = 0;
    for (auto u : edge_used) edges += u;
    out.record.comm_bytes[kClientEdge] += 2.0 * double(count_selected()) * model_bytes();
    out.record.comm_bytes[kEdgeServer] += 2.0 * edges * model_bytes();
  }

 private:
  double model_bytes() const { return double(num_params()) * sizeof(float); }
  const mpi::Comm& edge_comm() const { return edge_comm_.valid() ? edge_comm_ : self_; }

  // Local indices [lo, hi) of edge e's clients on this rank.
  std::pair<std::int64_t, std::int64_t> local_range(int e) const {
    const auto begin = ctx_.layout.group_begin[std::size_t(e)], end = ctx_.layout.group_begin[std::size_t(e) + 1];
    return {std::max(begin, ctx_.block.begin) - ctx_.block.begin, std::min(end, ctx_.block.end) - ctx_.block.begin};
  }

  // Edge e's aggregate over its uploading clients; false when none uploads.
  bool aggregate_edge(int e, std::vector<float>& model) {
    const auto [lo, hi] = local_range(e);
    edge_->begin(num_params());
    add_uploads(*edge_, lo, hi);
    return edge_->finish(model.data(), edge_comm());
  }

  // Every edge aggregates its clients; the server aggregates the edge
  // models, each weighted by its uploading clients' samples.
  void aggregate_edges(RoundResult& out) {
    std::vector<std::vector<float>> models;
    std::vector<std::pair<int, std::int64_t>> edges;  // (edge, weight)
    for (int e : my_edges_) {
      std::vector<float> model(static_cast<std::size_t>(num_params()));
      const bool any = aggregate_edge(e, model);
      const auto [lo, hi] = local_range(e);
      std::int64_t weight = 0;
      for (auto c = lo; c < hi; ++c) weight += counts(c) ? samples(c) : 0;
      weight = mpi::all_reduce(edge_comm(), weight, mpi::Op::Sum, "MPI_Allreduce(edge weight)");
      // One rank of the edge speaks for it at the server.
      if (any && edge_comm().rank() == 0) {
        models.push_back(std::move(model));
        edges.emplace_back(e, weight);
      }
    }
    server_->begin(num_params());
    for (std::size_t i = 0; i < models.size(); ++i) server_->add(edges[i].first, models[i].data(), edges[i].second);
    server_->finish(out.global.data(), ctx_.comm);
  }

  std::unique_ptr<aggregation::Aggregator> edge_;
  std::vector<int> my_edges_;
  mpi::Comm edge_comm_;
  mpi::Comm self_ = mpi::Comm::self();
};

void validate_hierarchical(const TopologyOptions& o) {
  if (o.edges < 1) throw InputError("--edges: must be >= 1, got " + std::to_string(o.edges));
  if (o.edges > o.clients)
    throw InputError("--edges: " + std::to_string(o.edges) + " edges need at least as many clients (--clients " +
                     std::to_string(o.clients) + ")");
}

}  // namespace

TopologyDescriptor hierarchical_descriptor() {
  TopologyDescriptor d;
  d.name = "hierarchical";
  d.validate = validate_hierarchical;
  d.group = [](const TopologyOptions& o, const LabelHistograms& hist) {
    return assign_edges(o.edge_assignment, o.edges, hist, o.seed);
  };
  d.group_aligned_blocks = true;
  d.make = [](const TopologyContext& ctx) -> std::unique_ptr<Topology> {
    return std::make_unique<Hierarchical>(ctx);
  };
  d.extras = [](const TopologyOptions& o, const TopologyLayout& layout) {
    TopologyExtras x;
    x.attributes = {{"edges", std::int64_t(o.edges)},
                    {"edge_assignment", o.edge_assignment},
                    {"edge_interval", std::int64_t(o.edge_interval)},
                    {"edge_aggregator", o.edge_aggregator.name}};
    x.client_datasets = {{"edge_of_client", {layout.group_of_client.begin(), layout.group_of_client.end()}}};
    return x;
  };
  d.option_keys = {"edges", "edge-assignment", "edge-interval", "edge-aggregator"};
  return d;
}

}  // namespace fedhpc::topology
