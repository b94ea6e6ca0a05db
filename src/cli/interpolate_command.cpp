#include "fedhpc/cli/interpolate_command.hpp"

#include <cstdio>

#include "fedhpc/analysis/landscape.hpp"
#include "fedhpc/cli/analysis_setup.hpp"
#include "fedhpc/cli/guarded_command.hpp"
#include "fedhpc/cli/run_options.hpp"
#include "fedhpc/core/error.hpp"

namespace po = boost::program_options;

namespace fedhpc {

namespace {

struct InterpolateOptions {
  AnalysisOptions common;
  std::int64_t points = 41;
  std::string range = "-0.25:1.25";
};

InterpolateOptions parse_interpolate(const std::vector<std::string>& args, double& smin, double& smax) {
  InterpolateOptions o;
  po::options_description desc("fedhpc interpolate options");
  desc.add_options()("points", po::value(&o.points)->default_value(41), "values of s (s = 0 and 1 are added)")(
      "range", po::value(&o.range)->default_value("-0.25:1.25"), "SMIN:SMAX");
  add_analysis_options(desc, o.common, "interpolation.h5");
  parse_analysis_command(args, "Usage: fedhpc interpolate A.h5 B.h5 [options]\n", desc, o.common);
  if (o.common.help) return o;
  if (o.common.runs.size() != 2)
    throw InputError("expected two run files (A.h5 B.h5); got " + std::to_string(o.common.runs.size()));
  if (o.points < 2 || o.points > 100000) throw InputError("--points: expected an integer in [2, 100000]");
  const auto colon = o.range.find(':');
  if (colon == std::string::npos || !parse_finite(o.range.substr(0, colon), smin) ||
      !parse_finite(o.range.substr(colon + 1), smax) || !(smin < smax))
    throw InputError("--range: expected SMIN:SMAX with SMIN < SMAX; got " + quote_input(o.range));
  return o;
}

void run_interpolate(const InterpolateOptions& o, double smin, double smax, const mpi::Comm& comm) {
  std::vector<analysis::RunFile> runs;
  std::unique_ptr<analysis::SampleEvaluator> evaluator;
  mpi::collective_try(comm, [&] {
    for (const auto& path : o.common.runs) runs.push_back(analysis::read_run_file(path, "run file", true));
    analysis::check_same_layout(runs[0].layout, runs[1].layout, "run file " + runs[1].path, "its model (against A's)");
    evaluator = make_evaluator(runs.front(), o.common);
  });
  check_analysis_output(o.common, comm);
  auto in = analysis::interpolate(runs[0].final_model(), runs[1].final_model(), runs[0].num_params(),
                                  analysis::interpolation_points(o.points, smin, smax),
                                  [&](const float* p) { return evaluator->evaluate(p); }, comm);
  in.run_a = runs[0].path;
  in.run_b = runs[1].path;
  in.eval_samples = evaluator->samples();
  in.evaluated_on = evaluated_on(o.common);
  mpi::collective_try(comm, [&] {
    if (comm.rank() == 0) analysis::write_interpolation(o.common.output, true, in);
  });
  if (comm.rank() != 0) return;
  for (std::size_t k = 0; k < in.s.size(); ++k)
    std::printf("s %+.4f  loss %.6f  accuracy %.4f\n", in.s[k], in.values.loss[k], in.values.accuracy[k]);
  std::printf("barrier height %.6f (max over s in [0,1] of L(s) - ((1-s) L(0) + s L(1)))\n", in.barrier);
  std::printf("wrote %s\n", o.common.output.c_str());
}

}  // namespace

int interpolate_command(const std::vector<std::string>& args, const mpi::Comm& comm) {
  return guarded_command(comm, "interpolate", [&] {
    double smin = 0, smax = 0;
    const auto o = parse_interpolate(args, smin, smax);
    if (o.common.help) {
      if (comm.rank() == 0) std::printf("%s", o.common.help_text.c_str());
      return;
    }
    run_interpolate(o, smin, smax, comm);
  });
}

}  // namespace fedhpc
