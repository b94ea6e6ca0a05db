#pragma once
// Helpers shared by the tests: temporary paths agreed by all ranks, and
// running the fedhpc binary under mpirun.
#include <mpi.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <sys/wait.h>

#include <cstring>
#include <functional>
#include <vector>

#include <gtest/gtest.h>

#include "fedhpc/cli/run_options.hpp"
#include "fedhpc/core/error.hpp"
#include "fedhpc/io/hdf5.hpp"

namespace fedhpc::test {

// A quiet run on synthetic 12x12 images that overwrites output; each test
// sets the rest.
inline RunOptions synthetic_run(const std::string& output, std::int64_t train_samples,
                                std::int64_t test_samples) {
  RunOptions o;
  o.dataset = "synthetic";
  o.synthetic_train_samples = train_samples;
  o.synthetic_test_samples = test_samples;
  o.synthetic_side = 12;
  o.output = output;
  o.overwrite = true;
  o.quiet = true;
  return o;
}

// A fresh directory under the system temp dir, the same path on every rank of comm.
inline std::string shared_temp_dir(MPI_Comm comm, const std::string& tag) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  char buf[512] = {};
  if (rank == 0) {
    std::string pattern = (std::filesystem::temp_directory_path() / ("fedhpc-" + tag + "-XXXXXX")).string();
    std::snprintf(buf, sizeof buf, "%s", pattern.c_str());
    if (!mkdtemp(buf)) buf[0] = 0;
  }
  MPI_Bcast(buf, sizeof buf, MPI_CHAR, 0, comm);
  return buf;
}

// Expects `fn` to throw an InputError of one line that contains every needle.
void expect_input_error(const std::function<void()>& fn, const std::vector<std::string>& needles) {
  try {
    fn();
    ADD_FAILURE() << "no InputError thrown";
  } catch (const fedhpc::InputError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    for (const auto& n : needles)
      EXPECT_NE(msg.find(n), std::string::npos) << msg << " lacks " << n;
  }
}

// A whole dataset of an output file, read serially.
template <class T>
std::vector<T> read(const std::string& path, const std::string& name) {
  auto file = h5::File::open(path, MPI_COMM_NULL, false);
  return file.root().dataset(name).read_all<T>();
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

struct CommandResult {
  int status = -1;
  std::string output;  // stdout and stderr together
};

inline CommandResult run_command(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buf;
  while (std::fgets(buf.data(), int(buf.size()), pipe)) result.output += buf.data();
  const int raw = pclose(pipe);
  result.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return result;
}

#ifdef FEDHPC_BINARY
// Runs `fedhpc run ARGS` under mpirun with n ranks (from a serial test).
inline CommandResult run_fedhpc(int ranks, const std::string& args) {
  const std::string command = std::string(FEDHPC_MPIEXEC) + " --oversubscribe -n " + std::to_string(ranks) +
                              " " + FEDHPC_BINARY + " run " + args;
  return run_command(command);
}
#endif

}  // namespace fedhpc::test
