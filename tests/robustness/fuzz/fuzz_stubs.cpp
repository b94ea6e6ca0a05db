// Stand-ins for the topology and aggregator registries, so that the option
// parser links without torch. validate() only looks names up; the names must
// match src/topology/topology.cpp and src/aggregation/weighted_mean.cpp (a
// missing name only turns into an InputError, never a crash).
#include "fedhpc/aggregation/aggregator.hpp"
#include "fedhpc/topology/topology.hpp"

namespace fedhpc::topology {
Registry<TopologyFactory>& topology_registry() {
  static Registry<TopologyFactory> registry = [] {
    Registry<TopologyFactory> r("topology");
    for (const char* name : {"centralized", "hierarchical", "ring", "clustered", "gossip"}) r.add(name, nullptr);
    return r;
  }();
  return registry;
}
}  // namespace fedhpc::topology

namespace fedhpc::aggregation {
Registry<AggregatorFactory>& aggregator_registry() {
  static Registry<AggregatorFactory> registry = [] {
    Registry<AggregatorFactory> r("aggregator");
    r.add("fedavg", nullptr);
    return r;
  }();
  return registry;
}
}  // namespace fedhpc::aggregation
