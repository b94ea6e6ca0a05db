#pragma once
#include <string>
#include <vector>

#include "fedhpc/cli/components.hpp"
#include "fedhpc/cli/run_options.hpp"
#include "fedhpc/data/dataset.hpp"
#include "fedhpc/data/partition.hpp"
#include "fedhpc/mpi/comm.hpp"

namespace fedhpc {

// `fedhpc run`: parses options, runs the simulation on comm and writes the
// HDF5 file. Returns the exit status (0 ok, 2 bad input, 1 failed run).
// Rank 0 prints progress and errors.
int run_command(const std::vector<std::string>& args, const mpi::Comm& comm);

// The simulation itself, for callers that already hold options (tests,
// benchmarks). Throws InputError / RunError on every rank alike.
void run_simulation(RunOptions options, const mpi::Comm& comm);

}  // namespace fedhpc
