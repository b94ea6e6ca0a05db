#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace fedhpc {

// One entry of the layer table: a tensor inside the flat parameter buffer.
struct LayerInfo {
  std::string name;
  std::vector<std::int64_t> shape;
  std::int64_t offset = 0;
  std::int64_t size = 0;
  bool is_weight = true;  // false for biases and normalisation parameters
};

// The layer table of a model. Parameters travel as one flat float buffer;
// every tensor is a contiguous slice [offset, offset + size).
class ParamLayout {
 public:
  void add(const std::string& name, const std::vector<std::int64_t>& shape, bool is_weight);
  const std::vector<LayerInfo>& layers() const { return layers_; }
  std::int64_t total() const { return total_; }
  std::vector<std::int64_t> offsets() const;      // L+1 entries
  std::vector<std::size_t> weight_layers() const;  // indices of weight tensors
  std::int64_t max_rank() const;

 private:
  std::vector<LayerInfo> layers_;
  std::int64_t total_ = 0;
};

}  // namespace fedhpc
