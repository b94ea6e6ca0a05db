#pragma once
#include <string>
#include <vector>

#include "fedhpc/mpi/comm.hpp"

namespace fedhpc {

// One `--vary NAME=V1,V2,...` of a sweep.
struct SweepAxis {
  std::string name;
  std::vector<std::string> values;
};

// `fedhpc sweep`: the options of `run` plus the axes to vary.
struct SweepPlan {
  std::vector<std::string> base;   // the run options shared by every point
  std::vector<SweepAxis> axes;     // in the order given; the last varies fastest
  std::string slurm;               // --slurm FILE: write an array script instead of running
  int slurm_ranks = 1;             // --slurm-ranks: MPI tasks per array task
  bool dry_run = false;            // --dry-run: print the points, run nothing
  bool help = false;
};

// Splits the sweep's own options from the run options. Throws InputError.
SweepPlan parse_sweep(const std::vector<std::string>& args);

// The run arguments of every grid point (base + one value per axis + its
// output name), in row-major order. Each point's output is the base output
// with "-NAMEvalue" tags before the extension, unless the output holds a
// "{...}" placeholder. Throws InputError when two points would share a file.
std::vector<std::vector<std::string>> sweep_points(const SweepPlan& plan, const std::string& base_output);

// The text of a Slurm array script that runs point SLURM_ARRAY_TASK_ID.
std::string slurm_array_script(const SweepPlan& plan, const std::vector<std::vector<std::string>>& points,
                               const std::string& binary, const std::string& invocation);

// `fedhpc sweep ...`: checks every point, then runs them in sequence on comm
// (or writes the Slurm script). Returns the exit status.
int sweep_command(const std::vector<std::string>& args, const mpi::Comm& comm);

}  // namespace fedhpc
