// Monitoring wired through a run: --monitor every|last, non-finite clients.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <cstring>

#include "fedhpc/cli/run_command.hpp"
#include "fedhpc/core/error.hpp"
#include "fedhpc/io/hdf5.hpp"
#include "test_support.hpp"

using namespace fedhpc;
using fedhpc::test::read;
using fedhpc::test::same_bits;

namespace {

RunOptions small_run(const std::string& output) {
  RunOptions o = test::synthetic_run(output, 500, 100);
  o.clients = 5;
  o.rounds = 2;
  o.local_iterations = 3;
  o.batch_size = 20;
  return o;
}

h5::Dims dims_of(const std::string& path, const std::string& name) {
  auto file = h5::File::open(path, MPI_COMM_NULL, false);
  return file.root().dataset(name).dims();
}

class Monitoring : public testing::Test {
 protected:
  void SetUp() override {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    dir_ = test::shared_temp_dir(MPI_COMM_WORLD, "monitor");
  }
  int rank_ = 0;
  std::string dir_;
};

}  // namespace

TEST_F(Monitoring, LastRecordsExactlyTheLastIterationOfEachRound) {
  RunOptions every = small_run(dir_ + "/every.h5");
  every.monitor = "every";
  run_simulation(every, mpi::Comm::world());
  RunOptions last = small_run(dir_ + "/last.h5");
  last.monitor = "last";
  run_simulation(last, mpi::Comm::world());
  if (rank_ != 0) return;
  EXPECT_EQ(dims_of(every.output, "clients/gsc"), (h5::Dims{2, 3, 5}));
  EXPECT_EQ(dims_of(last.output, "clients/gsc"), (h5::Dims{2, 1, 5}));
  EXPECT_EQ(dims_of(every.output, "clients/input_grad_rms"), (h5::Dims{2, 3, 5}));
  EXPECT_EQ(dims_of(last.output, "clients/input_grad_rms"), (h5::Dims{2, 1, 5}));
  EXPECT_EQ(dims_of(last.output, "clients/gsc_profile"), (h5::Dims{2, 1, 5, 3}));
  EXPECT_EQ(dims_of(last.output, "clients/grad_mean_abs"), (h5::Dims{2, 1, 5, 3}));
  EXPECT_EQ(dims_of(last.output, "clients/grad_l2"), (h5::Dims{2, 1, 5, 3}));
  EXPECT_EQ(dims_of(last.output, "clients/update_sum"), (h5::Dims{2, 1, 5}));
  EXPECT_EQ(dims_of(last.output, "clients/update_l1"), (h5::Dims{2, 1, 5}));
  EXPECT_EQ(dims_of(last.output, "clients/nonfinite"), (h5::Dims{2, 5}));
  auto file = h5::File::open(last.output, MPI_COMM_NULL, false);
  EXPECT_EQ(file.root().group("clients").get_attribute_int64s("monitored_iterations"), std::vector<std::int64_t>{2});
  // Monitoring does not change training, so "last" equals the third slot of "every".
  auto a = read<float>(every.output, "clients/gsc");
  auto b = read<float>(last.output, "clients/gsc");
  auto ua = read<float>(every.output, "clients/update_l1");
  auto ub = read<float>(last.output, "clients/update_l1");
  auto ra = read<float>(every.output, "clients/input_grad_rms");
  auto rb = read<float>(last.output, "clients/input_grad_rms");
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 5; ++c) {
      EXPECT_EQ(rb[std::size_t(r * 5 + c)], ra[std::size_t((r * 3 + 2) * 5 + c)]);
      EXPECT_GT(rb[std::size_t(r * 5 + c)], 0.0f);
      EXPECT_EQ(b[std::size_t(r * 5 + c)], a[std::size_t((r * 3 + 2) * 5 + c)]);
      EXPECT_EQ(ub[std::size_t(r * 5 + c)], ua[std::size_t((r * 3 + 2) * 5 + c)]);
      EXPECT_GT(b[std::size_t(r * 5 + c)], 0.0f);
      EXPECT_GT(ub[std::size_t(r * 5 + c)], 0.0f);
    }
  EXPECT_EQ(std::memcmp(read<float>(every.output, "global/weights").data(),
                        read<float>(last.output, "global/weights").data(), sizeof(float) * 10),
            0);
}

TEST_F(Monitoring, NonFiniteClientsAreCountedSkippedOrKept) {
  RunOptions o = small_run(dir_ + "/skip.h5");
  o.scenario = "exploding";
  o.optimizer = "sgd";
  o.lr = 1e20;  // overflows within a few steps
  o.monitor = "last";
  run_simulation(o, mpi::Comm::world());
  RunOptions keep = o;
  keep.output = dir_ + "/keep.h5";
  keep.on_nonfinite = "keep";
  run_simulation(keep, mpi::Comm::world());
  RunOptions abort = o;
  abort.output = dir_ + "/abort.h5";
  abort.on_nonfinite = "abort";
  EXPECT_THROW(run_simulation(abort, mpi::Comm::world()), RunError);
  if (rank_ != 0) return;
  auto flags = read<std::uint8_t>(o.output, "clients/nonfinite");
  auto skipped = read<std::int64_t>(o.output, "global/nonfinite_skipped");
  int flagged = 0;
  for (auto f : flags) flagged += f;
  EXPECT_GT(flagged, 0);
  EXPECT_EQ(skipped[0] + skipped[1], flagged);
  auto file = h5::File::open(o.output, MPI_COMM_NULL, false);
  EXPECT_EQ(file.root().get_attribute_string("status"), "complete");
  // Skipped clients never reach the global model; kept ones poison it.
  for (float w : read<float>(o.output, "global/weights")) ASSERT_TRUE(std::isfinite(w));
  bool any_nan = false;
  for (float w : read<float>(keep.output, "global/weights")) any_nan = any_nan || std::isnan(w);
  EXPECT_TRUE(any_nan);
  auto failed = h5::File::open(abort.output, MPI_COMM_NULL, false);
  EXPECT_EQ(failed.root().get_attribute_string("status"), "failed");
  EXPECT_NE(failed.root().get_attribute_string("error").find("--on-nonfinite abort"), std::string::npos);
}
