#include "fedhpc/data/population.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <set>
#include <stdexcept>

#include "fedhpc/core/rng.hpp"

namespace fedhpc::data {

namespace {

// A stream purpose of its own, a number apart from core/rng.hpp's kinds so
// that additions there do not collide; keeps that widely included header as it is.
constexpr auto kPopulation = StreamKind(23);
// The `extra` word of the population's streams.
enum Draw : std::uint64_t { kSize = 0, kModel = 1, kLocalData = 2, kGlobalTest = 3, kTestClients = 4 };

// Standard normals two per Box-Muller draw (Rng::normal keeps one): the
// generation of a round's samples is mostly normal draws, so this halves it.
class Normals {
 public:
  explicit Normals(Rng rng) : rng_(rng) {}
  double operator()() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = 0.0;
    while (u1 <= 0.0) u1 = rng_.uniform();
    const double r = std::sqrt(-2.0 * std::log(u1)), angle = 2.0 * M_PI * rng_.uniform();
    spare_ = r * std::sin(angle);
    has_spare_ = true;
    return r * std::cos(angle);
  }

 private:
  Rng rng_;
  double spare_ = 0.0;
  bool has_spare_ = false;
};

constexpr int F = Population::kFeatures;
constexpr int C = Population::kClasses;

// Client k's model and feature distribution (LEAF's synthetic(alpha, beta)).
struct ClientModel {
  std::array<double, C * F> w;  // row i: the weights of class i
  std::array<double, C> b;
  std::array<double, F> v;
};

ClientModel client_model(const PopulationOptions& o, std::int64_t key) {
  Normals normal(stream(o.seed, kPopulation, std::uint64_t(key), 0, kModel));
  ClientModel m;
  const double u = o.alpha * normal();  // u_k ~ N(0, alpha^2)
  const double B = o.beta * normal();   // B_k ~ N(0, beta^2)
  for (auto& w : m.w) w = u + normal();  // W_k ~ N(u_k, 1)
  for (auto& b : m.b) b = u + normal();  // b_k ~ N(u_k, 1)
  for (auto& v : m.v) v = B + normal();  // v_k ~ N(B_k, 1)
  return m;
}

// Standard deviations of the features: Sigma_jj = j^-1.2, j = 1..60.
const std::array<double, F>& feature_sd() {
  static const std::array<double, F> sd = [] {
    std::array<double, F> out{};
    for (int j = 0; j < F; ++j) out[std::size_t(j)] = std::pow(double(j + 1), -0.6);
    return out;
  }();
  return sd;
}

}  // namespace

Population::Population(PopulationOptions options) : o_(options) {
  if (o_.clients < 1 || o_.min_samples < 1 || o_.mean_samples < o_.min_samples)
    throw std::invalid_argument("PopulationOptions: need clients >= 1 and 1 <= min_samples <= mean_samples");
}

std::int64_t Population::samples(std::int64_t key) const {
  auto rng = stream(o_.seed, kPopulation, std::uint64_t(key), 0, kSize);
  const double z = rng.normal();
  const double extra = double(o_.mean_samples - o_.min_samples) * std::exp(kSizeSigma * z - 0.5 * kSizeSigma * kSizeSigma);
  return o_.min_samples + std::int64_t(std::floor(extra));
}

std::int64_t Population::test_samples(std::int64_t key) const {
  return std::int64_t(std::floor(o_.local_test_fraction * double(samples(key))));
}

Partition Population::sizes(const std::vector<std::int64_t>& keys) const {
  Partition p;
  p.train_offsets.assign(keys.size() + 1, 0);
  p.test_offsets.assign(keys.size() + 1, 0);
  for (std::size_t c = 0; c < keys.size(); ++c) {
    const auto n = samples(keys[c]);
    const auto test = std::int64_t(std::floor(o_.local_test_fraction * double(n)));
    p.train_offsets[c + 1] = p.train_offsets[c] + n - test;
    p.test_offsets[c + 1] = p.test_offsets[c] + test;
  }
  return p;
}

