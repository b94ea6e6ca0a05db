// bench_exact_reduce: the exact aggregation path (ExactSum::add_scaled and
// mpi::allreduce of an ExactSum) against a plain MPI_Allreduce (MPI_SUM,
// MPI_FLOAT) of the same P floats, and against the previous ExactSum (kept
// below as OldExactSum: word-major Kulisch digits, one scalar add per term,
// every digit row in use travels).
//
// For each P: every rank holds two clients' P floats (normal, std-dev 0.05,
// a few tiny ones) and integer weights. Each repeat, interleaved: (a) clear
// (untimed) + add_scaled of the first client (into an empty sum) and of the
// second (into a non-empty one), (b) the exact all-reduce, (c) the plain
// float all-reduce, (d) an int64 MPI_SUM of the exact reduction's message
// size, (e) mpi::allreduce_divide of a copy of the sum (the FedAvg route:
// reduce-scatter of the exact form, rounding, all-gather of the floats),
// then (a) and (b) for the old class; (f) the floor of any reduction that
// carries one int64 per coordinate, and (g) the same with floats (see
// ring_to_floats). Timing:
// MPI_Barrier, MPI_Wtime, slowest rank (MPI_MAX); medians of the repeats.
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <time.h>
#include <vector>

#include "fedhpc/core/exact_sum.hpp"
#include "fedhpc/core/rng.hpp"
#include "fedhpc/mpi/exact_reduce.hpp"

namespace {

// The ExactSum of commit 267cef8 (before this benchmark), for reference.
class OldExactSum {
 public:
  static constexpr int kWords = 12;
  static constexpr int kMinExponent = -160;
  explicit OldExactSum(std::size_t length) : length_(length), digits_(length * kWords, 0) {}
  void clear() {
    std::fill(digits_.begin(), digits_.end(), 0);
    low_ = kWords;
    high_ = -1;
  }
  void add(std::size_t i, double x) {
    if (x == 0.0 || !std::isfinite(x)) return;
    std::uint64_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    const bool negative = (bits >> 63) != 0;
    const int biased = static_cast<int>((bits >> 52) & 0x7ff);
    std::uint64_t mantissa = bits & ((std::uint64_t{1} << 52) - 1);
    int exponent = -1074;
    if (biased != 0) {
      mantissa |= std::uint64_t{1} << 52;
      exponent = biased - 1075;
    }
    int position = exponent - kMinExponent;
    if (position < 0) {
      if (position <= -64) return;
      mantissa >>= -position;
      position = 0;
      if (mantissa == 0) return;
    }
    const int word = position / 32, shift = position % 32;
    const unsigned __int128 shifted = static_cast<unsigned __int128>(mantissa) << shift;
    if (word >= kWords) throw std::overflow_error("term too large");
    for (int k = 0; k < 3 && word + k < kWords; ++k) {
      const auto digit = static_cast<std::int64_t>((shifted >> (32 * k)) & 0xffffffffLL);
      if (digit == 0) continue;
      digits_[(word + k) * length_ + i] += negative ? -digit : digit;
      low_ = std::min(low_, word + k);
      high_ = std::max(high_, word + k);
    }
  }
  void add_scaled(const float* v, double w) {
    for (std::size_t i = 0; i < length_; ++i) add(i, w * static_cast<double>(v[i]));
  }
  void allreduce(MPI_Comm comm) {
    int range[2] = {-low_, high_};
    MPI_Allreduce(MPI_IN_PLACE, range, 2, MPI_INT, MPI_MAX, comm);
    std::int64_t nonfinite = 0;
    MPI_Allreduce(MPI_IN_PLACE, &nonfinite, 1, MPI_INT64_T, MPI_SUM, comm);
    low_ = -range[0];
    high_ = range[1];
    if (high_ < low_) return;
    const std::size_t count = std::size_t(high_ - low_ + 1) * length_;
    MPI_Allreduce(MPI_IN_PLACE, digits_.data() + std::size_t(low_) * length_, int(count), MPI_INT64_T, MPI_SUM, comm);
  }
  double value(std::size_t i) const {
    std::int64_t d[kWords];
    for (int w = 0; w < kWords; ++w) d[w] = digits_[w * length_ + i];
    for (int w = 0; w + 1 < kWords; ++w) {
      const std::int64_t carry = d[w] >> 32;
      d[w] -= carry * (std::int64_t{1} << 32);
      d[w + 1] += carry;
    }
    double v = static_cast<double>(d[kWords - 1]);
    for (int w = kWords - 2; w >= 0; --w) v = v * 4294967296.0 + static_cast<double>(d[w]);
    return std::ldexp(v, kMinExponent);
  }

