#include "fedhpc/analysis/mutual_information.hpp"

#include <Eigen/Cholesky>
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "fedhpc/analysis/max_norm_tree.hpp"
#include "fedhpc/core/rng.hpp"
#include "fedhpc/mpi/comm.hpp"

namespace fedhpc::analysis {

namespace {

void check_paired(const Samples& x, const Samples& y, const char* what) {
  if (x.rows() != y.rows())
    throw std::invalid_argument(std::string(what) + ": X and Y need the same number of samples (rows)");
  if (x.rows() < 2) throw std::invalid_argument(std::string(what) + ": needs at least 2 samples");
}

std::vector<Eigen::Index> varying_columns(const Samples& a) {
  std::vector<Eigen::Index> keep;
  for (Eigen::Index c = 0; c < a.cols(); ++c)
    if ((a.col(c).array() != a(0, c)).any()) keep.push_back(c);
  return keep;
}

// (X, Y) restricted to the varying columns, X's first.
Samples joint(const Samples& x, const std::vector<Eigen::Index>& kx, const Samples& y,
              const std::vector<Eigen::Index>& ky) {
  Samples z(x.rows(), Eigen::Index(kx.size() + ky.size()));
  for (std::size_t j = 0; j < kx.size(); ++j) z.col(Eigen::Index(j)) = x.col(kx[j]);
  for (std::size_t j = 0; j < ky.size(); ++j) z.col(Eigen::Index(kx.size() + j)) = y.col(ky[j]);
  return z;
}

Eigen::MatrixXd centred(const Samples& z) {
  Eigen::MatrixXd c = z;
  c.rowwise() -= c.colwise().mean();
  return c;
}

// Columns scaled to unit standard deviation. MI does not change when a
// coordinate is scaled, and neither does the unshrunk estimate; shrinking the
// correlation matrix (rather than the covariance) towards I keeps the
// shrunk estimate invariant too, so coordinates of very different scales
// (a layer's weights and its bias) are shrunk alike.
Samples standardized(const Samples& z) {
  Samples c = z;
  c.rowwise() -= c.colwise().mean();
  for (Eigen::Index j = 0; j < c.cols(); ++j) c.col(j) /= std::sqrt(c.col(j).squaredNorm() / double(c.rows()));
  return c;
}

// The three log-determinants of S_Z and its two diagonal blocks; false if
// any block is not positive definite.
bool block_log_dets(const Eigen::MatrixXd& s, Eigen::Index dx, double& x, double& y, double& z) {
  const Eigen::Index dy = s.rows() - dx;
  return log_det_spd(s.topLeftCorner(dx, dx), x) && log_det_spd(s.bottomRightCorner(dy, dy), y) &&
         log_det_spd(s, z);
}

}  // namespace

bool log_det_spd(const Eigen::MatrixXd& a, double& log_det) {
  Eigen::LLT<Eigen::MatrixXd> llt(a);
  if (llt.info() != Eigen::Success) return false;
  const auto diag = llt.matrixLLT().diagonal();
  double sum = 0.0;
  for (Eigen::Index i = 0; i < diag.size(); ++i) {
    if (!(diag(i) > 0.0) || !std::isfinite(diag(i))) return false;
    sum += std::log(diag(i));
  }
  log_det = 2.0 * sum;
  return true;
}

Eigen::MatrixXd ledoit_wolf(const Samples& z, double* weight) {
  const Eigen::MatrixXd c = centred(z);
  const double n = double(c.rows());
  const Eigen::Index p = c.cols();
  const Eigen::MatrixXd s = (c.transpose() * c) / n;  // the 1/N estimate Ledoit-Wolf shrink
  const double mu = s.trace() / double(p);
  Eigen::MatrixXd target_gap = s;
  target_gap.diagonal().array() -= mu;
  const double d2 = target_gap.squaredNorm();
  // b^2 = (1/N^2) sum_n ||z_n z_n^T - S||_F^2 = (sum_n ||z_n||^4 / N - ||S||_F^2) / N.
  const double fourth = c.rowwise().squaredNorm().array().square().sum();
  const double b2 = std::min(d2, std::max(0.0, (fourth / n - s.squaredNorm()) / n));
  const double w = d2 > 0.0 ? b2 / d2 : 0.0;
  if (weight) *weight = w;
  Eigen::MatrixXd shrunk = (1.0 - w) * s;
  shrunk.diagonal().array() += w * mu;
  return shrunk;
}

double gaussian_mi_from_covariance(const Eigen::MatrixXd& s, Eigen::Index dx) {
  double lx = 0, ly = 0, lz = 0;
  if (dx < 1 || dx >= s.rows() || !block_log_dets(s, dx, lx, ly, lz)) return std::numeric_limits<double>::quiet_NaN();
  return 0.5 * (lx + ly - lz);
}

GaussianMi gaussian_mi(const Samples& x, const Samples& y) {
  check_paired(x, y, "gaussian_mi");
  const auto kx = varying_columns(x), ky = varying_columns(y);
  GaussianMi r;
  r.dropped = (x.cols() - Eigen::Index(kx.size())) + (y.cols() - Eigen::Index(ky.size()));
  if (kx.empty() || ky.empty()) return r;
  const Samples z = joint(x, kx, y, ky);
  const auto dx = Eigen::Index(kx.size());
  double lx = 0, ly = 0, lz = 0;
  bool ok = false;
  if (z.rows() > z.cols()) {
    const Eigen::MatrixXd c = centred(z);
    ok = block_log_dets((c.transpose() * c) / double(z.rows() - 1), dx, lx, ly, lz);
  }
  if (!ok) {
    r.shrunk = true;
    if (!block_log_dets(ledoit_wolf(standardized(z), &r.shrinkage), dx, lx, ly, lz)) {
      r.mi = std::numeric_limits<double>::quiet_NaN();
      return r;
    }
  }
  r.mi = 0.5 * (lx + ly - lz);
  return r;
}

double digamma(double x) {
  if (!(x > 0.0)) throw std::invalid_argument("digamma: x must be > 0");
  double r = 0.0;
  while (x < 12.0) {
    r -= 1.0 / x;
    x += 1.0;
  }
  const double f = 1.0 / (x * x);
  // psi(x) ~ ln x - 1/(2x) - sum B_2n / (2n x^2n).
  const double series =
      f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f * (1.0 / 132 - f * (691.0 / 32760))))));
  return r + std::log(x) - 0.5 / x - series;
}

