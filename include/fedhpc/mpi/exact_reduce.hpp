#pragma once
#include "fedhpc/core/exact_sum.hpp"
#include "fedhpc/mpi/comm.hpp"

namespace fedhpc::mpi {

// Sums the accumulators of all ranks exactly; every rank gets the total.
// Only the digit rows in use on some rank travel.
void allreduce(ExactSum& sum, const Comm& comm);

}  // namespace fedhpc::mpi
