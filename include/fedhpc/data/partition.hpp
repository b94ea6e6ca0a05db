#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "fedhpc/core/registry.hpp"

namespace fedhpc::data {

struct PartitionOptions {
  std::string method = "iid";  // iid | dirichlet | shards | pathological
  std::int64_t num_clients = 10;
  std::uint64_t seed = 0;
  double dirichlet_alpha = 0.5;
  std::int64_t dirichlet_min_samples = 10;  // retried until every client has this many
  int shards_per_client = 2;
  double local_test_fraction = 0.2;  // in [0, 1)
  // "natural": the client of every training sample (Dataset::train_clients).
  std::vector<std::int64_t> natural_clients;
};

// Client data as CSR index lists into the training set. A pure function of
// (seed, number of clients, labels): it never depends on the MPI layout.
struct Partition {
  std::vector<std::int64_t> train_indices;
  std::vector<std::int64_t> train_offsets;  // num_clients + 1
  std::vector<std::int64_t> test_indices;
  std::vector<std::int64_t> test_offsets;  // num_clients + 1

  std::int64_t num_clients() const { return std::int64_t(train_offsets.size()) - 1; }
  std::int64_t train_count(std::int64_t c) const { return train_offsets[c + 1] - train_offsets[c]; }
  std::int64_t test_count(std::int64_t c) const { return test_offsets[c + 1] - test_offsets[c]; }
  const std::int64_t* train_begin(std::int64_t c) const { return train_indices.data() + train_offsets[c]; }
  const std::int64_t* test_begin(std::int64_t c) const { return test_indices.data() + test_offsets[c]; }
};

// A partitioner assigns every sample index to one client (before the
// local train/test split). Each returned list is sorted ascending.
using Partitioner = std::function<std::vector<std::vector<std::int64_t>>(
    const std::vector<std::int64_t>& labels, int num_classes, const PartitionOptions&)>;

// "iid", "dirichlet", "shards", "pathological" and "natural" are registered on first use.
Registry<Partitioner>& partitioner_registry();

// Partition, then hold out floor(local_test_fraction * n_k) samples of each
// client (chosen by the stream (seed, Split, client)) as its local test split.
// Throws InputError when a client would end up with no training sample.
Partition make_partition(const std::vector<std::int64_t>& labels, int num_classes,
                         const PartitionOptions& options);

}  // namespace fedhpc::data
