#include "fedhpc/cli/landscape_command.hpp"

#include <mpi.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

#include "fedhpc/analysis/landscape.hpp"
#include "fedhpc/cli/analysis_setup.hpp"
#include "fedhpc/cli/guarded_command.hpp"
#include "fedhpc/cli/run_options.hpp"
#include "fedhpc/core/error.hpp"

namespace po = boost::program_options;

namespace fedhpc {

namespace {

struct LandscapeOptions {
  AnalysisOptions common;
  std::string directions = "random";
  std::int64_t grid = 51;
  std::string range = "-1:1";
  std::int64_t local_round = 0;  // > 0: the local scope of that round
};

// "-1:1" (both axes) or "xmin:xmax:ymin:ymax".
analysis::GridSpec grid_spec(const LandscapeOptions& o) {
  if (o.grid < 2 || o.grid > 10001) throw InputError("--grid: expected an integer in [2, 10001]; got " + std::to_string(o.grid));
  std::vector<double> v;
  std::string part;
  std::istringstream in(o.range);
  while (std::getline(in, part, ':')) {
    double d = 0;
    if (!parse_finite(part, d)) throw InputError("--range: " + quote_input(part) + " is not a finite number");
    v.push_back(d);
  }
  if (v.size() == 2) v = {v[0], v[1], v[0], v[1]};
  if (v.size() != 4 || (!o.range.empty() && o.range.back() == ':'))
    throw InputError("--range: expected MIN:MAX or XMIN:XMAX:YMIN:YMAX; got " + quote_input(o.range));
  if (!(v[0] < v[1]) || !(v[2] < v[3])) throw InputError("--range: each MIN must be below its MAX; got " + quote_input(o.range));
  analysis::GridSpec g;
  g.gx = g.gy = o.grid;
  g.xmin = v[0], g.xmax = v[1], g.ymin = v[2], g.ymax = v[3];
  return g;
}

LandscapeOptions parse(const std::vector<std::string>& args) {
  LandscapeOptions o;
  po::options_description desc("fedhpc landscape options");
  desc.add_options()("directions", po::value(&o.directions)->default_value("random"),
                     "random (seeded, filter-normalised) | pca (top 2 principal components of the trajectories) | "
                     "FILE.h5 (the directions of an earlier landscape output)")(
      "grid", po::value(&o.grid)->default_value(51), "points per axis")(
      "range", po::value(&o.range)->default_value("-1:1"), "MIN:MAX for both axes, or XMIN:XMAX:YMIN:YMAX")(
      "local-round", po::value(&o.local_round)->default_value(0),
      "local scope of round t: the plane around theta_t, with theta_{t-1}, each client's theta_m^t and theta_t "
      "projected on it (needs /clients/weights of round t; 0 = global scope)");
  add_analysis_options(desc, o.common, "landscape.h5");
  parse_analysis_command(args, "Usage: fedhpc landscape RUN.h5 [RUN2.h5 ...] [options]\n", desc, o.common);
  if (!o.common.help) {
    grid_spec(o);
    if (o.local_round < 0 || o.local_round > 100000000)
      throw InputError("--local-round: expected a round in [1, 100000000], or 0 for the global scope; got " +
                       std::to_string(o.local_round));
    if (o.local_round > 0 && o.common.runs.size() > 1)
      throw InputError("--local-round: the local scope takes one run file; got " + std::to_string(o.common.runs.size()));
  }
  return o;
}

// The models of the local scope of round t: the clients' (NaN rows for
// those that did not upload) and the round's start and aggregate.
struct LocalScope {
  std::int64_t round = 0;
  std::vector<float> clients;  // [clients, P]
};

bool finite_row(const float* row, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i)
    if (!std::isfinite(row[i])) return false;
  return true;
}

// The checkpoints PCA sees: every global model of every run (global scope),
// or theta_{t-1}, the clients' theta_m^t and theta_t (local scope).
std::vector<const float*> pca_rows(const std::vector<analysis::RunFile>& runs, const LocalScope& local) {
  std::vector<const float*> rows;
  if (local.round == 0) {
    for (const auto& r : runs)
      for (std::int64_t t = 0; t < r.rows(); ++t) rows.push_back(r.model(t));
    return rows;
  }
  const auto& run = runs.front();
  const std::int64_t P = run.num_params();
  rows.push_back(run.model(local.round - 1));
  for (std::size_t k = 0; k * std::size_t(P) < local.clients.size(); ++k)
    if (finite_row(local.clients.data() + k * std::size_t(P), P)) rows.push_back(local.clients.data() + k * std::size_t(P));
  rows.push_back(run.model(local.round));
  return rows;
}

analysis::Plane directions(const LandscapeOptions& o, const std::vector<analysis::RunFile>& runs, const float* centre,
                           const LocalScope& local) {
  const auto& first = runs.front();
  if (o.directions == "random") return analysis::random_directions(first.layout, centre, o.common.seed);
  if (o.directions == "pca") return analysis::pca_directions(pca_rows(runs, local), centre, first.num_params());
  return analysis::read_directions(o.directions, first.num_params());
}

// The round's client models, after checking the round exists.
LocalScope read_local_scope(const LandscapeOptions& o, const analysis::RunFile& run) {
  LocalScope local;
  local.round = o.local_round;
  if (local.round == 0) return local;
  if (local.round > run.rounds_completed)
    throw InputError("--local-round: " + run.path + " has " + std::to_string(run.rounds_completed) +
                     " completed rounds; round " + std::to_string(local.round) + " is not there");
  local.clients = analysis::read_client_models(run.path, local.round, run.num_params(), "--local-round");
  return local;
}

// local [clients, 2] and local_global [2, 2] (README, "Local scope").
void project_local(const LocalScope& local, const analysis::RunFile& run, const analysis::Plane& plane,
                   analysis::Landscape& l) {
  const std::int64_t P = run.num_params();
  const float* centre = run.model(local.round);
  for (std::size_t k = 0; k * std::size_t(P) < local.clients.size(); ++k) {
    const float* row = local.clients.data() + k * std::size_t(P);
    const auto c = finite_row(row, P) ? analysis::project(plane, row, centre)
                                      : std::array<double, 2>{std::nan(""), std::nan("")};
    l.local.insert(l.local.end(), {c[0], c[1]});
  }
  for (const std::int64_t t : {local.round - 1, local.round}) {
    const auto c = analysis::project(plane, run.model(t), centre);
    l.local_global.insert(l.local_global.end(), {c[0], c[1]});
  }
}

std::vector<double> trajectories(const std::vector<analysis::RunFile>& runs, const analysis::Plane& plane,
                                 const float* centre, std::int64_t max_rows) {
  std::vector<double> out(runs.size() * std::size_t(max_rows) * 2, std::numeric_limits<double>::quiet_NaN());
  for (std::size_t r = 0; r < runs.size(); ++r)
    for (std::int64_t t = 0; t < runs[r].rows(); ++t) {
      const auto c = analysis::project(plane, runs[r].model(t), centre);
      out[(r * std::size_t(max_rows) + std::size_t(t)) * 2] = c[0];
      out[(r * std::size_t(max_rows) + std::size_t(t)) * 2 + 1] = c[1];
    }
  return out;
}

void run_landscape(const LandscapeOptions& o, const mpi::Comm& comm) {
  const auto grid = grid_spec(o);
  std::vector<analysis::RunFile> runs;
  std::unique_ptr<analysis::SampleEvaluator> evaluator;
  analysis::Landscape l;
  LocalScope local;
  mpi::collective_try(comm, [&] {
    for (std::size_t i = 0; i < o.common.runs.size(); ++i) {
      runs.push_back(analysis::read_run_file(o.common.runs[i], "run file", true));
      if (i > 0)
        analysis::check_same_layout(runs[0].layout, runs[i].layout, "run file " + runs[i].path,
                                    "its model (against the first run's)");
    }
    evaluator = make_evaluator(runs.front(), o.common);
    local = read_local_scope(o, runs.front());
    l.centre_round = local.round > 0 ? local.round : runs.front().rounds_completed;
    l.plane = directions(o, runs, runs.front().model(l.centre_round), local);
  });
  const float* centre = runs.front().model(l.centre_round);
  check_analysis_output(o.common, comm);
  l.grid = grid;
  for (const auto& r : runs) {
    l.runs.push_back(r.path);
    l.max_rows = std::max(l.max_rows, r.rows());
  }
  l.trajectory = trajectories(runs, l.plane, centre, l.max_rows);
  l.local_round = local.round;
  if (local.round > 0) project_local(local, runs.front(), l.plane, l);
  l.eval_samples = evaluator->samples();
  l.evaluated_on = evaluated_on(o.common);
  const double t0 = MPI_Wtime();
  l.values = analysis::evaluate_grid(grid, l.plane, centre,
                                     [&](const float* p) { return evaluator->evaluate(p); }, comm);
  const double seconds = MPI_Wtime() - t0;
  mpi::collective_try(comm, [&] {
    if (comm.rank() == 0) analysis::write_landscape(o.common.output, true, l);
  });
  if (comm.rank() == 0) {
    const auto n = grid.gx * grid.gy;
    std::printf("landscape: %lld points on %lld samples (%s) in %.1f s (%.2f points/s, %d ranks)\n", (long long)n,
                (long long)l.eval_samples, l.plane.kind.c_str(), seconds, double(n) / seconds, comm.size());
    if (l.plane.kind == "pca")
      std::printf("explained variance: x %.4f, y %.4f\n", l.plane.explained[0], l.plane.explained[1]);
    std::printf("wrote %s\n", o.common.output.c_str());
  }
}

}  // namespace

int landscape_command(const std::vector<std::string>& args, const mpi::Comm& comm) {
  return guarded_command(comm, "landscape", [&] {
    const auto o = parse(args);
    if (o.common.help) {
      if (comm.rank() == 0) std::printf("%s", o.common.help_text.c_str());
      return;
    }
    run_landscape(o, comm);
  });
}

}  // namespace fedhpc
