#include "fedhpc/analysis/directions.hpp"

#include <Eigen/Dense>
#include <cmath>
#include <limits>

#include "fedhpc/core/error.hpp"
#include "fedhpc/core/rng.hpp"

namespace fedhpc::analysis {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double squared_norm(const float* v, std::int64_t n) {
  double s = 0.0;
  for (std::int64_t i = 0; i < n; ++i) s += double(v[i]) * double(v[i]);
  return s;
}

// Flips the axis so its largest |component| is positive: eigenvectors have
// no sign of their own, and a fixed one keeps surfaces comparable.
void fix_sign(std::vector<double>& axis) {
  std::size_t best = 0;
  for (std::size_t i = 1; i < axis.size(); ++i)
    if (std::abs(axis[i]) > std::abs(axis[best])) best = i;
  if (!axis.empty() && axis[best] < 0)
    for (auto& v : axis) v = -v;
}

}  // namespace

void filter_normalize(const ParamLayout& layout, const float* theta, float* direction) {
  for (const auto& layer : layout.layers()) {
    float* d = direction + layer.offset;
    if (layer.shape.size() <= 1) {
      std::fill(d, d + layer.size, 0.0f);
      continue;
    }
    const std::int64_t rows = layer.shape[0];
    const std::int64_t width = rows > 0 ? layer.size / rows : 0;
    for (std::int64_t r = 0; r < rows; ++r) {
      float* row = d + r * width;
      const double norm_d = std::sqrt(squared_norm(row, width));
      const double norm_t = std::sqrt(squared_norm(theta + layer.offset + r * width, width));
      const double scale = norm_d > 0.0 ? norm_t / norm_d : 0.0;
      for (std::int64_t i = 0; i < width; ++i) row[i] = float(double(row[i]) * scale);
    }
  }
}

Plane random_directions(const ParamLayout& layout, const float* theta, std::uint64_t seed) {
  Plane p;
  p.kind = "random";
  p.explained = {kNaN, kNaN};
  const auto n = std::size_t(layout.total());
  for (int axis = 0; axis < 2; ++axis) {
    auto& d = axis == 0 ? p.x : p.y;
    d.resize(n);
    // Every coordinate draws, biases included, so a bias never shifts the
    // stream of the weights after it.
    auto rng = stream(seed, StreamKind::Analysis, 0, 0, 0x1a5d0000u + std::uint64_t(axis));
    for (auto& v : d) v = float(rng.normal());
    filter_normalize(layout, theta, d.data());
  }
  return p;
}

Plane pca_directions(const std::vector<const float*>& checkpoints, const float* centre, std::int64_t num_params) {
  const auto n = Eigen::Index(checkpoints.size());
  const auto P = std::size_t(num_params);
  // Centred rows r_t - mean, in double.
  std::vector<double> mean(P, 0.0);
  for (const float* c : checkpoints)
    for (std::size_t i = 0; i < P; ++i) mean[i] += double(c[i]) - double(centre[i]);
  for (auto& m : mean) m /= double(n);
  Eigen::MatrixXd rows(n, Eigen::Index(P));
  for (Eigen::Index t = 0; t < n; ++t)
    for (std::size_t i = 0; i < P; ++i)
      rows(t, Eigen::Index(i)) = double(checkpoints[std::size_t(t)][i]) - double(centre[i]) - mean[i];
  const Eigen::MatrixXd gram = rows * rows.transpose();
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(gram);
  const auto& values = eig.eigenvalues();  // ascending
  const double total = values.cwiseMax(0.0).sum();
  if (n < 3 || !(values(n - 2) > total * 1e-12) || !(total > 0.0))
    throw InputError("--directions pca: the checkpoints span fewer than two dimensions; use more rounds or runs, "
                     "or --directions random");
  Plane p;
  p.kind = "pca";
  for (int axis = 0; axis < 2; ++axis) {
    const Eigen::Index k = n - 1 - axis;
    const Eigen::VectorXd d = rows.transpose() * eig.eigenvectors().col(k) / std::sqrt(values(k));
    std::vector<double> v(d.data(), d.data() + d.size());
    fix_sign(v);
    auto& out = axis == 0 ? p.x : p.y;
    out.assign(v.begin(), v.end());
    p.explained[std::size_t(axis)] = values(k) / total;
  }
  return p;
}

std::array<double, 2> project(const Plane& plane, const float* theta, const float* centre) {
  double xx = 0, xy = 0, yy = 0, rx = 0, ry = 0;
  for (std::size_t i = 0; i < plane.x.size(); ++i) {
    const double r = double(theta[i]) - double(centre[i]);
    const double x = plane.x[i], y = plane.y[i];
    xx += x * x;
    xy += x * y;
    yy += y * y;
    rx += r * x;
    ry += r * y;
  }
  const double det = xx * yy - xy * xy;
  if (!(det > 0.0)) return {kNaN, kNaN};
  return {(rx * yy - ry * xy) / det, (ry * xx - rx * xy) / det};
}

void perturb(const Plane& plane, const float* centre, double a, double b, float* out) {
  const std::size_t n = plane.x.size();
  for (std::size_t i = 0; i < n; ++i)
    out[i] = float(double(centre[i]) + a * double(plane.x[i]) + b * double(plane.y[i]));
}

}  // namespace fedhpc::analysis
