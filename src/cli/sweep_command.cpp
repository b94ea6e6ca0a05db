#include "fedhpc/cli/sweep_command.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "fedhpc/cli/run_command.hpp"
#include "fedhpc/cli/run_options.hpp"
#include "fedhpc/cli/guarded_command.hpp"
#include "fedhpc/core/error.hpp"
#include "fedhpc/core/interrupt.hpp"

namespace fedhpc {
namespace {

const char* kSweepUsage =
    "Usage: fedhpc sweep --vary NAME=V1,V2,... [--vary ...] [--slurm FILE [--slurm-ranks N]] [--dry-run]\n"
    "                    [run options, e.g. --config base.ini --output runs/study.h5]\n"
    "Runs the grid of every combination of the --vary values (the last --vary varies fastest),\n"
    "one `fedhpc run` after another on the same ranks, or writes a Slurm array script that runs\n"
    "point SLURM_ARRAY_TASK_ID (--slurm). NAME is a long option of `fedhpc run` (not output or\n"
    "config). Each point writes OUTPUT with -NAMEvalue tags before the extension, e.g.\n"
    "runs/study-seed0-dirichlet-alpha0.1.h5. Every point is checked before the first runs.\n"
    "A value that holds a comma writes it as \\, (e.g. --vary 'save-weights=clients:1\\,5,global').\n";

// The values of "V1,V2,...": a comma written \, belongs to the value
// (options such as --save-weights clients:1,5 take commas), and \\ is one
// backslash.
std::vector<std::string> split_values(const std::string& text) {
  std::vector<std::string> out(1);
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\\' && i + 1 < text.size() && (text[i + 1] == ',' || text[i + 1] == '\\')) {
      out.back() += text[++i];
    } else if (c == ',') {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  return out;
}

// "--name" or "--name=value" of args[i]: the option's name, or "".
std::string option_name(const std::string& arg) {
  if (arg.rfind("--", 0) != 0) return "";
  return arg.substr(2, arg.find('=') - 2);
}

SweepAxis parse_axis(const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    throw InputError("--vary: " + quote_input(text) + " is not NAME=V1,V2,...; e.g. --vary seed=0,1,2");
  SweepAxis axis{text.substr(0, eq), split_values(text.substr(eq + 1))};
  if (axis.name == "output" || axis.name == "config" || axis.name == "overwrite")
    throw InputError("--vary: " + quote_input(axis.name) +
                     " cannot vary (every point writes its own output); allowed: any other run option");
  for (const auto& v : axis.values)
    if (v.empty()) throw InputError("--vary " + quote_input(axis.name) + ": an empty value in " + quote_input(text));
  return axis;
}

// The value of a sweep option given as "--name value" or "--name=value".
std::string take_value(const std::vector<std::string>& args, std::size_t& i) {
  const auto eq = args[i].find('=');
  if (eq != std::string::npos) return args[i].substr(eq + 1);
  if (i + 1 >= args.size()) throw InputError(args[i] + ": needs a value");
  return args[++i];
}

// File-name-safe form of an option value.
std::string tag_value(const std::string& value) {
  std::string out;
  for (char c : value) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '+' || c == '-') ? c : '_';
  return out;
}

std::string tagged_output(const std::string& base, const std::vector<std::pair<std::string, std::string>>& point) {
  if (base.find('{') != std::string::npos) return base;  // `run` fills the placeholders
  namespace fs = std::filesystem;
  const fs::path path(base);
  std::string tags;
  for (const auto& [name, value] : point) tags += "-" + name + tag_value(value);
  return (path.parent_path() / (path.stem().string() + tags + path.extension().string())).string();
}

// Single-quoted for bash.
std::string shell_quote(const std::string& word) {
  std::string out = "'";
  for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string this_binary() {
  std::error_code ec;
  const auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("fedhpc") : path.string();
}

void write_script(const std::string& path, const std::string& text) {
  namespace fs = std::filesystem;
  if (fs::exists(path)) throw InputError("--slurm: " + quote_input(path) + " exists; remove it or choose another name");
  std::ofstream out(path);
  out << text;
  out.close();
  if (!out) throw InputError("--slurm: cannot write " + quote_input(path));
  fs::permissions(path, fs::perms::owner_exec | fs::perms::group_exec, fs::perm_options::add);
}

// Parses and checks every point; returns their options. Outputs are compared
// once their placeholders are filled: a template that leaves out a varied
// option would give two points one file.
std::vector<RunOptions> check_points(const std::vector<std::vector<std::string>>& points) {
  std::vector<RunOptions> out;
  std::map<std::string, std::size_t> outputs;
  for (std::size_t k = 0; k < points.size(); ++k) {
    try {
      auto parsed = parse_run_options(points[k]);
      validate(parsed.options);
      out.push_back(std::move(parsed.options));
    } catch (const InputError& e) {
      throw InputError("sweep point " + std::to_string(k) + ": " + e.what());
    }
    if (const auto [it, fresh] = outputs.emplace(out.back().output, k); !fresh)
      throw InputError("--vary: points " + std::to_string(it->second) + " and " + std::to_string(k) +
                       " would both write " + quote_input(out.back().output) +
                       "; put the varied options in the --output template, e.g. {opt:NAME}");
  }
  return out;
}

// The varied options and the output of a point: its last 2 * axes + 2 words.
std::string describe(const std::vector<std::string>& point, std::size_t axes) {
  std::string out;
  for (std::size_t i = point.size() - 2 * axes - 2; i < point.size(); ++i) out += (out.empty() ? "" : " ") + point[i];
  return out;
}

void run_points(const SweepPlan& plan, const std::vector<std::vector<std::string>>& points,
               std::vector<RunOptions> options, const mpi::Comm& comm) {
  const bool root = comm.rank() == 0;
  for (std::size_t k = 0; k < points.size(); ++k) {
    if (root) {
      std::printf("sweep %zu/%zu: %s\n", k + 1, points.size(), describe(points[k], plan.axes.size()).c_str());
      std::fflush(stdout);
    }
    const std::string output = options[k].output;
    run_simulation(std::move(options[k]), comm);
    if (root) std::printf("wrote %s\n", output.c_str());
  }
}

}  // namespace

SweepPlan parse_sweep(const std::vector<std::string>& args) {
  SweepPlan plan;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto name = option_name(args[i]);
    if (args[i] == "--help" || args[i] == "-h") plan.help = true;
    else if (name == "vary") plan.axes.push_back(parse_axis(take_value(args, i)));
    else if (name == "slurm") plan.slurm = take_value(args, i);
    else if (name == "slurm-ranks") {
      const auto v = take_value(args, i);
      try {
        std::size_t used = 0;
        plan.slurm_ranks = std::stoi(v, &used);
        if (used != v.size() || plan.slurm_ranks < 1 || plan.slurm_ranks > 100000) throw std::out_of_range("");
      } catch (const std::exception&) {
        throw InputError("--slurm-ranks: " + quote_input(v) + " is not an integer in 1..100000");
      }
    } else if (args[i] == "--dry-run") plan.dry_run = true;
    else plan.base.push_back(args[i]);
  }
  if (plan.help) return plan;
  if (plan.axes.empty()) throw InputError("--vary: give at least one, e.g. --vary seed=0,1,2");
  std::set<std::string> seen;
  for (const auto& axis : plan.axes)
    if (!seen.insert(axis.name).second)
      throw InputError("--vary " + quote_input(axis.name) + ": given twice; list all its values in one --vary");
  for (const auto& arg : plan.base) {
    const auto name = option_name(arg);
    if (!name.empty() && seen.count(name))
      throw InputError("--vary " + quote_input(name) + ": also given as --" + name + "; give it once");
  }
  return plan;
}

