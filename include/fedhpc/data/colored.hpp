#pragma once
#include <cstdint>
#include <string>

#include "fedhpc/data/dataset.hpp"

namespace fedhpc::data {

struct Partition;

// --dataset colored-fashion-mnist (paper 003's out-of-distribution setting,
// after Arjovsky et al.'s coloured MNIST). The greyscale images are loaded
// with 10 classes and partitioned on them; colour_dataset() then turns them
// into 3 x 28 x 28 images (pixel x becomes x * foreground + (1 - x) *
// background) and, for the binary task, relabels them. The colour of a
// training sample depends on the client that holds it, so every random
// choice is keyed by (seed, client's partition index, sample index): the
// same on every rank and for any placement of the clients.
//   binary:     label = [class < 5]. Training clients draw the digit red for
//               label 1 and green for label 0 (black background), flipped
//               with the client's probability q_k ~ U[0.1, 0.2]. The global
//               test set is out of distribution: reversed with probability 0.9.
//   multiclass: class c has its own foreground/background pair in training
//               (every client alike); the test set draws both colours at
//               random from the palette (foreground != background).

// Client k's flip probability, in [0.1, 0.2], from the stream (seed, k).
double color_flip_rate(std::uint64_t seed, std::int64_t client);
// Whether training sample `sample` held by client k has its colour flipped.
bool color_flipped(std::uint64_t seed, std::int64_t client, std::int64_t sample);
// Whether global test sample `sample` gets the reversed colour (binary).
bool test_color_reversed(std::uint64_t seed, std::int64_t sample);

// Whether the data set's samples are coloured per client after partitioning.
bool colored_after_partition(const std::string& dataset);

// Colours ds in place (greyscale in, 3 channels out) for `task` (binary |
// multiclass); relabels for binary (num_classes 2). The partition must be
// the one made from ds's (10-class) training labels.
void colour_dataset(Dataset& ds, const Partition& partition, const std::string& task, std::uint64_t seed);

}  // namespace fedhpc::data
