#include "fedhpc/topology/clustered.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "fedhpc/aggregation/clustering.hpp"
#include "fedhpc/aggregation/aggregator.hpp"
#include "fedhpc/core/exact_sum.hpp"
#include "fedhpc/client/local_trainer.hpp"
#include "fedhpc/core/error.hpp"
#include "fedhpc/data/partition.hpp"
#include "fedhpc/topology/client_outcome.hpp"
#include "fedhpc/topology/iterative.hpp"
#include "fedhpc/topology/layout.hpp"

namespace fedhpc::topology {

namespace {

class Clustered : public Topology {
 public:
  explicit Clustered(const TopologyContext& ctx)
      : ctx_(ctx), aggregator_(aggregation::make_aggregator(ctx.options.aggregator)),
        cluster_(std::size_t(ctx.options.clients), 0) {
    // Re-clustering gathers every client's model on every rank.
    check_client_memory(ctx.options, "clustered", ctx.options.clients, ctx.num_params);
    local_.assign(std::size_t(ctx.block.size()), std::vector<float>(std::size_t(ctx.num_params)));
    usable_.assign(std::size_t(ctx.block.size()), 1);
  }

  void run_round(const RoundInput& in, RoundResult& out) override {
    if (models_.empty()) models_ = out.global;
    mpi::collective_try(ctx_.comm, [&] { train(in, out.record); });
    threshold_ = std::numeric_limits<double>::quiet_NaN();
    if ((in.round - 1) % ctx_.options.recluster_every == 0) recluster(in.round);
    else models_ = aggregate(cluster_, clusters());
    out.cluster_threshold = threshold_;
    out.global = weighted_global();
    out.record.comm_bytes[kClientServer] =
        2.0 * double(ctx_.options.clients) * double(ctx_.num_params) * sizeof(float);
    out.client_models.clear();
    for (auto c = ctx_.block.begin; c < ctx_.block.end; ++c) out.client_models.push_back(model_of_client(c));
    out.cluster_of_client.assign(cluster_.begin(), cluster_.end());
    out.cluster_models = models_;
  }

  // The clusters and their models; the clients' trained models are
  // recomputed every round.
  TopologyState save_state() const override {
    TopologyState s;
    s.shared_ints.assign(cluster_.begin(), cluster_.end());
    s.shared_floats = models_;
    return s;
  }

  void load_state(const TopologyState& s) override {
    const auto P = ctx_.num_params;
    if (s.shared_ints.size() != cluster_.size() || std::int64_t(s.shared_floats.size()) % P != 0 ||
        s.client_width != 0)
      throw RunError("the checkpoint's clusters do not match this run's clients and model");
    // Before round 1 there are no cluster models yet: every client is in cluster 0.
    const auto k = std::max<std::int64_t>(1, std::int64_t(s.shared_floats.size()) / P);
    for (auto c : s.shared_ints)
      if (c < 0 || c >= k) throw RunError("the checkpoint's cluster assignment is out of range");
    cluster_.assign(s.shared_ints.begin(), s.shared_ints.end());
    models_ = s.shared_floats;
  }

 private:
  const float* model_of_client(std::int64_t client) const {
    return models_.data() + std::int64_t(cluster_[std::size_t(client)]) * ctx_.num_params;
  }
  int clusters() const { return int(std::int64_t(models_.size()) / ctx_.num_params); }

  void train(const RoundInput& in, RoundRecord& record) {
    OutcomeRecorder outcome(ctx_, record, in);
    for (int k = 0; k < clusters(); ++k) {
      std::vector<std::int64_t> members;
      for (auto c = ctx_.block.begin; c < ctx_.block.end; ++c)
        if (cluster_[std::size_t(c)] == k) members.push_back(c);
      const float* start = model_of_client(members.empty() ? 0 : members[0]);
      ctx_.trainer.train_block(start, members, in.round, [&](const client::ClientUpdate& u) {
        const auto local = u.client - ctx_.block.begin;
        auto& model = local_[std::size_t(local)];
        outcome.trained(u);
        std::copy_n(u.params, ctx_.num_params, model.begin());
        outcome.corrupt(local, 0, start, model.data());
        outcome.handed_over(local, model.data());
        outcome.check_finite(local, u.finite);
        usable_[std::size_t(local)] = outcome.uploads(local, u.finite);
      });
    }
  }

  // Element counts and offsets of every rank's block of clients, `per`
  // elements per client.
  std::pair<std::vector<std::size_t>, std::vector<std::size_t>> block_counts(std::int64_t per) const {
    std::vector<std::size_t> counts, displs;
    for (const auto& b : ctx_.layout.blocks) {
      counts.push_back(std::size_t(b.size() * per));
      displs.push_back(std::size_t(b.begin * per));
    }
    return {counts, displs};
  }

  // Every client's trained model on every rank (N x P), for the distances.
  std::vector<float> gather_all() const {
    std::vector<float> mine;
    for (const auto& m : local_) mine.insert(mine.end(), m.begin(), m.end());
    std::vector<float> all(std::size_t(ctx_.options.clients * ctx_.num_params));
    const auto [counts, displs] = block_counts(ctx_.num_params);
    mpi::all_gatherv(ctx_.comm, mine.data(), mine.size(), all.data(), counts, displs, "MPI_Allgatherv(models)");
    return all;
  }

  static double distance(const float* a, const float* b, std::int64_t n) {
    double sq = 0.0;
    for (std::int64_t k = 0; k < n; ++k) sq += (double(a[k]) - b[k]) * (double(a[k]) - b[k]);
    return std::sqrt(sq);
  }

