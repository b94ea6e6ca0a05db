#pragma once
// No torch here: `fedhpc pretrain` and its tests include this.
#include <cstdint>
#include <functional>
#include <string>

#include "fedhpc/data/dataset.hpp"
#include "fedhpc/io/model_file.hpp"

namespace fedhpc::model {

// Centralised training of LeNet-5 (model/lenet.cpp) for the transfer task:
// plain minibatch SGD with momentum on the cross-entropy, every epoch a
// fresh order of the training samples from the stream (seed, Shuffle, 0,
// epoch), the initial model from (seed, Init) (Glorot-uniform, zero biases).
// One process, torch's threads as set by the caller: the result is the same
// bits for the same seed, options and thread count.
struct PretrainOptions {
  std::string activation = "relu";  // relu | tanh
  std::int64_t epochs = 2;
  double lr = 0.05;
  double momentum = 0.9;
  std::int64_t batch_size = 32;
  std::uint64_t seed = 0;
};

// Called after every epoch with (epoch, mean training loss of the epoch).
using EpochReport = std::function<void(std::int64_t, double)>;

// Trains on ds.train and measures the accuracy on ds.test; returns the model
// file's contents (model lenet5, the layer table, the weights).
io::ModelFile pretrain_lenet5(const data::Dataset& ds, const PretrainOptions& options,
                              const EpochReport& report = nullptr);

}  // namespace fedhpc::model
