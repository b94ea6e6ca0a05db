#include "fedhpc/mpi/exact_reduce.hpp"

#include <vector>

namespace fedhpc::mpi {

// Three steps: a MAX of the per-block bit ranges (2 int16 per 64 coordinates)
// fixes one packed layout on every rank; each rank packs its sum into it
// (mostly one int64 per coordinate); one MPI_SUM on int64 adds them.
void allreduce(ExactSum& sum, const Comm& comm) {
  const int parties = comm.size();
  if (parties == 1) return;  // the local sum is the total
  const std::size_t blocks = sum.blocks();
  std::vector<std::int16_t> header(2 * blocks + 1);
  sum.summary(header.data());
  header[2 * blocks] = sum.nonfinite_count() != 0;
  check(MPI_Allreduce(MPI_IN_PLACE, header.data(), static_cast<int>(header.size()), MPI_INT16_T, MPI_MAX,
                      comm.get()),
        "MPI_Allreduce(exact sum layout)");
  if (header[2 * blocks] != 0) {
    std::int64_t nonfinite = sum.nonfinite_count();
    check(MPI_Allreduce(MPI_IN_PLACE, &nonfinite, 1, MPI_INT64_T, MPI_SUM, comm.get()), "MPI_Allreduce(nonfinite)");
    check(MPI_Allreduce(MPI_IN_PLACE, sum.nonfinite_flags(), static_cast<int>(sum.size()), MPI_UINT8_T, MPI_MAX,
                        comm.get()),
          "MPI_Allreduce(nonfinite flags)");
    sum.nonfinite_count() = nonfinite;
  }
  const std::size_t count = ExactSum::packed_size(header.data(), sum.size(), parties);
  if (count == 0) return;
  // Kept between calls: a fresh buffer would page-fault on every reduction.
  thread_local std::vector<std::int64_t> packed;
  if (packed.size() < count) packed.resize(count);
  sum.pack(header.data(), parties, packed.data());
  // Large buffers go in pieces so the count fits an int.
  const std::size_t piece = std::size_t{1} << 28;
  for (std::size_t done = 0; done < count; done += piece) {
    const int n = static_cast<int>(std::min(piece, count - done));
    check(MPI_Allreduce(MPI_IN_PLACE, packed.data() + done, n, MPI_INT64_T, MPI_SUM, comm.get()),
          "MPI_Allreduce(exact sum)");
  }
  sum.unpack(header.data(), parties, packed.data());
}

}  // namespace fedhpc::mpi
