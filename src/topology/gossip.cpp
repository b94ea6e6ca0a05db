#include "fedhpc/topology/gossip.hpp"

#include <cmath>

#include "fedhpc/core/error.hpp"
#include "fedhpc/core/exact_sum.hpp"
#include "fedhpc/data/partition.hpp"
#include "fedhpc/mpi/exact_reduce.hpp"
#include "fedhpc/mpi/model_exchange.hpp"
#include "fedhpc/topology/gossip_graph.hpp"
#include "fedhpc/topology/iterative.hpp"
#include "fedhpc/topology/layout.hpp"

namespace fedhpc::topology {

namespace {

bool all_finite(const std::vector<float>& v) {
  for (float x : v)
    if (!std::isfinite(x)) return false;
  return true;
}

class Gossip : public IterativeTopology {
 public:
  explicit Gossip(const TopologyContext& ctx)
      : IterativeTopology(ctx, "gossip"),
        graph_(make_gossip_graph(ctx.options.gossip_graph, ctx.options.clients, ctx.options.gossip_k,
                                 ctx.options.seed)) {
    const auto& blocks = ctx.layout.blocks;
    for (std::int64_t c = ctx.block.begin; c < ctx.block.end; ++c)
      for (auto j : graph_.neighbours[std::size_t(c)])
        if (!ctx.block.contains(j)) {
          auto& send = plan_.send[owner_of(blocks, j)];
          if (send.empty() || send.back() != c) send.push_back(c);
          plan_.recv[owner_of(blocks, j)].push_back(j);
        }
    for (auto& [rank, list] : plan_.recv) {
      std::sort(list.begin(), list.end());
      list.erase(std::unique(list.begin(), list.end()), list.end());
    }
    for (const auto& n : graph_.neighbours) edges_ += double(n.size());
  }

  // Every client keeps its own model from round to round.
  TopologyState save_state() const override {
    TopologyState s;
    s.client_width = num_params();
    for (const auto& p : params_) s.client_rows.insert(s.client_rows.end(), p.begin(), p.end());
    return s;
  }

  void load_state(const TopologyState& s) override {
    if (s.client_width != num_params() || std::int64_t(s.client_rows.size()) != block_size() * num_params())
      throw RunError("the checkpoint's gossip models do not match this run's clients and model");
    for (std::int64_t c = 0; c < block_size(); ++c)
      std::copy_n(s.client_rows.data() + c * num_params(), num_params(), params_[std::size_t(c)].begin());
  }

  void set_client_models(RoundResult& out) const override {
    out.client_models.clear();
    for (const auto& p : params_) out.client_models.push_back(p.data());
  }

 protected:
  void start_round(int round, const std::vector<float>& global) override {
    if (round == 1) IterativeTopology::start_round(round, global);
  }

  void mix(int, int, RoundRecord& record) override {
    auto received = mpi::exchange_models(ctx_.comm, plan_, num_params(), [&](std::int64_t c) {
      return params_[std::size_t(c - ctx_.block.begin)].data();
    });
    const bool keep = ctx_.options.on_nonfinite == NonFinitePolicy::Keep;
    std::vector<std::uint8_t> ok_local(params_.size());
    for (std::size_t c = 0; c < params_.size(); ++c) ok_local[c] = keep || all_finite(params_[c]);
    std::map<std::int64_t, bool> ok_remote;
    for (const auto& [j, model] : received) ok_remote[j] = keep || all_finite(model);
    // A neighbour's model counts when it is usable and its client did not
    // drop out (a dropped client still mixes in what it receives).
    auto neighbour = [&](std::int64_t j) -> const float* {
      const bool local = ctx_.block.contains(j);
      if (dropped_all_[std::size_t(j)] || (local ? !ok_local[std::size_t(j - ctx_.block.begin)] : !ok_remote[j]))
        return nullptr;
      return local ? params_[std::size_t(j - ctx_.block.begin)].data() : received.at(j).data();
    };
    std::vector<std::vector<float>> next(params_.size(), std::vector<float>(std::size_t(num_params())));
    for (std::int64_t c = 0; c < block_size(); ++c) {
      const bool own = ok_local[std::size_t(c)];
      const bool mixed = metropolis_ ? metropolis(c, own, neighbour, next[std::size_t(c)])
                                     : robust(c, own, neighbour, next[std::size_t(c)]);
      if (!mixed) next[std::size_t(c)] = params_[std::size_t(c)];
    }
    params_ = std::move(next);
    record.comm_bytes[kGossip] += edges_ * double(num_params()) * sizeof(float);
  }

