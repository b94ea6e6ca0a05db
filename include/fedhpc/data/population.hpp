#pragma once
// --dataset synthetic-population: LEAF's synthetic(alpha, beta) (Caldas et
// al., "LEAF: A Benchmark for Federated Settings"; the FedProx generator) for
// populations of up to millions of clients. Nothing is stored per client:
// a client's size, model and samples are pure functions of (seed, client
// key), generated when the client takes part in a round.
#include <cstdint>
#include <vector>

#include "fedhpc/data/dataset.hpp"
#include "fedhpc/data/partition.hpp"

namespace fedhpc::data {

struct PopulationOptions {
  std::int64_t clients = 10;
  std::uint64_t seed = 0;
  double alpha = 1.0;              // std-dev of u_k, the mean of client k's model (W_k, b_k)
  double beta = 1.0;               // std-dev of B_k, the mean of client k's feature means v_k
  std::int64_t min_samples = 20;   // every client holds at least this many samples (train + local test)
  std::int64_t mean_samples = 40;  // expected samples per client
  double local_test_fraction = 0.2;
};

class Population {
 public:
  static constexpr int kFeatures = 60;           // x in R^60, as LEAF
  static constexpr int kClasses = 10;            // as LEAF
  static constexpr std::int64_t kTestClients = 100;        // global test set: this many clients (at most N) ...
  static constexpr std::int64_t kTestSamplesPerClient = 100;  // ... times this many fresh samples each
  static constexpr double kSizeSigma = 1.0;      // sigma of the log-normal sizes

  explicit Population(PopulationOptions options);
  const PopulationOptions& options() const { return o_; }

  // Samples of the client with stream key `key`: min + floor((mean - min) *
  // exp(sigma Z - sigma^2 / 2)), Z ~ N(0, 1) from (seed, key); its last
  // floor(local_test_fraction * n) samples are its local test split.
  std::int64_t samples(std::int64_t key) const;
  std::int64_t test_samples(std::int64_t key) const;

  // Every client's sizes as a partition with empty index lists (offsets only,
  // N + 1 each): for the size checks and the file's /data/*_offsets.
  // keys[c] is the stream key of client id c.
  Partition sizes(const std::vector<std::int64_t>& keys) const;

  // The data set before any round: an empty training set of 1 x 1 x 60
  // "images" and the global test set.
  Dataset make_dataset() const;
  // The clients of the global test set: min(N, kTestClients) distinct keys
  // drawn from the stream (seed, population), ascending.
  std::vector<std::int64_t> test_clients() const;

  // Generates the samples of `clients` (client ids, ascending) into ds.train
  // (each client's training samples, then its local test samples) and sets p
  // to index them; clients not listed get empty splits. The buffers keep
  // their capacity, so a round costs its own participants' samples only.
  void materialize(const std::vector<std::int64_t>& clients, const std::vector<std::int64_t>& keys, Dataset& ds,
                   Partition& p) const;

  // `count` samples of client `key` into x (count x 60) and y, from the
  // client's own model; purpose 0 = its local data, 1 = global test samples.
  void generate(std::int64_t key, int purpose, std::int64_t count, float* x, std::int64_t* y) const;

 private:
  PopulationOptions o_;
};

}  // namespace fedhpc::data
