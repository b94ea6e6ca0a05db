#pragma once
// What a topology carries from one round to the next besides the global
// model, for checkpoint and resume. Randomness is keyed by (seed, client,
// round), so no generator state is part of it.
#include <cstdint>
#include <vector>

namespace fedhpc::topology {

struct TopologyState {
  // The same on every rank (clustered: each client's cluster).
  std::vector<std::int64_t> shared_ints;
  // The same on every rank (clustered: the K cluster models, K x P).
  std::vector<float> shared_floats;
  // This rank's clients' rows, client_width floats each, in client id order
  // (gossip: each client's own model). The checkpoint holds all N rows.
  std::vector<float> client_rows;
  std::int64_t client_width = 0;

  bool empty() const { return shared_ints.empty() && shared_floats.empty() && client_width == 0; }
};

}  // namespace fedhpc::topology
