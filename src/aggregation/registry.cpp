// The built-in aggregators (--aggregator). Keep the name list in
// tests/robustness/fuzz/fuzz_stubs.cpp in step.
#include <memory>

#include "fedhpc/aggregation/aggregator.hpp"
#include "fedhpc/aggregation/gradient_masked.hpp"
#include "fedhpc/aggregation/krum.hpp"
#include "fedhpc/aggregation/median.hpp"
#include "fedhpc/aggregation/trimmed_mean.hpp"
#include "fedhpc/aggregation/weighted_mean.hpp"

namespace fedhpc::aggregation {

Registry<AggregatorFactory>& aggregator_registry() {
  static Registry<AggregatorFactory> registry = [] {
    Registry<AggregatorFactory> r("aggregator");
    r.add("fedavg", [](const AggregatorOptions&) { return std::make_unique<WeightedMean>(); });
    r.add("trimmed-mean", [](const AggregatorOptions& o) { return std::make_unique<TrimmedMean>(o.trim_fraction); });
    r.add("median", [](const AggregatorOptions&) { return std::make_unique<CoordinateMedian>(); });
    r.add("krum", [](const AggregatorOptions& o) { return std::make_unique<Krum>(o, false); });
    r.add("multi-krum", [](const AggregatorOptions& o) { return std::make_unique<Krum>(o, true); });
    r.add("fedgma", [](const AggregatorOptions& o) {
      return std::make_unique<GradientMaskedAverage>(o.gma_threshold, o.gma_server_lr);
    });
    // FedLAMA's every synchronisation is the sample-weighted mean; its
    // layer-wise schedule lives in topology/fedlama (centralized, hierarchical).
    r.add("fedlama", [](const AggregatorOptions&) { return std::make_unique<WeightedMean>(); });
    r.add("fedgma-soft", [](const AggregatorOptions& o) { return std::make_unique<SoftGradientMaskedAverage>(o.gma_threshold); });
    return r;
  }();
  return registry;
}

std::unique_ptr<Aggregator> make_aggregator(const AggregatorOptions& options) {
  return aggregator_registry().get(options.name, "aggregator")(options);
}

}  // namespace fedhpc::aggregation
