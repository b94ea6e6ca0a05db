#pragma once
#include <memory>

#include "fedhpc/data/dataset.hpp"
#include "fedhpc/mpi/comm.hpp"

namespace fedhpc::data {

// Loads a data set once per node instead of once per rank (--data-copies).
//
// With sharing on, the first rank of each node (MPI_COMM_TYPE_SHARED) loads and
// finishes the data set; the other ranks get its name, classes, shapes and
// labels, which is all that partitioning reads, and after finish() they map the
// pixels from an MPI shared-memory window instead of holding a copy. The pixels
// are the same bytes either way, so results do not change.
//
// Both calls are collective over the communicator given at construction. A
// loading error on a node's first rank is thrown on every rank of that node.
class NodeLoader {
 public:
  // share = false: every rank loads and finishes its own copy, as before.
  NodeLoader(const mpi::Comm& comm, bool share);
  ~NodeLoader();
  NodeLoader(const NodeLoader&) = delete;
  NodeLoader& operator=(const NodeLoader&) = delete;

  // load_dataset() on the node's first rank; labels and shapes everywhere.
  Dataset load(const DatasetOptions& options);
  // finish_dataset() on the node's first rank, then the pixels go to the
  // shared window (or, where /dev/shm is too small for them, are broadcast so
  // that every rank holds a copy; a warning says so).
  void finish(Dataset& ds, const Partition& partition, const DatasetOptions& options);

  bool sharing() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fedhpc::data
