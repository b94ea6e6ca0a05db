#include "fedhpc/mpi/exact_reduce.hpp"

#include <algorithm>
#include <vector>

namespace fedhpc::mpi {

namespace {

// MPI user functions get no context: the party count of the reduction in
// progress (reductions are not run from several threads at once).
int g_parties = 1;

void merge_op(void* in, void* inout, int* count, MPI_Datatype*) {
  ExactSum::merge_blocks(static_cast<const std::int64_t*>(in), static_cast<std::int64_t*>(inout),
                         static_cast<std::size_t>(*count), g_parties);
}

struct BlockReduction {
  MPI_Datatype type;
  MPI_Op op;
  BlockReduction() {
    check(MPI_Type_contiguous(static_cast<int>(ExactSum::kBlockWords), MPI_INT64_T, &type), "MPI_Type_contiguous");
    check(MPI_Type_commit(&type), "MPI_Type_commit");
    check(MPI_Op_create(&merge_op, 1, &op), "MPI_Op_create");
  }
};

}  // namespace

// One message in the common case: every block of 64 coordinates travels as
// a header and 64 int64 (the values shifted right by the block's lowest bit),
// summed by merge_blocks. Blocks whose bit range over all ranks is too wide
// for that (all ranks see the same ones) go in a second, multi-row reduction;
// so does the non-finite bookkeeping, when any rank has some.
void allreduce(ExactSum& sum, const Comm& comm) {
  const int parties = comm.size();
  const std::size_t blocks = sum.blocks();
  if (parties == 1 || blocks == 0) return;  // the local sum is the total
  static const BlockReduction reduction;
  // Kept between calls: a fresh buffer would page-fault on every reduction.
  thread_local std::vector<std::int64_t> packed;
  packed.resize(std::max(packed.size(), blocks * ExactSum::kBlockWords));
  sum.pack_blocks(packed.data());
  g_parties = parties;
  const std::size_t piece = std::size_t{1} << 22;  // blocks per call, so the count fits an int
  for (std::size_t done = 0; done < blocks; done += piece)
    check(MPI_Allreduce(MPI_IN_PLACE, packed.data() + done * ExactSum::kBlockWords,
                        static_cast<int>(std::min(piece, blocks - done)), reduction.type, reduction.op, comm.get()),
          "MPI_Allreduce(exact sum)");
  std::vector<std::int16_t> summary(2 * blocks);
  bool nonfinite = false;
  const bool rest = sum.unpack_blocks(packed.data(), parties, summary.data(), &nonfinite);
  if (nonfinite) {
    std::int64_t count = sum.nonfinite_count();
    check(MPI_Allreduce(MPI_IN_PLACE, &count, 1, MPI_INT64_T, MPI_SUM, comm.get()), "MPI_Allreduce(nonfinite)");
    check(MPI_Allreduce(MPI_IN_PLACE, sum.nonfinite_flags(), static_cast<int>(sum.size()), MPI_UINT8_T, MPI_MAX,
                        comm.get()),
          "MPI_Allreduce(nonfinite flags)");
    sum.nonfinite_count() = count;
  }
  if (!rest) return;
  std::vector<std::int64_t> rows(ExactSum::packed_size(summary.data(), sum.size(), parties));
  sum.pack(summary.data(), parties, rows.data());
  const std::size_t row_piece = std::size_t{1} << 28;
  for (std::size_t done = 0; done < rows.size(); done += row_piece)
    check(MPI_Allreduce(MPI_IN_PLACE, rows.data() + done, static_cast<int>(std::min(row_piece, rows.size() - done)),
                        MPI_INT64_T, MPI_SUM, comm.get()),
          "MPI_Allreduce(exact sum rows)");
  sum.unpack(summary.data(), parties, rows.data());
}

}  // namespace fedhpc::mpi
