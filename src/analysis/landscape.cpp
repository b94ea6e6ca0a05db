#include "fedhpc/analysis/landscape.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "fedhpc/core/error.hpp"
#include "fedhpc/io/hdf5.hpp"

namespace fedhpc::analysis {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Rank r's contiguous block [begin, end) of count items.
std::pair<std::int64_t, std::int64_t> block_of(std::int64_t count, int rank, int ranks) {
  const std::int64_t base = count / ranks, extra = count % ranks;
  const std::int64_t begin = rank * base + std::min<std::int64_t>(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

h5::Dims dims(std::initializer_list<std::int64_t> d) {
  h5::Dims out;
  for (auto v : d) out.push_back(hsize_t(v));
  return out;
}

h5::DataSet put(h5::Group& g, const std::string& name, const h5::Dims& d, const std::vector<double>& v,
                const std::string& description) {
  auto ds = g.create_dataset<double>(name, d);
  ds.write_all(v);
  ds.set_attribute("description", description);
  return ds;
}

void write_local(h5::Group& g, const Landscape& l) {
  put(g, "local", dims({std::int64_t(l.local.size() / 2), 2}), l.local,
      "local scope: (a, b) of each client's model of round local_round (row = client id), least-squares "
      "projection of theta_m^t - theta_t on the plane; NaN for clients that did not upload");
  put(g, "local_global", dims({2, 2}), l.local_global,
      "local scope: (a, b) of the round's start theta_{t-1} (row 0) and its aggregate theta_t (row 1, the centre)");
}

}  // namespace

PointValues evaluate_points(std::int64_t count, std::int64_t num_params,
                            const std::function<void(std::int64_t, float*)>& fill, const PointFunction& evaluate,
                            const mpi::Comm& comm) {
  const auto [begin, end] = block_of(count, comm.rank(), comm.size());
  std::vector<double> mine(std::size_t(2 * (end - begin)));
  mpi::collective_try(comm, [&, begin = begin, end = end] {
    std::vector<float> buffer(static_cast<std::size_t>(num_params));
    for (std::int64_t k = begin; k < end; ++k) {
      fill(k, buffer.data());
      const auto v = evaluate(buffer.data());
      mine[std::size_t(2 * (k - begin))] = v.loss;
      mine[std::size_t(2 * (k - begin) + 1)] = v.accuracy;
    }
  });
  std::vector<std::size_t> counts;
  for (int r = 0; r < comm.size(); ++r) {
    const auto [b, e] = block_of(count, r, comm.size());
    counts.push_back(std::size_t(2 * (e - b)));
  }
  std::vector<double> all(std::size_t(2 * count));
  mpi::all_gatherv(comm, mine.data(), mine.size(), all.data(), counts, {}, "landscape points");
  PointValues out;
  for (std::int64_t k = 0; k < count; ++k) {
    out.loss.push_back(all[std::size_t(2 * k)]);
    out.accuracy.push_back(all[std::size_t(2 * k + 1)]);
  }
  return out;
}

PointValues evaluate_grid(const GridSpec& grid, const Plane& plane, const float* centre, const PointFunction& evaluate,
                          const mpi::Comm& comm) {
  const auto fill = [&](std::int64_t k, float* out) { perturb(plane, centre, grid.x(k / grid.gy), grid.y(k % grid.gy), out); };
  return evaluate_points(grid.gx * grid.gy, std::int64_t(plane.x.size()), fill, evaluate, comm);
}

void write_landscape(const std::string& path, bool overwrite, const Landscape& l) {
  auto file = h5::File::create(path, MPI_COMM_NULL, overwrite);
  auto g = file.root().create_group("landscape");
  const auto& grid = l.grid;
  const std::int64_t P = std::int64_t(l.plane.x.size());
  g.set_attribute("directions_kind", l.plane.kind);
  g.set_attribute("evaluated_on", l.evaluated_on);
  g.set_attribute("eval_samples", l.eval_samples);
  g.set_attribute("runs", l.runs);
  g.set_attribute("centre_round", l.centre_round);
  g.set_attribute("local_round", l.local_round);
  g.set_attribute("description",
                  "loss surface L(theta* + a x + b y) around theta* = row centre_round of the first run's "
                  "/global/weights (its final model; theta_t with --local-round t) (algorithms.md section 11); "
                  "mean cross-entropy and accuracy on the evaluation samples");
  if (l.local_round > 0) write_local(g, l);
  put(g, "loss", dims({grid.gx, grid.gy}), l.values.loss, "mean cross-entropy at (axes[0][i], axes[1][j])");
  put(g, "accuracy", dims({grid.gx, grid.gy}), l.values.accuracy, "fraction correct at (axes[0][i], axes[1][j])");
  std::vector<double> axes;
  const std::int64_t n = std::max(grid.gx, grid.gy);
  for (std::int64_t i = 0; i < n; ++i) axes.push_back(i < grid.gx ? grid.x(i) : kNaN);
  for (std::int64_t j = 0; j < n; ++j) axes.push_back(j < grid.gy ? grid.y(j) : kNaN);
  put(g, "axes", dims({2, n}), axes, "row 0: the grid's a values (x axis), row 1: its b values (y axis); NaN padded");
  put(g, "trajectory", dims({std::int64_t(l.runs.size()), l.max_rows, 2}), l.trajectory,
      "coordinates (a, b) of each run's global model after round t (row 0 = initial model), least-squares "
      "projection of theta_t - theta* on the plane; NaN past a run's last round");
  std::vector<float> d(l.plane.x);
  d.insert(d.end(), l.plane.y.begin(), l.plane.y.end());
  auto ds = g.create_dataset<float>("directions", dims({2, P}));
  ds.write_all(d);
  ds.set_attribute("description", "the plane's directions x and y, flat parameter buffers in /model layout order (" +
                                      l.plane.kind + ")");
  put(g, "explained_variance", dims({2}), {l.plane.explained[0], l.plane.explained[1]},
      "pca: share of the checkpoints' variance along x and y; NaN for other directions");
}

Plane read_directions(const std::string& path, std::int64_t num_params) {
  const std::string where = "--directions " + path;
  try {
    const auto file = h5::File::open(path, MPI_COMM_NULL, false);
    const auto root = file.root();
    if (!root.exists("landscape/directions"))
      throw InputError(where + ": has no /landscape/directions (expected the output of fedhpc landscape)");
    const auto ds = root.dataset("landscape/directions");
    const auto d = ds.dims();
    if (d.size() != 2 || d[0] != 2 || std::int64_t(d[1]) != num_params)
      throw InputError(where + ": /landscape/directions is not [2, " + std::to_string(num_params) +
                       "] (a different model)");
    const auto all = ds.read_all<float>();
    Plane p;
    p.kind = path;
    p.x.assign(all.begin(), all.begin() + num_params);
    p.y.assign(all.begin() + num_params, all.end());
    p.explained = {kNaN, kNaN};
    if (root.exists("landscape/explained_variance")) {
      const auto e = root.dataset("landscape/explained_variance").read_all<double>();
      if (e.size() == 2) p.explained = {e[0], e[1]};
    }
    return p;
  } catch (const h5::Error& e) {
    throw InputError(where + ": cannot be read as HDF5 (" + h5::os_reason(e.what()) + ")");
  }
}

std::vector<double> interpolation_points(std::int64_t points, double smin, double smax) {
  std::vector<double> s;
  for (std::int64_t i = 0; i < points; ++i)
    s.push_back(points == 1 ? smin : smin + double(i) * (smax - smin) / double(points - 1));
  for (double end : {0.0, 1.0})
    if (std::find(s.begin(), s.end(), end) == s.end()) s.push_back(end);
  std::sort(s.begin(), s.end());
  return s;
}

Interpolation interpolate(const float* a, const float* b, std::int64_t num_params, const std::vector<double>& s,
                          const PointFunction& evaluate, const mpi::Comm& comm) {
  Interpolation in;
  in.s = s;
  const auto fill = [&](std::int64_t k, float* out) {
    const double t = s[std::size_t(k)];
    for (std::int64_t i = 0; i < num_params; ++i) out[i] = float((1.0 - t) * double(a[i]) + t * double(b[i]));
  };
  in.values = evaluate_points(std::int64_t(s.size()), num_params, fill, evaluate, comm);
  const auto at = [&](double t) { return in.values.loss[std::size_t(std::find(s.begin(), s.end(), t) - s.begin())]; };
  const double l0 = at(0.0), l1 = at(1.0);
  in.barrier = -std::numeric_limits<double>::infinity();
  for (std::size_t k = 0; k < s.size(); ++k)
    if (s[k] >= 0.0 && s[k] <= 1.0)
      in.barrier = std::max(in.barrier, in.values.loss[k] - ((1.0 - s[k]) * l0 + s[k] * l1));
  return in;
}

void write_interpolation(const std::string& path, bool overwrite, const Interpolation& in) {
  auto file = h5::File::create(path, MPI_COMM_NULL, overwrite);
  auto g = file.root().create_group("interpolation");
  const auto n = std::int64_t(in.s.size());
  g.set_attribute("run_a", in.run_a);
  g.set_attribute("run_b", in.run_b);
  g.set_attribute("evaluated_on", in.evaluated_on);
  g.set_attribute("eval_samples", in.eval_samples);
  g.set_attribute("barrier_height", in.barrier);
  g.set_attribute("description",
                  "loss and accuracy of (1-s) theta_A + s theta_B (final global models); barrier_height = max over s "
                  "in [0,1] of L(s) - ((1-s) L(0) + s L(1))");
  put(g, "s", dims({n}), in.s, "interpolation weight s of theta_B");
  put(g, "loss", dims({n}), in.values.loss, "mean cross-entropy at s");
  put(g, "accuracy", dims({n}), in.values.accuracy, "fraction correct at s");
}

}  // namespace fedhpc::analysis
