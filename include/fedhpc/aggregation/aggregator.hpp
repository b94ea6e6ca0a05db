#pragma once
#include <cstdint>
#include <functional>
#include <memory>

#include "fedhpc/core/registry.hpp"
#include "fedhpc/mpi/comm.hpp"

namespace fedhpc::aggregation {

// Combines client models into one. Clients are added on whichever rank hosts
// them; finish() is collective over comm and must give the same result for
// any placement of the clients.
class Aggregator {
 public:
  virtual ~Aggregator() = default;
  virtual void begin(std::int64_t num_params) = 0;
  virtual void add(const float* params, std::int64_t weight) = 0;
  // Writes the aggregate into out; returns false (out untouched) when no
  // client was added on any rank.
  virtual bool finish(float* out, const mpi::Comm& comm) = 0;
};

using AggregatorFactory = std::function<std::unique_ptr<Aggregator>()>;

// "fedavg" is registered on first use.
Registry<AggregatorFactory>& aggregator_registry();
std::unique_ptr<Aggregator> make_aggregator(const std::string& name);

}  // namespace fedhpc::aggregation
