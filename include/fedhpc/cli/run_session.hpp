#pragma once
// The pieces of `fedhpc run` that other subcommands reuse (fedhpc mi builds
// the same components and drives the same round engine). Torch appears here
// through model.hpp: include it only in the commands' translation units.
#include <memory>
#include <vector>

#include "fedhpc/aggregation/server_optimizer.hpp"
#include "fedhpc/cli/run_options.hpp"
#include "fedhpc/client/behaviour.hpp"
#include "fedhpc/client/local_trainer.hpp"
#include "fedhpc/client/tiers.hpp"
#include "fedhpc/data/dataset.hpp"
#include "fedhpc/data/partition.hpp"
#include "fedhpc/data/population.hpp"
#include "fedhpc/engine/round_engine.hpp"
#include "fedhpc/model/model.hpp"
#include "fedhpc/model/scenario.hpp"
#include "fedhpc/mpi/comm.hpp"
#include "fedhpc/topology/layout.hpp"
#include "fedhpc/topology/options.hpp"
#include "fedhpc/topology/topology.hpp"

namespace fedhpc {

// Everything a run needs, set up collectively before the first round.
struct Setup {
  RunOptions options;
  model::ScenarioSettings scenario;
  data::Dataset dataset;
  data::Partition partition;
  std::unique_ptr<model::Model> model;
  std::vector<float> global;
  topology::TopologyOptions topology;
  topology::TopologyLayout layout;
  std::unique_ptr<client::ClientBehaviour> behaviour;
  client::TierSpec tier_spec;          // --client-tiers, --tier-trainable
  std::vector<client::Tier> tiers;     // each client's tier (topology ids); empty without tiers
  // --dataset synthetic-population: the generator, and every client's sizes
  // (offsets only; the file's /data). `dataset` and `partition` then hold
  // only this rank's participants of the current round.
  std::unique_ptr<data::Population> population;
  data::Partition population_sizes;
};

// Validates and resolves the options, loads the data, partitions it, lays
// out the clients and initialises the model; checks --output. Collective;
// throws InputError / RunError on every rank alike.
Setup prepare(RunOptions options, const mpi::Comm& comm);

// The local trainer's options of a run (concept shift, label flipping and
// the clients' stream keys included).
client::TrainOptions trainer_options(const Setup& s);

// The trainer, topology and round engine of this rank, built before the
// output file exists so that bad topology input leaves nothing behind.
struct Session {
  client::LocalTrainer trainer;
  topology::TopologyContext ctx;
  topology::RecordShape shape;
  std::unique_ptr<topology::Topology> topology;
  std::unique_ptr<aggregation::ServerOptimizer> server_optimizer;
  std::unique_ptr<engine::RoundEngine> engine;

  Session(Setup& s, const mpi::Comm& comm);
};

}  // namespace fedhpc
