#include "fedhpc/mpi/exact_reduce.hpp"

#include <algorithm>
#include <climits>
#include <vector>

namespace fedhpc::mpi {

namespace {

// MPI user functions get no context: the party count of the reduction in
// progress (reductions are not run from several threads at once).
int g_parties = 1;

void merge_op(void* in, void* inout, int* count, MPI_Datatype*) {
  ExactSum::merge_blocks(static_cast<const std::int64_t*>(in), static_cast<std::int64_t*>(inout),
                         static_cast<std::size_t>(*count), g_parties);
}

struct BlockReduction {
  MPI_Datatype type;
  MPI_Op op;
  BlockReduction() {
    check(MPI_Type_contiguous(static_cast<int>(ExactSum::kBlockWords), MPI_INT64_T, &type), "MPI_Type_contiguous");
    check(MPI_Type_commit(&type), "MPI_Type_commit");
    check(MPI_Op_create(&merge_op, 1, &op), "MPI_Op_create");
  }
};

// The multi-row form of the blocks `summary` lays out, summed over all
// ranks (MPI_SUM on int64, in pieces whose count fits an int).
std::vector<std::int64_t> reduced_rows(const ExactSum& sum, const std::int16_t* summary, const Comm& comm) {
  std::vector<std::int64_t> rows(ExactSum::packed_size(summary, sum.size(), comm.size()));
  sum.pack(summary, comm.size(), rows.data());
  const std::size_t row_piece = std::size_t{1} << 28;
  for (std::size_t done = 0; done < rows.size(); done += row_piece)
    check(MPI_Allreduce(MPI_IN_PLACE, rows.data() + done, static_cast<int>(std::min(row_piece, rows.size() - done)),
                        MPI_INT64_T, MPI_SUM, comm.get()),
          "MPI_Allreduce(exact sum rows)");
  return rows;
}

}  // namespace

// One message in the common case: every block of 64 coordinates travels as
// a header and 64 int64 (the values shifted right by the block's lowest bit),
// summed by merge_blocks. Blocks whose bit range over all ranks is too wide
// for that (all ranks see the same ones) go in a second, multi-row reduction;
// so does the non-finite bookkeeping, when any rank has some.
void allreduce(ExactSum& sum, const Comm& comm) {
  const int parties = comm.size();
  const std::size_t blocks = sum.blocks();
  if (parties == 1 || blocks == 0) return;  // the local sum is the total
  static const BlockReduction reduction;
  // Kept between calls: a fresh buffer would page-fault on every reduction.
  thread_local std::vector<std::int64_t> packed;
  packed.resize(std::max(packed.size(), blocks * ExactSum::kBlockWords));
  sum.pack_blocks(packed.data());
  g_parties = parties;
  const std::size_t piece = std::size_t{1} << 22;  // blocks per call, so the count fits an int
  for (std::size_t done = 0; done < blocks; done += piece)
    check(MPI_Allreduce(MPI_IN_PLACE, packed.data() + done * ExactSum::kBlockWords,
                        static_cast<int>(std::min(piece, blocks - done)), reduction.type, reduction.op, comm.get()),
          "MPI_Allreduce(exact sum)");
  std::vector<std::int16_t> summary(2 * blocks);
  bool nonfinite = false;
  const bool rest = sum.unpack_blocks(packed.data(), parties, summary.data(), &nonfinite);
  if (nonfinite) {
    std::int64_t count = sum.nonfinite_count();
    check(MPI_Allreduce(MPI_IN_PLACE, &count, 1, MPI_INT64_T, MPI_SUM, comm.get()), "MPI_Allreduce(nonfinite)");
    check(MPI_Allreduce(MPI_IN_PLACE, sum.nonfinite_flags(), static_cast<int>(sum.size()), MPI_UINT8_T, MPI_MAX,
                        comm.get()),
          "MPI_Allreduce(nonfinite flags)");
    sum.nonfinite_count() = count;
  }
  if (!rest) return;
  sum.unpack(summary.data(), parties, reduced_rows(sum, summary.data(), comm).data());
}

namespace {

// Contiguous slices of `total` items, the first `total % parts` one larger.
std::vector<std::size_t> slice_starts(std::size_t total, int parts) {
  std::vector<std::size_t> starts(static_cast<std::size_t>(parts) + 1, 0);
  for (int r = 0; r < parts; ++r)
    starts[std::size_t(r) + 1] =
        starts[std::size_t(r)] + total / std::size_t(parts) + (std::size_t(r) < total % std::size_t(parts));
  return starts;
}

// Blocks per piece of the ring (about 130 KB packed): each piece is packed,
// sent, merged and, at the last step, rounded while it is still in cache
// (packing the whole vector first and then running the ring read and wrote
// every word from memory several times more).
constexpr std::size_t kPieceBlocks = 256;

// Ring reduce-scatter of the one-message form, packed piece by piece as it
// goes: after parties - 1 steps rank r holds the merge over all ranks of its
// slice r, and last_piece(first, n, words) has been called for each piece of
// it (blocks [first, first + n), reduced, at words). (Open MPI's
// MPI_Reduce_scatter with a user operator was 5x slower here.) merge_blocks
// is exactly associative and commutative, so the ring order does not matter.
// Every slice is packed once: the slice sent at step 0, and at each step the
// slice received. Only the slices merged at middle steps (3 or more ranks)
// are kept whole, for the next step to send.
template <class LastPiece>
void ring_reduce_scatter(const ExactSum& sum, const std::vector<std::size_t>& starts, int parties, const Comm& comm,
                         LastPiece&& last_piece) {
  constexpr std::size_t W = ExactSum::kBlockWords;
  const int rank = comm.rank(), next = (rank + 1) % parties, prev = (rank + parties - 1) % parties;
  std::size_t largest = 0;
  for (int r = 0; r < parties; ++r) largest = std::max(largest, starts[std::size_t(r) + 1] - starts[std::size_t(r)]);
  // Every rank runs as many pieces as the largest slice has, so that the
  // Sendrecv pairs match when slices differ by a block.
  const std::size_t pieces = (largest + kPieceBlocks - 1) / kPieceBlocks;
  thread_local std::vector<std::int64_t> outgoing, incoming, own, sending, merged;
  for (auto* piece : {&outgoing, &incoming, &own}) piece->resize(kPieceBlocks * W);
  if (parties > 2) sending.resize(largest * W), merged.resize(largest * W);
  for (int step = 0; step < parties - 1; ++step) {
    const auto send = std::size_t((rank - step - 1 + 2 * parties) % parties);
    const auto recv = std::size_t((rank - step - 2 + 2 * parties) % parties);
    const bool last = step == parties - 2;
    for (std::size_t k = 0; k < pieces; ++k) {
      const std::size_t send_first = std::min(starts[send] + k * kPieceBlocks, starts[send + 1]);
      const std::size_t send_count = std::min(kPieceBlocks, starts[send + 1] - send_first);
      const std::size_t recv_first = std::min(starts[recv] + k * kPieceBlocks, starts[recv + 1]);
      const std::size_t recv_count = std::min(kPieceBlocks, starts[recv + 1] - recv_first);
      const std::int64_t* from = outgoing.data();
      if (step == 0) sum.pack_blocks(send_first, send_count, outgoing.data());
      else from = sending.data() + (send_first - starts[send]) * W;
      std::int64_t* into = last ? own.data() : merged.data() + (recv_first - starts[recv]) * W;
      sum.pack_blocks(recv_first, recv_count, into);
      // As plain int64: Open MPI sends a (contiguous) derived type through
      // its packing engine.
      check(MPI_Sendrecv(from, static_cast<int>(send_count * W), MPI_INT64_T, next, 0, incoming.data(),
                         static_cast<int>(recv_count * W), MPI_INT64_T, prev, 0, comm.get(), MPI_STATUS_IGNORE),
            "MPI_Sendrecv(exact sum slice)");
      ExactSum::merge_blocks(incoming.data(), into, recv_count, parties);
      if (last) last_piece(recv_first, recv_count, static_cast<const std::int64_t*>(own.data()));
    }
    std::swap(sending, merged);
  }
}

// The blocks too wide for one word (as divide_blocks found them in each
// rank's slice; `summary` marks this rank's) travel as digit rows, like
// allreduce()'s second message. Each rank unpacks the rows of its own wide
// blocks into an accumulator of just those blocks, in order (an accumulator of
// the whole slice cost more to allocate than the rest of the reduction), and
// rounds them into out.
void round_wide_blocks(const ExactSum& sum, const std::vector<std::int16_t>& summary,
                       const std::vector<std::size_t>& starts, double divisor, float* out, const Comm& comm) {
  const int parties = comm.size();
  const auto rank = std::size_t(comm.rank());
  std::vector<int> counts(static_cast<std::size_t>(parties)), offsets(static_cast<std::size_t>(parties));
  for (std::size_t r = 0; r < std::size_t(parties); ++r) {
    offsets[r] = static_cast<int>(2 * starts[r]);
    counts[r] = static_cast<int>(2 * (starts[r + 1] - starts[r]));
  }
  std::vector<std::int16_t> all(2 * sum.blocks());
  std::copy(summary.begin(), summary.end(), all.begin() + offsets[rank]);
  check(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, all.data(), counts.data(), offsets.data(), MPI_INT16_T,
                       comm.get()),
        "MPI_Allgatherv(exact sum layout)");
  const auto rows = reduced_rows(sum, all.data(), comm);
  std::vector<std::size_t> wide;  // blocks of the whole vector
  std::vector<std::int16_t> layout;
  for (std::size_t b = 0; 2 * b < summary.size(); ++b) {
    if (summary[2 * b + 1] < 0) continue;
    wide.push_back(starts[rank] + b);
    layout.insert(layout.end(), {summary[2 * b], summary[2 * b + 1]});
  }
  if (wide.empty()) return;
  // Only the vector's last block can be short, and it is the last one here.
  const auto block_size = [&](std::size_t b) { return ExactSum::block_length(b, sum.size()); };
  ExactSum part((wide.size() - 1) * ExactSum::kBlock + block_size(wide.back()));
  const std::size_t before = ExactSum::packed_size(all.data(), starts[rank] * ExactSum::kBlock, parties);
  part.unpack(layout.data(), parties, rows.data() + before);
  for (std::size_t j = 0; j < wide.size(); ++j)
    for (std::size_t i = 0; i < block_size(wide[j]); ++i)
      out[wide[j] * ExactSum::kBlock + i] = static_cast<float>(part.value(j * ExactSum::kBlock + i) / divisor);
}

}  // namespace

