#pragma once
// The HDF5 file of `fedhpc mi` (README, "fedhpc mi"): one serial file,
// written by one rank.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "fedhpc/analysis/mi_study.hpp"

namespace fedhpc::analysis {

struct MiFileHeader {
  std::string config_ini;                 // resolved run configuration
  std::string from;                       // --from file, or "" for a fresh run
  std::vector<std::int64_t> rounds_at;    // the starting points' rounds
  std::vector<std::int64_t> clients;      // sampled clients (partition indices)
  std::vector<std::pair<int, int>> pairs; // positions in `clients`
  std::int64_t samples = 0, every = 1, iterations = 0, dims = 0;
  std::string layer;                      // "" = whole vector
  std::int64_t project = 0;
  int ksg_k = 3;
  double ksg_noise = 0.0;
  std::uint64_t seed = 0;
  bool save_samples = false;
  bool regression = false;                // the metric is MSE (no accuracy)
};

// Creates `path` (replacing it) with the header and empty tables, then
// writes starting point s's tables (and samples) with write_start.
class MiWriter {
 public:
  MiWriter(const std::string& path, const MiFileHeader& header);
  ~MiWriter();
  MiWriter(const MiWriter&) = delete;
  MiWriter& operator=(const MiWriter&) = delete;
  // samples: [clients][repeats][iterations][dims], written only with
  // save_samples; metrics: [iterations][clients][2] (mean_metrics).
  void write_start(std::int64_t s, const PairTables& tables, const std::vector<double>& samples,
                   const std::vector<double>& metrics);
  // Sets the root attributes status (complete, failed, interrupted) and
  // error (when not empty), and closes the file.
  void close(const std::string& status = "complete", const std::string& error = "");

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace fedhpc::analysis