std::vector<std::int64_t> Population::test_clients() const {
  const auto want = std::min(o_.clients, kTestClients);
  auto rng = stream(o_.seed, kPopulation, 0, 0, kTestClients);
  std::set<std::int64_t> chosen;  // rejection: want <= 100 draws, so N never enters memory
  while (std::int64_t(chosen.size()) < want) chosen.insert(std::int64_t(rng.below(std::uint64_t(o_.clients))));
  return {chosen.begin(), chosen.end()};
}

void Population::generate(std::int64_t key, int purpose, std::int64_t count, float* x, std::int64_t* y) const {
  const auto m = client_model(o_, key);
  const auto& sd = feature_sd();
  Normals normal(stream(o_.seed, kPopulation, std::uint64_t(key), 0, purpose == 0 ? kLocalData : kGlobalTest));
  for (std::int64_t s = 0; s < count; ++s) {
    for (int j = 0; j < F; ++j) x[s * F + j] = float(m.v[std::size_t(j)] + sd[std::size_t(j)] * normal());
    // argmax softmax(W x + b) = argmax (W x + b); computed from the float
    // features the model sees, in a fixed order, so labels match them.
    int best = 0;
    double best_logit = 0.0;
    for (int i = 0; i < C; ++i) {
      double logit = m.b[std::size_t(i)];
      for (int j = 0; j < F; ++j) logit += m.w[std::size_t(i * F + j)] * double(x[s * F + j]);
      if (i == 0 || logit > best_logit) {
        best = i;
        best_logit = logit;
      }
    }
    y[s] = best;
  }
}

Dataset Population::make_dataset() const {
  Dataset ds;
  ds.name = "synthetic-population";
  ds.num_classes = C;
  for (ImageSet* set : {&ds.train, &ds.test}) {
    set->channels = 1;
    set->height = 1;
    set->width = F;
  }
  const auto clients = test_clients();
  ds.test.count = std::int64_t(clients.size()) * kTestSamplesPerClient;
  ds.test.pixels.resize(std::size_t(ds.test.count * F));
  ds.test.labels.resize(std::size_t(ds.test.count));
  for (std::size_t i = 0; i < clients.size(); ++i) {
    const auto first = std::int64_t(i) * kTestSamplesPerClient;
    generate(clients[i], 1, kTestSamplesPerClient, ds.test.pixels.data() + first * F, ds.test.labels.data() + first);
  }
  return ds;
}

void Population::materialize(const std::vector<std::int64_t>& clients, const std::vector<std::int64_t>& keys,
                             Dataset& ds, Partition& p) const {
  const auto n = std::int64_t(keys.size());
  std::vector<std::int64_t> total(clients.size()), test(clients.size());
  std::int64_t samples_all = 0;
  for (std::size_t i = 0; i < clients.size(); ++i) {
    total[i] = samples(keys[std::size_t(clients[i])]);
    test[i] = std::int64_t(std::floor(o_.local_test_fraction * double(total[i])));
    samples_all += total[i];
  }
  ds.train.count = samples_all;
  ds.train.pixels.resize(std::size_t(samples_all * F));
  ds.train.labels.resize(std::size_t(samples_all));
  p.train_indices.clear();
  p.test_indices.clear();
  p.train_offsets.assign(std::size_t(n + 1), 0);
  p.test_offsets.assign(std::size_t(n + 1), 0);
  std::int64_t at = 0;
  std::size_t next = 0;  // index into clients
  for (std::int64_t c = 0; c < n; ++c) {
    std::int64_t train_n = 0, test_n = 0;
    if (next < clients.size() && clients[next] == c) {
      const auto count = total[next];
      test_n = test[next];
      train_n = count - test_n;
      generate(keys[std::size_t(c)], 0, count, ds.train.pixels.data() + at * F, ds.train.labels.data() + at);
      for (std::int64_t s = 0; s < train_n; ++s) p.train_indices.push_back(at + s);
      for (std::int64_t s = train_n; s < count; ++s) p.test_indices.push_back(at + s);
      at += count;
      ++next;
    }
    p.train_offsets[std::size_t(c + 1)] = p.train_offsets[std::size_t(c)] + train_n;
    p.test_offsets[std::size_t(c + 1)] = p.test_offsets[std::size_t(c)] + test_n;
  }
  if (next != clients.size()) throw std::invalid_argument("Population::materialize: clients must be ascending ids < N");
}

}  // namespace fedhpc::data
