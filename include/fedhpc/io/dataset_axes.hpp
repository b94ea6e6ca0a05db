#pragma once
#include <optional>
#include <string>

namespace fedhpc::io {

// What a run file's dataset holds along each axis, stored on the dataset as
// attributes so the file describes itself (README, "HDF5 output"):
//  * dims: the axis names, slowest first, comma separated ("round,iteration,client");
//  * units: where the values have one ("seconds", "bytes", "nats", "fraction");
//  * first_round: for a leading round axis, the round of row 0 (0 where row 0
//    is the initial model, else 1).
struct DatasetAxes {
  std::string dims;
  std::string units;        // empty: no unit (counts, indices, flags, ratios)
  int first_round = -1;     // -1: no round axis
};

// By path relative to the file's root ("clients/gsc"); nullopt for a path
// fedhpc does not write.
std::optional<DatasetAxes> dataset_axes(const std::string& path);

}  // namespace fedhpc::io
