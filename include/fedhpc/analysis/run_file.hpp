#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "fedhpc/core/param_layout.hpp"

namespace fedhpc::analysis {

// What the analysis commands read from a finished `fedhpc run` output file
// (README, "HDF5 output"): its configuration, layer table, client partition
// and global models.
struct RunFile {
  std::string path;
  std::string config;  // root attribute `config`: the run's resolved INI text
  ParamLayout layout;  // from /model
  std::int64_t rounds_completed = 0;
  // /global/weights rows 0..rounds_completed, row-major [rows, num_params].
  std::vector<float> weights;
  std::vector<std::int64_t> train_indices, train_offsets;  // /data, CSR by client

  std::int64_t num_params() const { return layout.total(); }
  std::int64_t rows() const { return rounds_completed + 1; }
  const float* model(std::int64_t round) const { return weights.data() + round * num_params(); }
  const float* final_model() const { return model(rounds_completed); }
};

// Reads a run file serially (any rank may call it alone). Throws InputError
// with one line naming `option`, the file and what is missing or wrong (not
// an HDF5 file, no `config`, no /global/weights: run with --save-weights
// global, ...). With weights = false, /global/weights is not read.
RunFile read_run_file(const std::string& path, const std::string& option, bool weights = true);

// One global model, row `round` of /global/weights (-1 = the last completed
// round). Throws InputError naming `option` as above.
std::vector<float> read_global_model(const std::string& path, std::int64_t round, const std::string& option,
                                     ParamLayout* layout = nullptr);

// The models every client handed over in round `round` (1-based), row-major
// [clients, num_params] from /clients/weights: row round-1 of a run with
// --save-weights clients, or the row whose entry in the dataset's `rounds`
// attribute is `round` with --save-weights clients:ROUNDS. Clients that did
// not upload that round are NaN rows. Throws InputError naming `option` when
// the file has no client models, or none of that round.
std::vector<float> read_client_models(const std::string& path, std::int64_t round, std::int64_t num_params,
                                      const std::string& option);

// The training-set indices of one client (client >= 0) or of all clients
// (client = -1), sorted ascending.
std::vector<std::int64_t> training_indices(const RunFile& run, std::int64_t client);

// Throws InputError naming `option` when b's layer table differs from a's.
void check_same_layout(const ParamLayout& a, const ParamLayout& b, const std::string& option,
                       const std::string& what);

}  // namespace fedhpc::analysis
