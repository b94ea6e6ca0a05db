#include "fedhpc/topology/edge_groups.hpp"

#include <algorithm>


namespace fedhpc::topology {

EdgeGroups::EdgeGroups(const TopologyContext& ctx)
    : layout_(ctx.layout), block_(ctx.block), edges_(ctx.options.edges) {
  const int ranks = ctx.comm.size(), rank = ctx.comm.rank(), edges = ctx.options.edges;
  int color = MPI_UNDEFINED;
  if (ranks > edges) {
    // The placement gave edge e the ranks [e*R/E, (e+1)*R/E); an edge with
    // more than one rank aggregates over its own communicator.
    int e = 0;
    while ((std::int64_t(e) + 1) * ranks / edges <= rank) ++e;
    mine_ = {e};
    const auto first = std::int64_t(e) * ranks / edges, end = (std::int64_t(e) + 1) * ranks / edges;
    if (end - first > 1) color = e;
  } else if (ctx.block.size() > 0) {
    // Every edge lies inside one rank: aggregate locally.
    const auto& groups = ctx.layout.group_of_client;
    for (int e = groups[std::size_t(ctx.block.begin)]; e <= groups[std::size_t(ctx.block.end - 1)]; ++e)
      mine_.push_back(e);
  }
  comm_ = ctx.comm.split(color, rank);
}

std::pair<std::int64_t, std::int64_t> EdgeGroups::local_range(int e) const {
  const auto begin = layout_.group_begin[std::size_t(e)], end = layout_.group_begin[std::size_t(e) + 1];
  return {std::max(begin, block_.begin) - block_.begin, std::min(end, block_.end) - block_.begin};
}

std::int64_t EdgeGroups::used(const std::vector<std::uint8_t>& selected) const {
  std::vector<std::uint8_t> edge_used(std::size_t(edges_), 0);
  for (std::size_t c = 0; c < selected.size(); ++c)
    if (selected[c]) edge_used[std::size_t(layout_.group_of_client[c])] = 1;
  std::int64_t n = 0;
  for (auto u : edge_used) n += u;
  return n;
}

}  // namespace fedhpc::topology
