#include "fedhpc/topology/clustered.hpp"

#include <cmath>

#include "fedhpc/aggregation/clustering.hpp"
#include "fedhpc/aggregation/trimmed_mean.hpp"
#include "fedhpc/aggregation/weighted_mean.hpp"
#include "fedhpc/client/local_trainer.hpp"
#include "fedhpc/core/error.hpp"
#include "fedhpc/data/partition.hpp"
#include "fedhpc/topology/iterative.hpp"
#include "fedhpc/topology/layout.hpp"

namespace fedhpc::topology {

namespace {

using Slice = ClientBlock;  // a coordinate range [begin, end)

class Clustered : public Topology {
 public:
  explicit Clustered(const TopologyContext& ctx)
      : ctx_(ctx), cluster_(std::size_t(ctx.options.clients), 0) {
    // Re-clustering gathers every client's model on every rank.
    check_client_memory(ctx.options, "clustered", ctx.options.clients, ctx.num_params);
    local_.assign(std::size_t(ctx.block.size()), std::vector<float>(std::size_t(ctx.num_params)));
    usable_.assign(std::size_t(ctx.block.size()), 1);
  }

  void run_round(int round, const std::vector<std::uint8_t>&, std::vector<float>& global,
                 RoundRecord& record) override {
    if (models_.empty()) models_ = global;
    std::int64_t skipped = 0;
    mpi::collective_try(ctx_.comm, [&] { train(round, record, skipped); });
    mpi::check(MPI_Allreduce(&skipped, &record.nonfinite_skipped, 1, MPI_INT64_T, MPI_SUM, ctx_.comm.get()),
               "MPI_Allreduce(skipped)");
    if ((round - 1) % ctx_.options.recluster_every == 0) recluster(round);
    else models_ = aggregate(cluster_, clusters());
    global = weighted_global();
    record.comm_bytes[kClientServer] = 2.0 * double(ctx_.options.clients) * double(ctx_.num_params) * sizeof(float);
  }

  const float* model_of_client(std::int64_t client, const std::vector<float>&) const override {
    return models_.data() + std::int64_t(cluster_[std::size_t(client)]) * ctx_.num_params;
  }
  std::vector<std::int64_t> cluster_of_clients() const override {
    return std::vector<std::int64_t>(cluster_.begin(), cluster_.end());
  }
  const std::vector<float>& cluster_models() const override { return models_; }

 private:
  int clusters() const { return int(std::int64_t(models_.size()) / ctx_.num_params); }

  void train(int round, RoundRecord& record, std::int64_t& skipped) {
    const auto block = ctx_.block.size();
    const int iterations = ctx_.options.local_iterations;
    for (int k = 0; k < clusters(); ++k) {
      std::vector<std::int64_t> members;
      for (auto c = ctx_.block.begin; c < ctx_.block.end; ++c)
        if (cluster_[std::size_t(c)] == k) members.push_back(c);
      ctx_.trainer.train_block(model_of_client(members.empty() ? 0 : members[0], {}), members, round,
                               [&](const client::ClientUpdate& u) {
        const auto local = u.client - ctx_.block.begin;
        record.participated[std::size_t(local)] = 1;
        for (int it = 0; it < iterations; ++it)
          record.train_loss[std::size_t(it * block + local)] = static_cast<float>(u.iteration_loss[it]);
        std::copy_n(u.params, ctx_.num_params, local_[std::size_t(local)].begin());
        if (ctx_.keep_client_weights)
          std::copy_n(u.params, ctx_.num_params, record.client_weights.begin() + local * ctx_.num_params);
        if (u.gradient)
          std::copy_n(u.gradient, ctx_.num_params, record.gradients.begin() + local * ctx_.num_params);
        for (std::size_t slot = 0; u.monitor && slot < u.monitor->size(); ++slot)
          record_sample(record, block, ctx_.weight_layers, int(slot), local, (*u.monitor)[slot]);
        usable_[std::size_t(local)] = u.finite || ctx_.options.on_nonfinite == "keep";
        if (u.finite) return;
        record.nonfinite[std::size_t(local)] = 1;
        if (ctx_.options.on_nonfinite == "abort")
          throw RunError("client " + std::to_string(u.client) + " has non-finite values in round " +
                         std::to_string(round) + " (--on-nonfinite abort)");
        if (ctx_.options.on_nonfinite == "skip") ++skipped;
      });
    }
  }

