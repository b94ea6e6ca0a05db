#pragma once
#include "fedhpc/aggregation/aggregator.hpp"
#include "fedhpc/aggregation/server_optimizer.hpp"
#include "fedhpc/cli/run_options.hpp"
#include "fedhpc/client/behaviour.hpp"
#include "fedhpc/data/dataset.hpp"
#include "fedhpc/data/partition.hpp"
#include "fedhpc/data/population.hpp"
#include "fedhpc/engine/round_engine.hpp"
#include "fedhpc/model/scenario.hpp"
#include "fedhpc/topology/options.hpp"

namespace fedhpc::client {
struct TrainOptions;
}
namespace fedhpc::model {
struct ModelOptions;
}

namespace fedhpc {

// The per-component option structs of a run, built from the CLI's options
// (after resolve_defaults). Nothing below cli/ sees RunOptions.
topology::TopologyOptions topology_options(const RunOptions& options);
aggregation::AggregatorOptions aggregator_options(const RunOptions& options, const std::string& name);
client::BehaviourOptions behaviour_options(const RunOptions& options);
engine::EngineOptions engine_options(const RunOptions& options);
model::ScenarioOptions scenario_options(const RunOptions& options);
// The local trainer's settings; clip_norm comes from the resolved scenario.
client::TrainOptions train_options(const RunOptions& options, double clip_norm);
data::DatasetOptions dataset_options(const RunOptions& options);
data::PartitionOptions partition_options(const RunOptions& options);
// --dataset synthetic-population's options.
data::PopulationOptions population_options(const RunOptions& options);
aggregation::ServerOptimizerOptions server_optimizer_options(const RunOptions& options);
// The model of a run on a loaded data set (image shape and classes from it),
// with the resolved scenario's activation and initialisation.
model::ModelOptions model_options(const RunOptions& options, const data::Dataset& dataset,
                                  const model::ScenarioSettings& scenario);

}  // namespace fedhpc
