#pragma once
#include <string>
#include <vector>

#include "fedhpc/mpi/comm.hpp"

namespace fedhpc {

// `fedhpc mi`: mutual information between clients' locally trained
// parameters (README, "fedhpc mi"). Returns the exit status (0 ok, 2 bad
// input, 1 failed); rank 0 prints progress and errors.
int mi_command(const std::vector<std::string>& args, const mpi::Comm& comm);

}  // namespace fedhpc