  // Every client's trained model on every rank (N x P), for the distances.
  std::vector<float> gather_all() const {
    const int ranks = ctx_.comm.size();
    std::vector<int> counts(static_cast<std::size_t>(ranks)), displs(static_cast<std::size_t>(ranks));
    for (int r = 0; r < ranks; ++r) {
      counts[std::size_t(r)] = int(ctx_.layout->blocks[std::size_t(r)].size() * ctx_.num_params);
      displs[std::size_t(r)] = int(ctx_.layout->blocks[std::size_t(r)].begin * ctx_.num_params);
    }
    std::vector<float> mine;
    for (const auto& m : local_) mine.insert(mine.end(), m.begin(), m.end());
    std::vector<float> all(std::size_t(ctx_.options.clients * ctx_.num_params));
    mpi::check(MPI_Allgatherv(mine.data(), int(mine.size()), MPI_FLOAT, all.data(), counts.data(), displs.data(),
                              MPI_FLOAT, ctx_.comm.get()),
               "MPI_Allgatherv(models)");
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
    std::vector<double> dist(std::size_t(n * n), 0.0);
    for (auto i = ctx_.block.begin; i < ctx_.block.end; ++i)
      for (std::int64_t j = 0; j < n; ++j)
        dist[std::size_t(i * n + j)] = distance(all.data() + i * P, all.data() + j * P, P);
    const int ranks = ctx_.comm.size();
    std::vector<int> counts(static_cast<std::size_t>(ranks)), displs(static_cast<std::size_t>(ranks));
    for (int r = 0; r < ranks; ++r) {
      counts[std::size_t(r)] = int(ctx_.layout->blocks[std::size_t(r)].size() * n);
      displs[std::size_t(r)] = int(ctx_.layout->blocks[std::size_t(r)].begin * n);
    }
    mpi::check(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DOUBLE, dist.data(), counts.data(), displs.data(), MPI_DOUBLE,
                              ctx_.comm.get()),
               "MPI_Allgatherv(distances)");
    return dist;
  }

