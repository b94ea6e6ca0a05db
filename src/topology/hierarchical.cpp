// Hierarchical FL (HierFAVG): clients -> edges -> server. Edges aggregate
// their clients every --edge-interval iterations with --edge-aggregator; the
// server aggregates at round end with --aggregator.
#include "fedhpc/topology/hierarchical.hpp"

#include "fedhpc/core/error.hpp"
#include "fedhpc/topology/edge_groups.hpp"
#include "fedhpc/topology/fedlama.hpp"
#include "fedhpc/topology/grouping.hpp"
#include "fedhpc/topology/iterative.hpp"
#include "fedhpc/topology/layout.hpp"

namespace fedhpc::topology {

namespace {

class Hierarchical : public IterativeTopology {
 public:
  explicit Hierarchical(const TopologyContext& ctx)
      : IterativeTopology(ctx, "hierarchical"), edge_(aggregation::make_aggregator(ctx.options.edge_aggregator)),
        edges_(ctx) {}

 protected:
  void mix(int, int it, RoundRecord& record) override {
    const int k = ctx_.options.edge_interval;
    const bool last = it == ctx_.options.local_iterations - 1;
    if (last || (it + 1) % k != 0) return;
    std::vector<float> model(static_cast<std::size_t>(num_params()));
    for (int e : edges_.mine()) {
      if (!aggregate_edge(e, model)) continue;
      const auto [lo, hi] = edges_.local_range(e);
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
    out.record.comm_bytes[kClientEdge] += 2.0 * double(count_selected()) * model_bytes();
    out.record.comm_bytes[kEdgeServer] += 2.0 * double(edges_.used(selected_)) * model_bytes();
  }

 private:
  double model_bytes() const { return double(num_params()) * sizeof(float); }
  const mpi::Comm& edge_comm() const { return edges_.comm(); }

  // Edge e's aggregate over its uploading clients; false when none uploads.
  bool aggregate_edge(int e, std::vector<float>& model) {
    const auto [lo, hi] = edges_.local_range(e);
    edge_->begin(num_params());
    add_uploads(*edge_, lo, hi);
    return edge_->finish(model.data(), edge_comm());
  }

  // Every edge aggregates its clients; the server aggregates the edge
  // models, each weighted by its uploading clients' samples.
  void aggregate_edges(RoundResult& out) {
    std::vector<std::vector<float>> models;
    std::vector<std::pair<int, std::int64_t>> edges;  // (edge, weight)
    for (int e : edges_.mine()) {
      std::vector<float> model(static_cast<std::size_t>(num_params()));
      const bool any = aggregate_edge(e, model);
      const auto [lo, hi] = edges_.local_range(e);
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
  EdgeGroups edges_;
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
    // FedLAMA: clients sync each tensor with their edge at its own interval.
    if (ctx.options.aggregator.name == "fedlama") return make_fedlama(ctx, true);
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
