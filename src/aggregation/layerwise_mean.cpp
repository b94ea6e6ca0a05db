#include "fedhpc/aggregation/layerwise_mean.hpp"

#include <stdexcept>

#include "fedhpc/mpi/exact_reduce.hpp"

namespace fedhpc::aggregation {

LayerwiseMean::LayerwiseMean(const ParamLayout& layout) {
  // Tensors before the first weight tensor belong to the first layer.
  const auto weights = layout.weight_layers();
  begin_.push_back(0);
  for (std::size_t k = 1; k < weights.size(); ++k) begin_.push_back(layout.layers()[weights[k]].offset);
  begin_.push_back(layout.total());
  for (std::size_t k = 0; k + 1 < begin_.size(); ++k) numerator_.emplace_back(std::size_t(begin_[k + 1] - begin_[k]));
  weight_.assign(numerator_.size(), 0);
}

void LayerwiseMean::begin() {
  for (auto& n : numerator_) n.clear();
  weight_.assign(numerator_.size(), 0);
}

void LayerwiseMean::add(const float* params, std::int64_t weight, std::int64_t trained_from) {
  bool boundary = false;
  for (std::size_t k = 0; k < numerator_.size(); ++k) {
    boundary = boundary || begin_[k] == trained_from;
    if (begin_[k] < trained_from) continue;
    numerator_[k].add_scaled(params + begin_[k], double(weight));
    weight_[k] += weight;
  }
  if (!boundary) throw std::invalid_argument("LayerwiseMean::add: trained_from is not a layer boundary");
}

bool LayerwiseMean::finish(float* out, const mpi::Comm& comm) {
  mpi::all_reduce(comm, weight_, mpi::Op::Sum, "MPI_Allreduce(layer weights)");
  bool any = false;
  for (std::size_t k = 0; k < numerator_.size(); ++k) {
    if (weight_[k] == 0) continue;  // nobody trained it: it keeps its value
    mpi::allreduce_divide(numerator_[k], double(weight_[k]), out + begin_[k], comm);
    any = true;
  }
  return any;
}

}  // namespace fedhpc::aggregation
