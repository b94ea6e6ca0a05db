// Coloured Fashion-MNIST (--dataset colored-fashion-mnist), see colored.hpp.
#include "fedhpc/data/colored.hpp"

#include <array>

#include "fedhpc/core/error.hpp"
#include "fedhpc/core/rng.hpp"
#include "fedhpc/data/partition.hpp"

namespace fedhpc::data {

namespace {

using Rgb = std::array<float, 3>;

// Stream tags (the `extra` key) of the colouring; the Synthetic stream kind
// is only otherwise used by --dataset synthetic, never in the same run.
constexpr std::uint64_t kRateTag = 0xC0102A7E, kFlipTag = 0xC010F119, kTestTag = 0xC0107E57,
                        kPaletteTag = 0xC010BA1E;
constexpr int kBinaryBoundary = 5;  // label = [class < 5]
constexpr Rgb kRed = {1, 0, 0}, kGreen = {0, 1, 0}, kBlack = {0, 0, 0};

// Ten well separated colours; class c's training pair is foreground
// palette[c] on background palette[(c + 5) % 10] at half brightness.
constexpr std::array<Rgb, 10> kPalette = {{{1, 0, 0},
                                           {0, 1, 0},
                                           {0, 0, 1},
                                           {1, 1, 0},
                                           {1, 0, 1},
                                           {0, 1, 1},
                                           {1, 0.5f, 0},
                                           {0.5f, 0, 1},
                                           {0.5f, 1, 0.5f},
                                           {1, 1, 1}}};

Rgb half(const Rgb& c) { return {c[0] * 0.5f, c[1] * 0.5f, c[2] * 0.5f}; }

void paint(const float* grey, std::int64_t pixels, const Rgb& fg, const Rgb& bg, float* out) {
  for (int ch = 0; ch < 3; ++ch)
    for (std::int64_t p = 0; p < pixels; ++p)
      out[ch * pixels + p] = grey[p] * fg[std::size_t(ch)] + (1.0f - grey[p]) * bg[std::size_t(ch)];
}

// The greyscale set as 3 channels; colours(i) gives sample i's pair.
template <class Colours>
void paint_set(ImageSet& set, Colours colours) {
  if (set.channels != 1) throw RunError("colour_dataset: expected greyscale images");
  const std::int64_t pixels = set.sample_size();
  std::vector<float> rgb(std::size_t(set.count * 3 * pixels));
  for (std::int64_t i = 0; i < set.count; ++i) {
    const auto [fg, bg] = colours(i);
    paint(set.sample(i), pixels, fg, bg, rgb.data() + i * 3 * pixels);
  }
  set.pixels = std::move(rgb);
  set.channels = 3;
}

std::pair<Rgb, Rgb> class_pair(std::int64_t c) {
  return {kPalette[std::size_t(c % 10)], half(kPalette[std::size_t((c + 5) % 10)])};
}

std::pair<Rgb, Rgb> random_pair(std::uint64_t seed, std::int64_t sample) {
  auto rng = stream(seed, StreamKind::Synthetic, 0, std::uint64_t(sample), kPaletteTag);
  const auto fg = rng.below(10);
  const auto bg = (fg + 1 + rng.below(9)) % 10;  // never the foreground
  return {kPalette[fg], half(kPalette[bg])};
}

// Client (partition index) of every training sample, train and local test splits.
std::vector<std::int64_t> client_of_sample(const Partition& p, std::int64_t count) {
  std::vector<std::int64_t> owner(std::size_t(count), -1);
  for (std::int64_t c = 0; c < p.num_clients(); ++c) {
    for (std::int64_t i = 0; i < p.train_count(c); ++i) owner[std::size_t(p.train_begin(c)[i])] = c;
    for (std::int64_t i = 0; i < p.test_count(c); ++i) owner[std::size_t(p.test_begin(c)[i])] = c;
  }
  return owner;
}

std::int64_t binary_label(std::int64_t c) { return c < kBinaryBoundary ? 1 : 0; }

void colour_binary(Dataset& ds, const Partition& partition, std::uint64_t seed) {
  const auto owner = client_of_sample(partition, ds.train.count);
  for (auto* set : {&ds.train, &ds.test})
    for (auto& y : set->labels) y = binary_label(y);
  // Label 1 is red, label 0 green; `flip` swaps them.
  const auto colour = [](std::int64_t label, bool flip) { return (label == 1) != flip ? kRed : kGreen; };
  paint_set(ds.train, [&](std::int64_t i) {
    const auto k = owner[std::size_t(i)];
    const bool flip = k >= 0 && color_flipped(seed, k, i);
    return std::pair{colour(ds.train.labels[std::size_t(i)], flip), kBlack};
  });
  paint_set(ds.test, [&](std::int64_t i) {
    return std::pair{colour(ds.test.labels[std::size_t(i)], test_color_reversed(seed, i)), kBlack};
  });
  ds.num_classes = 2;
}

void colour_multiclass(Dataset& ds, std::uint64_t seed) {
  paint_set(ds.train, [&](std::int64_t i) { return class_pair(ds.train.labels[std::size_t(i)]); });
  paint_set(ds.test, [&](std::int64_t i) { return random_pair(seed, i); });
}

}  // namespace

double color_flip_rate(std::uint64_t seed, std::int64_t client) {
  return 0.1 + 0.1 * stream(seed, StreamKind::Synthetic, std::uint64_t(client), 0, kRateTag).uniform();
}

bool color_flipped(std::uint64_t seed, std::int64_t client, std::int64_t sample) {
  auto rng = stream(seed, StreamKind::Synthetic, std::uint64_t(client), std::uint64_t(sample), kFlipTag);
  return rng.uniform() < color_flip_rate(seed, client);
}

bool test_color_reversed(std::uint64_t seed, std::int64_t sample) {
  return stream(seed, StreamKind::Synthetic, 0, std::uint64_t(sample), kTestTag).uniform() < 0.9;
}

bool colored_after_partition(const std::string& dataset) { return dataset == "colored-fashion-mnist"; }

void colour_dataset(Dataset& ds, const Partition& partition, const std::string& task, std::uint64_t seed) {
  if (task == "binary") colour_binary(ds, partition, seed);
  else if (task == "multiclass") colour_multiclass(ds, seed);
  else throw InputError("--color-task: unknown value '" + task + "'; allowed: binary|multiclass");
}

}  // namespace fedhpc::data
