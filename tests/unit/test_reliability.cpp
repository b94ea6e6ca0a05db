// Reliability pieces on their own: signals agreed on every rank, the output
// path checks, the output lock, publishing OUTPUT.partial, the writer's
// chunked datasets (unreached rounds cost nothing and read as NaN), and its
// size plan.
#include <gtest/gtest.h>
#include <mpi.h>
#include <sys/stat.h>

#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>

#include "fedhpc/cli/run_command.hpp"
#include "fedhpc/core/interrupt.hpp"
#include "fedhpc/io/output_path.hpp"
#include "fedhpc/mpi/comm.hpp"
#include "test_support.hpp"

using namespace fedhpc;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A small mlp run of 4 clients on 12x12 synthetic images.
RunOptions small_run(const std::string& output) {
  RunOptions o = test::synthetic_run(output, 400, 100);
  o.model = "mlp";
  o.hidden = 8;
  o.clients = 4;
  return o;
}

class Reliability : public testing::Test {
 protected:
  void SetUp() override {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    dir_ = test::shared_temp_dir(MPI_COMM_WORLD, "reliability");
  }
  bool root() const { return rank_ == 0; }
  int rank_ = 0, size_ = 1;
  std::string dir_;
};

}  // namespace

TEST_F(Reliability, InterruptOnOneRankIsAgreedOnEveryRank) {
  const auto comm = mpi::Comm::world();
  try {
    mpi::collective_try(comm, [&] {
      if (rank_ == size_ - 1) throw Interrupted(SIGTERM);
    });
    FAIL() << "no exception";
  } catch (const Interrupted& e) {
    EXPECT_EQ(e.signal(), SIGTERM);
    EXPECT_NE(std::string(e.what()).find("SIGTERM"), std::string::npos);
  }
  // An interruption outranks nothing: a lower rank's input error is reported instead.
  if (size_ > 1) {
    EXPECT_THROW(mpi::collective_try(comm,
                                     [&] {
                                       if (rank_ == 0) throw InputError("bad");
                                       if (rank_ == 1) throw Interrupted(SIGINT);
                                     }),
                 InputError);
  }
}

TEST_F(Reliability, OutputPathChecks) {
  if (!root()) return;
  const std::string file = dir_ + "/exists.h5";
  std::ofstream(file) << "keep";
  test::expect_input_error([&] { io::check_output_path(file, false, {}); }, {"--output", "exists", "--overwrite"});
  io::check_output_path(file, true, {});  // fine with --overwrite
  test::expect_input_error([&] { io::check_output_path(file, true, {file}); }, {"--output", "input"});
  test::expect_input_error([&] { io::check_output_path(dir_, true, {}); }, {"--output", "directory"});
  test::expect_input_error([&] { io::check_output_path("/dev/null", true, {}); }, {"--output", "regular file"});
  test::expect_input_error([&] { io::check_output_path(dir_ + "/no/such/dir/x.h5", false, {}); },
                           {"--output", "does not exist"});
  test::expect_input_error([&] { io::check_output_path(dir_ + "/" + std::string(250, 'a'), false, {}); },
                           {"--output", "characters"});
  // A long path made of ordinary components is fine.
  std::string deep = dir_;
  for (int i = 0; i < 4; ++i) deep += "/" + std::string(80, char('b' + i));
  std::filesystem::create_directories(deep);
  io::check_output_path(deep + "/run.h5", false, {});
  EXPECT_EQ(slurp(file), "keep");
  // An unfinished run's OUTPUT.partial is kept unless --overwrite.
  const std::string fresh = dir_ + "/fresh.h5";
  std::ofstream(io::partial_path(fresh)) << "killed run";
  test::expect_input_error([&] { io::check_output_path(fresh, false, {}); }, {"--output", "unfinished", "--overwrite"});
  io::check_output_path(fresh, true, {});
}

