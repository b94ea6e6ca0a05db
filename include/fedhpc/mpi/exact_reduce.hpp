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
// terms, and takes allreduce()'s route from the start where the ring does
// not pay (ring_pays). Both routes give the same bits. `sum` is left
// unspecified afterwards.
void allreduce_divide(ExactSum& sum, double divisor, float* out, const Comm& comm);

// Whether allreduce_divide() runs its ring: p - 1 latency steps, against
// about log2(p) for allreduce()'s one MPI_Allreduce, which moves the whole
// packed form at every step instead of 1/p of it. With latency a and
// bandwidth b the ring wins once 2(p-1)a < (log2 p - 2) n/b for n packed
// bytes: at a = 2 us and 10-20 GB/s that is 10-20 blocks (5-10 KB) per rank
// from 64 to 1,000 ranks. Up to 4 ranks the ring is never slower.
constexpr int kRingAlwaysRanks = 4;
constexpr std::size_t kRingBlocksPerRank = 16;
bool ring_pays(std::size_t blocks, int parties);

}  // namespace fedhpc::mpi
