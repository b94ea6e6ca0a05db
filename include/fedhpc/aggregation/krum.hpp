#pragma once
#include <cstdint>
#include <vector>

#include "fedhpc/aggregation/aggregator.hpp"
#include "fedhpc/aggregation/sharded_models.hpp"

namespace fedhpc::aggregation {

// Krum scores (Blanchard et al. 2017): score(i) = the sum of the n - f - 2
// smallest of the squared distances from model i to the other models.
// distances: n x n, row-major, symmetric; the diagonal is ignored. NaN counts
// as +inf. The smallest distances are summed in ascending order in double, so
// the score depends only on the row's multiset. Needs n > 2f + 2.
std::vector<double> krum_scores(const std::vector<double>& distances, std::int64_t n, int f);

// 0..n-1 by increasing score; equal scores (+inf included) by lower index.
std::vector<std::int64_t> krum_ranking(const std::vector<double>& scores);

// `krum` and `multi-krum` (El Mhamdi et al. 2018) with f = options.byzantine.
// krum gives the model of lowest score; multi-krum the exact sample-weighted
// mean (as WeightedMean) of the m models of lowest score, m =
// options.krum_select, 0 meaning n - f. Ties are broken by lower model id.
//
// Squared distances come from fixed blocks of ShardedModels::kDefaultBlock
// coordinates: each block's partial sum of every pair is computed in double in
// coordinate order and the partials are added exactly (ExactSum), so the
// distances are the same bits however the blocks are spread over ranks. A
// partial that is not finite or exceeds 2^200 (beyond the accumulator's
// range) makes the distance +inf.
//
// finish() throws InputError (on every rank) naming --byzantine when n <=
// 2f + 2, and naming --krum-select when m > n. If the selected models of
// multi-krum all have weight 0, finish returns false as fedavg does.
class Krum : public Aggregator {
 public:
  // InputError for negative --byzantine or --krum-select.
  Krum(const AggregatorOptions& options, bool multi);
  void begin(std::int64_t num_params) override { models_.begin(num_params); }
  void add(std::int64_t id, const float* params, std::int64_t weight) override { models_.add(id, params, weight); }
  bool finish(float* out, const mpi::Comm& comm) override;

 private:
  const char* name() const { return multi_ ? "multi-krum" : "krum"; }
  void check_count(std::int64_t n) const;
  std::int64_t selected_count(std::int64_t n) const;
  std::vector<double> squared_distances(const mpi::Comm& comm) const;
  bool weighted_mean_slice(const std::vector<std::int64_t>& chosen, float* slice) const;

  bool multi_;
  int f_;
  int select_;
  ShardedModels models_;
};

}  // namespace fedhpc::aggregation
