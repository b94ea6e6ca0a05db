#pragma once
#include <cstdint>
#include <vector>

#include "fedhpc/topology/topology.hpp"

namespace fedhpc::data {
struct Partition;
}

namespace fedhpc::topology {

// How clients are grouped and placed. Clients are renumbered so that every
// edge or ring is a contiguous id range; rank r then hosts blocks[r].
struct TopologyLayout {
  std::vector<std::int64_t> order;     // order[id] = the partition's client index
  std::vector<int> group_of_client;    // edge (hierarchical) or ring (ring); empty otherwise
  std::vector<std::int64_t> group_begin;  // groups + 1 boundaries into the id range
  std::vector<int> ring_position;      // ring: position within the ring
  std::vector<ClientBlock> blocks;     // one per rank
};

LabelHistograms label_histograms(const data::Partition& partition,
                                                        const std::vector<std::int64_t>& labels, int classes);

// Groups clients with the topology's hook, renumbers them so that groups are
// contiguous, and places them on ranks.
TopologyLayout make_layout(const TopologyDescriptor& topology, const TopologyOptions& options,
                           const data::Partition& partition, const std::vector<std::int64_t>& labels, int classes,
                           int ranks);

// The partition with clients in the layout's order.
data::Partition reorder(const data::Partition& partition, const std::vector<std::int64_t>& order);

// Rank hosting client c.
int owner_of(const std::vector<ClientBlock>& blocks, std::int64_t client);

}  // namespace fedhpc::topology
