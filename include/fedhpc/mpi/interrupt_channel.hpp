#pragma once
#include "fedhpc/mpi/comm.hpp"

namespace fedhpc::mpi {

// Spreads a signal that reached one rank to every rank of comm while they
// are still busy, so a rank deep in a long local training notices at its
// next step instead of at the next collective. Every rank keeps one receive
// posted; a rank that sees its own signal sends it to all the others once.
// While the channel lives, fedhpc::throw_if_interrupted() polls it.
// Construction is collective; destruction is local.
class InterruptChannel {
 public:
  explicit InterruptChannel(const Comm& comm);
  ~InterruptChannel();
  InterruptChannel(const InterruptChannel&) = delete;
  InterruptChannel& operator=(const InterruptChannel&) = delete;

 private:
  static int poll(int own_signal, void* self);
  int poll(int own_signal);

  Comm comm_;
  MPI_Request incoming_ = MPI_REQUEST_NULL;
  int received_ = 0;      // the signal another rank sent
  int buffer_ = 0;        // target of the posted receive
  int announced_ = 0;     // the own signal already sent
};

}  // namespace fedhpc::mpi
