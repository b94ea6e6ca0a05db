#include "fedhpc/io/model_file.hpp"

#include <cstdio>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <optional>

#include "fedhpc/core/error.hpp"
#include "fedhpc/io/hdf5.hpp"
#include "fedhpc/io/layer_table.hpp"

namespace fedhpc::io {

namespace {

constexpr const char* kFormat = "fedhpc-model";

h5::Dims dims(std::initializer_list<std::int64_t> d) {
  h5::Dims out;
  for (auto v : d) out.push_back(hsize_t(v));
  return out;
}

// Shapes are stored 0-padded to 4 dims; a real dimension is never 0.
ParamLayout read_layout(const h5::Group& root) {
  const auto names = root.dataset("layer_names").read_strings();
  const auto weights = root.dataset("weight_layers").read_strings();
  const auto shapes = root.dataset("layer_shapes").read_all<std::int64_t>();
  if (shapes.size() != 4 * names.size()) throw std::runtime_error("/layer_shapes does not match /layer_names");
  ParamLayout layout;
  for (std::size_t l = 0; l < names.size(); ++l) {
    std::vector<std::int64_t> shape;
    for (std::size_t d = 0; d < 4 && shapes[4 * l + d] > 0; ++d) shape.push_back(shapes[4 * l + d]);
    const bool is_weight = std::find(weights.begin(), weights.end(), names[l]) != weights.end();
    layout.add(names[l], shape, is_weight);
  }
  return layout;
}

}  // namespace

std::string weights_checksum(const std::vector<float>& weights) {
  std::uint64_t h = 14695981039346656037ull;
  for (float f : weights) {
    unsigned char bytes[sizeof f];
    std::memcpy(bytes, &f, sizeof f);
    for (unsigned char b : bytes) h = (h ^ b) * 1099511628211ull;
  }
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(h));
  return text;
}

void write_model_file(const std::string& path, const ModelFile& m, bool overwrite) {
  auto file = h5::File::create(path, MPI_COMM_NULL, overwrite);
  auto root = file.root();
  root.set_attribute("format", kFormat);
  root.set_attribute("model", m.model);
  root.set_attribute("dataset", m.dataset);
  root.set_attribute("activation", m.activation);
  root.set_attribute("input_shape", std::vector<std::int64_t>{m.channels, m.height, m.width});
  root.set_attribute("classes", std::int64_t(m.classes));
  root.set_attribute("test_accuracy", m.test_accuracy);
  root.set_attribute("test_samples", m.test_samples);
  root.set_attribute("train_samples", m.train_samples);
  root.set_attribute("epochs", m.epochs);
  root.set_attribute("lr", m.lr);
  root.set_attribute("batch_size", m.batch_size);
  root.set_attribute("seed", std::to_string(m.seed));  // a uint64 does not fit int64
  root.set_attribute("num_params", m.layout.total());
  root.set_attribute("checksum", weights_checksum(m.weights));
  io::write_layer_table(root, m.layout);
  root.create_dataset<float>("weights", dims({std::int64_t(m.weights.size())})).write_all(m.weights);
  file.close();
}

ModelFile read_model_file(const std::string& path, const std::string& option) {
  const std::string where = option + ": " + "'" + path + "'" + ": ";
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw InputError(where + "no such file");
  ModelFile m;
  std::optional<h5::File> opened;
  try {
    opened.emplace(h5::File::open(path, MPI_COMM_NULL, false));
  } catch (const h5::Error&) {
    throw InputError(where + "not an HDF5 file");
  }
  try {
    auto root = opened->root();
    if (!root.has_attribute("format") || root.get_attribute_string("format") != kFormat)
      throw InputError(where + "not a fedhpc model file (no format = fedhpc-model; write one with fedhpc pretrain)");
    m.model = root.get_attribute_string("model");
    m.dataset = root.get_attribute_string("dataset");
    m.activation = root.get_attribute_string("activation");
    const auto shape = root.get_attribute_int64s("input_shape");
    if (shape.size() != 3) throw std::runtime_error("input_shape is not [C, H, W]");
    m.channels = int(shape[0]), m.height = int(shape[1]), m.width = int(shape[2]);
    m.classes = int(root.get_attribute_int64("classes"));
    m.test_accuracy = root.get_attribute_double("test_accuracy");
    m.test_samples = root.get_attribute_int64("test_samples");
    m.train_samples = root.get_attribute_int64("train_samples");
    m.epochs = root.get_attribute_int64("epochs");
    m.lr = root.get_attribute_double("lr");
    m.batch_size = root.get_attribute_int64("batch_size");
    m.seed = std::stoull(root.get_attribute_string("seed"));
    m.layout = read_layout(root);
    m.weights = root.dataset("weights").read_all<float>();
    if (std::int64_t(m.weights.size()) != m.layout.total())
      throw std::runtime_error("/weights has " + std::to_string(m.weights.size()) + " floats, the layer table " +
                               std::to_string(m.layout.total()));
    if (weights_checksum(m.weights) != root.get_attribute_string("checksum"))
      throw std::runtime_error("the checksum of /weights does not match its checksum attribute (damaged file)");
  } catch (const InputError&) {
    throw;
  } catch (const std::exception& e) {
    std::string why = e.what();
    if (const auto nl = why.find('\n'); nl != std::string::npos) why.resize(nl);
    throw InputError(where + "not a readable fedhpc model file (" + why + ")");
  }
  return m;
}

}  // namespace fedhpc::io
