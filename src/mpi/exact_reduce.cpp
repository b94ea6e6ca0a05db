#include "fedhpc/mpi/exact_reduce.hpp"

namespace fedhpc::mpi {

void allreduce(ExactSum& sum, const Comm& comm) {
  int range[2] = {-sum.low_word(), sum.high_word()};
  check(MPI_Allreduce(MPI_IN_PLACE, range, 2, MPI_INT, MPI_MAX, comm.get()), "MPI_Allreduce(range)");
  const int low = -range[0];
  const int high = range[1];
  std::int64_t nonfinite = sum.nonfinite_count();
  check(MPI_Allreduce(MPI_IN_PLACE, &nonfinite, 1, MPI_INT64_T, MPI_SUM, comm.get()),
        "MPI_Allreduce(nonfinite)");
  if (nonfinite != 0 && sum.size() > 0)
    check(MPI_Allreduce(MPI_IN_PLACE, sum.nonfinite_flags(), static_cast<int>(sum.size()), MPI_UINT8_T, MPI_MAX,
                        comm.get()),
          "MPI_Allreduce(nonfinite flags)");
  sum.nonfinite_count() = nonfinite;
  if (high < low) return;
  const auto rows = static_cast<std::size_t>(high - low + 1);
  std::int64_t* first = sum.digits() + static_cast<std::size_t>(low) * sum.size();
  // Large buffers go in pieces so the count fits an int.
  std::size_t count = rows * sum.size();
  const std::size_t piece = std::size_t{1} << 28;
  for (std::size_t done = 0; done < count; done += piece) {
    const int n = static_cast<int>(std::min(piece, count - done));
    check(MPI_Allreduce(MPI_IN_PLACE, first + done, n, MPI_INT64_T, MPI_SUM, comm.get()),
          "MPI_Allreduce(exact sum)");
  }
  sum.set_word_range(low, high);
}

}  // namespace fedhpc::mpi
