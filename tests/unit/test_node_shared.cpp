// One copy of the data per node (--data-copies node, data/node_shared.hpp):
// the ranks of a node see the very bytes a rank that loads on its own gets,
// through one shared window (only the node's first rank loads), for a plain
// and a coloured data set; a loading error reaches every rank as the same
// InputError; and whole runs give the same bits with one copy per node as
// with one per rank. Registered at 1, 2 and 4 ranks.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstring>
#include <utility>
#include <vector>

#include "fedhpc/cli/run_command.hpp"
#include "fedhpc/cli/run_options.hpp"
#include "fedhpc/data/node_shared.hpp"
#include "fedhpc/data/partition.hpp"
#include "test_support.hpp"

using namespace fedhpc;
using fedhpc::test::expect_input_error;
using fedhpc::test::read;
using fedhpc::test::same_bits;

namespace {

data::DatasetOptions small_synthetic() {
  data::DatasetOptions o;
  o.name = "synthetic";
  o.synthetic_train_samples = 300;
  o.synthetic_test_samples = 60;
  o.synthetic_side = 10;
  o.seed = 3;
  o.normalize = "standard";
  return o;
}

bool same_set(const data::ImageSet& a, const data::ImageSet& b) {
  if (a.count != b.count || a.channels != b.channels || a.height != b.height || a.width != b.width) return false;
  if (a.labels != b.labels) return false;
  const auto n = std::size_t(a.count * a.sample_size());
  return std::memcmp(a.pixel_data(), b.pixel_data(), n * sizeof(float)) == 0;
}

// This rank's place on its node: {rank, size}.
std::pair<int, int> on_node() {
  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  int r = 0, n = 0;
  MPI_Comm_rank(node, &r);
  MPI_Comm_size(node, &n);
  MPI_Comm_free(&node);
  return {r, n};
}

data::PartitionOptions three_clients() {
  data::PartitionOptions p;
  p.num_clients = 3;
  p.seed = 3;
  return p;
}

}  // namespace

TEST(NodeLoader, EveryRankSeesTheBytesOfItsOwnLoadThroughOneWindow) {
  const auto world = mpi::Comm::world();
  const auto options = small_synthetic();
  data::NodeLoader loader(world, true);
  auto shared = loader.load(options);
  const auto alone = data::load_dataset(options);
  EXPECT_EQ(shared.train.labels, alone.train.labels);  // enough to partition before the pixels come
  EXPECT_EQ(shared.name, alone.name);
  EXPECT_EQ(shared.num_classes, alone.num_classes);
  const auto [node_rank, node_size] = on_node();
  if (node_rank != 0) EXPECT_TRUE(shared.train.pixels.empty());
  const auto partition = data::make_partition(shared.train.labels, shared.num_classes, three_clients());
  loader.finish(shared, partition, options);
  // In the window on every rank; a rank alone on its node keeps its own copy.
  EXPECT_EQ(shared.train.pixels.empty(), node_size > 1);
  EXPECT_EQ(bool(shared.train.shared), node_size > 1);
  EXPECT_TRUE(same_set(shared.train, alone.train));
  EXPECT_TRUE(same_set(shared.test, alone.test));
}

TEST(NodeLoader, ColouredDataIsFinishedOnceAndShared) {
  data::DatasetOptions options;
  options.name = "colored-fashion-mnist";
  options.max_train_samples = 400;
  options.max_test_samples = 50;
  options.seed = 5;
  data::NodeLoader loader(mpi::Comm::world(), true);
  auto shared = loader.load(options);
  const auto partition = data::make_partition(shared.train.labels, shared.num_classes, three_clients());
  loader.finish(shared, partition, options);
  auto alone = data::load_dataset(options);
  data::finish_dataset(alone, partition, options);
  EXPECT_EQ(shared.train.channels, 3);
  EXPECT_EQ(shared.num_classes, alone.num_classes);
  EXPECT_TRUE(same_set(shared.train, alone.train));
  EXPECT_TRUE(same_set(shared.test, alone.test));
}

TEST(NodeLoader, WithoutSharingEveryRankHoldsItsOwnCopy) {
  const auto options = small_synthetic();
  data::NodeLoader loader(mpi::Comm::world(), false);
  auto ds = loader.load(options);
  loader.finish(ds, data::make_partition(ds.train.labels, ds.num_classes, three_clients()), options);
  EXPECT_FALSE(ds.train.shared);
  EXPECT_TRUE(same_set(ds.train, data::load_dataset(options).train));
}

TEST(NodeLoader, ALoadingErrorIsTheSameInputErrorOnEveryRank) {
  data::DatasetOptions options;
  options.data_dir = "/nonexistent-fedhpc-data";
  data::NodeLoader loader(mpi::Comm::world(), true);
  expect_input_error([&] { loader.load(options); },
                     {"/nonexistent-fedhpc-data/train-images-idx3-ubyte.gz", "--data-dir"});
}

TEST(NodeLoader, RunsGiveTheSameBitsWithOneCopyPerNodeAsWithOnePerRank) {
  const auto dir = test::shared_temp_dir(MPI_COMM_WORLD, "node-shared");
  RunOptions node = test::synthetic_run(dir + "/node.h5", 240, 48);
  node.clients = 5;
  node.rounds = 2;
  node.normalize = "standard";
  ASSERT_EQ(node.data_copies, "node");  // the default
  auto rank = node;
  rank.data_copies = "rank";
  rank.output = dir + "/rank.h5";
  run_simulation(node, mpi::Comm::world());
  run_simulation(rank, mpi::Comm::world());
  int me = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &me);
  if (me != 0) return;
  EXPECT_TRUE(same_bits(read<float>(node.output, "global/weights"), read<float>(rank.output, "global/weights")));
  EXPECT_TRUE(
      same_bits(read<double>(node.output, "global/test_loss"), read<double>(rank.output, "global/test_loss")));
}
