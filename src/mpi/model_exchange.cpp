#include "fedhpc/mpi/model_exchange.hpp"

#include <algorithm>
#include <climits>

#include "fedhpc/core/error.hpp"

namespace fedhpc::mpi {

std::map<std::int64_t, std::vector<float>> exchange_models(
    const Comm& comm, const ExchangePlan& plan, std::int64_t num_params,
    const std::function<const float*(std::int64_t client)>& local_model) {
  std::vector<MPI_Request> requests;
  std::vector<std::vector<float>> outgoing, incoming;
  auto count_of = [&](std::size_t models) {
    const auto n = std::int64_t(models) * num_params;
    if (n > INT_MAX) throw RunError("model exchange: message of " + std::to_string(n) + " floats is too large");
    return int(n);
  };
  incoming.reserve(plan.recv.size());
  for (const auto& [peer, clients] : plan.recv) {
    incoming.emplace_back(std::size_t(count_of(clients.size())));
    requests.emplace_back();
    check(MPI_Irecv(incoming.back().data(), count_of(clients.size()), MPI_FLOAT, peer, 0, comm.get(),
                    &requests.back()),
          "MPI_Irecv(models)");
  }
  outgoing.reserve(plan.send.size());
  for (const auto& [peer, clients] : plan.send) {
    outgoing.emplace_back();
    auto& buf = outgoing.back();
    buf.reserve(std::size_t(count_of(clients.size())));
    for (auto c : clients) buf.insert(buf.end(), local_model(c), local_model(c) + num_params);
    requests.emplace_back();
    check(MPI_Isend(buf.data(), count_of(clients.size()), MPI_FLOAT, peer, 0, comm.get(), &requests.back()),
          "MPI_Isend(models)");
  }
  check(MPI_Waitall(int(requests.size()), requests.data(), MPI_STATUSES_IGNORE), "MPI_Waitall(models)");
  std::map<std::int64_t, std::vector<float>> received;
  std::size_t k = 0;
  for (const auto& [peer, clients] : plan.recv) {
    const float* data = incoming[k++].data();
    for (std::size_t i = 0; i < clients.size(); ++i)
      received[clients[i]].assign(data + std::int64_t(i) * num_params, data + std::int64_t(i + 1) * num_params);
  }
  return received;
}

}  // namespace fedhpc::mpi
