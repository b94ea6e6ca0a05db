#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fedhpc/core/registry.hpp"

namespace fedhpc::data {

// Images as one contiguous float buffer [count, channels, height, width]
// with pixels in [0, 1] (synthetic data may leave that range), and labels.
struct ImageSet {
  std::int64_t count = 0;
  int channels = 1;
  int height = 0;
  int width = 0;
  std::vector<float> pixels;  // empty when `shared` holds the pixels
  std::vector<std::int64_t> labels;
  // Regression data (Dataset::regression()): the targets, [count, target_dim]
  // floats; labels are then all 0 (the partitioners and the file need them).
  std::vector<float> targets;
  // The pixels in a window shared by the ranks of one node (data/node_shared.hpp).
  std::shared_ptr<const float> shared;

  std::int64_t sample_size() const { return std::int64_t(channels) * height * width; }
  const float* pixel_data() const { return shared ? shared.get() : pixels.data(); }
  const float* sample(std::int64_t i) const { return pixel_data() + i * sample_size(); }
};

struct Dataset {
  std::string name;
  int num_classes = 0;
  ImageSet train;
  ImageSet test;
  // Naturally partitioned data (hdf5: files with /train/client): the client
  // of every training sample, for --partition natural; empty otherwise.
  std::vector<std::int64_t> train_clients;
  // "classification" (labels, cross-entropy, accuracy) or "regression"
  // (targets, mean squared error, no accuracy: NaN). For regression
  // num_classes is the number of outputs (target_dim), and target_names
  // names them.
  std::string task = "classification";
  std::vector<std::string> target_names;
  bool regression() const { return task == "regression"; }
};

struct DatasetOptions {
  std::string name = "fashion-mnist";
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  std::int64_t max_train_samples = 0;  // 0 = all; else the first K samples
  std::int64_t max_test_samples = 0;   // 0 = all; else the first K samples
  // "none": pixels as loaded; "standard": minus the training set's mean
  // pixel, divided by its standard deviation (train and test alike).
  std::string normalize = "none";
  std::uint64_t seed = 0;              // for synthetic data only
  std::int64_t synthetic_train_samples = 60000;
  std::int64_t synthetic_test_samples = 10000;
  int synthetic_classes = 10;
  int synthetic_side = 28;         // images are 1 x side x side
  double synthetic_noise = 0.35;   // std-dev of the Gaussian pixel noise
  std::string color_task = "binary";  // colored-fashion-mnist: binary | multiclass
  // signal (paper 001's regression task, data/signal.cpp): samples per client
  // (their own streams), global test samples, and the signal length.
  std::int64_t clients = 1;
  std::int64_t signal_samples = 125;
  std::int64_t signal_test_samples = 1000;
  int signal_length = 64;
  // --augment (data/augment.hpp): every client's training images are
  // replaced by a seeded random affine copy: rotation in +-rotation degrees,
  // zoom in [1 - zoom, 1 + zoom], shift in +-shift pixels per axis.
  bool augment = false;
  double augment_rotation = 15.0;
  double augment_zoom = 0.1;
  double augment_shift = 2.0;
};

using DatasetFactory = std::function<Dataset(const DatasetOptions&)>;

struct Partition;

// "fashion-mnist", "colored-fashion-mnist", "synthetic" and "signal" are registered on
// first use. A name "hdf5:FILE" is not in the registry: it reads the user's
// file (README, "Your own data").
Registry<DatasetFactory>& dataset_registry();
inline bool is_file_dataset(const std::string& name) { return name.rfind("hdf5:", 0) == 0 && name.size() > 5; }

// Looks the name up in the registry, loads, and applies max_*_samples.
// Throws InputError naming the file (and the Debian package) on bad files.
// Data sets whose samples depend on the client that holds them
// (colored-fashion-mnist, data/colored.hpp) are partitioned first and
// finished later: load_dataset() leaves them greyscale and un-normalised.
Dataset load_dataset(const DatasetOptions& options);

// Finishes such a data set with the partition made from its training
// labels: colouring (and relabelling), then --normalize. No-op for others.
void finish_dataset(Dataset& ds, const Partition& partition, const DatasetOptions& options);

}  // namespace fedhpc::data
