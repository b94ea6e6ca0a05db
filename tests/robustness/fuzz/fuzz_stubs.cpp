// Stand-ins for the registries the option parser looks names up in, so that
// it links without torch's libraries. validate() only looks names up; the
// names must match the real registrations (src/topology/topology.cpp,
// src/aggregation/registry.cpp, src/data/dataset.cpp, src/data/partition.cpp,
// src/model/models.cpp); a missing name only turns into an InputError, never a crash.
#include "fedhpc/aggregation/aggregator.hpp"
#include "fedhpc/data/dataset.hpp"
#include "fedhpc/data/partition.hpp"
#include "fedhpc/model/model.hpp"
#include "fedhpc/topology/topology.hpp"

namespace {
template <class Factory>
fedhpc::Registry<Factory> names_only(const char* kind, std::initializer_list<const char*> names) {
  fedhpc::Registry<Factory> r(kind);
  for (const char* name : names) r.add(name, nullptr);
  return r;
}
}  // namespace

namespace fedhpc::data {
Registry<DatasetFactory>& dataset_registry() {
  static auto registry = names_only<DatasetFactory>("dataset", {"fashion-mnist", "colored-fashion-mnist", "synthetic", "signal"});
  return registry;
}
Registry<Partitioner>& partitioner_registry() {
  static auto registry =
      names_only<Partitioner>("partition", {"iid", "dirichlet", "shards", "pathological", "natural"});
  return registry;
}
}  // namespace fedhpc::data

namespace fedhpc::model {
Registry<ModelFactory>& model_registry() {
  static auto registry = names_only<ModelFactory>("model", {"seed-cnn", "mlp", "logreg", "rnn", "lenet5", "lenet5-transfer"});
  return registry;
}
}  // namespace fedhpc::model

namespace fedhpc::topology {
// Names and option keys only (the parser reads nothing else); they must match
// the descriptors in src/topology/*.cpp.
Registry<TopologyDescriptor>& topology_registry() {
  static Registry<TopologyDescriptor> registry = [] {
    Registry<TopologyDescriptor> r("topology");
    const std::vector<std::pair<const char*, std::vector<std::string>>> topologies = {
        {"centralized", {}},
        {"hierarchical", {"edges", "edge-assignment", "edge-interval", "edge-aggregator"}},
        {"ring", {"rings", "ring-grouping"}},
        {"clustered", {"recluster-every", "cluster-threshold", "cluster-min-size"}},
        {"gossip", {"gossip-graph", "gossip-k"}}};
    for (const auto& [name, keys] : topologies) {
      TopologyDescriptor d;
      d.name = name;
      d.option_keys = keys;
      r.add(name, d);
    }
    return r;
  }();
  return registry;
}
}  // namespace fedhpc::topology

namespace fedhpc::aggregation {
Registry<AggregatorFactory>& aggregator_registry() {
  static Registry<AggregatorFactory> registry = [] {
    Registry<AggregatorFactory> r("aggregator");
    for (const char* name : {"fedavg", "trimmed-mean", "median", "krum", "multi-krum", "fedgma", "fedgma-soft", "fedlama"}) r.add(name, nullptr);
    return r;
  }();
  return registry;
}
}  // namespace fedhpc::aggregation
