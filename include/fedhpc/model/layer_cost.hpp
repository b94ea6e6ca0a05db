#pragma once
// The analytic cost of one training step when only the output-side weight
// layers are trained (client tiers): FLOPs and activation memory, from the
// layer shapes. Torch-free.
#include <cstdint>
#include <vector>

namespace fedhpc::model {

// One weight layer (a weight tensor with its bias), per sample: the
// multiply-adds of its product (conv or dense), and the elements of its
// input and of its output (the conv output before pooling and activation).
struct LayerGeometry {
  std::int64_t macs = 0;
  std::int64_t input = 0;
  std::int64_t output = 0;
};

struct StepCost {
  int trained = 0;               // output-side weight layers trained
  double flops = 0.0;            // forward of every layer, backward of the trained ones
  double activation_bytes = 0.0; // float32 values kept for the backward pass
};

// One step on a batch of `batch` samples, training the last `trained` of
// `layers` (the rest forward only). With M_l the layer's MACs and f the first
// trained layer:
//   flops = B * (sum_l 2 M_l                       forward, every layer
//                + sum_{l >= f} 2 M_l              weight gradients
//                + sum_{l > f} 2 M_l)              input gradients (f's is never needed)
//   activation_bytes = 4 B sum_{l >= f} (input_l + output_l)
// A frozen layer keeps nothing for backward: autograd records no graph below
// the first trained layer. Activations, pooling, softmax, bias additions and
// the optimizer are not counted (each is O(elements), small beside the products).
StepCost step_cost(const std::vector<LayerGeometry>& layers, int trained, std::int64_t batch);

}  // namespace fedhpc::model
