#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "fedhpc/analysis/directions.hpp"
#include "fedhpc/analysis/sample_evaluator.hpp"
#include "fedhpc/mpi/comm.hpp"

namespace fedhpc::analysis {

// A gx x gy grid over [xmin, xmax] x [ymin, ymax], both ends included.
struct GridSpec {
  std::int64_t gx = 51, gy = 51;
  double xmin = -1, xmax = 1, ymin = -1, ymax = 1;
  double x(std::int64_t i) const { return gx == 1 ? xmin : xmin + double(i) * (xmax - xmin) / double(gx - 1); }
  double y(std::int64_t j) const { return gy == 1 ? ymin : ymin + double(j) * (ymax - ymin) / double(gy - 1); }
};

// Evaluates one flat buffer (the worker's scratch copy).
using PointFunction = std::function<PointValue(const float*)>;

// Loss and accuracy at `count` points, split across the ranks of comm in
// contiguous blocks; point k's buffer is written by fill(k, buffer) into the
// rank's one scratch buffer of num_params floats. Each point is computed by
// one rank and gathered, so every rank gets the same bits at any rank count.
// Collective.
struct PointValues {
  std::vector<double> loss, accuracy;
};
PointValues evaluate_points(std::int64_t count, std::int64_t num_params,
                            const std::function<void(std::int64_t, float*)>& fill, const PointFunction& evaluate,
                            const mpi::Comm& comm);

// The loss surface L(centre + a x + b y): values[i * gy + j] at (x(i), y(j)).
PointValues evaluate_grid(const GridSpec& grid, const Plane& plane, const float* centre, const PointFunction& evaluate,
                          const mpi::Comm& comm);

struct Landscape {
  GridSpec grid;
  Plane plane;
  PointValues values;                    // [gx, gy], row-major
  std::vector<std::string> runs;         // input files
  std::int64_t max_rows = 0;             // R + 1 of the longest run
  std::vector<double> trajectory;        // [runs, max_rows, 2], NaN past a run's end
  std::int64_t eval_samples = 0;
  std::string evaluated_on;              // "all clients' training data", "client 3", ...
  std::int64_t centre_round = 0;         // the centre is row centre_round of the first run's /global/weights
  // Local scope (--local-round t > 0; 0 = global scope only): the plane is
  // centred on theta_t; local[m] = (a, b) of client m's model of round t
  // ([clients, 2], NaN for a client that did not upload), local_global = the
  // round's start theta_{t-1} and its aggregate theta_t ([2, 2]).
  std::int64_t local_round = 0;
  std::vector<double> local, local_global;
};

// Writes /landscape (README, "fedhpc landscape") into a new serial HDF5
// file. Rank 0 only.
void write_landscape(const std::string& path, bool overwrite, const Landscape& l);

// Reads /landscape/directions [2, P] (and explained_variance) of an earlier
// output; throws InputError naming --directions.
Plane read_directions(const std::string& path, std::int64_t num_params);

// Loss and accuracy along (1-s) a + s b.
struct Interpolation {
  std::vector<double> s;
  PointValues values;
  double barrier = 0.0;  // max over s in [0,1] of L(s) - ((1-s) L(0) + s L(1))
  std::string run_a, run_b;
  std::int64_t eval_samples = 0;
  std::string evaluated_on;
};

// `points` values of s from smin to smax, plus s = 0 and s = 1 when they are
// not among them (so both models themselves are always points).
std::vector<double> interpolation_points(std::int64_t points, double smin, double smax);
// Collective.
Interpolation interpolate(const float* a, const float* b, std::int64_t num_params, const std::vector<double>& s,
                          const PointFunction& evaluate, const mpi::Comm& comm);
void write_interpolation(const std::string& path, bool overwrite, const Interpolation& in);

}  // namespace fedhpc::analysis
