#include "fedhpc/cli/guarded_command.hpp"

#include <cstdio>

#include "fedhpc/core/error.hpp"
#include "fedhpc/core/interrupt.hpp"

namespace fedhpc {

int guarded_command(const mpi::Comm& comm, const char* name, const std::function<void()>& body) {
  const bool root = comm.rank() == 0;
  try {
    body();
    return 0;
  } catch (const InputError& e) {
    if (root) std::fprintf(stderr, "fedhpc: error: %s\n", e.what());
    return 2;
  } catch (const Interrupted& e) {
    if (root) std::fprintf(stderr, "fedhpc: %s\n", e.what());
    return 128 + e.signal();
  } catch (const RunError& e) {
    if (root) std::fprintf(stderr, "fedhpc: %s failed: %s\n", name, e.what());
    return 1;
  }
}

}  // namespace fedhpc
