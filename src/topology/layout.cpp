#include "fedhpc/topology/layout.hpp"

#include <algorithm>

#include "fedhpc/data/partition.hpp"
#include "fedhpc/topology/grouping.hpp"

namespace fedhpc::topology {

std::vector<std::vector<std::int64_t>> label_histograms(const data::Partition& partition,
                                                        const std::vector<std::int64_t>& labels, int classes) {
  std::vector<std::vector<std::int64_t>> hist(std::size_t(partition.num_clients()),
                                              std::vector<std::int64_t>(std::size_t(classes), 0));
  for (std::int64_t c = 0; c < partition.num_clients(); ++c)
    for (std::int64_t i = 0; i < partition.train_count(c); ++i)
      ++hist[std::size_t(c)][std::size_t(labels[std::size_t(partition.train_begin(c)[i])])];
  return hist;
}

namespace {

std::vector<ClientBlock> even_blocks(std::int64_t n, int ranks) {
  std::vector<ClientBlock> blocks;
  for (int r = 0; r < ranks; ++r) blocks.push_back(block_of_rank(n, r, ranks));
  return blocks;
}

// Edge-aligned placement: with at least as many edges as ranks every edge
// sits inside one rank; otherwise every edge gets its own contiguous ranks,
// so each rank belongs to at most one edge communicator.
std::vector<ClientBlock> edge_blocks(const std::vector<std::int64_t>& begin, int ranks) {
  const auto edges = static_cast<std::int64_t>(begin.size()) - 1;
  std::vector<ClientBlock> blocks;
  if (ranks <= edges) {
    for (int r = 0; r < ranks; ++r)
      blocks.push_back({begin[std::size_t(edges * r / ranks)], begin[std::size_t(edges * (r + 1) / ranks)]});
    return blocks;
  }
  for (std::int64_t e = 0; e < edges; ++e) {
    const std::int64_t r0 = e * ranks / edges, r1 = (e + 1) * ranks / edges;
    const std::int64_t lo = begin[std::size_t(e)], size = begin[std::size_t(e + 1)] - lo, m = r1 - r0;
    for (std::int64_t j = 0; j < m; ++j) blocks.push_back({lo + j * size / m, lo + (j + 1) * size / m});
  }
  return blocks;
}

std::vector<std::int64_t> boundaries(const std::vector<int>& sorted_groups, int groups) {
  std::vector<std::int64_t> begin(std::size_t(groups) + 1, 0);
  for (int g : sorted_groups) ++begin[std::size_t(g) + 1];
  for (std::size_t g = 1; g < begin.size(); ++g) begin[g] += begin[g - 1];
  return begin;
}

}  // namespace

TopologyLayout make_layout(const TopologyDescriptor& topology, const TopologyOptions& o,
                           const data::Partition& partition, const std::vector<std::int64_t>& labels, int classes,
                           int ranks) {
  TopologyLayout layout;
  const auto n = partition.num_clients();
  std::vector<int> groups;
  if (topology.group) groups = topology.group(o, label_histograms(partition, labels, classes));
  if (groups.empty()) {
    layout.order.resize(std::size_t(n));
    for (std::int64_t c = 0; c < n; ++c) layout.order[std::size_t(c)] = c;
    layout.blocks = even_blocks(n, ranks);
    return layout;
  }
  const int count = groups.empty() ? 0 : *std::max_element(groups.begin(), groups.end()) + 1;
  layout.order = group_order(groups);
  for (auto old : layout.order) layout.group_of_client.push_back(groups[std::size_t(old)]);
  layout.group_begin = boundaries(layout.group_of_client, count);
  if (topology.ring_positions)
    for (std::int64_t c = 0; c < n; ++c)
      layout.ring_position.push_back(int(c - layout.group_begin[std::size_t(layout.group_of_client[std::size_t(c)])]));
  layout.blocks = topology.group_aligned_blocks ? edge_blocks(layout.group_begin, ranks) : even_blocks(n, ranks);
  return layout;
}

data::Partition reorder(const data::Partition& p, const std::vector<std::int64_t>& order) {
  data::Partition out;
  out.train_offsets.push_back(0);
  out.test_offsets.push_back(0);
  for (auto old : order) {
    out.train_indices.insert(out.train_indices.end(), p.train_begin(old), p.train_begin(old) + p.train_count(old));
    out.test_indices.insert(out.test_indices.end(), p.test_begin(old), p.test_begin(old) + p.test_count(old));
    out.train_offsets.push_back(std::int64_t(out.train_indices.size()));
    out.test_offsets.push_back(std::int64_t(out.test_indices.size()));
  }
  return out;
}

int owner_of(const std::vector<ClientBlock>& blocks, std::int64_t client) {
  auto it = std::upper_bound(blocks.begin(), blocks.end(), client,
                             [](std::int64_t c, const ClientBlock& b) { return c < b.end; });
  while (it != blocks.end() && !it->contains(client)) ++it;
  return int(it - blocks.begin());
}

}  // namespace fedhpc::topology
