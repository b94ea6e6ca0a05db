#include "fedhpc/mpi/comm.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <vector>

#include "fedhpc/core/error.hpp"
#include "fedhpc/core/interrupt.hpp"

namespace fedhpc::mpi {

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw RunError(std::string(what) + " failed: " + std::string(text, len));
}

Comm Comm::world() { return Comm(MPI_COMM_WORLD, false); }
Comm Comm::view(MPI_Comm comm) { return Comm(comm, false); }

Comm::Comm(Comm&& other) noexcept : comm_(other.comm_), owned_(other.owned_) {
  other.comm_ = MPI_COMM_NULL;
  other.owned_ = false;
}

Comm& Comm::operator=(Comm&& other) noexcept {
  if (this != &other) {
    release();
    comm_ = other.comm_;
    owned_ = other.owned_;
    other.comm_ = MPI_COMM_NULL;
    other.owned_ = false;
  }
  return *this;
}

Comm::~Comm() { release(); }

void Comm::release() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (owned_ && comm_ != MPI_COMM_NULL && !finalized) MPI_Comm_free(&comm_);
  comm_ = MPI_COMM_NULL;
  owned_ = false;
}

Comm Comm::split(int color, int key) const {
  MPI_Comm out = MPI_COMM_NULL;
  check(MPI_Comm_split(comm_, color, key, &out), "MPI_Comm_split");
  return Comm(out, true);
}

int Comm::rank() const {
  int r = 0;
  check(MPI_Comm_rank(comm_, &r), "MPI_Comm_rank");
  return r;
}

int Comm::size() const {
  int s = 0;
  check(MPI_Comm_size(comm_, &s), "MPI_Comm_size");
  return s;
}

void Comm::barrier() const { check(MPI_Barrier(comm_), "MPI_Barrier"); }

namespace {
constexpr std::size_t kPiece = std::size_t(1) << 30;
}

void send_bytes(const Comm& comm, int dest, int tag, const void* data, std::size_t n) {
  const auto* p = static_cast<const char*>(data);
  for (std::size_t at = 0; at < n || at == 0; at += kPiece) {
    const int len = static_cast<int>(std::min(kPiece, n - at));
    check(MPI_Send(p ? p + at : nullptr, len, MPI_BYTE, dest, tag, comm.get()), "MPI_Send");
    if (n == 0) break;
  }
}

void recv_bytes(const Comm& comm, int source, int tag, void* data, std::size_t n) {
  auto* p = static_cast<char*>(data);
  for (std::size_t at = 0; at < n || at == 0; at += kPiece) {
    const int len = static_cast<int>(std::min(kPiece, n - at));
    check(MPI_Recv(p ? p + at : nullptr, len, MPI_BYTE, source, tag, comm.get(), MPI_STATUS_IGNORE), "MPI_Recv");
    if (n == 0) break;
  }
}

std::string broadcast_string(const Comm& comm, std::string text) {
  long long size = static_cast<long long>(text.size());
  check(MPI_Bcast(&size, 1, MPI_LONG_LONG, 0, comm.get()), "MPI_Bcast");
  text.resize(std::size_t(size));
  if (size > 0) check(MPI_Bcast(text.data(), int(size), MPI_CHAR, 0, comm.get()), "MPI_Bcast");
  return text;
}

