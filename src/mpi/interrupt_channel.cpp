#include "fedhpc/mpi/interrupt_channel.hpp"

#include "fedhpc/core/interrupt.hpp"

namespace fedhpc::mpi {

namespace {
constexpr int kTag = 7301;
}

InterruptChannel::InterruptChannel(const Comm& comm) {
  // A private communicator: these messages can never meet the run's own.
  MPI_Comm dup = MPI_COMM_NULL;
  check(MPI_Comm_dup(comm.get(), &dup), "MPI_Comm_dup");
  comm_ = Comm::view(dup);
  if (comm_.size() > 1)
    check(MPI_Irecv(&buffer_, 1, MPI_INT, MPI_ANY_SOURCE, kTag, comm_.get(), &incoming_), "MPI_Irecv");
  set_interrupt_poll(&InterruptChannel::poll, this);
}

InterruptChannel::~InterruptChannel() {
  set_interrupt_poll(nullptr, nullptr);
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  // Local steps only (no barrier): the destructor may run on one rank while
  // an error unwinds, and must not wait for the others.
  if (incoming_ != MPI_REQUEST_NULL) {
    MPI_Cancel(&incoming_);
    MPI_Wait(&incoming_, MPI_STATUS_IGNORE);
  }
  // Announcements that arrived after the first are dropped.
  for (int flag = 1; flag;) {
    MPI_Status status;
    MPI_Iprobe(MPI_ANY_SOURCE, kTag, comm_.get(), &flag, &status);
    int dropped = 0;
    if (flag) MPI_Recv(&dropped, 1, MPI_INT, status.MPI_SOURCE, kTag, comm_.get(), MPI_STATUS_IGNORE);
  }
  MPI_Comm c = comm_.get();
  MPI_Comm_free(&c);
}

int InterruptChannel::poll(int own_signal, void* self) {
  return static_cast<InterruptChannel*>(self)->poll(own_signal);
}

int InterruptChannel::poll(int own_signal) {
  if (own_signal != 0 && announced_ == 0) {
    announced_ = own_signal;
    for (int r = 0; r < comm_.size(); ++r) {
      if (r == comm_.rank()) continue;
      // A one-int message goes out eagerly; nobody needs to wait for it.
      MPI_Request request;
      if (MPI_Isend(&announced_, 1, MPI_INT, r, kTag, comm_.get(), &request) == MPI_SUCCESS)
        MPI_Request_free(&request);
    }
  }
  if (own_signal != 0) return own_signal;
  if (received_ == 0 && incoming_ != MPI_REQUEST_NULL) {
    int done = 0;
    MPI_Test(&incoming_, &done, MPI_STATUS_IGNORE);
    if (done) received_ = buffer_;
  }
  return received_;
}

}  // namespace fedhpc::mpi
