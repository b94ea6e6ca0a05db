#pragma once
// Test-only fault injection for checkpoint/resume tests: with the
// environment variable FEDHPC_TEST_KILL_AT=ROUND:PHASE[:RANK[:SIGNAL]], the
// process of rank RANK (default 0) sends itself SIGKILL (or SIGNAL: TERM,
// USR1, INT) when it reaches PHASE of round ROUND, as a `kill -9` (or Slurm's
// warning signal) at that exact instant would. Unset (the normal
// case) it costs one getenv on first use. Phases are named where
// kill_point is called (README, "Checkpoint and resume").

namespace fedhpc {

void kill_point(int round, const char* phase, int rank);

}  // namespace fedhpc
