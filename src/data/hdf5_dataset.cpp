// --dataset hdf5:FILE: a user's own data, written e.g. from numpy with h5py
// (jobs/datasets/write_dataset.py). Every problem is an InputError naming the
// file and the dataset path inside it.
#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "fedhpc/core/error.hpp"
#include "fedhpc/data/dataset.hpp"
#include "fedhpc/io/hdf5.hpp"

namespace fedhpc::data::detail {
namespace {

class Reader {
 public:
  explicit Reader(std::string path) : path_(std::move(path)) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw InputError("--dataset hdf5:" + path_ + ": " + what);
  }

  h5::Group open() {
    try {
      file_ = std::make_unique<h5::File>(h5::File::open(path_, MPI_COMM_NULL, false));
      return file_->root();
    } catch (const std::exception&) {
      fail("cannot open as an HDF5 file (missing, unreadable or not HDF5); expected a file with /train/x, "
           "/train/y, /test/x and /test/y");
    }
  }

  h5::DataSet dataset(const h5::Group& root, const std::string& name) const {
    if (!root.exists(name)) fail(name + " is missing; expected /train/x, /train/y, /test/x and /test/y");
    try {
      return root.dataset(name);
    } catch (const std::exception&) {
      fail(name + " is not a dataset");
    }
  }

  H5T_class_t type_class(const h5::DataSet& ds) const {
    const hid_t type = H5Dget_type(ds.id());
    if (type < 0) fail(ds.path() + ": cannot read its type");
    const H5T_class_t cls = H5Tget_class(type);
    H5Tclose(type);
    return cls;
  }

  // Samples [N, ...] of one split as float pixels (uint8 and other integers
  // times the dataset's `scale` attribute, default 1/255).
  ImageSet images(const h5::Group& root, const std::string& split) const {
    const auto ds = dataset(root, "/" + split + "/x");
    const auto dims = ds.dims();
    if (dims.size() < 2 || dims.size() > 4)
      fail(ds.path() + ": has " + std::to_string(dims.size()) +
           " dimensions; allowed: [N, D], [N, H, W] or [N, C, H, W]");
    const auto cls = type_class(ds);
    if (cls != H5T_INTEGER && cls != H5T_FLOAT) fail(ds.path() + ": must hold numbers (float or integer, e.g. uint8)");
    ImageSet set;
    set.count = std::int64_t(dims[0]);
    if (set.count == 0) fail(ds.path() + ": holds no samples");
    set.channels = dims.size() == 4 ? int(dims[1]) : 1;
    set.height = dims.size() == 2 ? 1 : int(dims[dims.size() - 2]);
    set.width = int(dims.back());
    if (set.sample_size() == 0) fail(ds.path() + ": a sample has no elements");
    set.pixels = read<float>(ds);
    double scale = cls == H5T_INTEGER ? 1.0 / 255.0 : 1.0;
    if (ds.has_attribute("scale")) scale = ds.get_attribute_double("scale");
    if (scale != 1.0)
      for (auto& p : set.pixels) p = static_cast<float>(p * scale);
    for (float p : set.pixels)
      if (!std::isfinite(p)) fail(ds.path() + ": holds NaN or Inf");
    return set;
  }

  // One integer per sample of the split, in [0, limit).
  std::vector<std::int64_t> integers(const h5::Group& root, const std::string& name, std::int64_t count,
                                     const std::string& meaning) const {
    const auto ds = dataset(root, name);
    if (ds.dims().size() != 1 || std::int64_t(ds.dims()[0]) != count)
      fail(name + ": must be 1-D with one " + meaning + " per sample (" + std::to_string(count) + ")");
    if (type_class(ds) != H5T_INTEGER) fail(name + ": must hold integers (" + meaning + "s)");
    auto values = read<std::int64_t>(ds);
    const auto low = *std::min_element(values.begin(), values.end());
    if (low < 0) fail(name + ": holds " + std::to_string(low) + "; " + meaning + "s are 0, 1, 2, ...");
    return values;
  }

 private:
  template <class T>
  std::vector<T> read(const h5::DataSet& ds) const {
    try {
      return ds.read_all<T>();
    } catch (const std::exception& e) {
      fail(ds.path() + ": cannot be read as numbers (" + std::string(e.what()).substr(0, 200) + ")");
    }
  }

  std::string path_;
  std::unique_ptr<h5::File> file_;
};

std::int64_t max_of(const std::vector<std::int64_t>& v) { return *std::max_element(v.begin(), v.end()); }

}  // namespace

Dataset load_hdf5_dataset(const std::string& path) {
  Reader reader(path);
  const auto root = reader.open();
  Dataset ds;
  ds.name = "hdf5:" + path;
  ds.train = reader.images(root, "train");
  ds.test = reader.images(root, "test");
  if (ds.test.channels != ds.train.channels || ds.test.height != ds.train.height || ds.test.width != ds.train.width)
    reader.fail("/test/x: its samples' shape differs from /train/x's (both must be [D], [H, W] or [C, H, W] alike)");
  ds.train.labels = reader.integers(root, "/train/y", ds.train.count, "label");
  ds.test.labels = reader.integers(root, "/test/y", ds.test.count, "label");
  ds.num_classes = int(std::max(max_of(ds.train.labels), max_of(ds.test.labels)) + 1);
  if (root.has_attribute("num_classes")) {
    const auto declared = root.get_attribute_int64("num_classes");
    if (declared < ds.num_classes)
      reader.fail("attribute num_classes = " + std::to_string(declared) + " but a label is " +
                  std::to_string(ds.num_classes - 1));
    ds.num_classes = int(declared);
  }
  if (ds.num_classes < 2) reader.fail("/train/y: needs at least 2 classes (labels 0 and 1)");
  if (root.exists("/train/client")) {
    ds.train_clients = reader.integers(root, "/train/client", ds.train.count, "client id");
  }
  return ds;
}

}  // namespace fedhpc::data::detail
