#pragma once
#include <string>
#include <vector>

#include "fedhpc/mpi/comm.hpp"

namespace fedhpc {

// `fedhpc landscape RUN.h5 [RUN2.h5 ...]`: the loss surface around the first
// run's final global model on a grid of two directions, and the runs'
// trajectories on that plane (README, "Loss landscapes"). Returns the exit
// status (0 ok, 2 bad input, 1 failure); rank 0 prints.
int landscape_command(const std::vector<std::string>& args, const mpi::Comm& comm);

}  // namespace fedhpc
