#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace fedhpc {

// What `fedhpc run --save-weights` keeps: `none`, `global`, `clients` (every
// round's client models) or `clients:ROUNDS` (e.g. `clients:1,5,10`: the
// client models of those rounds only, README "HDF5 output").
struct WeightSaving {
  std::string kind;                          // none | global | clients
  std::vector<std::int64_t> client_rounds;   // clients:ROUNDS, ascending, unique; empty = every round
};

// Parses the option's text against the run's round count. Throws InputError
// naming --save-weights on an unknown value or a round outside [1, rounds].
WeightSaving parse_save_weights(const std::string& text, std::int64_t rounds);

}  // namespace fedhpc
