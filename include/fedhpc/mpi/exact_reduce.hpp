#pragma once
#include "fedhpc/core/exact_sum.hpp"
#include "fedhpc/mpi/comm.hpp"

namespace fedhpc::mpi {

// Sums the accumulators of all ranks exactly; every rank gets the total.
// Only the digit rows in use on some rank travel.
void allreduce(ExactSum& sum, const Comm& comm);

// out[i] = float(total_i / divisor) on every rank, where total is the exact
// sum over all ranks' accumulators: the same bits as allreduce() followed by
// divide_into(), for less traffic. Each rank receives the exact partial sums
// of one slice of the blocks only (a reduce-scatter of the one-message form),
// rounds its slice, and the rounded floats are gathered: 8.125 + 4 bytes per
// coordinate cross the network instead of 2 x 8.125. Falls back to
// allreduce() when some block needs the multi-row route or holds non-finite
// terms. `sum` is left unspecified afterwards.
void allreduce_divide(ExactSum& sum, double divisor, float* out, const Comm& comm);

}  // namespace fedhpc::mpi
