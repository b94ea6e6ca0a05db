#include "fedhpc/data/dataset.hpp"

#include <algorithm>
#include <cmath>

#include <string>

#include "fedhpc/core/error.hpp"
#include "fedhpc/data/augment.hpp"
#include "fedhpc/data/colored.hpp"

namespace fedhpc::data {

// The loaders live in their own files; only the registry needs to see them.
namespace detail {
Dataset load_fashion_mnist(const DatasetOptions& options);
Dataset make_synthetic(const DatasetOptions& options);
Dataset make_signal(const DatasetOptions& options);
Dataset load_hdf5_dataset(const std::string& path);
}  // namespace detail

namespace {

// Keeps the first `keep` samples. shrink_to_fit matters: a small K on the full
// fashion-mnist set would otherwise keep ~190 MB of pixels alive per rank.
void keep_first(ImageSet& set, std::int64_t keep, const std::string& option,
                const std::string& split, const std::string& dataset) {
  if (keep == 0) return;
  if (keep > set.count)
    throw InputError(option + " " + std::to_string(keep) + " exceeds the " +
                     std::to_string(set.count) + " " + split + " samples available in " + dataset);
  const std::size_t target_dim = set.targets.size() / std::size_t(set.count);
  set.count = keep;
  set.targets.resize(std::size_t(keep) * target_dim);
  set.targets.shrink_to_fit();
  set.pixels.resize(static_cast<std::size_t>(keep * set.sample_size()));
  set.pixels.shrink_to_fit();
  set.labels.resize(static_cast<std::size_t>(keep));
  set.labels.shrink_to_fit();
}

}  // namespace

Registry<DatasetFactory>& dataset_registry() {
  static Registry<DatasetFactory> registry = [] {
    Registry<DatasetFactory> r("dataset");
    r.add("fashion-mnist", detail::load_fashion_mnist);
    r.add("synthetic", detail::make_synthetic);
    r.add("signal", detail::make_signal);
    r.add("colored-fashion-mnist", [](const DatasetOptions& o) {
      Dataset ds = detail::load_fashion_mnist(o);  // greyscale, 10 classes; coloured in finish_dataset()
      ds.name = "colored-fashion-mnist";
      return ds;
    });
    return r;
  }();
  return registry;
}

namespace {

// One mean and standard deviation over all training pixels, so a zero pixel
// (Fashion-MNIST's background) no longer sits at the activations' origin.
void standardize(Dataset& ds) {
  double sum = 0.0, sq = 0.0;
  for (float p : ds.train.pixels) {
    sum += p;
    sq += double(p) * p;
  }
  const double n = double(ds.train.pixels.size());
  const double mean = sum / n;
  const double std = std::sqrt(std::max(sq / n - mean * mean, 1e-12));
  for (auto* set : {&ds.train, &ds.test})
    for (auto& p : set->pixels) p = static_cast<float>((p - mean) / std);
}

}  // namespace

Dataset load_dataset(const DatasetOptions& options) {
  // Check the cheap options before spending time on loading.
  if (options.max_train_samples < 0 || options.max_test_samples < 0)
    throw InputError(
        std::string(options.max_train_samples < 0 ? "--max-train-samples" : "--max-test-samples") +
        " must be >= 0 (0 = all)");
  Dataset ds = is_file_dataset(options.name) ? detail::load_hdf5_dataset(options.name.substr(5))
                                              : dataset_registry().get(options.name, "dataset")(options);
  keep_first(ds.train, options.max_train_samples, "--max-train-samples", "training", ds.name);
  if (!ds.train_clients.empty()) ds.train_clients.resize(std::size_t(ds.train.count));
  keep_first(ds.test, options.max_test_samples, "--max-test-samples", "test", ds.name);
  if (options.normalize != "standard" && options.normalize != "none")
    throw InputError("--normalize: unknown value '" + options.normalize + "'; allowed: none|standard");
  // Colouring and --augment change the pixels after partitioning: standardised then.
  if (options.normalize == "standard" && !colored_after_partition(ds.name) && !options.augment) standardize(ds);
  return ds;
}

void finish_dataset(Dataset& ds, const Partition& partition, const DatasetOptions& options) {
  const bool colored = colored_after_partition(ds.name);
  if (!colored && !options.augment) return;
  if (colored) colour_dataset(ds, partition, options.color_task, options.seed);
  if (options.augment)
    augment_dataset(ds, partition, {options.augment_rotation, options.augment_zoom, options.augment_shift},
                    options.seed);
  if (options.normalize == "standard") standardize(ds);
}

}  // namespace fedhpc::data
