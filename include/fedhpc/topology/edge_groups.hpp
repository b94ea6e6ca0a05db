#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "fedhpc/mpi/comm.hpp"
#include "fedhpc/topology/topology.hpp"
#include "fedhpc/topology/layout.hpp"

namespace fedhpc::topology {

// The edges of a hierarchical run as one rank sees them. The placement
// (group_aligned_blocks) either puts every edge inside one rank (edges >=
// ranks: the rank's edges reduce locally) or gives every edge its own ranks
// (edges < ranks: the rank has one edge, which reduces over its own
// communicator when it spans several ranks). Built collectively
// (MPI_Comm_split on ctx.comm).
class EdgeGroups {
 public:
  explicit EdgeGroups(const TopologyContext& ctx);

  // The edges this rank holds clients of, ascending.
  const std::vector<int>& mine() const { return mine_; }
  // Local indices [lo, hi) of edge e's clients in this rank's block.
  std::pair<std::int64_t, std::int64_t> local_range(int e) const;
  // The communicator an edge of this rank reduces over (MPI_COMM_SELF when
  // the edge lies inside this rank).
  const mpi::Comm& comm() const { return comm_.valid() ? comm_ : self_; }
  // Edges with at least one selected client (flags over all N clients).
  std::int64_t used(const std::vector<std::uint8_t>& selected) const;

 private:
  const TopologyLayout& layout_;
  ClientBlock block_;
  int edges_;
  std::vector<int> mine_;
  mpi::Comm comm_;
  mpi::Comm self_ = mpi::Comm::self();
};

}  // namespace fedhpc::topology
