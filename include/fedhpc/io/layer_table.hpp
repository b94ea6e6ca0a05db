#pragma once
#include "fedhpc/core/param_layout.hpp"
#include "fedhpc/io/hdf5.hpp"

namespace fedhpc::io {

// The layer table of a flat parameter buffer under `group`, as run files
// (/model) and model files (/) store it: layer_names [L], weight_layers,
// layer_shapes [L, 4] (0-padded) and layer_offsets [L + 1].
void write_layer_table(h5::Group& group, const ParamLayout& layout);

}  // namespace fedhpc::io