std::vector<std::vector<std::string>> sweep_points(const SweepPlan& plan, const std::string& base_output) {
  // The base without --output: every point gets its own.
  std::vector<std::string> base;
  for (std::size_t i = 0; i < plan.base.size(); ++i) {
    if (option_name(plan.base[i]) == "output") {
      if (plan.base[i].find('=') == std::string::npos) ++i;
      continue;
    }
    base.push_back(plan.base[i]);
  }
  std::size_t total = 1;
  for (const auto& axis : plan.axes) total *= axis.values.size();
  std::vector<std::vector<std::string>> points;
  std::set<std::string> outputs;
  for (std::size_t k = 0; k < total; ++k) {
    std::vector<std::pair<std::string, std::string>> point;
    std::size_t rest = k;
    for (auto axis = plan.axes.rbegin(); axis != plan.axes.rend(); ++axis) {
      point.insert(point.begin(), {axis->name, axis->values[rest % axis->values.size()]});
      rest /= axis->values.size();
    }
    auto args = base;
    for (const auto& [name, value] : point) {
      args.push_back("--" + name);
      args.push_back(value);
    }
    const auto output = tagged_output(base_output, point);
    if (output.find('{') == std::string::npos && !outputs.insert(output).second)
      throw InputError("--vary: two points would both write " + quote_input(output) + "; give distinct values");
    args.push_back("--output");
    args.push_back(output);
    points.push_back(std::move(args));
  }
  return points;
}

