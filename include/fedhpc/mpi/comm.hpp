#pragma once
#include <mpi.h>

#include <cstddef>
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

}  // namespace fedhpc::mpi
