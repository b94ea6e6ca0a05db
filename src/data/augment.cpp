#include "fedhpc/data/augment.hpp"

#include <cmath>
#include <vector>

#include "fedhpc/core/error.hpp"
#include "fedhpc/data/partition.hpp"

namespace fedhpc::data {

namespace {

// Bilinear sample of one channel at (y, x); 0 outside the image.
float bilinear(const float* plane, int height, int width, double y, double x) {
  const double fy = std::floor(y), fx = std::floor(x);
  const int y0 = int(fy), x0 = int(fx);
  const double ay = y - fy, ax = x - fx;
  auto at = [&](int yy, int xx) -> double {
    return yy < 0 || yy >= height || xx < 0 || xx >= width ? 0.0 : double(plane[yy * width + xx]);
  };
  const double top = (1 - ax) * at(y0, x0) + ax * at(y0, x0 + 1);
  const double bottom = (1 - ax) * at(y0 + 1, x0) + ax * at(y0 + 1, x0 + 1);
  return float((1 - ay) * top + ay * bottom);
}

}  // namespace

void augment_image(const float* in, float* out, int channels, int height, int width, const AugmentSpec& spec,
                   Rng& rng) {
  const double angle = rng.uniform(-spec.rotation, spec.rotation) * M_PI / 180.0;
  const double scale = rng.uniform(1.0 - spec.zoom, 1.0 + spec.zoom);
  const double dx = rng.uniform(-spec.shift, spec.shift), dy = rng.uniform(-spec.shift, spec.shift);
  // Output pixel p comes from source c + R(-angle) (p - c - d) / scale.
  const double cy = (height - 1) / 2.0, cx = (width - 1) / 2.0;
  const double cos_a = std::cos(angle) / scale, sin_a = std::sin(angle) / scale;
  const std::int64_t plane = std::int64_t(height) * width;
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      const double u = x - cx - dx, v = y - cy - dy;
      const double sx = cx + cos_a * u + sin_a * v, sy = cy - sin_a * u + cos_a * v;
      for (int c = 0; c < channels; ++c)
        out[c * plane + y * width + x] = bilinear(in + c * plane, height, width, sy, sx);
    }
}

void augment_dataset(Dataset& ds, const Partition& partition, const AugmentSpec& spec, std::uint64_t seed) {
  auto& set = ds.train;
  if (set.height < 2 || set.width < 2)
    throw InputError("--augment: needs images; the samples of --dataset " + ds.name + " are " +
                     std::to_string(set.height) + "x" + std::to_string(set.width));
  const std::int64_t size = set.sample_size();
  std::vector<float> original(static_cast<std::size_t>(size));
  for (std::int64_t c = 0; c < partition.num_clients(); ++c)
    for (std::int64_t i = 0; i < partition.train_count(c); ++i) {
      float* image = set.pixels.data() + partition.train_begin(c)[i] * size;
      std::copy(image, image + size, original.begin());
      Rng rng = stream(seed, StreamKind::Synthetic, std::uint64_t(c), kAugmentRound, std::uint64_t(i));
      augment_image(original.data(), image, set.channels, set.height, set.width, spec, rng);
    }
}

}  // namespace fedhpc::data
