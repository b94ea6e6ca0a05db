#include "fedhpc/core/interrupt.hpp"

#include <csignal>
#include <cstring>

namespace fedhpc {

namespace {

volatile std::sig_atomic_t g_signal = 0;

extern "C" void record_signal(int signal) {
  // The first signal wins; a second one does not change what is reported.
  if (g_signal == 0) g_signal = signal;
}

}  // namespace

Interrupted::Interrupted(int signal, const std::string& detail)
    : RunError("interrupted by " + signal_name(signal) + detail), signal_(signal) {}

void install_interrupt_handlers() {
  struct sigaction action;
  std::memset(&action, 0, sizeof action);
  action.sa_handler = record_signal;
  sigemptyset(&action.sa_mask);
  // SA_RESTART: a signal must not make MPI or HDF5 system calls fail with EINTR.
  action.sa_flags = SA_RESTART;
  for (int s : {SIGINT, SIGTERM, SIGUSR1}) sigaction(s, &action, nullptr);
  std::signal(SIGXFSZ, SIG_IGN);
}

int pending_interrupt() { return g_signal; }

void throw_if_interrupted() {
  if (const int s = g_signal) throw Interrupted(s);
}

std::string signal_name(int signal) {
  switch (signal) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGUSR1: return "SIGUSR1";
    default: return "signal " + std::to_string(signal);
  }
}

}  // namespace fedhpc
