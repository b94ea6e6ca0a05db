#include "fedhpc/data/partition.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "fedhpc/core/error.hpp"
#include "fedhpc/core/rng.hpp"

namespace fedhpc::data {

namespace {

// Shortest form of a number for messages ("0.5", not "0.500000").
std::string fmt(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

void validate(const std::vector<std::int64_t>& labels, int num_classes, const PartitionOptions& o) {
  const auto n = std::int64_t(labels.size());
  if (o.num_clients < 1)
    throw InputError("--clients must be >= 1, got " + std::to_string(o.num_clients));
  if (o.num_clients > n)
    throw InputError("--clients " + std::to_string(o.num_clients) + " exceeds the " +
                     std::to_string(n) + " training samples; every client needs at least one");
  // Written so that NaN fails too.
  if (!(o.local_test_fraction >= 0.0 && o.local_test_fraction < 1.0))
    throw InputError("--local-test-fraction must be in [0, 1), got " + fmt(o.local_test_fraction));
  // Labels come from validated datasets, so a bad one is a bug, not bad input.
  if (num_classes < 1) throw std::invalid_argument("make_partition: num_classes must be >= 1");
  for (auto l : labels)
    if (l < 0 || l >= num_classes)
      throw std::invalid_argument("make_partition: label " + std::to_string(l) + " outside 0.." +
                                  std::to_string(num_classes - 1));
}

// A partitioner that loses, duplicates or invents samples would silently bias
// every experiment, so its output is checked once here.
void check_cover(const std::vector<std::vector<std::int64_t>>& lists, std::int64_t n,
                 std::int64_t clients, const std::string& method) {
  if (std::int64_t(lists.size()) != clients)
    throw std::logic_error("partitioner '" + method + "' returned the wrong number of clients");
  std::vector<char> seen(std::size_t(n), 0);
  std::int64_t total = 0;
  for (const auto& l : lists)
    for (auto i : l) {
      if (i < 0 || i >= n || seen[std::size_t(i)])
        throw std::logic_error("partitioner '" + method + "' returned a bad or repeated index");
      seen[std::size_t(i)] = 1;
      ++total;
    }
  if (total != n) throw std::logic_error("partitioner '" + method + "' left samples out");
}

}  // namespace

Partition make_partition(const std::vector<std::int64_t>& labels, int num_classes,
                         const PartitionOptions& options) {
  validate(labels, num_classes, options);
  const auto& partitioner = partitioner_registry().get(options.method, "partition");
  const auto lists = partitioner(labels, num_classes, options);
  check_cover(lists, std::int64_t(labels.size()), options.num_clients, options.method);

  Partition part;
  part.train_offsets.assign(1, 0);
  part.test_offsets.assign(1, 0);
  part.train_indices.reserve(labels.size());
  for (std::int64_t k = 0; k < options.num_clients; ++k) {
    std::vector<std::int64_t> mine = lists[std::size_t(k)];
    const auto nk = std::int64_t(mine.size());
    const auto held_out =
        static_cast<std::int64_t>(std::floor(options.local_test_fraction * double(nk)));
    // held_out < nk whenever nk > 0, so only an empty client gets here.
    if (nk - held_out < 1)
      throw InputError("client " + std::to_string(k) + " has no training sample: the '" +
                       options.method + "' partition gave it none; use fewer --clients");
    Rng rng = stream(options.seed, StreamKind::Split, std::uint64_t(k));
    shuffle(mine.begin(), mine.end(), rng);
    std::sort(mine.begin(), mine.begin() + held_out);
    std::sort(mine.begin() + held_out, mine.end());
    part.test_indices.insert(part.test_indices.end(), mine.begin(), mine.begin() + held_out);
    part.train_indices.insert(part.train_indices.end(), mine.begin() + held_out, mine.end());
    part.train_offsets.push_back(std::int64_t(part.train_indices.size()));
    part.test_offsets.push_back(std::int64_t(part.test_indices.size()));
  }
  return part;
}

}  // namespace fedhpc::data
