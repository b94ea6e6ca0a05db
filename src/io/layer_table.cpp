#include "fedhpc/io/layer_table.hpp"

#include <string>
#include <vector>

namespace fedhpc::io {

void write_layer_table(h5::Group& group, const ParamLayout& layout) {
  std::vector<std::string> names, weight_names;
  std::vector<std::int64_t> shapes;
  for (const auto& l : layout.layers()) {
    names.push_back(l.name);
    if (l.is_weight) weight_names.push_back(l.name);
    for (std::size_t d = 0; d < 4; ++d) shapes.push_back(d < l.shape.size() ? l.shape[d] : 0);
  }
  const auto L = static_cast<hsize_t>(names.size());
  group.create_string_dataset("layer_names", names);
  group.create_string_dataset("weight_layers", weight_names);
  group.create_dataset<std::int64_t>("layer_shapes", h5::Dims{L, 4}).write_all(shapes);
  group.create_dataset<std::int64_t>("layer_offsets", h5::Dims{L + 1}).write_all(layout.offsets());
}

}  // namespace fedhpc::io
