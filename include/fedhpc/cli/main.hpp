#pragma once

namespace fedhpc::cli {

// The whole `fedhpc` command line: installs the interrupt handlers, calls
// MPI_Init, runs the command (`run`, `version`), calls MPI_Finalize and
// returns the exit status (0 ok, 2 bad input, 1 failed run, 128 + signal
// when interrupted). An exception that escapes a command is fatal: it is
// printed and the job is stopped with MPI_Abort.
//
// A program that embeds fedhpc registers its own parts first, e.g.
//   fedhpc::aggregation::aggregator_registry().add("geomedian", factory);
// and then returns fedhpc::cli::main(argc, argv). MPI must not be
// initialised yet; it is finalised before this returns.
int main(int argc, char** argv);

}  // namespace fedhpc::cli
