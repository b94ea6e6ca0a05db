#include "fedhpc/core/policies.hpp"

#include "fedhpc/core/error.hpp"

namespace fedhpc {

NonFinitePolicy parse_nonfinite_policy(const std::string& text) {
  if (text == "skip") return NonFinitePolicy::Skip;
  if (text == "keep") return NonFinitePolicy::Keep;
  if (text == "abort") return NonFinitePolicy::Abort;
  throw InputError("--on-nonfinite: unknown value '" + text + "'; allowed: skip|keep|abort");
}

MonitorMode parse_monitor_mode(const std::string& text) {
  if (text == "off") return MonitorMode::Off;
  if (text == "every") return MonitorMode::Every;
  if (text == "last") return MonitorMode::Last;
  throw InputError("--monitor: unknown value '" + text + "'; allowed: off|every|last");
}

std::string to_string(NonFinitePolicy policy) {
  switch (policy) {
    case NonFinitePolicy::Skip: return "skip";
    case NonFinitePolicy::Keep: return "keep";
    case NonFinitePolicy::Abort: return "abort";
  }
  return "?";
}

std::string to_string(MonitorMode mode) {
  switch (mode) {
    case MonitorMode::Off: return "off";
    case MonitorMode::Every: return "every";
    case MonitorMode::Last: return "last";
  }
  return "?";
}

}  // namespace fedhpc