  // Each rank fills the rows of its clients, then the rows are shared.
  std::vector<double> distances(const std::vector<float>& all) const {
    const auto n = ctx_.options.clients, P = ctx_.num_params;
    std::vector<double> rows;
    for (auto i = ctx_.block.begin; i < ctx_.block.end; ++i)
      for (std::int64_t j = 0; j < n; ++j) rows.push_back(distance(all.data() + i * P, all.data() + j * P, P));
    std::vector<double> dist(std::size_t(n * n), 0.0);
    const auto [counts, displs] = block_counts(n);
    mpi::all_gatherv(ctx_.comm, rows.data(), rows.size(), dist.data(), counts, displs, "MPI_Allgatherv(distances)");
    return dist;
  }

  void recluster(int round) {
    const auto n = ctx_.options.clients;
    const auto dist = distances(gather_all());
    // The same distances on every rank, so the same lambda.
    const double lambda = ctx_.options.cluster_threshold == kAutoClusterThreshold
                              ? aggregation::auto_threshold(dist, n)
                              : ctx_.options.cluster_threshold;
    threshold_ = lambda;
    auto cluster = aggregation::pivot_clustering(dist, n, lambda, ctx_.options.seed, round);
    aggregation::dissolve_small(cluster, dist, n, ctx_.options.cluster_min_size);
    int k = aggregation::relabel(cluster);
    auto models = aggregate(cluster, k);
    std::vector<double> model_dist(std::size_t(k * k), 0.0);
    for (int a = 0; a < k; ++a)
      for (int b = 0; b < k; ++b)
        model_dist[std::size_t(a * k + b)] =
            distance(models.data() + a * ctx_.num_params, models.data() + b * ctx_.num_params, ctx_.num_params);
    aggregation::merge_close(cluster, model_dist, k, lambda);
    const int merged = aggregation::relabel(cluster);
    if (merged != k) models = aggregate(cluster, merged);
    cluster_ = std::move(cluster);
    models_ = std::move(models);
  }

  // One model per cluster, K x P on every rank: --aggregator over the
  // cluster's usable members; a cluster none of whose members is usable
  // keeps its previous model.
  std::vector<float> aggregate(const std::vector<int>& cluster, int k) const {
    const auto P = ctx_.num_params;
    std::vector<float> out(std::size_t(k * P));
    for (int g = 0; g < k; ++g) {
      aggregator_->begin(P);
      for (std::int64_t c = 0; c < ctx_.block.size(); ++c)
        if (cluster[std::size_t(ctx_.block.begin + c)] == g && usable_[std::size_t(c)])
          aggregator_->add(ctx_.block.begin + c, local_[std::size_t(c)].data(),
                           ctx_.partition.train_count(ctx_.block.begin + c));
      if (!aggregator_->finish(out.data() + g * P, ctx_.comm))
        std::copy_n(models_.data() + std::min<std::int64_t>(g, clusters() - 1) * P, P, out.data() + g * P);
    }
    return out;
  }

  // The sample-weighted mean of the cluster models, as the run's global model.
  std::vector<float> weighted_global() const {
    const auto P = ctx_.num_params;
    std::vector<std::int64_t> weight(std::size_t(clusters()), 0);
    for (std::int64_t c = 0; c < ctx_.options.clients; ++c)
      weight[std::size_t(cluster_[std::size_t(c)])] += ctx_.partition.train_count(c);
    ExactSum sum(static_cast<std::size_t>(P));
    std::int64_t total = 0;
    for (int g = 0; g < clusters(); ++g) {
      sum.add_scaled(models_.data() + g * P, double(weight[std::size_t(g)]));
      total += weight[std::size_t(g)];
    }
    std::vector<float> out(static_cast<std::size_t>(P));
    sum.divide_into(out.data(), double(total));
    return out;
  }

  TopologyContext ctx_;
  std::unique_ptr<aggregation::Aggregator> aggregator_;
  std::vector<int> cluster_;               // per client (all N)
  std::vector<float> models_;              // K x P
  std::vector<std::vector<float>> local_;  // trained models of my clients
  std::vector<std::uint8_t> usable_;       // per local client
  double threshold_ = 0.0;                 // lambda of this round's re-clustering (NaN: none)
};

}  // namespace

namespace {
void validate_clustered(const TopologyOptions& o) {
  if (o.server_optimizer)
    throw InputError("--server-optimizer: clustered keeps one model per cluster and no single server model; use the "
                     "default (sgd with --server-lr 1)");
}

std::int64_t max_clusters(const TopologyOptions& o) {
  const auto t = std::max<std::int64_t>(1, o.cluster_min_size);
  return std::max<std::int64_t>(1, (o.clients + t - 1) / t);
}
}  // namespace

TopologyDescriptor clustered_descriptor() {
  TopologyDescriptor d;
  d.name = "clustered";
  d.validate = validate_clustered;
  d.make = [](const TopologyContext& ctx) -> std::unique_ptr<Topology> { return std::make_unique<Clustered>(ctx); };
  d.extras = [](const TopologyOptions& o, const TopologyLayout&) {
    TopologyExtras x;
    x.attributes = {{"recluster_every", std::int64_t(o.recluster_every)},
                    {"cluster_threshold", o.cluster_threshold == kAutoClusterThreshold
                                              ? std::variant<std::int64_t, double, std::string>(std::string("auto"))
                                              : std::variant<std::int64_t, double, std::string>(o.cluster_threshold)},
                    {"cluster_min_size", std::int64_t(o.cluster_min_size)},
                    {"trim_fraction", o.aggregator.trim_fraction}};
    x.clusters = true;
    x.max_clusters = max_clusters(o);
    return x;
  };
  d.option_keys = {"recluster-every", "cluster-threshold", "cluster-min-size"};
  return d;
}

}  // namespace fedhpc::topology
