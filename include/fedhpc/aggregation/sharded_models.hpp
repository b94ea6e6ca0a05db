#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "fedhpc/mpi/comm.hpp"

namespace fedhpc::aggregation {

// The models of one aggregation point, spread over the ranks of a
// communicator by coordinate slices, for aggregators that need every model at
// once per coordinate (order statistics, pairwise distances) without
// gathering whole models on any rank.
//
// Coordinates are cut into fixed blocks of block_size(); rank q of R owns the
// contiguous run of blocks [B*q/R, B*(q+1)/R) of the B blocks. Slices are
// thus block-aligned, and the blocks themselves do not depend on R.
//
// Use: begin(P); add() the models held on this rank; exchange() (collective);
// then read the slices of all models, sorted by id; assemble() the per-rank
// slice results into a full vector on every rank.
class ShardedModels {
 public:
  static constexpr std::int64_t kDefaultBlock = 4096;

  explicit ShardedModels(std::int64_t block_size = kDefaultBlock);

  void begin(std::int64_t num_params);
  // Copies the model: the caller's buffer need not outlive the call.
  void add(std::int64_t id, const float* params, std::int64_t weight);

  // Collective over comm. Makes the ids and weights of all models known to
  // every rank and sends rank q slice q of every model. Returns the number of
  // models over all ranks; with 0 it does no more than share the counts.
  // RunError (on every rank) when an id was added twice.
  std::int64_t exchange(const mpi::Comm& comm);

  std::int64_t num_params() const { return num_params_; }
  std::int64_t block_size() const { return block_; }
  // After exchange(): all models, sorted by id.
  std::int64_t count() const { return std::int64_t(ids_.size()); }
  const std::vector<std::int64_t>& ids() const { return ids_; }
  const std::vector<std::int64_t>& weights() const { return weights_; }
  // This rank's coordinate slice [slice_begin, slice_begin + slice_size).
  std::int64_t slice_begin() const { return slice_begin_; }
  std::int64_t slice_size() const { return slice_size_; }
  // count() x slice_size() floats, row k = the slice of model k.
  const float* rows() const { return rows_.data(); }
  const float* row(std::int64_t k) const { return rows_.data() + k * slice_size_; }

  // Collective: every rank passes its slice_size() results; out (num_params
  // floats) gets all slices on every rank of the comm given to exchange().
  void assemble(const float* mine, float* out, const mpi::Comm& comm) const;

  // The slice [begin, end) of rank q of `ranks`.
  std::int64_t slice_start(int q, int ranks) const;

 private:
  struct Local {
    std::int64_t id;
    std::int64_t weight;
    std::vector<float> params;
  };
  void share_ids(const mpi::Comm& comm, const std::vector<std::size_t>& counts);
  void send_slices(const mpi::Comm& comm, const std::vector<std::size_t>& counts);

  std::int64_t block_;
  std::int64_t num_params_ = 0;
  std::vector<Local> local_;
  std::vector<std::int64_t> ids_, weights_;
  std::vector<std::int64_t> order_;  // order_[k]: arrival position (rank-major) of the model with the k-th id
  std::int64_t slice_begin_ = 0, slice_size_ = 0;
  std::vector<float> rows_;
};

// A coordinate-wise reduction of m rows x len columns (row-major) into len values.
using SliceReduction = std::function<void(const float* rows, std::int64_t m, std::int64_t len, float* out)>;

// finish() of a coordinate-wise aggregator: exchange() the models, apply
// reduce to this rank's slice of all of them, and assemble the result into out
// on every rank. Returns false, out untouched, when no rank added a model.
bool reduce_by_slices(ShardedModels& models, const mpi::Comm& comm, float* out, const SliceReduction& reduce);

}  // namespace fedhpc::aggregation
