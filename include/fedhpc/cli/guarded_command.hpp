#pragma once
#include <functional>

#include "fedhpc/mpi/comm.hpp"

namespace fedhpc {

// Runs a subcommand's body and turns its errors into the exit status every
// command shares: 0 done, 2 bad input ("fedhpc: error: ..."), 128 + signal
// when interrupted, 1 when the work failed ("fedhpc: NAME failed: ...").
// Rank 0 prints the one line.
int guarded_command(const mpi::Comm& comm, const char* name, const std::function<void()>& body);

}  // namespace fedhpc
