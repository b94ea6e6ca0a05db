#pragma once
#include <string>

namespace fedhpc {

// --on-nonfinite: what happens to a client whose loss, gradients or
// parameters stop being finite.
enum class NonFinitePolicy { Skip, Keep, Abort };
// --monitor: after which local iterations the diagnostics run.
enum class MonitorMode { Off, Every, Last };

// Both throw InputError naming the option and the allowed values.
NonFinitePolicy parse_nonfinite_policy(const std::string& text);
MonitorMode parse_monitor_mode(const std::string& text);
std::string to_string(NonFinitePolicy policy);
std::string to_string(MonitorMode mode);

// Monitored iterations per round: I (every), 1 (last), 0 (off).
inline int monitored_iterations(MonitorMode mode, int local_iterations) {
  return mode == MonitorMode::Every ? local_iterations : (mode == MonitorMode::Last ? 1 : 0);
}

}  // namespace fedhpc