std::string slurm_array_script(const SweepPlan& plan, const std::vector<std::vector<std::string>>& points,
                               const std::string& binary, const std::string& invocation) {
  std::string s = "#!/bin/bash\n";
  s += "# Written by: " + invocation + "\n";
  s += "# One array task per sweep point; run `sbatch` on this file from the directory the sweep was made in.\n";
  s += "#SBATCH --job-name=fedhpc-sweep\n";
  s += "#SBATCH --array=0-" + std::to_string(points.size() - 1) + "\n";
  s += "#SBATCH --ntasks=" + std::to_string(plan.slurm_ranks) + "\n";
  s += "#SBATCH --output=fedhpc-sweep-%A_%a.log\n";
  s += "set -euo pipefail\n";
  s += "FEDHPC_BIN=${FEDHPC_BIN:-" + shell_quote(binary) + "}\n";
  s += "# srun --mpi=pmix, or e.g. FEDHPC_LAUNCH=\"mpirun -n " + std::to_string(plan.slurm_ranks) +
       "\" inside the allocation\n";
  s += "FEDHPC_LAUNCH=${FEDHPC_LAUNCH:-srun --mpi=pmix}\n";
  s += "case ${SLURM_ARRAY_TASK_ID:?run as a Slurm array task (or set SLURM_ARRAY_TASK_ID)} in\n";
  for (std::size_t k = 0; k < points.size(); ++k) {
    s += "  " + std::to_string(k) + ") args=(";
    for (std::size_t i = 0; i < points[k].size(); ++i) s += (i ? " " : "") + shell_quote(points[k][i]);
    s += ") ;;\n";
  }
  s += "  *) echo \"fedhpc sweep: no point $SLURM_ARRAY_TASK_ID (0-" + std::to_string(points.size() - 1) +
       ")\" >&2; exit 2 ;;\n";
  s += "esac\n";
  s += "$FEDHPC_LAUNCH \"$FEDHPC_BIN\" run \"${args[@]}\"\n";
  return s;
}

int sweep_command(const std::vector<std::string>& args, const mpi::Comm& comm) {
  const bool root = comm.rank() == 0;
  return guarded_command(comm, "run", [&] {
    const auto plan = parse_sweep(args);
    if (plan.help) {
      if (root) std::printf("%s", kSweepUsage);
      return;
    }
    // The output every point derives its name from (command line or config).
    auto first = plan.base;
    for (const auto& axis : plan.axes) {
      first.push_back("--" + axis.name);
      first.push_back(axis.values.front());
    }
    std::string base_output;
    try {
      base_output = parse_run_options(first).options.output_template;
    } catch (const InputError& e) {
      throw InputError(std::string("sweep point 0: ") + e.what());
    }
    const auto points = sweep_points(plan, base_output);
    auto options = check_points(points);
    if (plan.dry_run) {
      if (root)
        for (std::size_t k = 0; k < points.size(); ++k)
          std::printf("%zu: %s\n", k, describe(points[k], plan.axes.size()).c_str());
      return;
    }
    if (!plan.slurm.empty()) {
      std::string invocation = "fedhpc sweep";
      for (const auto& a : args) invocation += " " + shell_quote(a);
      // Only rank 0 writes; the others learn whether it worked.
      mpi::collective_try(comm, [&] {
        if (root) write_script(plan.slurm, slurm_array_script(plan, points, this_binary(), invocation));
      });
      if (root) std::printf("wrote %s: sbatch it to run the %zu points as an array\n", plan.slurm.c_str(), points.size());
      return;
    }
    run_points(plan, points, std::move(options), comm);
  });
}

}  // namespace fedhpc