  // The Metropolis-weighted mean over the usable models; left-out models drop
  // out and the rest is renormalised. False when nothing is usable.
  template <class Neighbour>
  bool metropolis(std::int64_t c, bool own, const Neighbour& neighbour, std::vector<float>& out) {
    sum_.clear();
    std::int64_t used = 0;
    const auto i = std::size_t(id(c));
    if (own) {
      sum_.add_scaled(params_[std::size_t(c)].data(), double(graph_.self_weight[i]));
      used += graph_.self_weight[i];
    }
    for (std::size_t t = 0; t < graph_.neighbours[i].size(); ++t) {
      const float* model = neighbour(graph_.neighbours[i][t]);
      if (!model) continue;
      sum_.add_scaled(model, double(graph_.weight[i][t]));
      used += graph_.weight[i][t];
    }
    if (used == 0) return false;
    sum_.divide_into(out.data(), double(used));
    return true;
  }

  // --aggregator over the client and its usable neighbours, on this rank.
  template <class Neighbour>
  bool robust(std::int64_t c, bool own, const Neighbour& neighbour, std::vector<float>& out) {
    aggregator_->begin(num_params());
    if (own) aggregator_->add(id(c), params_[std::size_t(c)].data(), samples(c));
    for (auto j : graph_.neighbours[std::size_t(id(c))])
      if (const float* model = neighbour(j)) aggregator_->add(j, model, ctx_.partition.train_count(j));
    return aggregator_->finish(out.data(), self_);
  }

  void finish_round(int, RoundResult& out) override {
    const bool keep = ctx_.options.on_nonfinite == NonFinitePolicy::Keep;
    ExactSum sum{std::size_t(num_params())};
    std::int64_t count = 0;
    for (const auto& p : params_)
      if (keep || all_finite(p)) {
        sum.add_scaled(p.data(), 1.0);
        ++count;
      }
    mpi::allreduce(sum, ctx_.comm);
    count = mpi::all_reduce(ctx_.comm, count, mpi::Op::Sum, "MPI_Allreduce(count)");
    if (count == 0) return;
    auto& global = out.global;
    sum.divide_into(global.data(), double(count));
    out.record.consensus_distance = consensus_distance(global);
    // Clients left out for non-finite values start the next round from the mean.
    for (auto& p : params_)
      if (!keep && !all_finite(p)) p = global;
  }

 private:
  // (1/N) sum_i ||theta_i - mean||, with the per-client norms summed exactly.
  double consensus_distance(const std::vector<float>& mean) const {
    ExactSum total(1);
    for (const auto& p : params_) {
      double sq = 0.0;
      for (std::size_t k = 0; k < p.size(); ++k) sq += (double(p[k]) - mean[k]) * (double(p[k]) - mean[k]);
      total.add(0, std::sqrt(sq));
    }
    mpi::allreduce(total, ctx_.comm);
    return total.value(0) / double(ctx_.options.clients);
  }

  GossipGraph graph_;
  mpi::ExchangePlan plan_;
  double edges_ = 0.0;
  // fedavg mixes with the Metropolis weights; any other aggregator replaces
  // the weighted mean within each neighbourhood.
  bool metropolis_ = server_->is_weighted_mean();
  std::unique_ptr<aggregation::Aggregator>& aggregator_ = server_;
  ExactSum sum_{std::size_t(num_params())};
  mpi::Comm self_ = mpi::Comm::self();
};

void validate_gossip(const TopologyOptions& o) {
  if (o.server_optimizer)
    throw InputError("--server-optimizer: gossip has no server; use the default (sgd with --server-lr 1)");
  if (o.prox)
    throw InputError("--prox-mu: gossip clients keep their own models across rounds, so there is no round model to "
                     "anchor FedProx's term to; use 0");
}

}  // namespace

TopologyDescriptor gossip_descriptor() {
  TopologyDescriptor d;
  d.name = "gossip";
  d.validate = validate_gossip;
  d.make = [](const TopologyContext& ctx) -> std::unique_ptr<Topology> { return std::make_unique<Gossip>(ctx); };
  d.extras = [](const TopologyOptions& o, const TopologyLayout&) {
    TopologyExtras x;
    x.attributes = {{"gossip_graph", o.gossip_graph}, {"gossip_k", std::int64_t(o.gossip_k)}};
    x.consensus_distance = true;
    // The graph itself, in CSR form, so a reader need not rebuild it from the
    // seed; not the complete graph (N^2 entries that say "everyone").
    if (o.gossip_graph == "complete") return x;
    const auto graph = make_gossip_graph(o.gossip_graph, o.clients, o.gossip_k, o.seed);
    std::vector<std::int64_t> offsets = {0}, neighbours;
    for (const auto& row : graph.neighbours) {
      neighbours.insert(neighbours.end(), row.begin(), row.end());
      offsets.push_back(std::int64_t(neighbours.size()));
    }
    x.datasets = {{"gossip_offsets", offsets}, {"gossip_neighbours", neighbours}};
    return x;
  };
  d.option_keys = {"gossip-graph", "gossip-k"};
  return d;
}

}  // namespace fedhpc::topology
