#include "fedhpc/topology/ring.hpp"

#include "fedhpc/core/error.hpp"
#include "fedhpc/mpi/model_exchange.hpp"
#include "fedhpc/topology/grouping.hpp"
#include "fedhpc/topology/iterative.hpp"
#include "fedhpc/topology/layout.hpp"

namespace fedhpc::topology {

namespace {

class Ring : public IterativeTopology {
 public:
  explicit Ring(const TopologyContext& ctx) : IterativeTopology(ctx, "ring") { plan_passes(); }

 protected:
  void mix(int, int it, RoundRecord& record) override {
    if (it == ctx_.options.local_iterations - 1) return;
    auto received = mpi::exchange_models(ctx_.comm, plan_, num_params(),
                                         [&](std::int64_t c) { return params_[std::size_t(c - ctx_.block.begin)].data(); });
    std::vector<std::vector<float>> next(params_.size());
    for (std::int64_t c = 0; c < block_size(); ++c) {
      const auto from = previous(id(c));
      if (ctx_.block.contains(from)) next[std::size_t(c)] = std::move(params_[std::size_t(from - ctx_.block.begin)]);
      else next[std::size_t(c)] = std::move(received.at(from));
    }
    params_ = std::move(next);
    record.comm_bytes[kRingHop] += double(moving_clients_) * double(num_params()) * sizeof(float);
  }

  void finish_round(int round, RoundResult& out) override {
    IterativeTopology::finish_round(round, out);
    out.record.comm_bytes[kClientServer] += 2.0 * double(count_selected()) * double(num_params()) * sizeof(float);
  }

 private:
  std::int64_t ring_begin(std::int64_t c) const {
    return ctx_.layout.group_begin[std::size_t(ctx_.layout.group_of_client[std::size_t(c)])];
  }
  std::int64_t ring_end(std::int64_t c) const {
    return ctx_.layout.group_begin[std::size_t(ctx_.layout.group_of_client[std::size_t(c)]) + 1];
  }
  std::int64_t previous(std::int64_t c) const { return c == ring_begin(c) ? ring_end(c) - 1 : c - 1; }
  std::int64_t next(std::int64_t c) const { return c + 1 == ring_end(c) ? ring_begin(c) : c + 1; }

  void plan_passes() {
    const auto& blocks = ctx_.layout.blocks;
    for (std::int64_t c = ctx_.block.begin; c < ctx_.block.end; ++c) {
      if (!ctx_.block.contains(next(c))) plan_.send[owner_of(blocks, next(c))].push_back(c);
      if (!ctx_.block.contains(previous(c))) plan_.recv[owner_of(blocks, previous(c))].push_back(previous(c));
    }
    for (auto& [rank, list] : plan_.recv) std::sort(list.begin(), list.end());
    const auto n = std::int64_t(ctx_.layout.group_of_client.size());
    for (std::int64_t c = 0; c < n; ++c) moving_clients_ += ring_end(c) - ring_begin(c) > 1;
  }

  mpi::ExchangePlan plan_;
  std::int64_t moving_clients_ = 0;
};

}  // namespace

namespace {
void validate_ring(const TopologyOptions& o) {
  if (o.rings < 1 || o.rings > o.clients)
    throw InputError("--rings: " + std::to_string(o.rings) + " rings for " + std::to_string(o.clients) +
                     " clients; need 1 <= rings <= clients");
}
}  // namespace

TopologyDescriptor ring_descriptor() {
  TopologyDescriptor d;
  d.name = "ring";
  d.validate = validate_ring;
  d.group = [](const TopologyOptions& o, const LabelHistograms& hist) {
    return assign_rings(o.ring_grouping, o.rings, hist, o.seed);
  };
  d.ring_positions = true;
  d.make = [](const TopologyContext& ctx) -> std::unique_ptr<Topology> { return std::make_unique<Ring>(ctx); };
  d.extras = [](const TopologyOptions& o, const TopologyLayout& layout) {
    TopologyExtras x;
    x.attributes = {{"rings", std::int64_t(o.rings)}, {"ring_grouping", o.ring_grouping}};
    x.client_datasets = {{"ring_of_client", {layout.group_of_client.begin(), layout.group_of_client.end()}},
                         {"ring_position", {layout.ring_position.begin(), layout.ring_position.end()}}};
    return x;
  };
  d.option_keys = {"rings", "ring-grouping"};
  return d;
}

}  // namespace fedhpc::topology
