#pragma once
#include <cstdint>

#include "fedhpc/core/rng.hpp"
#include "fedhpc/data/dataset.hpp"

namespace fedhpc::data {

struct Partition;

// --augment (paper 001's transfer task): every training image a client holds
// is replaced by a random affine copy of itself. The copy is rotated by an
// angle drawn in [-rotation, rotation] degrees, zoomed by a factor drawn in
// [1 - zoom, 1 + zoom] and shifted by (dx, dy) drawn in [-shift, shift]
// pixels, all about the image centre, with bilinear interpolation and 0 (the
// background) outside the source. Drawn from the stream (seed, Synthetic,
// client's partition index, kAugmentRound, sample's position in the client's
// training list): the same on every rank, for any rank count or placement.
// Local test samples and the global test set are not augmented.
struct AugmentSpec {
  double rotation = 15.0;  // degrees
  double zoom = 0.1;
  double shift = 2.0;  // pixels
};

// The `round` key of the augmentation streams (signal.cpp uses 3 and 4).
inline constexpr std::uint64_t kAugmentRound = 0xA06;

// One image [channels, height, width] from `in` into `out` (distinct
// buffers), its transform drawn from rng.
void augment_image(const float* in, float* out, int channels, int height, int width, const AugmentSpec& spec,
                   Rng& rng);

// Augments ds's training images in place, client by client. `partition` is
// the one made from ds (partition indices, before any reordering). Throws
// InputError naming --augment when the samples are not images.
void augment_dataset(Dataset& ds, const Partition& partition, const AugmentSpec& spec, std::uint64_t seed);

}  // namespace fedhpc::data
