// A synthetic image classification task that needs no files: each class has
// a smooth random prototype image, and a sample is its class prototype plus
// Gaussian pixel noise. Every sample comes from its own keyed stream, so the
// set is a pure function of the options whatever order it is generated in.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "fedhpc/core/error.hpp"
#include "fedhpc/core/rng.hpp"
#include "fedhpc/data/dataset.hpp"

namespace fedhpc::data::detail {

namespace {

// The `round` key of a sample's stream; prototypes use round 0.
constexpr std::uint64_t kTrainSplit = 1;
constexpr std::uint64_t kTestSplit = 2;
constexpr int kWaves = 4;

// Shortest form of a number for messages ("0.5", not "0.500000").
std::string fmt(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

// A sum of a few low-frequency plane waves, rescaled to [0, 1]. Random waves
// of this kind are nearly uncorrelated between classes, so the prototypes are
// far apart compared to the default noise and an MLP separates them easily.
std::vector<float> make_prototype(std::uint64_t seed, int cls, int side) {
  Rng rng = stream(seed, StreamKind::Synthetic, static_cast<std::uint64_t>(cls), 0, 0);
  double fx[kWaves], fy[kWaves], phase[kWaves];
  for (int w = 0; w < kWaves; ++w) {
    fx[w] = rng.uniform(-3.0, 3.0);  // cycles per image side
    fy[w] = rng.uniform(-3.0, 3.0);
    phase[w] = rng.uniform(0.0, 2.0 * M_PI);
  }
  std::vector<double> v(std::size_t(side) * side, 0.0);
  for (int y = 0; y < side; ++y)
    for (int x = 0; x < side; ++x)
      for (int w = 0; w < kWaves; ++w)
        v[std::size_t(y) * side + x] +=
            std::cos(2.0 * M_PI * (fx[w] * x + fy[w] * y) / side + phase[w]);
  double lo = v[0], hi = v[0];
  for (double a : v) lo = std::min(lo, a), hi = std::max(hi, a);
  std::vector<float> out(v.size(), 0.5f);
  if (hi > lo)
    for (std::size_t i = 0; i < v.size(); ++i) out[i] = float((v[i] - lo) / (hi - lo));
  return out;
}

// Marsaglia's polar method on our own uniforms: two normals per accepted pair
// and no trigonometry, about three times faster than Rng::normal, which
// matters at 784 draws per image.
void add_noise(float* px, const float* proto, std::int64_t n, double sigma, Rng& rng) {
  for (std::int64_t i = 0; i < n; i += 2) {
    double u, v, q;
    do {
      u = 2.0 * rng.uniform() - 1.0;
      v = 2.0 * rng.uniform() - 1.0;
      q = u * u + v * v;
    } while (q >= 1.0 || q == 0.0);
    const double f = sigma * std::sqrt(-2.0 * std::log(q) / q);
    px[i] = proto[i] + float(u * f);
    if (i + 1 < n) px[i + 1] = proto[i + 1] + float(v * f);
  }
}

ImageSet make_split(const DatasetOptions& o, const std::vector<std::vector<float>>& protos,
                    std::int64_t count, std::uint64_t split) {
  ImageSet set;
  set.count = count;
  set.channels = 1;
  set.height = o.synthetic_side;
  set.width = o.synthetic_side;
  const std::int64_t size = set.sample_size();
  set.pixels.resize(static_cast<std::size_t>(count * size));
  set.labels.resize(static_cast<std::size_t>(count));
  auto generate = [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) {
      Rng rng = stream(o.seed, StreamKind::Synthetic, std::uint64_t(i), split, 0);
      const auto label = static_cast<std::int64_t>(rng.below(std::uint64_t(o.synthetic_classes)));
      set.labels[std::size_t(i)] = label;
      add_noise(set.pixels.data() + i * size, protos[std::size_t(label)].data(), size,
                o.synthetic_noise, rng);
    }
  };
  // Samples have their own streams, so threads change the speed, not the data.
  // 200k images take seconds on one core; below ~4M pixels one thread is
  // enough. The cap of 8 limits oversubscription with several ranks per node.
  const std::int64_t work = count * size;
  const auto threads = static_cast<std::int64_t>(
      work < (1 << 22) ? 1 : std::clamp(std::thread::hardware_concurrency(), 1u, 8u));
  auto chunk = [&](std::int64_t t) { generate(count * t / threads, count * (t + 1) / threads); };
  std::vector<std::thread> pool;
  std::int64_t started = 1;
  try {
    for (; started < threads; ++started) pool.emplace_back(chunk, started);
  } catch (const std::system_error&) {
    // No more threads to be had: the remaining chunks run here.
  }
  for (std::int64_t t = started; t < threads; ++t) chunk(t);
  chunk(0);
  for (auto& th : pool) th.join();
  return set;
}

void validate(const DatasetOptions& o) {
  auto need = [](bool ok, const std::string& msg) {
    if (!ok) throw InputError(msg);
  };
  need(o.synthetic_train_samples >= 1,
       "--synthetic-train-samples must be >= 1, got " + std::to_string(o.synthetic_train_samples));
  need(o.synthetic_test_samples >= 1,
       "--synthetic-test-samples must be >= 1, got " + std::to_string(o.synthetic_test_samples));
  need(o.synthetic_classes >= 2,
       "--synthetic-classes must be >= 2, got " + std::to_string(o.synthetic_classes));
  need(o.synthetic_side >= 1 && o.synthetic_side <= 4096,
       "--synthetic-side must be in 1..4096, got " + std::to_string(o.synthetic_side));
  need(std::isfinite(o.synthetic_noise) && o.synthetic_noise >= 0.0,
       "--synthetic-noise must be a finite number >= 0, got " + fmt(o.synthetic_noise));
}

}  // namespace

Dataset make_synthetic(const DatasetOptions& options) {
  validate(options);
  std::vector<std::vector<float>> protos;
  for (int c = 0; c < options.synthetic_classes; ++c)
    protos.push_back(make_prototype(options.seed, c, options.synthetic_side));
  Dataset ds;
  ds.name = "synthetic";
  ds.num_classes = options.synthetic_classes;
  ds.train = make_split(options, protos, options.synthetic_train_samples, kTrainSplit);
  ds.test = make_split(options, protos, options.synthetic_test_samples, kTestSplit);
  return ds;
}

}  // namespace fedhpc::data::detail
