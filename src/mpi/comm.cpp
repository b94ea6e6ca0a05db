#include "fedhpc/mpi/comm.hpp"

#include <vector>

#include "fedhpc/core/error.hpp"

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

void collective_try(const Comm& comm, const std::function<void()>& fn) {
  // 0 = fine, 1 = input error, 2 = other error
  int kind = 0;
  std::string message;
  try {
    fn();
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
  int header[2] = {kind, static_cast<int>(message.size())};
  check(MPI_Bcast(header, 2, MPI_INT, first, comm.get()), "MPI_Bcast");
  message.resize(header[1]);
  check(MPI_Bcast(message.data(), header[1], MPI_CHAR, first, comm.get()), "MPI_Bcast");
  if (header[0] == 1) throw InputError(message);
  throw RunError(message);
}

}  // namespace fedhpc::mpi
