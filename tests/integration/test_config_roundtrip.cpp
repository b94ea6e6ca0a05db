// The README's promise: the configuration stored in a run's HDF5 file, fed
// back with --config, reproduces the run bit for bit, for every topology.
#include <gtest/gtest.h>
#include <mpi.h>

#include <fstream>
#include <sstream>

#include "fedhpc/cli/run_command.hpp"
#include "fedhpc/cli/run_options.hpp"
#include "fedhpc/io/hdf5.hpp"
#include "test_support.hpp"

using namespace fedhpc;
using fedhpc::test::read;
using fedhpc::test::same_bits;

namespace {

// A two-round mlp run on 12x12 synthetic images with options that differ
// from the defaults, so a dump that dropped one would show.
RunOptions tiny_run(const std::string& topology, const std::string& output) {
  RunOptions o = test::synthetic_run(output, 240, 60);
  o.topology = topology;
  o.model = "mlp";
  o.hidden = 8;
  o.clients = 6;
  o.rounds = 2;
  o.batch_size = 8;
  o.lr = 0.03;
  o.leaky_slope = 0.2;
  o.synthetic_noise = 0.3;
  if (topology == "hierarchical") o.edges = 2;
  if (topology == "ring") o.rings = 2;
  if (topology == "ring") o.conv_init = "uniform:-0.123456789:0.3";  // the resolved scenario is stored too
  if (topology == "clustered") o.cluster_min_size = 2;
  if (topology == "clustered") o.clip_norm = "0.0123456789";
  if (topology == "gossip") o.scenario = "vanishing";
  return o;
}

// The stored configuration without its output line, which differs by design.
std::string without_output(const std::string& ini) {
  std::istringstream in(ini);
  std::string line, out;
  while (std::getline(in, line))
    if (line.rfind("output = ", 0) != 0) out += line + "\n";
  return out;
}

std::string stored_config(const std::string& path) {
  return h5::File::open(path, MPI_COMM_NULL, false).root().get_attribute_string("config");
}

class ConfigRoundTrip : public testing::TestWithParam<std::string> {};

}  // namespace

TEST_P(ConfigRoundTrip, StoredConfigReproducesTheRun) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  const std::string dir = test::shared_temp_dir(MPI_COMM_WORLD, "config-" + GetParam());
  const std::string first = dir + "/first.h5", second = dir + "/second.h5", ini = dir + "/stored.ini";
  run_simulation(tiny_run(GetParam(), first), mpi::Comm::world());

  if (rank == 0) std::ofstream(ini) << stored_config(first);
  MPI_Barrier(MPI_COMM_WORLD);
  auto parsed = parse_run_options({"--config", ini, "--output", second, "--overwrite"});
  EXPECT_EQ(parsed.options.topology, GetParam());
  run_simulation(parsed.options, mpi::Comm::world());

  if (rank != 0) return;
  const std::string config = stored_config(first);
  EXPECT_EQ(config.rfind("# fedhpc run configuration (fully resolved)\n[run]\n", 0), 0u) << config;
  EXPECT_NE(config.find("\nlr = 0.03\n"), std::string::npos) << config;
  EXPECT_EQ(without_output(stored_config(second)), without_output(config));
  const auto a = read<float>(first, "global/weights"), b = read<float>(second, "global/weights");
  EXPECT_FALSE(a.empty());
  EXPECT_TRUE(same_bits(a, b)) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(EveryTopology, ConfigRoundTrip,
                         testing::Values("centralized", "hierarchical", "ring", "clustered", "gossip"),
                         [](const auto& info) { return info.param; });
