#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <vector>

#include "fedhpc/mpi/comm.hpp"

namespace fedhpc::mpi {

// Which client models travel between ranks in one exchange. Both sides derive
// their lists from global information and keep them sorted by client id, so
// message sizes and the order of models inside a message need no handshake.
struct ExchangePlan {
  std::map<int, std::vector<std::int64_t>> send;  // peer rank -> my clients it needs
  std::map<int, std::vector<std::int64_t>> recv;  // peer rank -> its clients I need
};

// Sends and receives the planned models (num_params floats each), one
// message per peer in each direction. Returns the received models by client.
std::map<std::int64_t, std::vector<float>> exchange_models(
    const Comm& comm, const ExchangePlan& plan, std::int64_t num_params,
    const std::function<const float*(std::int64_t client)>& local_model);

}  // namespace fedhpc::mpi
