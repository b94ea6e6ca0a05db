#pragma once
#include <string>
#include <vector>

#include "fedhpc/mpi/comm.hpp"

namespace fedhpc {

// `fedhpc interpolate A.h5 B.h5`: loss and accuracy along (1-s) theta_A + s
// theta_B (the two runs' final global models) and the barrier height
// (README, "Loss landscapes"). Returns the exit status; rank 0 prints.
int interpolate_command(const std::vector<std::string>& args, const mpi::Comm& comm);

}  // namespace fedhpc
