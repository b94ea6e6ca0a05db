#pragma once
#include <mpi.h>

#include <cstddef>
#include <cstdint>
#include <vector>
#include <functional>
#include <string>

namespace fedhpc::mpi {

// Throws RunError naming the call when an MPI function does not succeed.
void check(int rc, const char* what);

// Owns a communicator (freed on destruction) or views one it must not free.
class Comm {
 public:
  static Comm world();
  static Comm view(MPI_Comm comm);
  Comm() = default;
  Comm(Comm&& other) noexcept;
  Comm& operator=(Comm&& other) noexcept;
  Comm(const Comm&) = delete;
  Comm& operator=(const Comm&) = delete;
  ~Comm();

  // Collective. Ranks passing MPI_UNDEFINED as color get an empty Comm.
  Comm split(int color, int key) const;

  MPI_Comm get() const { return comm_; }
  bool valid() const { return comm_ != MPI_COMM_NULL; }
  int rank() const;
  int size() const;
  void barrier() const;
  // This process alone (MPI_COMM_SELF, not freed).
  static Comm self();

 private:
  Comm(MPI_Comm comm, bool owned) : comm_(comm), owned_(owned) {}
  void release();
  MPI_Comm comm_ = MPI_COMM_NULL;
  bool owned_ = false;
};

// Point-to-point transfer of n bytes, in pieces that fit MPI's int counts.
void send_bytes(const Comm& comm, int dest, int tag, const void* data, std::size_t n);
void recv_bytes(const Comm& comm, int source, int tag, void* data, std::size_t n);

// Rank 0's text on every rank of comm (collective).
std::string broadcast_string(const Comm& comm, std::string text);

// Runs fn on every rank of comm. If it threw on any rank, every rank throws:
// the exception of the lowest failing rank, re-created with its message, as
// InputError, RunError or Interrupted. The call is collective, so fn must not communicate
// on comm in a way that could hang when another rank fails.
void collective_try(const Comm& comm, const std::function<void()>& fn);


// ---- Typed, count-checked collectives -------------------------------------
// MPI counts and displacements are int; every call below checks that they fit
// (RunError naming the call otherwise), so no caller converts sizes itself.

enum class Op { Sum, Max, Min };

template <class T>
MPI_Datatype datatype();
template <> inline MPI_Datatype datatype<float>() { return MPI_FLOAT; }
template <> inline MPI_Datatype datatype<double>() { return MPI_DOUBLE; }
template <> inline MPI_Datatype datatype<std::int64_t>() { return MPI_INT64_T; }
template <> inline MPI_Datatype datatype<std::uint64_t>() { return MPI_UINT64_T; }
template <> inline MPI_Datatype datatype<int>() { return MPI_INT; }
template <> inline MPI_Datatype datatype<std::uint8_t>() { return MPI_UINT8_T; }
template <> inline MPI_Datatype datatype<char>() { return MPI_CHAR; }

// n as an MPI count; RunError naming `what` when it does not fit in an int.
int count_of(std::size_t n, const char* what);

namespace detail {
void all_reduce(const Comm& comm, void* data, std::size_t n, MPI_Datatype type, Op op, const char* what);
void all_gatherv(const Comm& comm, const void* mine, std::size_t n, void* out, const std::vector<std::size_t>& counts,
                 const std::vector<std::size_t>& displs, MPI_Datatype type, const char* what);
void all_to_allv(const Comm& comm, const void* send, const std::vector<std::size_t>& send_counts,
                 const std::vector<std::size_t>& send_displs, void* recv, const std::vector<std::size_t>& recv_counts,
                 const std::vector<std::size_t>& recv_displs, MPI_Datatype type, const char* what);
void broadcast(const Comm& comm, void* data, std::size_t n, MPI_Datatype type, int root, const char* what);
}  // namespace detail

// In place: every rank gets the element-wise reduction of data[0..n).
template <class T>
void all_reduce(const Comm& comm, T* data, std::size_t n, Op op, const char* what) {
  detail::all_reduce(comm, data, n, datatype<T>(), op, what);
}
template <class T>
T all_reduce(const Comm& comm, T value, Op op, const char* what) {
  detail::all_reduce(comm, &value, 1, datatype<T>(), op, what);
  return value;
}
template <class T>
void all_reduce(const Comm& comm, std::vector<T>& data, Op op, const char* what) {
  detail::all_reduce(comm, data.data(), data.size(), datatype<T>(), op, what);
}

// Offsets of consecutive pieces of the given sizes.
std::vector<std::size_t> displacements(const std::vector<std::size_t>& counts);

// Rank r contributes counts[r] elements (its `mine`); out receives them all,
// rank by rank at displs[r] (consecutive when displs is empty).
template <class T>
void all_gatherv(const Comm& comm, const T* mine, std::size_t n, T* out, const std::vector<std::size_t>& counts,
                 const std::vector<std::size_t>& displs, const char* what) {
  detail::all_gatherv(comm, mine, n, out, counts, displs.empty() ? displacements(counts) : displs, datatype<T>(),
                      what);
}
// One value per rank, in rank order.
template <class T>
std::vector<T> all_gather(const Comm& comm, const T& value, const char* what) {
  const auto ranks = std::size_t(comm.size());
  std::vector<T> out(ranks);
  const std::vector<std::size_t> counts(ranks, 1);
  detail::all_gatherv(comm, &value, 1, out.data(), counts, displacements(counts), datatype<T>(), what);
  return out;
}

// send holds, for each rank q in turn, send_counts[q] elements for q; the
// result holds, for each rank q in turn, recv_counts[q] elements from q.
template <class T>
std::vector<T> all_to_allv(const Comm& comm, const std::vector<T>& send, const std::vector<std::size_t>& send_counts,
                           const std::vector<std::size_t>& recv_counts, const char* what) {
  std::size_t total = 0;
  for (auto c : recv_counts) total += c;
  std::vector<T> recv(total);
  detail::all_to_allv(comm, send.data(), send_counts, displacements(send_counts), recv.data(), recv_counts,
                      displacements(recv_counts), datatype<T>(), what);
  return recv;
}

template <class T>
void broadcast(const Comm& comm, T* data, std::size_t n, int root, const char* what) {
  detail::broadcast(comm, data, n, datatype<T>(), root, what);
}

}  // namespace fedhpc::mpi
