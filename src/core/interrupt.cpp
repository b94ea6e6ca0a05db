#include "fedhpc/core/interrupt.hpp"

#include <csignal>
#include <cstring>

namespace fedhpc {

namespace {

volatile std::sig_atomic_t g_signal = 0;
InterruptPoll g_poll = nullptr;
void* g_poll_context = nullptr;

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

void set_interrupt_poll(InterruptPoll poll, void* context) {
  g_poll = poll;
  g_poll_context = context;
}

int pending_interrupt() { return g_poll ? g_poll(g_signal, g_poll_context) : int(g_signal); }

void throw_if_interrupted() {
  if (const int s = pending_interrupt()) throw Interrupted(s);
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