TEST_F(Reliability, OutputLockIsExclusive) {
  if (!root()) return;
  const std::string out = dir_ + "/locked.h5";
  {
    io::OutputLock first(out);
    // A second open file description conflicts with the first, as a second run would.
    test::expect_input_error([&] { io::OutputLock second(out); }, {"--output", "in use by another fedhpc run"});
  }
  EXPECT_FALSE(std::filesystem::exists(out + ".lock"));
  io::OutputLock again(out);  // released with the first
}

TEST_F(Reliability, PublishNeverReplacesAResultWithAWorseOne) {
  if (!root()) return;
  const std::string out = dir_ + "/pub.h5";
  std::ofstream(io::partial_path(out)) << "failed run";
  EXPECT_EQ(io::publish(out, false), out);  // nothing there yet: it takes the name
  EXPECT_EQ(slurp(out), "failed run");
  std::ofstream(io::partial_path(out)) << "second failed run";
  EXPECT_EQ(io::publish(out, false), io::partial_path(out));  // the earlier file stays
  EXPECT_EQ(slurp(out), "failed run");
  std::ofstream(io::partial_path(out)) << "complete run";
  EXPECT_EQ(io::publish(out, true), out);
  EXPECT_EQ(slurp(out), "complete run");
  EXPECT_FALSE(std::filesystem::exists(io::partial_path(out)));
}

TEST_F(Reliability, UnreachedRoundsReadAsNaNAndCostNoSpace) {
  RunOptions o = small_run(dir_ + "/long.h5");
  o.rounds = 20000;
  o.fail_at_round = 2;
  EXPECT_THROW(run_simulation(o, mpi::Comm::world()), RunError);
  MPI_Barrier(MPI_COMM_WORLD);
  if (!root()) return;
  auto file = h5::File::open(o.output, MPI_COMM_NULL, false);
  auto rootg = file.root();
  EXPECT_EQ(rootg.get_attribute_string("status"), "failed");
  EXPECT_EQ(rootg.get_attribute_int64("rounds_completed"), 1);
  auto weights = rootg.dataset("global/weights");
  ASSERT_EQ(weights.dims()[0], 20001u);
  const auto P = weights.dims()[1];
  std::vector<float> row(P);
  weights.read_slab<float>({1, 0}, {1, P}, row.data());
  EXPECT_TRUE(std::isfinite(row[0]));
  weights.read_slab<float>({19999, 0}, {1, P}, row.data());
  EXPECT_TRUE(std::isnan(row[0]));
  std::vector<double> acc(1);
  rootg.dataset("global/test_accuracy").read_slab<double>({500}, {1}, acc.data());
  EXPECT_TRUE(std::isnan(acc[0]));
  // 20,001 rows of the model alone would be 20001 * P * 4 bytes.
  EXPECT_LT(std::filesystem::file_size(o.output), 20001u * P * 4 / 20);
}

TEST_F(Reliability, OversizedOutputIsRefusedBeforeAnythingIsWritten) {
  RunOptions o = small_run(dir_ + "/big.h5");
  o.rounds = 1000;
  o.max_output_gb = 0.001;
  test::expect_input_error([&] { run_simulation(o, mpi::Comm::world()); },
                           {"--max-output-gb", "/global/weights [1001 x"});
  MPI_Barrier(MPI_COMM_WORLD);
  EXPECT_FALSE(std::filesystem::exists(o.output));
  EXPECT_FALSE(std::filesystem::exists(o.output + ".partial"));
  EXPECT_FALSE(std::filesystem::exists(o.output + ".lock"));
}

TEST_F(Reliability, PerRoundBuffersCountAgainstTheMemoryLimit) {
  RunOptions o = small_run(dir_ + "/mem.h5");
  o.local_iterations = 100000000;  // 1.6 GB of per-round losses for 4 clients
  o.max_memory_gb = 1;
  test::expect_input_error([&] { run_simulation(o, mpi::Comm::world()); }, {"--max-memory-gb", "--local-iterations"});
  MPI_Barrier(MPI_COMM_WORLD);
  EXPECT_FALSE(std::filesystem::exists(o.output));
}
