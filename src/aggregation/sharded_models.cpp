#include "fedhpc/aggregation/sharded_models.hpp"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>

#include "fedhpc/core/error.hpp"

namespace fedhpc::aggregation {

ShardedModels::ShardedModels(std::int64_t block_size) : block_(block_size) {
  if (block_size <= 0) throw std::invalid_argument("ShardedModels: block size must be positive");
}

void ShardedModels::begin(std::int64_t num_params) {
  num_params_ = num_params;
  local_.clear();
  ids_.clear();
  weights_.clear();
  order_.clear();
  rows_.clear();
  slice_begin_ = slice_size_ = 0;
}

void ShardedModels::add(std::int64_t id, const float* params, std::int64_t weight) {
  local_.push_back(Local{id, weight, std::vector<float>(params, params + num_params_)});
}

std::int64_t ShardedModels::slice_start(int q, int ranks) const {
  const std::int64_t blocks = (num_params_ + block_ - 1) / block_;
  return std::min(num_params_, blocks * q / ranks * block_);
}

std::int64_t ShardedModels::exchange(const mpi::Comm& comm) {
  const int me = comm.rank(), ranks = comm.size();
  slice_begin_ = slice_start(me, ranks);
  slice_size_ = slice_start(me + 1, ranks) - slice_begin_;
  // Not mpi::all_gather: it hands detail::all_gatherv empty displacements,
  // which that rejects; the template all_gatherv fills them in.
  const std::int64_t mine = std::int64_t(local_.size());
  std::vector<std::int64_t> per_rank(static_cast<std::size_t>(ranks));
  mpi::all_gatherv(comm, &mine, 1, per_rank.data(), std::vector<std::size_t>(static_cast<std::size_t>(ranks), 1), {},
                   "MPI_Allgather(model counts)");
  std::vector<std::size_t> counts(per_rank.begin(), per_rank.end());
  ids_.clear();
  weights_.clear();
  rows_.clear();
  if (std::accumulate(counts.begin(), counts.end(), std::size_t{0}) == 0) return 0;
  share_ids(comm, counts);
  send_slices(comm, counts);
  return count();
}

// Gathers ids and weights in arrival order (rank by rank, add() order within a
// rank) and sorts them by id, so every later step is independent of placement.
void ShardedModels::share_ids(const mpi::Comm& comm, const std::vector<std::size_t>& counts) {
  std::vector<std::int64_t> my_ids, my_weights;
  for (const auto& m : local_) {
    my_ids.push_back(m.id);
    my_weights.push_back(m.weight);
  }
  const std::size_t n = std::accumulate(counts.begin(), counts.end(), std::size_t{0});
  std::vector<std::int64_t> arrived_ids(n), arrived_weights(n);
  mpi::all_gatherv(comm, my_ids.data(), my_ids.size(), arrived_ids.data(), counts, {}, "MPI_Allgatherv(model ids)");
  mpi::all_gatherv(comm, my_weights.data(), my_weights.size(), arrived_weights.data(), counts, {},
                   "MPI_Allgatherv(model weights)");
  order_.resize(n);
  std::iota(order_.begin(), order_.end(), std::int64_t{0});
  std::sort(order_.begin(), order_.end(),
            [&](std::int64_t a, std::int64_t b) { return arrived_ids[std::size_t(a)] < arrived_ids[std::size_t(b)]; });
  for (auto k : order_) {
    ids_.push_back(arrived_ids[std::size_t(k)]);
    weights_.push_back(arrived_weights[std::size_t(k)]);
  }
  // Every rank sees the same ids, so every rank throws or none does.
  for (std::size_t k = 1; k < n; ++k)
    if (ids_[k] == ids_[k - 1])
      throw RunError("aggregation: model id " + std::to_string(ids_[k]) + " was added twice");
}

// One all-to-all: rank q receives slice q of every model, then the rows are
// put in id order.
void ShardedModels::send_slices(const mpi::Comm& comm, const std::vector<std::size_t>& counts) {
  const int ranks = comm.size();
  std::vector<float> send;
  std::vector<std::size_t> send_counts(static_cast<std::size_t>(ranks)), recv_counts(static_cast<std::size_t>(ranks));
  for (int q = 0; q < ranks; ++q) {
    const auto begin = slice_start(q, ranks), end = slice_start(q + 1, ranks);
    for (const auto& m : local_) send.insert(send.end(), m.params.begin() + begin, m.params.begin() + end);
    send_counts[std::size_t(q)] = local_.size() * std::size_t(end - begin);
    recv_counts[std::size_t(q)] = counts[std::size_t(q)] * std::size_t(slice_size_);
  }
  const auto arrived = mpi::all_to_allv(comm, send, send_counts, recv_counts, "MPI_Alltoallv(model slices)");
  rows_.resize(arrived.size());
  const auto len = std::size_t(slice_size_);
  for (std::size_t k = 0; k < order_.size(); ++k)
    std::copy_n(arrived.begin() + std::ptrdiff_t(std::size_t(order_[k]) * len), len,
                rows_.begin() + std::ptrdiff_t(k * len));
}

void ShardedModels::assemble(const float* mine, float* out, const mpi::Comm& comm) const {
  const int ranks = comm.size();
  std::vector<std::size_t> counts(static_cast<std::size_t>(ranks)), displs(static_cast<std::size_t>(ranks));
  for (int q = 0; q < ranks; ++q) {
    displs[std::size_t(q)] = std::size_t(slice_start(q, ranks));
    counts[std::size_t(q)] = std::size_t(slice_start(q + 1, ranks)) - displs[std::size_t(q)];
  }
  mpi::all_gatherv(comm, mine, std::size_t(slice_size_), out, counts, displs, "MPI_Allgatherv(aggregate slices)");
}

bool reduce_by_slices(ShardedModels& models, const mpi::Comm& comm, float* out, const SliceReduction& reduce) {
  const std::int64_t m = models.exchange(comm);
  if (m == 0) return false;
  std::vector<float> mine(std::size_t(models.slice_size()));
  reduce(models.rows(), m, models.slice_size(), mine.data());
  models.assemble(mine.data(), out, comm);
  return true;
}

}  // namespace fedhpc::aggregation
