#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "fedhpc/core/param_layout.hpp"

namespace fedhpc::analysis {

// Two directions in parameter space (flat buffers in layout order) that span
// the plane of a loss landscape (algorithms.md section 11).
struct Plane {
  std::string kind;                      // "random", "pca" or the file they came from
  std::vector<float> x, y;               // num_params each
  std::array<double, 2> explained{};     // PCA: share of the variance per axis; NaN otherwise
};

// Filter normalisation (Li et al. 2018): every output filter / neuron row i
// (first dimension) of every tensor with two or more dimensions is scaled so
// that ||direction_i|| = ||theta_i||; tensors of dimension <= 1 (biases) are
// set to 0. A zero row stays zero.
void filter_normalize(const ParamLayout& layout, const float* theta, float* direction);

// Two seeded Gaussian directions (stream (seed, Analysis, 0, 0, axis)),
// filter-normalised against theta.
Plane random_directions(const ParamLayout& layout, const float* theta, std::uint64_t seed);

// The top two principal components of the rows theta_t - centre over all
// checkpoints (centred by their mean), from the eigenvectors of the small
// Gram matrix. Axes are unit vectors; the sign makes each axis's largest
// |component| positive. explained = eigenvalue / sum of all eigenvalues.
// Throws InputError when the checkpoints span fewer than two dimensions.
Plane pca_directions(const std::vector<const float*>& checkpoints, const float* centre, std::int64_t num_params);

// Coordinates (a, b) of theta in the plane through centre: the least-squares
// fit theta - centre ~ a x + b y, in the grid's units (theta = centre + a x +
// b y gives back (a, b)). For orthonormal PCA axes a = <theta - centre, x>.
std::array<double, 2> project(const Plane& plane, const float* theta, const float* centre);

// out = float(double(centre) + a x + b y), coordinate by coordinate: the
// perturbed model of one grid point.
void perturb(const Plane& plane, const float* centre, double a, double b, float* out);

}  // namespace fedhpc::analysis
