// fedhpc command-line entry point (fedhpc::cli::main); src/app/main.cpp and
// user programs that register their own parts call it.
#include "fedhpc/cli/main.hpp"

#include <mpi.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "fedhpc/cli/mi_command.hpp"
#include "fedhpc/cli/interpolate_command.hpp"
#include "fedhpc/cli/landscape_command.hpp"
#include "fedhpc/cli/pretrain_command.hpp"
#include "fedhpc/cli/run_command.hpp"
#include "fedhpc/cli/sweep_command.hpp"
#include "fedhpc/core/interrupt.hpp"
#include "fedhpc/core/version.hpp"

namespace fedhpc::cli {
namespace {

const char* kUsage =
    "Usage: fedhpc <command> [options]\n"
    "Commands:\n"
    "  run         run a federated-learning simulation (fedhpc run --help)\n"
    "  sweep       run a grid of runs, or write it as a Slurm array (fedhpc sweep --help)\n"
    "  mi          mutual information between clients' trained parameters (fedhpc mi --help)\n"
    "  landscape   loss surface around a run's final model, trajectories (fedhpc landscape --help)\n"
    "  interpolate loss along the line between two runs' final models (fedhpc interpolate --help)\n"
    "  pretrain    train LeNet-5 on Fashion-MNIST into a model file for lenet5-transfer (fedhpc pretrain --help)\n"
    "  version     print the version\n";

int dispatch(int argc, char** argv, const mpi::Comm& world) {
  const bool root = world.rank() == 0;
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    if (root) std::printf("%s", kUsage);
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  if (command == "version" || command == "--version") {
    if (root) std::printf("fedhpc %s\n", version_with_commit());
    return 0;
  }
  if (command == "run") return run_command(std::vector<std::string>(argv + 2, argv + argc), world);
  if (command == "sweep") return sweep_command(std::vector<std::string>(argv + 2, argv + argc), world);
  if (command == "mi") return mi_command(std::vector<std::string>(argv + 2, argv + argc), world);
  if (command == "landscape") return landscape_command(std::vector<std::string>(argv + 2, argv + argc), world);
  if (command == "interpolate") return interpolate_command(std::vector<std::string>(argv + 2, argv + argc), world);
  if (command == "pretrain") return pretrain_command(std::vector<std::string>(argv + 2, argv + argc), world);
  if (root)
    std::fprintf(stderr, "fedhpc: error: unknown command '%s'; allowed: run|sweep|mi|landscape|interpolate|pretrain|version\n",
                 command.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  // Before MPI_Init, so a file-size limit met while MPI starts is an error
  // too; again after it, so these handlers are the ones in force.
  install_interrupt_handlers();
  MPI_Init(&argc, &argv);
  install_interrupt_handlers();
  int status = 0;
  try {
    status = dispatch(argc, argv, mpi::Comm::world());
  } catch (const std::exception& e) {
    // Anything that escapes the per-rank agreement: no rank can be trusted to
    // reach the next collective, so stop the whole job.
    std::fprintf(stderr, "fedhpc: fatal: %s\n", e.what());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  MPI_Finalize();
  return status;
}

}  // namespace fedhpc::cli
