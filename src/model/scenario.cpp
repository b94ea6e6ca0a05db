#include "fedhpc/model/scenario.hpp"

#include <charconv>
#include <cmath>
#include <sstream>

#include "fedhpc/core/error.hpp"

namespace fedhpc::model {

namespace {

ScenarioSettings scenario_defaults(const std::string& name) {
  ScenarioSettings s;
  if (name == "baseline") {
    s.activation = Activation::LeakyRelu;
    s.clip_norm = 1.0;
  } else if (name == "exploding") {
    s.activation = Activation::Relu;
    s.conv_init = {false, 8.0, 10.0, true};
  } else if (name == "vanishing") {
    s.activation = Activation::Tanh;
    s.conv_init = {false, 4.0, 7.0, true};
  } else {
    throw InputError("--scenario: unknown value '" + name + "'; allowed: baseline|exploding|vanishing");
  }
  return s;
}

Activation parse_activation(const std::string& text) {
  if (text == "relu") return Activation::Relu;
  if (text == "leaky-relu") return Activation::LeakyRelu;
  if (text == "tanh") return Activation::Tanh;
  throw InputError("--activation: unknown value '" + text + "'; allowed: scenario|relu|leaky-relu|tanh");
}

InitSpec parse_init(const std::string& text) {
  if (text == "glorot") return {};
  const std::string bad = "--conv-init: bad value '" + text + "'; allowed: scenario|glorot|uniform:LOW:HIGH";
  if (text.rfind("uniform:", 0) != 0) throw InputError(bad);
  std::istringstream in(text.substr(8));
  InitSpec spec{false, 0.0, 0.0};
  char colon = 0;
  if (!(in >> spec.low >> colon >> spec.high) || colon != ':' || !in.eof() || !(spec.low < spec.high))
    throw InputError(bad + " with LOW < HIGH");
  return spec;
}

void apply_bias_init(const std::string& text, InitSpec& init) {
  if (text == "scenario") return;
  if (text == "zero") {
    init.bias = false;
  } else if (text == "uniform") {
    if (init.glorot)
      throw InputError("--conv-bias-init: 'uniform' draws from the --conv-init range, so it needs "
                       "--conv-init uniform:LOW:HIGH (or scenario exploding|vanishing)");
    init.bias = true;
  } else {
    throw InputError("--conv-bias-init: unknown value '" + text + "'; allowed: scenario|zero|uniform");
  }
}

double parse_clip(const std::string& text) {
  try {
    std::size_t used = 0;
    double value = std::stod(text, &used);
    if (used == text.size() && value >= 0.0 && std::isfinite(value)) return value;
  } catch (const std::exception&) {
  }
  throw InputError("--clip-norm: bad value '" + text + "'; allowed: scenario or a number >= 0");
}

// Shortest text that parses back to the same double: the resolved values are
// stored in the run's config, which must reproduce the run.
std::string shortest(double value) {
  char buf[64];
  return std::string(buf, std::to_chars(buf, buf + sizeof buf, value).ptr);
}

}  // namespace

ScenarioSettings resolve_scenario(const ScenarioOptions& options) {
  ScenarioSettings s = scenario_defaults(options.scenario);
  if (options.activation != "scenario") s.activation = parse_activation(options.activation);
  if (options.conv_init != "scenario") {
    const bool bias = s.conv_init.bias;
    s.conv_init = parse_init(options.conv_init);
    s.conv_init.bias = bias && !s.conv_init.glorot;
  }
  apply_bias_init(options.conv_bias_init, s.conv_init);
  if (options.clip_norm != "scenario") s.clip_norm = parse_clip(options.clip_norm);
  return s;
}

std::string to_string(Activation activation) {
  switch (activation) {
    case Activation::Relu: return "relu";
    case Activation::LeakyRelu: return "leaky-relu";
    case Activation::Tanh: return "tanh";
  }
  return "?";
}

std::string to_string(const InitSpec& init) {
  if (init.glorot) return "glorot";
  return "uniform:" + shortest(init.low) + ":" + shortest(init.high);
}

std::string bias_init_name(const InitSpec& init) { return init.bias ? "uniform" : "zero"; }

std::string format_clip_norm(double clip_norm) { return shortest(clip_norm); }

}  // namespace fedhpc::model
