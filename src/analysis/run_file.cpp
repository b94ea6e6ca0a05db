#include "fedhpc/analysis/run_file.hpp"

#include <algorithm>

#include "fedhpc/core/error.hpp"
#include "fedhpc/io/hdf5.hpp"

namespace fedhpc::analysis {

namespace {

struct Source {
  std::string option, path;
  std::string where() const { return option + " " + path; }
  [[noreturn]] void fail(const std::string& what) const { throw InputError(where() + ": " + what); }
};

h5::File open(const Source& s) {
  try {
    return h5::File::open(s.path, MPI_COMM_NULL, false);
  } catch (const h5::Error&) {
    s.fail("cannot open as HDF5 (missing file, or not a fedhpc run output)");
  }
}

h5::DataSet need(const h5::Group& root, const std::string& name, const Source& s, const std::string& hint = "") {
  if (!root.exists(name)) s.fail("has no " + name + (hint.empty() ? "" : "; " + hint));
  return root.dataset(name);
}

ParamLayout read_layout(const h5::Group& root, const Source& s) {
  const auto names = need(root, "model/layer_names", s).read_strings();
  const auto shapes = need(root, "model/layer_shapes", s).read_all<std::int64_t>();
  auto weight_list = need(root, "model/weight_layers", s).read_strings();
  if (shapes.size() != 4 * names.size()) s.fail("/model/layer_shapes does not match /model/layer_names");
  ParamLayout layout;
  for (std::size_t l = 0; l < names.size(); ++l) {
    std::vector<std::int64_t> shape;
    for (std::size_t d = 0; d < 4; ++d)
      if (shapes[4 * l + d] > 0) shape.push_back(shapes[4 * l + d]);
    const bool weight = std::find(weight_list.begin(), weight_list.end(), names[l]) != weight_list.end();
    layout.add(names[l], shape, weight);
  }
  return layout;
}

std::vector<float> read_rows(const h5::Group& root, const Source& s, std::int64_t first, std::int64_t count,
                             std::int64_t params) {
  const auto ds = need(root, "global/weights", s, "run it with --save-weights global (or clients)");
  const auto d = ds.dims();
  if (d.size() != 2 || std::int64_t(d[1]) != params) s.fail("/global/weights does not match the layer table");
  if (first < 0 || first + count > std::int64_t(d[0])) s.fail("/global/weights has no row " + std::to_string(first + count - 1));
  std::vector<float> out(std::size_t(count * params));
  ds.read_slab<float>({hsize_t(first), 0}, {hsize_t(count), hsize_t(params)}, out.data());
  return out;
}

std::int64_t completed(const h5::Group& root, const Source& s) {
  if (!root.has_attribute("rounds_completed")) s.fail("has no attribute rounds_completed");
  return root.get_attribute_int64("rounds_completed");
}

}  // namespace

RunFile read_run_file(const std::string& path, const std::string& option, bool weights) {
  const Source s{option, path};
  try {
    const auto file = open(s);
    const auto root = file.root();
    RunFile run;
    run.path = path;
    if (!root.has_attribute("config")) s.fail("has no attribute config (not a fedhpc run output)");
    run.config = root.get_attribute_string("config");
    run.layout = read_layout(root, s);
    run.rounds_completed = completed(root, s);
    if (weights) run.weights = read_rows(root, s, 0, run.rows(), run.num_params());
    run.train_indices = need(root, "data/train_indices", s).read_all<std::int64_t>();
    run.train_offsets = need(root, "data/train_offsets", s).read_all<std::int64_t>();
    if (run.train_offsets.empty() || run.train_offsets.back() != std::int64_t(run.train_indices.size()))
      s.fail("/data/train_offsets does not match /data/train_indices");
    return run;
  } catch (const h5::Error& e) {
    s.fail(std::string("cannot be read (") + h5::os_reason(e.what()) + ")");
  }
}

std::vector<float> read_global_model(const std::string& path, std::int64_t round, const std::string& option,
                                     ParamLayout* layout) {
  const Source s{option, path};
  try {
    const auto file = open(s);
    const auto root = file.root();
    auto table = read_layout(root, s);
    const auto last = completed(root, s);
    if (round < 0) round = last;
    if (round > last)
      s.fail("has " + std::to_string(last) + " completed rounds; round " + std::to_string(round) + " is not there");
    auto model = read_rows(root, s, round, 1, table.total());
    if (layout) *layout = std::move(table);
    return model;
  } catch (const h5::Error& e) {
    s.fail(std::string("cannot be read (") + h5::os_reason(e.what()) + ")");
  }
}

namespace {

// The row of /clients/weights that holds `round`, or -1.
std::int64_t client_row(const h5::DataSet& ds, std::int64_t round) {
  if (!ds.has_attribute("rounds")) return round >= 1 && round <= std::int64_t(ds.dims()[0]) ? round - 1 : -1;
  const auto kept = ds.get_attribute_int64s("rounds");
  const auto it = std::find(kept.begin(), kept.end(), round);
  return it == kept.end() ? -1 : std::int64_t(it - kept.begin());
}

}  // namespace

std::vector<float> read_client_models(const std::string& path, std::int64_t round, std::int64_t num_params,
                                      const std::string& option) {
  const Source s{option, path};
  try {
    const auto file = open(s);
    const auto root = file.root();
    const auto ds = need(root, "clients/weights", s, "run it with --save-weights clients or clients:ROUNDS");
    const auto d = ds.dims();
    if (d.size() != 3 || std::int64_t(d[2]) != num_params) s.fail("/clients/weights does not match the layer table");
    const auto row = client_row(ds, round);
    if (row < 0 || round > completed(root, s))
      s.fail("/clients/weights holds no models of round " + std::to_string(round) +
             (ds.has_attribute("rounds") ? " (see its attribute rounds)" : ""));
    std::vector<float> out(std::size_t(d[1]) * std::size_t(num_params));
    ds.read_slab<float>({hsize_t(row), 0, 0}, {1, d[1], d[2]}, out.data());
    return out;
  } catch (const h5::Error& e) {
    s.fail(std::string("cannot be read (") + h5::os_reason(e.what()) + ")");
  }
}

std::vector<std::int64_t> training_indices(const RunFile& run, std::int64_t client) {
  const auto& off = run.train_offsets;
  const std::int64_t begin = client < 0 ? 0 : off[std::size_t(client)];
  const std::int64_t end = client < 0 ? off.back() : off[std::size_t(client) + 1];
  std::vector<std::int64_t> out(run.train_indices.begin() + begin, run.train_indices.begin() + end);
  std::sort(out.begin(), out.end());
  return out;
}

void check_same_layout(const ParamLayout& a, const ParamLayout& b, const std::string& option, const std::string& what) {
  bool same = a.total() == b.total() && a.layers().size() == b.layers().size();
  for (std::size_t l = 0; same && l < a.layers().size(); ++l)
    same = a.layers()[l].name == b.layers()[l].name && a.layers()[l].shape == b.layers()[l].shape;
  if (!same)
    throw InputError(option + ": " + what + " has " + std::to_string(b.total()) + " parameters in " +
                     std::to_string(b.layers().size()) + " tensors, expected " + std::to_string(a.total()) +
                     " in " + std::to_string(a.layers().size()) + " (different model or layer shapes)");
}

}  // namespace fedhpc::analysis
