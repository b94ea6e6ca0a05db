// Paper 001's regression task: random 1-D signals whose shift and scale are
// to be predicted. A signal is a random smooth source (a few sinusoids plus
// white noise), standardised to mean 0 and standard deviation 1 over its
// samples, then scaled and shifted: x_t = scale * s_t + shift. The targets
// are (shift, scale), so the task is well posed: they are the signal's mean
// and standard deviation. Sample i of client c comes from its own stream
// (seed, Synthetic, c, kTrainRound, i), so a client's data does not depend on
// the number of clients, ranks or the order of generation.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "fedhpc/core/error.hpp"
#include "fedhpc/core/rng.hpp"
#include "fedhpc/data/dataset.hpp"

namespace fedhpc::data::detail {

namespace {

// The `round` keys of the signal streams; synthetic.cpp uses 0, 1 and 2.
constexpr std::uint64_t kTrainRound = 3;
constexpr std::uint64_t kTestRound = 4;
constexpr int kWaves = 3;
constexpr double kNoise = 0.1;  // white noise against unit-amplitude waves
constexpr double kShiftLow = -1.0, kShiftHigh = 1.0;
constexpr double kScaleLow = 0.5, kScaleHigh = 2.0;

// One signal of `length` values into out, its (shift, scale) into target.
void make_signal(Rng& rng, int length, float* out, float* target) {
  double amp[kWaves], freq[kWaves], phase[kWaves];
  for (int w = 0; w < kWaves; ++w) {
    amp[w] = rng.uniform(0.2, 1.0);
    freq[w] = rng.uniform(0.5, 6.0);  // cycles per signal
    phase[w] = rng.uniform(0.0, 2.0 * M_PI);
  }
  std::vector<double> s(std::size_t(length), 0.0);
  double sum = 0.0;
  for (int t = 0; t < length; ++t) {
    double v = kNoise * rng.normal();
    for (int w = 0; w < kWaves; ++w) v += amp[w] * std::sin(2.0 * M_PI * freq[w] * t / length + phase[w]);
    s[std::size_t(t)] = v;
    sum += v;
  }
  const double mean = sum / length;
  double sq = 0.0;
  for (double v : s) sq += (v - mean) * (v - mean);
  const double sd = std::sqrt(sq / length);
  const double shift = rng.uniform(kShiftLow, kShiftHigh);
  const double scale = rng.uniform(kScaleLow, kScaleHigh);
  for (int t = 0; t < length; ++t) out[t] = float(scale * (s[std::size_t(t)] - mean) / sd + shift);
  target[0] = float(shift);
  target[1] = float(scale);
}

ImageSet empty_set(std::int64_t count, int length) {
  ImageSet set;
  set.count = count;
  set.channels = 1;
  set.height = 1;
  set.width = length;
  set.pixels.resize(std::size_t(count * length));
  set.labels.assign(std::size_t(count), 0);
  set.targets.resize(std::size_t(count * 2));
  return set;
}

}  // namespace

Dataset make_signal(const DatasetOptions& o) {
  if (o.clients < 1) throw InputError("--clients must be >= 1 for --dataset signal");
  if (o.signal_samples < 1) throw InputError("--signal-samples must be >= 1");
  if (o.signal_test_samples < 1) throw InputError("--signal-test-samples must be >= 1");
  if (o.signal_length < 4) throw InputError("--signal-length must be >= 4");
  Dataset ds;
  ds.name = "signal";
  ds.task = "regression";
  ds.num_classes = 2;
  ds.target_names = {"shift", "scale"};
  const int len = o.signal_length;
  ds.train = empty_set(o.clients * o.signal_samples, len);
  ds.train_clients.resize(std::size_t(ds.train.count));
  for (std::int64_t c = 0; c < o.clients; ++c)
    for (std::int64_t i = 0; i < o.signal_samples; ++i) {
      const std::int64_t n = c * o.signal_samples + i;
      Rng rng = stream(o.seed, StreamKind::Synthetic, std::uint64_t(c), kTrainRound, std::uint64_t(i));
      make_signal(rng, len, ds.train.pixels.data() + n * len, ds.train.targets.data() + 2 * n);
      ds.train_clients[std::size_t(n)] = c;
    }
  ds.test = empty_set(o.signal_test_samples, len);
  for (std::int64_t i = 0; i < o.signal_test_samples; ++i) {
    Rng rng = stream(o.seed, StreamKind::Synthetic, std::uint64_t(i), kTestRound, 0);
    make_signal(rng, len, ds.test.pixels.data() + i * len, ds.test.targets.data() + 2 * i);
  }
  return ds;
}

}  // namespace fedhpc::data::detail