 private:
  std::size_t length_;
  std::vector<std::int64_t> digits_;
  int low_ = kWords, high_ = -1;
};

std::string loadavg() {
  std::string out = "?";
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    char buf[64] = {0};
    if (std::fgets(buf, sizeof buf, f)) out = std::string(buf).substr(0, std::string(buf).find(' '));
    std::fclose(f);
  }
  return out;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

double cpu_now() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// Wall and CPU seconds of f, each the largest over the ranks. The CPU time
// does not count the time a busy machine keeps the rank off a core.
struct Timing {
  double wall = 0, cpu = 0;
};

template <class F>
Timing timed(F&& f) {
  MPI_Barrier(MPI_COMM_WORLD);
  double t[2] = {MPI_Wtime(), cpu_now()};
  f();
  t[0] = MPI_Wtime() - t[0];
  t[1] = cpu_now() - t[1];
  MPI_Allreduce(MPI_IN_PLACE, t, 2, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return {t[0], t[1]};
}

// (f)/(g): the least work a reduction that carries one T per coordinate
// does, with none of ExactSum's: a ring reduce-scatter of the P values
// (MPI_Sendrecv in pieces of 128 KB, plain adds), each rank's slice
// converted to float, and an all-gather of the floats. With T = int64 it is
// the floor of every exact or binned reproducible sum of 64-bit words; with
// T = float it tells the ring's cost from Open MPI's own MPI_Allreduce.
template <class T>
void ring_to_floats(const std::vector<T>& in, std::vector<T>& merged, std::vector<float>& out, MPI_Datatype type,
                    int rank, int ranks) {
  const std::size_t P = in.size(), piece = (std::size_t(128) << 10) / sizeof(T);
  const auto start = [&](int r) { return P * std::size_t(r) / std::size_t(ranks); };
  static std::vector<T> incoming;
  incoming.resize(piece);
  merged.resize(P);
  std::size_t largest = 0;
  for (int r = 0; r < ranks; ++r) largest = std::max(largest, start(r + 1) - start(r));
  const int next = (rank + 1) % ranks, prev = (rank + ranks - 1) % ranks;
  for (int step = 0; step + 1 < ranks; ++step) {
    const int send = (rank - step - 1 + 2 * ranks) % ranks, recv = (rank - step - 2 + 2 * ranks) % ranks;
    const T* from = step == 0 ? in.data() : merged.data();
    for (std::size_t at = 0; at < largest; at += piece) {
      const std::size_t s0 = std::min(start(send) + at, start(send + 1)), r0 = std::min(start(recv) + at, start(recv + 1));
      const std::size_t sn = std::min(piece, start(send + 1) - s0), rn = std::min(piece, start(recv + 1) - r0);
      MPI_Sendrecv(from + s0, int(sn), type, next, 0, incoming.data(), int(rn), type, prev, 0, MPI_COMM_WORLD,
                   MPI_STATUS_IGNORE);
      for (std::size_t i = 0; i < rn; ++i) merged[r0 + i] = in[r0 + i] + incoming[i];
    }
  }
  const T* own = ranks == 1 ? in.data() : merged.data();
  for (std::size_t i = start(rank); i < start(rank + 1); ++i) out[i] = static_cast<float>(own[i]);
  std::vector<int> counts(static_cast<std::size_t>(ranks)), offsets(static_cast<std::size_t>(ranks));
  for (int r = 0; r < ranks; ++r) offsets[std::size_t(r)] = int(start(r)), counts[std::size_t(r)] = int(start(r + 1) - start(r));
  MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, out.data(), counts.data(), offsets.data(), MPI_FLOAT,
                 MPI_COMM_WORLD);
}

struct Options {
  std::vector<std::size_t> sizes{10000, 100000, 1000000, 10000000};
  int repeats = 11;
  std::size_t old_max = 1000000;  // the old class needs 96 bytes per coordinate
};

Options parse(int argc, char** argv) {
  Options o;
  for (int a = 1; a < argc; ++a) {
    const std::string arg = argv[a];
    if (a + 1 >= argc) throw std::invalid_argument(arg + ": needs a value");
    const std::string value = argv[++a];
    if (arg == "--repeats") o.repeats = std::max(1, std::atoi(value.c_str()));
    else if (arg == "--old-max") o.old_max = std::strtoull(value.c_str(), nullptr, 10);
    else if (arg == "--sizes") {
      o.sizes.clear();
      std::size_t pos = 0;
      while (pos < value.size()) {
        const std::size_t comma = value.find(',', pos);
        o.sizes.push_back(std::size_t(std::stod(value.substr(pos, comma - pos))));
        pos = comma == std::string::npos ? value.size() : comma + 1;
      }
    } else throw std::invalid_argument(arg + ": unknown option (--sizes, --repeats, --old-max)");
  }
  return o;
}

void run(std::size_t P, const Options& o, int rank, int ranks) {
  auto rng = fedhpc::stream(1000 + std::uint64_t(rank), fedhpc::StreamKind::Init);
  std::vector<float> client(P), second(P), plain(P);
  for (auto* v : {&client, &second})
    for (auto& x : *v) x = static_cast<float>(0.05 * rng.normal() * (rng.uniform(0, 1) < 0.001 ? 1e-6 : 1.0));
  const double weight = 500 + 37 * rank, weight2 = 611 + 5 * rank;
  const bool old_too = P <= o.old_max;
  fedhpc::ExactSum sum(P);
  std::vector<OldExactSum> old;
  if (old_too) old.emplace_back(P);
  const auto world = fedhpc::mpi::Comm::world();
  std::vector<double> t_add, t_next, t_reduce, t_plain, t_words, t_old_add, t_old_next, t_old_reduce;
  // (d): an MPI_SUM of as many int64 as the exact reduction's message, the
  // cost of moving and adding its bytes with MPI's own integer sum.
  std::vector<std::int64_t> words(sum.blocks() * fedhpc::ExactSum::kBlockWords, 1);
  std::vector<double> c_add, c_next, c_reduce, c_plain, c_old_add, c_old_next, t_sliced, c_sliced, t_divide;
  std::vector<double> t_ring64, t_ring32;
  std::vector<std::int64_t> ints(P), merged_ints;
  for (std::size_t i = 0; i < P; ++i) ints[i] = std::int64_t(double(client[i]) * 0x1p40);
  std::vector<float> merged_floats, ring_out(P);
  std::vector<float> mean(P), expected(P);
  fedhpc::ExactSum copy(P);
  const double divisor = 3.0 * ranks + 0.5;
  std::size_t sliced_differ = 0;
  const std::string load_before = loadavg();
  for (int r = -1; r < o.repeats; ++r) {  // r = -1: warm-up
    sum.clear();
    const Timing a = timed([&] { sum.add_scaled(client.data(), weight); });
    const Timing a2 = timed([&] { sum.add_scaled(second.data(), weight2); });
    copy = sum;
    const Timing b = timed([&] { fedhpc::mpi::allreduce(sum, world); });
    const Timing f = timed([&] { fedhpc::mpi::allreduce_divide(copy, divisor, mean.data(), world); });
    const Timing g = timed([&] { sum.divide_into(expected.data(), divisor); });
    t_divide.push_back(g.wall);
    sliced_differ += std::memcmp(mean.data(), expected.data(), P * sizeof(float)) != 0;
    std::copy(client.begin(), client.end(), plain.begin());
    const Timing c = timed([&] { MPI_Allreduce(MPI_IN_PLACE, plain.data(), int(P), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD); });
    const Timing w = timed([&] {
      MPI_Allreduce(MPI_IN_PLACE, words.data(), int(words.size()), MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
    });
    const Timing f64 = timed([&] { ring_to_floats(ints, merged_ints, ring_out, MPI_INT64_T, rank, ranks); });
    const Timing f32 = timed([&] { ring_to_floats(client, merged_floats, ring_out, MPI_FLOAT, rank, ranks); });
    Timing d, d2, e;
    if (old_too) {
      old[0].clear();
      d = timed([&] { old[0].add_scaled(client.data(), weight); });
      d2 = timed([&] { old[0].add_scaled(second.data(), weight2); });
      e = timed([&] { old[0].allreduce(MPI_COMM_WORLD); });
    }
    if (r < 0) continue;
    t_add.push_back(a.wall), t_next.push_back(a2.wall), t_reduce.push_back(b.wall), t_plain.push_back(c.wall);
    t_words.push_back(w.wall), t_sliced.push_back(f.wall), c_sliced.push_back(f.cpu);
    t_ring64.push_back(f64.wall), t_ring32.push_back(f32.wall);
    t_old_add.push_back(d.wall), t_old_next.push_back(d2.wall), t_old_reduce.push_back(e.wall);
    c_add.push_back(a.cpu), c_next.push_back(a2.cpu), c_reduce.push_back(b.cpu), c_plain.push_back(c.cpu);
    c_old_add.push_back(d.cpu), c_old_next.push_back(d2.cpu);
  }
  // The new and old sums must give the same bits.
  std::string identical = "n/a";
  if (old_too) {
    std::size_t differ = 0;
    for (std::size_t i = 0; i < P; ++i) {
      const double x = sum.value(i), y = old[0].value(i);
      differ += std::memcmp(&x, &y, sizeof x) != 0;
    }
    MPI_Allreduce(MPI_IN_PLACE, &differ, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    identical = differ == 0 ? "yes" : "NO(" + std::to_string(differ) + ")";
  }
  MPI_Allreduce(MPI_IN_PLACE, &sliced_differ, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  if (rank != 0) return;
  const double add = median(t_add), reduce = median(t_reduce), flat = median(t_plain);
  const auto ns = [P](const std::vector<double>& t) { return median(t) / double(P) * 1e9; };
  std::printf("P=%zu ranks=%d repeats=%d add_ns_per_elem=%.3f next_add_ns_per_elem=%.3f reduce_ms=%.3f plain_ms=%.3f "
              "reduce/plain=%.2f (add+reduce)/plain=%.2f same_bytes_int64_ms=%.3f same_bytes_int64/plain=%.2f",
              P, ranks, o.repeats, ns(t_add), ns(t_next), reduce * 1e3, flat * 1e3, reduce / flat, (add + reduce) / flat,
              median(t_words) * 1e3, median(t_words) / flat);
  if (old_too)
    std::printf(" old_add_ns_per_elem=%.3f old_next_add_ns_per_elem=%.3f old_reduce_ms=%.3f old_reduce/plain=%.2f "
                "bits_identical=%s",
                ns(t_old_add), ns(t_old_next), median(t_old_reduce) * 1e3, median(t_old_reduce) / flat,
                identical.c_str());
  std::printf(" divide_ms=%.3f (reduce+divide)/plain=%.2f sliced_ms=%.3f sliced/plain=%.2f sliced_bits_identical=%s",
              median(t_divide) * 1e3, (reduce + median(t_divide)) / flat, median(t_sliced) * 1e3, median(t_sliced) / flat, sliced_differ == 0 ? "yes" : "NO");
  std::printf(" int64_ring_ms=%.3f int64_ring/plain=%.2f float_ring/plain=%.2f sliced/int64_ring=%.2f",
              median(t_ring64) * 1e3, median(t_ring64) / flat, median(t_ring32) / flat, median(t_sliced) / median(t_ring64));
  std::printf(" | cpu: add_ns_per_elem=%.3f next_add_ns_per_elem=%.3f reduce/plain=%.2f sliced/plain=%.2f", ns(c_add),
              ns(c_next), median(c_reduce) / median(c_plain), median(c_sliced) / median(c_plain));
  if (old_too) std::printf(" old_add_ns_per_elem=%.3f old_next_add_ns_per_elem=%.3f", ns(c_old_add), ns(c_old_next));
  std::printf(" | loadavg=%s/%s\n", load_before.c_str(), loadavg().c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  int status = 0;
  try {
    const Options o = parse(argc, argv);
    for (std::size_t P : o.sizes) run(P, o, rank, ranks);
  } catch (const std::exception& e) {
    if (rank == 0) std::fprintf(stderr, "bench_exact_reduce: error: %s\n", e.what());
    status = 2;
  }
  MPI_Finalize();
  return status;
}