void add_tie_noise(Samples& x, Samples& y, const KsgOptions& options) {
  if (options.noise == 0.0) return;
  Samples* sides[2] = {&x, &y};
  for (std::uint64_t side = 0; side < 2; ++side) {
    Samples& a = *sides[side];
    for (Eigen::Index c = 0; c < a.cols(); ++c) {
      const double scale = options.noise * std::max(1.0, a.col(c).cwiseAbs().mean());
      auto rng = stream(options.seed, StreamKind::Analysis, options.noise_key, 0x6b736700 + side, std::uint64_t(c));
      for (Eigen::Index n = 0; n < a.rows(); ++n) a(n, c) += scale * rng.normal();
    }
  }
}

std::vector<double> ksg_terms(const Samples& x, const Samples& y, int k, std::int64_t begin, std::int64_t end) {
  check_paired(x, y, "ksg");
  const std::int64_t n = x.rows();
  if (k < 1 || k >= n) throw std::invalid_argument("ksg: k must be in [1, N)");
  if (begin < 0 || end > n || begin > end) throw std::invalid_argument("ksg: bad query range");
  Samples z(n, x.cols() + y.cols());
  z << x, y;
  const MaxNormTree tz(z.data(), n, z.cols()), tx(x.data(), n, x.cols()), ty(y.data(), n, y.cols());
  std::vector<double> terms;
  terms.reserve(std::size_t(end - begin));
  for (std::int64_t i = begin; i < end; ++i) {
    const double eps = tz.kth_neighbour_distance(i, k);
    // The point itself is within any eps > 0 and is not a neighbour.
    const std::int64_t self = eps > 0.0 ? 1 : 0;
    const std::int64_t nx = tx.count_within(&x(i, 0), eps) - self;
    const std::int64_t ny = ty.count_within(&y(i, 0), eps) - self;
    terms.push_back(digamma(double(nx + 1)) + digamma(double(ny + 1)));
  }
  return terms;
}

double ksg_combine(const std::vector<double>& terms, int k) {
  double sum = 0.0;
  for (double t : terms) sum += t;  // index order: the same bits however the terms were computed
  const double n = double(terms.size());
  return digamma(double(k)) + digamma(n) - sum / n;
}

double ksg_mi(const Samples& x, const Samples& y, const KsgOptions& options) {
  Samples nx = x, ny = y;
  add_tie_noise(nx, ny, options);
  return ksg_combine(ksg_terms(nx, ny, options.k, 0, nx.rows()), options.k);
}

double ksg_mi(const Samples& x, const Samples& y, const KsgOptions& options, const mpi::Comm& comm) {
  Samples nx = x, ny = y;
  add_tie_noise(nx, ny, options);
  const std::int64_t n = nx.rows();
  const auto ranks = std::int64_t(comm.size()), rank = std::int64_t(comm.rank());
  std::vector<std::size_t> counts;
  for (std::int64_t r = 0; r < ranks; ++r) counts.push_back(std::size_t(n * (r + 1) / ranks - n * r / ranks));
  const auto mine = ksg_terms(nx, ny, options.k, n * rank / ranks, n * (rank + 1) / ranks);
  std::vector<double> all(std::size_t(n), 0.0);
  mpi::all_gatherv(comm, mine.data(), mine.size(), all.data(), counts, {}, "KSG terms");
  return ksg_combine(all, options.k);
}

PairDistances pair_distances(const Samples& x, const Samples& y) {
  if (x.rows() != y.rows() || x.cols() != y.cols())
    throw std::invalid_argument("pair_distances: X and Y need the same shape");
  if (x.rows() < 1) throw std::invalid_argument("pair_distances: needs at least 1 sample");
  PairDistances d;
  for (Eigen::Index n = 0; n < x.rows(); ++n) {
    const auto diff = (x.row(n) - y.row(n)).array().abs().eval();
    d.euclidean += std::sqrt(diff.square().sum());
    d.manhattan += diff.sum();
    d.chebyshev += diff.maxCoeff();
  }
  const double count = double(x.rows());
  d.euclidean /= count;
  d.manhattan /= count;
  d.chebyshev /= count;
  return d;
}

}  // namespace fedhpc::analysis
