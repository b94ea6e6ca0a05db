#pragma once
// A trained model in its own HDF5 file (`fedhpc pretrain`'s output, read by
// --model lenet5-transfer --pretrained FILE.h5). Layout (README, "Model files"):
//   /weights        float32 [P], the flat parameter buffer
//   /layer_names    string [L], /layer_shapes int64 [L, 4] (0-padded),
//   /layer_offsets  int64 [L + 1], /weight_layers string (the weight tensors)
//   root attributes: format = "fedhpc-model", model, dataset, activation,
//   test_accuracy, test_samples, train_samples, epochs, lr, batch_size, seed,
//   checksum (FNV-1a 64 of the float32 bytes of /weights, 16 hex digits).
#include <cstdint>
#include <string>
#include <vector>

#include "fedhpc/core/param_layout.hpp"

namespace fedhpc::io {

struct ModelFile {
  std::string model;       // the registry name of the architecture, e.g. lenet5
  std::string dataset;     // what it was trained on
  std::string activation;  // relu | tanh | leaky-relu
  int channels = 1, height = 28, width = 28, classes = 10;
  double test_accuracy = 0.0;
  std::int64_t test_samples = 0, train_samples = 0, epochs = 0, batch_size = 0;
  double lr = 0.0;
  std::uint64_t seed = 0;
  ParamLayout layout;
  std::vector<float> weights;  // layout.total() floats
};

// FNV-1a 64 over the float32 bytes, as 16 lower-case hex digits.
std::string weights_checksum(const std::vector<float>& weights);

// Writes a serial file (one process); refuses an existing path unless overwrite.
void write_model_file(const std::string& path, const ModelFile& file, bool overwrite);

// Reads and checks a model file (format attribute, layer table against the
// weights, the checksum). Every problem is an InputError "OPTION: 'PATH': why".
ModelFile read_model_file(const std::string& path, const std::string& option);

}  // namespace fedhpc::io
