#include "fedhpc/core/test_kill.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace fedhpc {

namespace {

struct KillAt {
  bool set = false;
  int round = 0;
  std::string phase;
  int rank = 0;
  int signal = SIGKILL;
};

// ROUND:PHASE[:RANK[:SIGNAL]]; anything unparsable disables the hook.
KillAt parse_kill_at() {
  KillAt k;
  const char* text = std::getenv("FEDHPC_TEST_KILL_AT");
  if (!text) return k;
  const std::string s = text;
  const auto a = s.find(':');
  if (a == std::string::npos) return k;
  const auto b = s.find(':', a + 1);
  try {
    k.round = std::stoi(s.substr(0, a));
    k.phase = s.substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1);
    const auto c = b == std::string::npos ? b : s.find(':', b + 1);
    if (b != std::string::npos) k.rank = std::stoi(s.substr(b + 1, c == std::string::npos ? c : c - b - 1));
    if (c != std::string::npos) {
      const auto name = s.substr(c + 1);
      if (name == "TERM") k.signal = SIGTERM;
      else if (name == "USR1") k.signal = SIGUSR1;
      else if (name == "INT") k.signal = SIGINT;
      else if (name != "KILL") return KillAt{};
    }
  } catch (const std::exception&) {
    return k;
  }
  k.set = true;
  return k;
}

}  // namespace

void kill_point(int round, const char* phase, int rank) {
  static const KillAt at = parse_kill_at();
  if (!at.set || at.round != round || at.rank != rank || at.phase != phase) return;
  ::kill(::getpid(), at.signal);
}

}  // namespace fedhpc
