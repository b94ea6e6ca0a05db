#include "fedhpc/model/layer_cost.hpp"

#include <algorithm>

namespace fedhpc::model {

StepCost step_cost(const std::vector<LayerGeometry>& layers, int trained, std::int64_t batch) {
  const int n = int(layers.size());
  const int first = n - std::clamp(trained, 0, n);
  StepCost cost;
  cost.trained = n - first;
  double flops = 0.0, kept = 0.0;
  for (int l = 0; l < n; ++l) {
    const auto& g = layers[std::size_t(l)];
    flops += 2.0 * double(g.macs);
    if (l >= first) {
      flops += 2.0 * double(g.macs);
      kept += double(g.input) + double(g.output);
    }
    if (l > first) flops += 2.0 * double(g.macs);
  }
  cost.flops = double(batch) * flops;
  cost.activation_bytes = 4.0 * double(batch) * kept;
  return cost;
}

}  // namespace fedhpc::model
