#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "fedhpc/analysis/run_file.hpp"
#include "fedhpc/analysis/sample_evaluator.hpp"
#include "fedhpc/mpi/comm.hpp"

namespace fedhpc {

// Options the analysis commands (landscape, interpolate) share: which
// samples to evaluate on, threads, output.
struct AnalysisOptions {
  std::vector<std::string> runs;  // positional run files
  std::int64_t client = -1;       // -1: the union of all clients' training data
  std::int64_t eval_samples = 0;  // 0: all of them
  std::uint64_t seed = 0;
  int threads = 1;
  std::string output;
  bool overwrite = false;
  bool help = false;
  std::string help_text;
};

// Adds the shared options to desc (with `output` as --output's default).
void add_analysis_options(boost::program_options::options_description& desc, AnalysisOptions& o,
                          const std::string& output);

// Parses `fedhpc <command> RUN.h5 ... [options]`, with an optional --config
// INI file of the same options (the command line wins). Throws InputError
// with one line naming the option.
void parse_analysis_command(const std::vector<std::string>& args, const std::string& usage,
                            boost::program_options::options_description& desc, AnalysisOptions& o);

// The evaluation set and model of a run, rebuilt from its stored `config`:
// its data set, model and scenario, and its clients' training samples from
// /data (one client's with --client, a seeded subset with --eval-samples).
// Checks that the model matches the file's layer table. Sets the threads.
std::unique_ptr<analysis::SampleEvaluator> make_evaluator(const analysis::RunFile& run, const AnalysisOptions& o);

// "all clients' training data" or "client M's training data", plus the subset.
std::string evaluated_on(const AnalysisOptions& o);

// Refuses (InputError) an output that exists without --overwrite, or that
// is one of the inputs. Rank 0 checks; collective.
void check_analysis_output(const AnalysisOptions& o, const mpi::Comm& comm);


// A finite number, the whole text.
bool parse_finite(const std::string& text, double& out);

}  // namespace fedhpc