  void recluster(int round) {
    const auto n = ctx_.options.clients;
    const double lambda = ctx_.options.cluster_threshold;
    const auto dist = distances(gather_all());
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

  // One model per cluster, K x P on every rank.
  std::vector<float> aggregate(const std::vector<int>& cluster, int k) const {
    return ctx_.options.trim_fraction == 0.0 ? weighted_means(cluster, k) : trimmed_means(cluster, k);
  }

  std::vector<float> weighted_means(const std::vector<int>& cluster, int k) const {
    const auto P = ctx_.num_params;
    std::vector<float> out(std::size_t(k * P));
    for (int g = 0; g < k; ++g) {
      aggregation::WeightedMean mean;
      mean.begin(P);
      for (std::int64_t c = 0; c < ctx_.block.size(); ++c)
        if (cluster[std::size_t(ctx_.block.begin + c)] == g && usable_[std::size_t(c)])
          mean.add(ctx_.block.begin + c, local_[std::size_t(c)].data(), ctx_.partition.train_count(ctx_.block.begin + c));
      if (!mean.finish(out.data() + g * P, ctx_.comm))
        std::copy_n(models_.data() + std::min<std::int64_t>(g, clusters() - 1) * P, P, out.data() + g * P);
    }
    return out;
  }

  // The coordinate-wise trimmed mean by coordinate slices: rank q gathers
  // slice q of every usable client model (all-to-all), trims per coordinate,
  // and the cluster slices are then shared with every rank.
  std::vector<float> trimmed_means(const std::vector<int>& cluster, int k) const {
    const int ranks = ctx_.comm.size(), me = ctx_.comm.rank();
    const auto P = ctx_.num_params, n = ctx_.options.clients;
    auto slice = [&](int q) { return Slice{P * q / ranks, P * (q + 1) / ranks}; };
    std::vector<int> send_counts(static_cast<std::size_t>(ranks)), send_displs(static_cast<std::size_t>(ranks));
    std::vector<int> recv_counts(static_cast<std::size_t>(ranks)), recv_displs(static_cast<std::size_t>(ranks));
    std::vector<float> send;
    for (int q = 0; q < ranks; ++q) {
      send_displs[std::size_t(q)] = int(send.size());
      for (const auto& m : local_) send.insert(send.end(), m.begin() + slice(q).begin, m.begin() + slice(q).end);
      send_counts[std::size_t(q)] = int(send.size()) - send_displs[std::size_t(q)];
    }
    const auto mine = slice(me);
    std::int64_t at = 0;
    for (int q = 0; q < ranks; ++q) {
      recv_displs[std::size_t(q)] = int(at);
      recv_counts[std::size_t(q)] = int(ctx_.layout->blocks[std::size_t(q)].size() * mine.size());
      at += recv_counts[std::size_t(q)];
    }
    std::vector<float> rows(std::size_t(n * mine.size()));  // client-major: row c = slice of client c
    mpi::check(MPI_Alltoallv(send.data(), send_counts.data(), send_displs.data(), MPI_FLOAT, rows.data(),
                             recv_counts.data(), recv_displs.data(), MPI_FLOAT, ctx_.comm.get()),
               "MPI_Alltoallv(model slices)");
    std::vector<std::uint8_t> usable(static_cast<std::size_t>(n));
    std::copy(usable_.begin(), usable_.end(), usable.begin() + ctx_.block.begin);
    mpi::check(MPI_Allreduce(MPI_IN_PLACE, usable.data(), int(n), MPI_UINT8_T, MPI_MAX, ctx_.comm.get()),
               "MPI_Allreduce(usable)");
    std::vector<float> out(std::size_t(k * P));
    std::vector<float> members, result(std::size_t(mine.size()));
    for (int g = 0; g < k; ++g) {
      members.clear();
      std::int64_t m = 0;
      for (std::int64_t c = 0; c < n; ++c)
        if (cluster[std::size_t(c)] == g && usable[std::size_t(c)]) {
          members.insert(members.end(), rows.begin() + c * mine.size(), rows.begin() + (c + 1) * mine.size());
          ++m;
        }
      if (m > 0) aggregation::trimmed_mean(members.data(), m, mine.size(), ctx_.options.trim_fraction, result.data());
      else std::copy_n(models_.data() + std::min<std::int64_t>(g, clusters() - 1) * P + mine.begin, mine.size(),
                       result.data());
      std::vector<int> counts(static_cast<std::size_t>(ranks)), displs(static_cast<std::size_t>(ranks));
      for (int q = 0; q < ranks; ++q) {
        counts[std::size_t(q)] = int(slice(q).size());
        displs[std::size_t(q)] = int(slice(q).begin);
      }
      mpi::check(MPI_Allgatherv(result.data(), int(mine.size()), MPI_FLOAT, out.data() + g * P, counts.data(),
                                displs.data(), MPI_FLOAT, ctx_.comm.get()),
                 "MPI_Allgatherv(cluster model)");
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
  std::vector<int> cluster_;               // per client (all N)
  std::vector<float> models_;              // K x P
  std::vector<std::vector<float>> local_;  // trained models of my clients
  std::vector<std::uint8_t> usable_;       // per local client
};

}  // namespace

std::unique_ptr<Topology> make_clustered(const TopologyContext& ctx) { return std::make_unique<Clustered>(ctx); }

}  // namespace fedhpc::topology
