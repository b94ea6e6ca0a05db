#pragma once
#include <cstdint>
#include <utility>

namespace fedhpc {

// Every random decision draws from a stream keyed by (seed, purpose, client,
// round, extra). No stream depends on the rank, so results do not depend on
// how clients are placed. The generators and distributions are our own so
// results do not depend on the standard library's implementation either.
enum class StreamKind : std::uint64_t {
  Init = 1,       // initial global model
  Partition = 2,  // client partition of the training set
  Split = 3,      // local train/test split of one client
  Shuffle = 4,    // minibatch order of one client in one round
  Server = 5,     // server decisions per round (participation, ...)
  Synthetic = 6,  // synthetic dataset generation
  Topology = 7,   // grouping of clients into edges/rings/graphs
  Monitor = 8,    // anything the monitoring suite samples
  Analysis = 9,   // analysis tools (directions, repeated training, ...)
  Fault = 10,     // dropout, stragglers, faulty clients
  Tier = 17,      // client tiers (weak clients); a number apart so parallel additions do not collide
};

std::uint64_t mix64(std::uint64_t x);

// xoshiro256** seeded through splitmix64; satisfies UniformRandomBitGenerator.
class Rng {
 public:
  using result_type = std::uint64_t;
  explicit Rng(std::uint64_t key);
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return ~result_type{0}; }
  result_type operator()();

  double uniform();                      // [0, 1), 53 random bits
  double uniform(double lo, double hi);  // [lo, hi)
  double normal();                       // standard normal
  double gamma(double shape);            // Gamma(shape, 1), shape > 0
  std::uint64_t below(std::uint64_t n);  // uniform in [0, n), unbiased

 private:
  std::uint64_t s_[4];
};

Rng stream(std::uint64_t seed, StreamKind kind, std::uint64_t client = 0,
           std::uint64_t round = 0, std::uint64_t extra = 0);

// Fisher-Yates with our own generator (std::shuffle is implementation-defined).
template <class It>
void shuffle(It first, It last, Rng& rng) {
  auto n = static_cast<std::uint64_t>(last - first);
  for (std::uint64_t i = n; i > 1; --i) {
    auto j = rng.below(i);
    using std::swap;
    swap(first[i - 1], first[j]);
  }
}

}  // namespace fedhpc
