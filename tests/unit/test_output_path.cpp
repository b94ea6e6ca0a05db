// --output templates ({seed}, {topology}, {aggregator}, {opt:NAME}) and the
// creation of a missing last output folder (README, "Options").
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>

#include "fedhpc/cli/run_options.hpp"
#include "fedhpc/core/error.hpp"
#include "fedhpc/io/output_path.hpp"
#include "test_support.hpp"

using namespace fedhpc;

namespace {

io::OptionLookup lookup(std::map<std::string, std::string> values) {
  return [values](const std::string& name) -> std::optional<std::string> {
    const auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

const auto kValues = lookup({{"seed", "7"}, {"topology", "ring"}, {"aggregator", "fedavg"},
                             {"dirichlet-alpha", "0.1"}, {"data-dir", "/data/x"}, {"output", "o.h5"}});

std::string temp_dir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "fedhpc-outpath-XXXXXX").string();
  return mkdtemp(pattern.data()) ? pattern : "";
}

bool is_directory(const std::string& path) {
  struct stat info;
  return ::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

}  // namespace

TEST(OutputTemplate, ShortcutsAndOptions) {
  EXPECT_EQ(io::expand_output("r/{topology}-{aggregator}-s{seed}.h5", kValues), "r/ring-fedavg-s7.h5");
  EXPECT_EQ(io::expand_output("a{opt:dirichlet-alpha}-{opt:seed}.h5", kValues), "a0.1-7.h5");
  EXPECT_EQ(io::expand_output("plain/name.h5", kValues), "plain/name.h5");
}

TEST(OutputTemplate, ValuesNeverAddFoldersAndExpansionIsIdempotent) {
  const auto once = io::expand_output("out/{opt:data-dir}.h5", kValues);
  EXPECT_EQ(once, "out/_data_x.h5");
  EXPECT_EQ(io::expand_output(once, kValues), once);
  EXPECT_EQ(io::expand_output("{seed}", lookup({{"seed", "{a}/b"}})), "_a__b");
}

TEST(OutputTemplate, UnknownOrMalformedPlaceholdersAreOneLineErrors) {
  for (const std::string bad : {"x-{alpha}.h5", "x-{opt:no-such-option}.h5", "x-{opt:output}.h5", "x-{}.h5"})
    test::expect_input_error([&] { io::expand_output(bad, kValues); }, {"--output", "unknown placeholder", "{opt:NAME}"});
  test::expect_input_error([&] { io::expand_output("x-{seed.h5", kValues); }, {"--output", "unclosed"});
  test::expect_input_error([&] { io::expand_output("x-seed}.h5", kValues); }, {"--output", "'}'"});
}

TEST(OutputTemplate, ParsedRunsUseTheirResolvedOptions) {
  auto parsed = parse_run_options({"--output", "runs/{topology}-{aggregator}-{seed}-a{opt:dirichlet-alpha}.h5",
                                   "--topology", "clustered", "--seed", "3", "--partition", "dirichlet",
                                   "--dirichlet-alpha", "0.3"});
  // clustered defaults to the trimmed mean; doubles as the INI dump writes them.
  EXPECT_EQ(parsed.options.output, "runs/clustered-trimmed-mean-3-a0.3.h5");
  EXPECT_NE(to_ini(parsed.options).find("output = runs/clustered-trimmed-mean-3-a0.3.h5\n"), std::string::npos);
  test::expect_input_error([] { parse_run_options({"--output", "runs/{sed}.h5"}); }, {"--output", "'{sed}'"});
}

TEST(OutputFolder, TheLastMissingFolderIsCreated) {
  const auto dir = temp_dir();
  ASSERT_FALSE(dir.empty());
  io::check_output_path(dir + "/sweep/run.h5", false, {});
  EXPECT_TRUE(is_directory(dir + "/sweep"));
  io::check_output_path(dir + "/sweep/run2.h5", false, {});  // exists now: fine
  test::expect_input_error([&] { io::check_output_path(dir + "/a/b/run.h5", false, {}); },
                           {"--output", dir + "/a/b", "does not exist", "only the last folder"});
  EXPECT_FALSE(is_directory(dir + "/a"));
  std::filesystem::remove_all(dir);
}

// {job} and {task} come from Slurm's environment, the same on every rank.
TEST(OutputTemplate, SlurmJobAndTask) {
  for (const char* key : {"SLURM_ARRAY_JOB_ID", "SLURM_JOB_ID", "SLURM_ARRAY_TASK_ID"}) ::unsetenv(key);
  EXPECT_EQ(io::expand_output("r-{job}-{task}.h5", kValues), "r-local-0.h5");
  ::setenv("SLURM_JOB_ID", "4242", 1);
  EXPECT_EQ(io::expand_output("r-{job}-{task}.h5", kValues), "r-4242-0.h5");
  ::setenv("SLURM_ARRAY_JOB_ID", "4240", 1);
  ::setenv("SLURM_ARRAY_TASK_ID", "2", 1);
  EXPECT_EQ(io::expand_output("r-{job}-{task}-s{seed}.h5", kValues), "r-4240-2-s7.h5");
  for (const char* key : {"SLURM_ARRAY_JOB_ID", "SLURM_JOB_ID", "SLURM_ARRAY_TASK_ID"}) ::unsetenv(key);
}