void collective_try(const Comm& comm, const std::function<void()>& fn) {
  // 0 = fine, 1 = input error, 2 = other error, 3 = interrupted (code = signal)
  int kind = 0, code = 0;
  std::string message;
  try {
    fn();
  } catch (const Interrupted& e) {
    kind = 3;
    code = e.signal();
  } catch (const InputError& e) {
    kind = 1;
    message = e.what();
  } catch (const std::exception& e) {
    kind = 2;
    message = e.what();
  }
  const int size = comm.size();
  const int me = comm.rank();
  int failing = kind != 0 ? me : size;
  int first = size;
  check(MPI_Allreduce(&failing, &first, 1, MPI_INT, MPI_MIN, comm.get()), "MPI_Allreduce");
  if (first == size) return;
  int header[3] = {kind, static_cast<int>(message.size()), code};
  check(MPI_Bcast(header, 3, MPI_INT, first, comm.get()), "MPI_Bcast");
  message.resize(header[1]);
  check(MPI_Bcast(message.data(), header[1], MPI_CHAR, first, comm.get()), "MPI_Bcast");
  if (header[0] == 3) throw Interrupted(header[2]);
  if (header[0] == 1) throw InputError(message);
  throw RunError(message);
}

}  // namespace fedhpc::mpi

namespace fedhpc::mpi {

Comm Comm::self() { return Comm(MPI_COMM_SELF, false); }

int count_of(std::size_t n, const char* what) {
  if (n > std::size_t(std::numeric_limits<int>::max()))
    throw RunError(std::string(what) + ": " + std::to_string(n) +
                   " elements exceed MPI's int count; use more ranks or a smaller model");
  return static_cast<int>(n);
}

std::vector<std::size_t> displacements(const std::vector<std::size_t>& counts) {
  std::vector<std::size_t> displs(counts.size(), 0);
  for (std::size_t i = 1; i < counts.size(); ++i) displs[i] = displs[i - 1] + counts[i - 1];
  return displs;
}

namespace {

MPI_Op op_of(Op op) {
  switch (op) {
    case Op::Sum: return MPI_SUM;
    case Op::Max: return MPI_MAX;
    case Op::Min: return MPI_MIN;
  }
  return MPI_SUM;
}

std::vector<int> counts_of(const std::vector<std::size_t>& v, const char* what) {
  std::vector<int> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = count_of(v[i], what);
  return out;
}

void check_ranks(const Comm& comm, const std::vector<std::size_t>& v, const char* what) {
  if (v.size() != std::size_t(comm.size()))
    throw std::logic_error(std::string(what) + ": one count per rank expected");
}

}  // namespace

namespace detail {

void all_reduce(const Comm& comm, void* data, std::size_t n, MPI_Datatype type, Op op, const char* what) {
  check(MPI_Allreduce(MPI_IN_PLACE, data, count_of(n, what), type, op_of(op), comm.get()), what);
}

void all_gatherv(const Comm& comm, const void* mine, std::size_t n, void* out, const std::vector<std::size_t>& counts,
                 const std::vector<std::size_t>& displs, MPI_Datatype type, const char* what) {
  check_ranks(comm, counts, what);
  check_ranks(comm, displs, what);
  if (n != counts[std::size_t(comm.rank())]) throw std::logic_error(std::string(what) + ": my count differs");
  const auto c = counts_of(counts, what), d = counts_of(displs, what);
  check(MPI_Allgatherv(mine, count_of(n, what), type, out, c.data(), d.data(), type, comm.get()), what);
}

void all_to_allv(const Comm& comm, const void* send, const std::vector<std::size_t>& send_counts,
                 const std::vector<std::size_t>& send_displs, void* recv, const std::vector<std::size_t>& recv_counts,
                 const std::vector<std::size_t>& recv_displs, MPI_Datatype type, const char* what) {
  for (const auto* v : {&send_counts, &send_displs, &recv_counts, &recv_displs}) check_ranks(comm, *v, what);
  const auto sc = counts_of(send_counts, what), sd = counts_of(send_displs, what);
  const auto rc = counts_of(recv_counts, what), rd = counts_of(recv_displs, what);
  check(MPI_Alltoallv(send, sc.data(), sd.data(), type, recv, rc.data(), rd.data(), type, comm.get()), what);
}

void broadcast(const Comm& comm, void* data, std::size_t n, MPI_Datatype type, int root, const char* what) {
  check(MPI_Bcast(data, count_of(n, what), type, root, comm.get()), what);
}

}  // namespace detail

}  // namespace fedhpc::mpi
