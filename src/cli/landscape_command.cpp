#include "fedhpc/cli/landscape_command.hpp"

#include <mpi.h>

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
      "range", po::value(&o.range)->default_value("-1:1"), "MIN:MAX for both axes, or XMIN:XMAX:YMIN:YMAX");
  add_analysis_options(desc, o.common, "landscape.h5");
  parse_analysis_command(args, "Usage: fedhpc landscape RUN.h5 [RUN2.h5 ...] [options]\n", desc, o.common);
  if (!o.common.help) grid_spec(o);
  return o;
}

analysis::Plane directions(const LandscapeOptions& o, const std::vector<analysis::RunFile>& runs) {
  const auto& first = runs.front();
  if (o.directions == "random") return analysis::random_directions(first.layout, first.final_model(), o.common.seed);
  if (o.directions == "pca") {
    std::vector<const float*> rows;
    for (const auto& r : runs)
      for (std::int64_t t = 0; t < r.rows(); ++t) rows.push_back(r.model(t));
    return analysis::pca_directions(rows, first.final_model(), first.num_params());
  }
  return analysis::read_directions(o.directions, first.num_params());
}

std::vector<double> trajectories(const std::vector<analysis::RunFile>& runs, const analysis::Plane& plane,
                                 std::int64_t max_rows) {
  std::vector<double> out(runs.size() * std::size_t(max_rows) * 2, std::numeric_limits<double>::quiet_NaN());
  for (std::size_t r = 0; r < runs.size(); ++r)
    for (std::int64_t t = 0; t < runs[r].rows(); ++t) {
      const auto c = analysis::project(plane, runs[r].model(t), runs.front().final_model());
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
  mpi::collective_try(comm, [&] {
    for (std::size_t i = 0; i < o.common.runs.size(); ++i) {
      runs.push_back(analysis::read_run_file(o.common.runs[i], "run file", true));
      if (i > 0)
        analysis::check_same_layout(runs[0].layout, runs[i].layout, "run file " + runs[i].path,
                                    "its model (against the first run's)");
    }
    evaluator = make_evaluator(runs.front(), o.common);
    l.plane = directions(o, runs);
  });
  check_analysis_output(o.common, comm);
  l.grid = grid;
  for (const auto& r : runs) {
    l.runs.push_back(r.path);
    l.max_rows = std::max(l.max_rows, r.rows());
  }
  l.trajectory = trajectories(runs, l.plane, l.max_rows);
  l.eval_samples = evaluator->samples();
  l.evaluated_on = evaluated_on(o.common);
  const double t0 = MPI_Wtime();
  l.values = analysis::evaluate_grid(grid, l.plane, runs.front().final_model(),
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