bool ring_pays(std::size_t blocks, int parties) {
  return parties > 1 && blocks >= std::size_t(parties) &&
         (parties <= kRingAlwaysRanks || blocks >= kRingBlocksPerRank * std::size_t(parties));
}

void allreduce_divide(ExactSum& sum, double divisor, float* out, const Comm& comm) {
  const int parties = comm.size();
  const std::size_t blocks = sum.blocks(), length = sum.size();
  if (parties == 1 || blocks == 0) return sum.divide_into(out, divisor);
  if (!ring_pays(blocks, parties) || length > std::size_t(INT_MAX)) {
    allreduce(sum, comm);
    return sum.divide_into(out, divisor);
  }
  const std::vector<std::size_t> starts = slice_starts(blocks, parties);
  const auto rank = std::size_t(comm.rank());
  // This rank's slice is rounded piece by piece straight from its reduced
  // blocks (the bits divide_into() gives for the whole sum: they depend only
  // on the exact total). Blocks too wide for one word are marked in
  // `summary` and rounded afterwards by round_wide_blocks.
  std::vector<std::int16_t> summary(2 * (starts[rank + 1] - starts[rank]));
  int route[2] = {0, 0};  // some block too wide; some non-finite term
  ring_reduce_scatter(sum, starts, parties, comm, [&](std::size_t first, std::size_t n, const std::int64_t* words) {
    const std::size_t from = first * ExactSum::kBlock, to = std::min(length, (first + n) * ExactSum::kBlock);
    bool nonfinite = false;
    route[0] |= ExactSum::divide_blocks(words, to - from, parties, divisor, out + from,
                                        summary.data() + 2 * (first - starts[rank]), &nonfinite);
    route[1] |= nonfinite;
  });
  check(MPI_Allreduce(MPI_IN_PLACE, route, 2, MPI_INT, MPI_MAX, comm.get()), "MPI_Allreduce(exact sum route)");
  if (route[1]) {  // rare (diverged training): NaN/inf terms take the general route
    allreduce(sum, comm);
    return sum.divide_into(out, divisor);
  }
  if (route[0]) round_wide_blocks(sum, summary, starts, divisor, out, comm);
  std::vector<int> floats(static_cast<std::size_t>(parties)), offsets(static_cast<std::size_t>(parties));
  for (std::size_t r = 0; r < std::size_t(parties); ++r) {
    const std::size_t from = starts[r] * ExactSum::kBlock, to = std::min(length, starts[r + 1] * ExactSum::kBlock);
    offsets[r] = static_cast<int>(from);
    floats[r] = static_cast<int>(to - from);
  }
  check(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, out, floats.data(), offsets.data(), MPI_FLOAT, comm.get()),
        "MPI_Allgatherv(rounded sum)");
}

}  // namespace fedhpc::mpi
