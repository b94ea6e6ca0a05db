// fedhpc sweep under mpirun -n 2: a 2x3 grid runs in sequence with one file
// per point; --slurm writes an array script whose task k reproduces point k
// bit for bit; bad --vary input is one line and exit 2.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "fedhpc/io/hdf5.hpp"
#include "test_support.hpp"

using fedhpc::test::run_command;

namespace {

const std::string kSmall =
    " --dataset synthetic --synthetic-train-samples 240 --synthetic-test-samples 60 --synthetic-side 8"
    " --clients 3 --rounds 2 --model mlp --hidden 4 --quiet";

std::string temp_dir() {
  static std::string dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("fedhpc-sweep-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d.string();
  }();
  return dir;
}

fedhpc::test::CommandResult sweep(const std::string& args) {
  return run_command(std::string(FEDHPC_MPIEXEC) + " --oversubscribe -n 2 " + FEDHPC_BINARY + " sweep " + args);
}

std::vector<float> global_weights(const std::string& path) {
  auto file = fedhpc::h5::File::open(path, MPI_COMM_NULL, false);
  return file.root().dataset("global/weights").read_all<float>();
}

std::string config_of(const std::string& path) {
  auto file = fedhpc::h5::File::open(path, MPI_COMM_NULL, false);
  return file.root().get_attribute_string("config");
}

int count_of(const std::string& text, const std::string& needle) {
  int n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

}  // namespace

TEST(Sweep, GridRunsEveryPointAndSlurmTaskMatchesIt) {
  const std::string dir = temp_dir();
  const std::string grid = " --vary seed=0,1 --vary lr=0.01,0.05,0.1 --save-weights global";
  auto r = sweep(grid + kSmall + " --output " + dir + "/s.h5");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(count_of(r.output, "sweep "), 6) << r.output;
  for (const char* seed : {"0", "1"})
    for (const char* lr : {"0.01", "0.05", "0.1"}) {
      const std::string out = dir + "/s-seed" + seed + "-lr" + lr + ".h5";
      ASSERT_TRUE(std::filesystem::exists(out)) << out << "\n" << r.output;
      const auto config = config_of(out);
      EXPECT_NE(config.find(std::string("seed = ") + seed + "\n"), std::string::npos) << config;
      EXPECT_NE(config.find(std::string("lr = ") + lr + "\n"), std::string::npos) << config;
    }
  EXPECT_NE(global_weights(dir + "/s-seed0-lr0.05.h5"), global_weights(dir + "/s-seed1-lr0.05.h5"));

  // The same grid as a Slurm array; task 4 = seed 1, lr 0.05, into its own folder.
  std::filesystem::create_directories(dir + "/slurm");
  const std::string script = dir + "/sweep.sbatch";
  r = sweep(grid + kSmall + " --output " + dir + "/slurm/s.h5 --slurm " + script + " --slurm-ranks 2");
  ASSERT_EQ(r.status, 0) << r.output;
  std::ifstream in(script);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("#SBATCH --array=0-5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("#SBATCH --ntasks=2\n"), std::string::npos) << text;
  EXPECT_FALSE(std::filesystem::exists(dir + "/slurm/s-seed1-lr0.05.h5")) << "--slurm must not run anything";
  r = run_command("SLURM_ARRAY_TASK_ID=4 FEDHPC_LAUNCH='" + std::string(FEDHPC_MPIEXEC) +
                  " --oversubscribe -n 2' bash " + script);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(global_weights(dir + "/slurm/s-seed1-lr0.05.h5"), global_weights(dir + "/s-seed1-lr0.05.h5"));
  // A second --slurm into the same file is refused: nothing is overwritten.
  r = sweep(grid + kSmall + " --output " + dir + "/slurm/s.h5 --slurm " + script);
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("--slurm"), std::string::npos) << r.output;
}

TEST(Sweep, OutputTemplatesNameThePoints) {
  // The template is filled per point (into a folder `run` creates), not from point 0.
  const std::string dir = temp_dir() + "/templated";
  auto r = sweep(" --vary seed=0,1 --vary lr=0.01,0.05" + kSmall + " --output " + dir + "/{topology}-lr{opt:lr}-s{seed}.h5");
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* seed : {"0", "1"})
    for (const char* lr : {"0.01", "0.05"}) {
      const std::string out = dir + "/centralized-lr" + lr + "-s" + seed + ".h5";
      ASSERT_TRUE(std::filesystem::exists(out)) << out << "\n" << r.output;
      EXPECT_NE(config_of(out).find(std::string("lr = ") + lr + "\n"), std::string::npos);
    }
  // A template without a varied option would give two points one file: refused before any run.
  r = sweep(" --vary seed=0,1" + kSmall + " --output " + dir + "/lr{opt:lr}.h5");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_EQ(count_of(r.output, "fedhpc: error:"), 1) << r.output;
  EXPECT_NE(r.output.find("both write"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir + "/lr0.01.h5"));
}

// A value with a comma (--save-weights clients:1,2) is written \, in --vary;
// \\ is a backslash. --dry-run lists the points' options.
TEST(Sweep, EscapedCommasStayInTheirValue) {
  auto r = sweep(" --vary 'save-weights=clients:1\\,2,global' --dry-run" + kSmall + " --output " + temp_dir() +
                 "/escaped.h5");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("0: --save-weights clients:1,2 "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("1: --save-weights global "), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("2: "), std::string::npos) << r.output;
  // Unescaped, the same text is three points, and "2" is not a --save-weights value.
  r = sweep(" --vary save-weights=clients:1,2,global --dry-run" + kSmall + " --output " + temp_dir() + "/unescaped.h5");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("sweep point 1"), std::string::npos) << r.output;
}

TEST(Sweep, BadVaryIsOneLineAndExitTwo) {
  const std::string out = " --output " + temp_dir() + "/bad.h5";
  for (const auto& [args, needle] : std::vector<std::pair<std::string, std::string>>{
           {"--vary seed" + kSmall, "--vary"},
           {"--vary output=a.h5,b.h5" + kSmall, "cannot vary"},
           {"--vary no-such-option=1,2" + kSmall + out, "no-such-option"},
           {"--vary lr=0.1,-5" + kSmall + out, "sweep point 1"},
           {"--vary seed=0,1 --seed 3" + kSmall + out, "give it once"},
           {"--vary seed=1,1" + kSmall + out, "two points"},
           {kSmall + out, "--vary"}}) {
    auto r = sweep(args);
    EXPECT_EQ(r.status, 2) << args << "\n" << r.output;
    EXPECT_EQ(count_of(r.output, "fedhpc: error:"), 1) << args << "\n" << r.output;
    EXPECT_NE(r.output.find(needle), std::string::npos) << needle << " not in: " << r.output;
  }
  EXPECT_FALSE(std::filesystem::exists(temp_dir() + "/bad-seed0.h5"));
}
