#pragma once
// Mutual information between two sampled random vectors and the distances
// between paired samples (algorithms.md section 8; paper 001). Samples are
// rows: X is [N, dx], Y is [N, dy], row n of X paired with row n of Y.
// Results are in nats.
#include <Eigen/Core>
#include <cstdint>
#include <vector>

namespace fedhpc::mpi {
class Comm;
}

namespace fedhpc::analysis {

using Samples = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// ---- Gaussian estimator -----------------------------------------------------
// I = 1/2 ln(det S_X det S_Y / det S_Z), Z = (X, Y), each log-determinant
// from a Cholesky factorisation (never a raw determinant).
//  * Columns constant in the samples (zero variance: e.g. weights of pixels
//    that are always 0) carry no information and are dropped first.
//  * S_Z is the sample covariance, or, when N <= dx + dy (too few samples
//    for a full-rank estimate) or the sample covariance is not numerically
//    positive definite, the Ledoit-Wolf shrinkage of the sample correlation
//    matrix towards I (the columns standardised first, so the estimate stays
//    invariant to scaling a coordinate, as MI is). The shrinkage weight is
//    Ledoit & Wolf's (2004) estimate min(1, b^2 / d^2), the one
//    scikit-learn's ledoit_wolf uses. S_X and S_Y are the diagonal blocks of
//    the same (shrunk) S_Z, so I >= 0.
//  * With N not far above dx + dy, or below it, the estimate is dominated by
//    its bias (tens of nats for independent samples at N = 100, d = 650):
//    sample fewer dimensions (a layer, a projection).
// Returns 0 when no column varies.
struct GaussianMi {
  double mi = 0.0;
  bool shrunk = false;      // Ledoit-Wolf was applied
  double shrinkage = 0.0;   // its weight in [0, 1]
  std::int64_t dropped = 0; // constant columns dropped
};
GaussianMi gaussian_mi(const Samples& x, const Samples& y);

// 1/2 ln(det S_X det S_Y / det S) for a covariance S of Z = (X, Y) whose
// first dx rows/columns are X's; NaN when a block is not positive definite.
double gaussian_mi_from_covariance(const Eigen::MatrixXd& s, Eigen::Index dx);

// ln det of a symmetric positive definite matrix by Cholesky (LLT);
// returns false when the factorisation finds it is not positive definite.
bool log_det_spd(const Eigen::MatrixXd& a, double& log_det);

// Ledoit-Wolf shrunk covariance of the rows of z (centred inside); weight
// receives the shrinkage weight.
Eigen::MatrixXd ledoit_wolf(const Samples& z, double* weight = nullptr);

// ---- KSG estimator (Kraskov, Stoegbauer, Grassberger 2004, algorithm 1) ----
// I = psi(k) + psi(N) - < psi(n_x + 1) + psi(n_y + 1) >, with eps_i the
// max-norm distance from z_i to its k-th neighbour in the joint space and
// n_x(i) = #{j != i : ||x_i - x_j||_inf < eps_i} (strict), n_y likewise.
// Neighbour search is a k-d tree (MaxNormTree): O(N d) memory, well under
// O(N^2) time for low dimensions. Not clamped at 0 (scikit-learn clamps).
struct KsgOptions {
  int k = 3;
  // Tie-breaking noise: every column c of X and Y gets
  // noise * max(1, mean |c|) * N(0, 1) added (scikit-learn's recipe), from
  // the stream (seed, Analysis, noise_key). 0 = off.
  double noise = 1e-10;
  std::uint64_t seed = 0;
  std::uint64_t noise_key = 0;
};

// The data after the options' tie-breaking noise (unchanged when noise = 0).
void add_tie_noise(Samples& x, Samples& y, const KsgOptions& options);

// psi(n_x(i) + 1) + psi(n_y(i) + 1) for the query points i in [begin, end),
// on data that already carries its noise. Every point is a neighbour
// candidate; only the queries are restricted, so ranges can be split across
// ranks and the terms concatenated.
std::vector<double> ksg_terms(const Samples& x, const Samples& y, int k, std::int64_t begin, std::int64_t end);

// psi(k) + psi(N) - (sum of the N terms, in index order) / N.
double ksg_combine(const std::vector<double>& terms, int k);

// The estimate on one process (noise added inside, x and y untouched).
double ksg_mi(const Samples& x, const Samples& y, const KsgOptions& options = {});
// The same with the queries split into contiguous blocks over comm's ranks;
// the terms are gathered in index order and summed on every rank exactly as
// on one process, so the result has the same bits at any rank count.
// Collective; every rank passes the same x and y.
double ksg_mi(const Samples& x, const Samples& y, const KsgOptions& options, const mpi::Comm& comm);

// Digamma function psi(x) for x > 0 (recurrence to x >= 6, then the
// asymptotic series; absolute error below 1e-14).
double digamma(double x);

// ---- Distances over the N sample pairs (dx == dy) ---------------------------
struct PairDistances {
  double euclidean = 0.0;  // mean ||x_i - y_i||_2
  double manhattan = 0.0;  // mean ||x_i - y_i||_1
  double chebyshev = 0.0;  // mean ||x_i - y_i||_inf
};
PairDistances pair_distances(const Samples& x, const Samples& y);

}  // namespace fedhpc::analysis
