// `fedhpc mi` end to end on a tiny logreg run: the file written on this job's
// ranks has the bits of the one written by one process (so the same at 1, 2
// and 4 ranks), starting points read back with --from and options from a
// config file give the same estimates, and bad input is exit status 2.
#include <gtest/gtest.h>
#include <mpi.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "fedhpc/cli/mi_command.hpp"
#include "fedhpc/cli/run_command.hpp"
#include "fedhpc/io/hdf5.hpp"
#include "fedhpc/mpi/comm.hpp"

namespace {

using fedhpc::mpi::Comm;

const std::vector<std::string> kRun = {"--dataset", "synthetic", "--synthetic-train-samples", "600",
                                       "--synthetic-test-samples", "100", "--synthetic-side", "8",
                                       "--clients", "4", "--model", "logreg", "--batch-size", "10",
                                       "--lr", "0.05", "--optimizer", "sgd", "--quiet", "--overwrite"};
const std::vector<std::string> kMi = {"--rounds-at", "0,2", "--mi-clients", "0,1,3", "--mi-samples", "24",
                                      "--mi-every", "3", "--mi-project", "3", "--mi-save-samples"};

std::vector<std::string> args(std::vector<std::string> a, const std::vector<std::string>& b, const std::string& out) {
  a.insert(a.end(), b.begin(), b.end());
  a.push_back("--output");
  a.push_back(out);
  return a;
}

// Per rank count, so the tests at 1, 2 and 4 ranks may run at once.
std::string file(const std::string& stem) {
  return "mi_test_" + stem + "_np" + std::to_string(Comm::world().size()) + ".h5";
}

const char* const kDatasets[] = {"mi/gaussian",    "mi/ksg",    "mi/d_euclidean", "mi/d_manhattan",
                                 "mi/d_chebyshev", "mi/test_loss", "mi/test_accuracy", "mi/samples"};

void expect_same_bits(const std::string& a, const std::string& b, bool with_samples) {
  auto fa = fedhpc::h5::File::open(a, MPI_COMM_NULL, false);
  auto fb = fedhpc::h5::File::open(b, MPI_COMM_NULL, false);
  for (const char* name : kDatasets) {
    if (!with_samples && std::strcmp(name, "mi/samples") == 0) continue;
    const auto x = fa.root().dataset(name).read_all<double>();
    const auto y = fb.root().dataset(name).read_all<double>();
    ASSERT_EQ(x.size(), y.size()) << name;
    EXPECT_EQ(std::memcmp(x.data(), y.data(), x.size() * sizeof(double)), 0) << name << ": " << a << " vs " << b;
  }
  EXPECT_EQ(fa.root().dataset("mi/pairs").read_all<std::int64_t>(),
            (std::vector<std::int64_t>{0, 1, 0, 3, 1, 3}));
}

TEST(MiCommand, SameBitsAtAnyRankCountAndFromStoredRun) {
  const auto world = Comm::world();
  ASSERT_EQ(fedhpc::mi_command(args(kRun, kMi, file("world")), world), 0);
  int ok = 1;
  if (world.rank() == 0) {
    ok = fedhpc::mi_command(args(kRun, kMi, file("self")), Comm::self()) == 0;
    if (ok) expect_same_bits(file("world"), file("self"), true);
  }
  MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
  ASSERT_TRUE(ok);
  // The same starting points from a stored run.
  auto run = kRun;
  run.insert(run.end(), {"--rounds", "2", "--output", file("run")});
  ASSERT_EQ(fedhpc::run_command(run, world), 0);
  const std::vector<std::string> from = {"--from", file("run"), "--quiet", "--overwrite"};
  ASSERT_EQ(fedhpc::mi_command(args(from, kMi, file("from")), world), 0);
  // The mi options in a config file next to the run's (the command line's --mi-samples wins).
  const std::string ini = "mi_test_np" + std::to_string(world.size()) + ".ini";
  if (world.rank() == 0) {
    std::ofstream out(ini);
    out << "[run]\n";
    for (std::size_t i = 0; i + 1 < kRun.size(); i += 2)
      if (kRun[i] != "--quiet" && kRun[i] != "--overwrite") out << kRun[i].substr(2) << " = " << kRun[i + 1] << "\n";
    out << "mi-samples = 99\nrounds-at = 0,2\nmi-clients = 0,1,3\nmi-every = 3\nmi-project = 3\nmi-save-samples = true\n";
  }
  world.barrier();
  const std::vector<std::string> config = {"--config", ini, "--quiet", "--overwrite", "--mi-samples", "24", "--output",
                                           file("config")};
  ASSERT_EQ(fedhpc::mi_command(config, world), 0);
  if (world.rank() == 0) {
    expect_same_bits(file("world"), file("from"), true);
    expect_same_bits(file("world"), file("config"), true);
    for (const char* stem : {"world", "self", "run", "from", "config"}) ::unlink(file(stem).c_str());
    ::unlink(ini.c_str());
  }
}

TEST(MiCommand, BadInputIsStatus2) {
  const auto world = Comm::world();
  for (const auto& bad : std::vector<std::vector<std::string>>{{"--mi-samples", "1"},
                                                               {"--mi-clients", "0,0"},
                                                               {"--mi-clients", "0,9"},
                                                               {"--mi-every", "100000"},
                                                               {"--mi-layer", "nope"},
                                                               {"--ksg-k", "30", "--mi-samples", "30"},
                                                               {"--rounds-at", "7", "--rounds", "3"},
                                                               {"--from", "no-such-run.h5"}}) {
    auto a = args(kRun, bad, file("bad"));
    EXPECT_EQ(fedhpc::mi_command(a, world), 2) << bad[0];
  }
}

}  // namespace
