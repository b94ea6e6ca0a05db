// The partitioners: each turns the training labels into one sorted index list
// per client, covering every sample exactly once. All randomness comes from
// the Partition stream, so a partition depends only on (seed, clients, labels).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "fedhpc/core/error.hpp"
#include "fedhpc/core/rng.hpp"
#include "fedhpc/data/partition.hpp"

namespace fedhpc::data {

namespace {

using Lists = std::vector<std::vector<std::int64_t>>;

// Shortest form of a number for messages ("0.5", not "0.500000").
std::string fmt(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

void sort_each(Lists& lists) {
  for (auto& l : lists) std::sort(l.begin(), l.end());
}

// Shuffle all indices, then deal contiguous blocks whose sizes differ by at
// most one (the first n % N clients get the extra sample).
Lists partition_iid(const std::vector<std::int64_t>& labels, int, const PartitionOptions& o) {
  const auto n = std::int64_t(labels.size());
  const std::int64_t clients = o.num_clients;
  std::vector<std::int64_t> idx(static_cast<std::size_t>(n));
  std::iota(idx.begin(), idx.end(), std::int64_t{0});
  Rng rng = stream(o.seed, StreamKind::Partition);
  shuffle(idx.begin(), idx.end(), rng);
  Lists out(static_cast<std::size_t>(clients));
  std::int64_t pos = 0;
  for (std::int64_t k = 0; k < clients; ++k) {
    const std::int64_t size = n / clients + (k < n % clients ? 1 : 0);
    out[std::size_t(k)].assign(idx.begin() + pos, idx.begin() + pos + size);
    pos += size;
  }
  sort_each(out);
  return out;
}

Lists indices_by_class(const std::vector<std::int64_t>& labels, int num_classes) {
  Lists by_class(static_cast<std::size_t>(num_classes));
  for (std::size_t i = 0; i < labels.size(); ++i)
    by_class[std::size_t(labels[i])].push_back(std::int64_t(i));
  return by_class;
}

// Proportions p ~ Dir(alpha * 1_N) from normalised gamma draws, with the
// NIID-Bench balancing: clients already holding >= n/N samples get p = 0.
// For tiny alpha every gamma draw can underflow to 0; Dir(alpha) then is
// (nearly) one-hot on a uniform vertex, so we give the class to one eligible
// client chosen uniformly.
std::vector<double> dirichlet_proportions(const Lists& held, std::int64_t n, double alpha,
                                          Rng& rng) {
  const std::size_t clients = held.size();
  std::vector<double> p(clients);
  for (auto& x : p) x = rng.gamma(alpha);
  double sum = 0.0;
  for (std::size_t j = 0; j < clients; ++j) {
    // |held_j| >= n/N, compared exactly in integers.
    if (std::int64_t(held[j].size()) * std::int64_t(clients) >= n) p[j] = 0.0;
    sum += p[j];
  }
  if (sum > 0.0 && std::isfinite(sum)) {
    for (auto& x : p) x /= sum;
    return p;
  }
  std::vector<std::size_t> eligible;
  for (std::size_t j = 0; j < clients; ++j)
    if (std::int64_t(held[j].size()) * std::int64_t(clients) < n) eligible.push_back(j);
  std::fill(p.begin(), p.end(), 0.0);
  // Some client always holds fewer than n/N while samples remain unassigned.
  p[eligible[rng.below(eligible.size())]] = 1.0;
  return p;
}

// One full attempt of the NIID-Bench per-class Dirichlet split.
Lists dirichlet_attempt(const Lists& by_class, std::int64_t n, const PartitionOptions& o,
                        std::uint64_t attempt) {
  Lists held(static_cast<std::size_t>(o.num_clients));
  for (std::size_t c = 0; c < by_class.size(); ++c) {
    if (by_class[c].empty()) continue;
    Rng rng = stream(o.seed, StreamKind::Partition, c, attempt);
    std::vector<std::int64_t> idx = by_class[c];
    shuffle(idx.begin(), idx.end(), rng);
    const std::vector<double> p = dirichlet_proportions(held, n, o.dirichlet_alpha, rng);
    // Cut points floor(cumsum(p)_j * n_c), as numpy's astype(int) does; the
    // last client takes the rest so rounding never loses a sample.
    const auto nc = std::int64_t(idx.size());
    double cum = 0.0;
    std::int64_t begin = 0;
    for (std::size_t j = 0; j < held.size(); ++j) {
      std::int64_t end = nc;
      if (j + 1 < held.size()) {
        cum += p[j];
        end = std::clamp(static_cast<std::int64_t>(std::floor(cum * double(nc))), begin, nc);
      }
      held[j].insert(held[j].end(), idx.begin() + begin, idx.begin() + end);
      begin = end;
    }
  }
  return held;
}

// The label-skew split of NIID-Bench (Li et al., "Federated Learning on
// Non-IID Data Silos", partition.py, 'noniid-labeldir'), also used by FedML:
//   repeat (attempt = 0, 1, ...):
//     for each class c: shuffle its indices, draw p ~ Dir(alpha * 1_N) from
//       stream(seed, Partition, c, attempt), zero p_j for clients holding
//       >= n/N samples so far, renormalise, and cut the class at
//       floor(cumsum(p) * n_c)
//   until every client holds >= min(dirichlet_min_samples, floor(n/N)).
// NIID-Bench fixes the minimum at 10; capping it at floor(n/N) keeps it from
// being impossible (a large minimum with many clients can still fail).
Lists partition_dirichlet(const std::vector<std::int64_t>& labels, int num_classes,
                          const PartitionOptions& o) {
  if (!(o.dirichlet_alpha > 0.0) || !std::isfinite(o.dirichlet_alpha))
    throw InputError("--dirichlet-alpha must be a finite number > 0, got " +
                     fmt(o.dirichlet_alpha));
  const auto n = std::int64_t(labels.size());
  const std::int64_t required =
      std::max<std::int64_t>(0, std::min(o.dirichlet_min_samples, n / o.num_clients));
  const Lists by_class = indices_by_class(labels, num_classes);
  constexpr std::uint64_t kMaxAttempts = 1000;
  for (std::uint64_t attempt = 0; attempt < kMaxAttempts; ++attempt) {
    Lists held = dirichlet_attempt(by_class, n, o, attempt);
    std::size_t smallest = held[0].size();
    for (const auto& h : held) smallest = std::min(smallest, h.size());
    if (std::int64_t(smallest) >= required) {
      sort_each(held);
      return held;
    }
  }
  throw InputError("dirichlet partition: no split in " + std::to_string(kMaxAttempts) +
                   " attempts gave every client at least " + std::to_string(required) +
                   " samples; raise --dirichlet-alpha (" + fmt(o.dirichlet_alpha) +
                   ") or lower --clients (" + std::to_string(o.num_clients) + ")");
}

// McMahan et al.'s pathological non-IID split: sort by label, cut into
// N * s shards of near-equal size (differing by at most one so no sample is
// dropped), and give every client s shards chosen at random.
Lists partition_shards(const std::vector<std::int64_t>& labels, int, const PartitionOptions& o) {
  const auto n = std::int64_t(labels.size());
  const std::int64_t per = o.shards_per_client;
  if (per < 1) throw InputError("--shards-per-client must be >= 1, got " + std::to_string(per));
  const std::int64_t shards = o.num_clients * per;
  if (shards > n)
    throw InputError("--shards-per-client " + std::to_string(per) + " with --clients " +
                     std::to_string(o.num_clients) + " needs " + std::to_string(shards) +
                     " shards but there are only " + std::to_string(n) + " samples");
  std::vector<std::int64_t> idx(static_cast<std::size_t>(n));
  std::iota(idx.begin(), idx.end(), std::int64_t{0});
  std::stable_sort(idx.begin(), idx.end(),
                   [&](std::int64_t a, std::int64_t b) { return labels[a] < labels[b]; });
  std::vector<std::int64_t> order(static_cast<std::size_t>(shards));
  std::iota(order.begin(), order.end(), std::int64_t{0});
  Rng rng = stream(o.seed, StreamKind::Partition);
  shuffle(order.begin(), order.end(), rng);
  // Shard j spans [j*n/S, (j+1)*n/S) of the label-sorted indices.
  auto bound = [&](std::int64_t j) { return j * n / shards; };
  Lists out(static_cast<std::size_t>(o.num_clients));
  for (std::int64_t k = 0; k < o.num_clients; ++k)
    for (std::int64_t s = k * per; s < (k + 1) * per; ++s) {
      const std::int64_t j = order[std::size_t(s)];
      auto& dst = out[std::size_t(k)];
      dst.insert(dst.end(), idx.begin() + bound(j), idx.begin() + bound(j + 1));
    }
  sort_each(out);
  return out;
}

// The data's own clients (LEAF-style): sample i belongs to client
// natural_clients[i]; the ids must be exactly 0..clients-1.
Lists partition_natural(const std::vector<std::int64_t>& labels, int, const PartitionOptions& o) {
  const auto& ids = o.natural_clients;
  if (ids.empty())
    throw InputError("--partition natural: the dataset names no client per sample; it needs --dataset hdf5:FILE "
                     "with /train/client");
  if (ids.size() != labels.size())
    throw InputError("--partition natural: /train/client has " + std::to_string(ids.size()) + " entries for " +
                     std::to_string(labels.size()) + " training samples");
  const std::int64_t k = *std::max_element(ids.begin(), ids.end()) + 1;
  if (k != o.num_clients)
    throw InputError("--clients " + std::to_string(o.num_clients) + ": the dataset's /train/client names " +
                     std::to_string(k) + " clients (ids 0.." + std::to_string(k - 1) +
                     "); --partition natural needs --clients " + std::to_string(k));
  Lists out(static_cast<std::size_t>(k));
  for (std::size_t i = 0; i < ids.size(); ++i) out[std::size_t(ids[i])].push_back(std::int64_t(i));
  for (std::int64_t c = 0; c < k; ++c)
    if (out[std::size_t(c)].empty())
      throw InputError("--partition natural: client " + std::to_string(c) +
                       " has no sample in /train/client (ids must be 0.." + std::to_string(k - 1) + ", each used)");
  return out;
}

// Class slots of the pathological split: 2N slots dealt to the classes that
// have samples as evenly as possible (in a seeded class order), shuffled, and
// repaired so that no client holds two slots of one class. slots[2k],
// slots[2k+1] are client k's classes.
std::vector<std::int64_t> pathological_slots(const Lists& by_class, const PartitionOptions& o) {
  std::vector<std::int64_t> classes;
  for (std::size_t c = 0; c < by_class.size(); ++c)
    if (!by_class[c].empty()) classes.push_back(std::int64_t(c));
  const auto present = std::int64_t(classes.size());
  if (present < 2) throw InputError("--partition pathological needs at least 2 classes with samples");
  // Every sample goes to a client, and a client holds only two classes.
  if (2 * o.num_clients < present)
    throw InputError("--clients " + std::to_string(o.num_clients) + ": --partition pathological needs at least " +
                     std::to_string((present + 1) / 2) + " clients for " + std::to_string(present) + " classes");
  Rng rng = stream(o.seed, StreamKind::Partition);
  shuffle(classes.begin(), classes.end(), rng);
  const std::int64_t slots = 2 * o.num_clients;
  std::vector<std::int64_t> out;
  for (std::int64_t i = 0; i < present; ++i) {
    const std::int64_t count = slots / present + (i < slots % present ? 1 : 0);
    const auto c = classes[std::size_t(i)];
    if (count > std::int64_t(by_class[std::size_t(c)].size()))
      throw InputError("--clients " + std::to_string(o.num_clients) + ": --partition pathological needs " +
                       std::to_string(count) + " shards of class " + std::to_string(c) + ", which has only " +
                       std::to_string(by_class[std::size_t(c)].size()) + " samples");
    out.insert(out.end(), std::size_t(count), c);
  }
  shuffle(out.begin(), out.end(), rng);
  // A client k with two slots of class c swaps one with a client j that has
  // none: j then holds c and its other class, k holds c and j's. Such a j
  // exists because a class has at most ceil(2N / classes) <= N slots.
  const std::int64_t n = o.num_clients;
  for (std::int64_t k = 0; k < n; ++k) {
    const auto c = out[std::size_t(2 * k)];
    if (out[std::size_t(2 * k + 1)] != c) continue;
    const auto first = std::int64_t(rng.below(std::uint64_t(n)));
    for (std::int64_t step = 0; step < n; ++step) {
      const auto j = (first + step) % n;
      if (out[std::size_t(2 * j)] == c || out[std::size_t(2 * j + 1)] == c) continue;
      std::swap(out[std::size_t(2 * k + 1)], out[std::size_t(2 * j)]);
      break;
    }
  }
  return out;
}

// The pathological non-IID split of McMahan et al. with exactly two classes
// per client: every client gets one shard of each of two different classes.
// A class with s slots is cut (in index order) into s near-equal shards,
// handed out in slot order. Unlike "shards", no shard straddles two classes
// and no client gets two shards of one class; --shards-per-client is unused.
Lists partition_pathological(const std::vector<std::int64_t>& labels, int num_classes, const PartitionOptions& o) {
  const Lists by_class = indices_by_class(labels, num_classes);
  const auto slots = pathological_slots(by_class, o);
  std::vector<std::int64_t> total(by_class.size(), 0), dealt(by_class.size(), 0);
  for (auto c : slots) ++total[std::size_t(c)];
  Lists out(static_cast<std::size_t>(o.num_clients));
  for (std::size_t s = 0; s < slots.size(); ++s) {
    const auto c = std::size_t(slots[s]);
    const auto size = std::int64_t(by_class[c].size());
    const std::int64_t j = dealt[c]++, begin = j * size / total[c], end = (j + 1) * size / total[c];
    auto& dst = out[s / 2];
    dst.insert(dst.end(), by_class[c].begin() + begin, by_class[c].begin() + end);
  }
  sort_each(out);
  return out;
}

}  // namespace

Registry<Partitioner>& partitioner_registry() {
  static Registry<Partitioner> registry = [] {
    Registry<Partitioner> r("partition");
    r.add("iid", partition_iid);
    r.add("dirichlet", partition_dirichlet);
    r.add("shards", partition_shards);
    r.add("pathological", partition_pathological);
    r.add("natural", partition_natural);
    return r;
  }();
  return registry;
}

}  // namespace fedhpc::data
