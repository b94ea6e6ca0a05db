#include "fedhpc/topology/gossip.hpp"

#include <cmath>

#include "fedhpc/core/exact_sum.hpp"
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
    const auto& blocks = ctx.layout->blocks;
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

  const float* model_of_client(std::int64_t client, const std::vector<float>&) const override {
    return params_[std::size_t(client - ctx_.block.begin)].data();
  }

 protected:
  void start_round(int round, const std::vector<float>& global) override {
    if (round == 1) IterativeTopology::start_round(round, global);
  }

  void mix(int, int, RoundRecord& record) override {
    auto received = mpi::exchange_models(ctx_.comm, plan_, num_params(), [&](std::int64_t c) {
      return params_[std::size_t(c - ctx_.block.begin)].data();
    });
    const bool keep = ctx_.options.on_nonfinite == "keep";
    std::vector<std::uint8_t> ok_local(params_.size());
    for (std::size_t c = 0; c < params_.size(); ++c) ok_local[c] = keep || all_finite(params_[c]);
    std::map<std::int64_t, bool> ok_remote;
    for (const auto& [j, model] : received) ok_remote[j] = keep || all_finite(model);
    std::vector<std::vector<float>> next(params_.size(), std::vector<float>(std::size_t(num_params())));
    ExactSum sum{std::size_t(num_params())};
    for (std::int64_t c = 0; c < block_size(); ++c) {
      sum.clear();
      std::int64_t used = 0;
      const auto i = std::size_t(id(c));
      if (ok_local[std::size_t(c)]) {
        sum.add_scaled(params_[std::size_t(c)].data(), double(graph_.self_weight[i]));
        used += graph_.self_weight[i];
      }
      for (std::size_t t = 0; t < graph_.neighbours[i].size(); ++t) {
        const auto j = graph_.neighbours[i][t];
        const bool local = ctx_.block.contains(j);
        if (local ? !ok_local[std::size_t(j - ctx_.block.begin)] : !ok_remote[j]) continue;
        const float* model = local ? params_[std::size_t(j - ctx_.block.begin)].data() : received.at(j).data();
        sum.add_scaled(model, double(graph_.weight[i][t]));
        used += graph_.weight[i][t];
      }
      // Left-out (non-finite) models drop out and the rest is renormalised.
      if (used == 0) next[std::size_t(c)] = params_[std::size_t(c)];
      else sum.divide_into(next[std::size_t(c)].data(), double(used));
    }
    params_ = std::move(next);
    record.comm_bytes[kGossip] += edges_ * double(num_params()) * sizeof(float);
  }

  void finish_round(int, std::vector<float>& global, RoundRecord& record) override {
    const bool keep = ctx_.options.on_nonfinite == "keep";
    ExactSum sum{std::size_t(num_params())};
    std::int64_t count = 0;
    for (const auto& p : params_)
      if (keep || all_finite(p)) {
        sum.add_scaled(p.data(), 1.0);
        ++count;
      }
    mpi::allreduce(sum, ctx_.comm);
    mpi::check(MPI_Allreduce(MPI_IN_PLACE, &count, 1, MPI_INT64_T, MPI_SUM, ctx_.comm.get()),
               "MPI_Allreduce(count)");
    if (count == 0) return;
    sum.divide_into(global.data(), double(count));
    record.consensus_distance = consensus_distance(global);
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
};

}  // namespace

std::unique_ptr<Topology> make_gossip(const TopologyContext& ctx) { return std::make_unique<Gossip>(ctx); }

}  // namespace fedhpc::topology
