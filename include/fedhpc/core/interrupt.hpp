#pragma once
#include <string>

#include "fedhpc/core/error.hpp"

namespace fedhpc {

// A run stopped by SIGINT, SIGTERM or SIGUSR1 (Slurm's warning signal).
// The CLI exits with 128 + signal.
class Interrupted : public RunError {
 public:
  // detail is appended to "interrupted by SIGTERM".
  explicit Interrupted(int signal, const std::string& detail = "");
  int signal() const { return signal_; }

 private:
  int signal_;
};

// Installs handlers that only record the signal, so the run can stop at its
// next safe point (between training steps or evaluation chunks) on every
// rank together. Also ignores SIGXFSZ, so a file-size limit turns into a
// write error (EFBIG) instead of killing the rank.
void install_interrupt_handlers();

// The signal received so far by this process or, through the poll below,
// by another rank; 0 if none.
int pending_interrupt();

// Lets another layer add interruptions this process did not receive itself
// (another rank's, see mpi::InterruptChannel). poll gets this process's own
// signal (0 if none), may announce it, and returns the signal to act on.
// Pass nullptr to remove.
using InterruptPoll = int (*)(int own_signal, void* context);
void set_interrupt_poll(InterruptPoll poll, void* context);

// Throws Interrupted if pending_interrupt() is not 0. Cheap: call it between
// training steps.
void throw_if_interrupted();

// "SIGTERM", "SIGINT", ...
std::string signal_name(int signal);

}  // namespace fedhpc
