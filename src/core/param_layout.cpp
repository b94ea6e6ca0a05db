#include "fedhpc/core/param_layout.hpp"

#include <algorithm>

namespace fedhpc {

void ParamLayout::add(const std::string& name, const std::vector<std::int64_t>& shape,
                      bool is_weight) {
  std::int64_t size = 1;
  for (auto d : shape) size *= d;
  layers_.push_back({name, shape, total_, size, is_weight});
  total_ += size;
}

std::vector<std::int64_t> ParamLayout::offsets() const {
  std::vector<std::int64_t> out;
  for (const auto& l : layers_) out.push_back(l.offset);
  out.push_back(total_);
  return out;
}

std::vector<std::size_t> ParamLayout::weight_layers() const {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < layers_.size(); ++i)
    if (layers_[i].is_weight) out.push_back(i);
  return out;
}

std::int64_t ParamLayout::max_rank() const {
  std::size_t r = 0;
  for (const auto& l : layers_) r = std::max(r, l.shape.size());
  return static_cast<std::int64_t>(r);
}

}  // namespace fedhpc
