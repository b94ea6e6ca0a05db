#pragma once
#include <string>


namespace fedhpc::model {

enum class Activation { Relu, LeakyRelu, Tanh };

// How the weights of the activation-carrying layers start (the conv layers
// of seed-cnn, the hidden layer of mlp). Other weights are Glorot-uniform.
struct InitSpec {
  bool glorot = true;
  double low = 0.0;
  double high = 0.0;
  bool bias = false;  // the layers' biases too start U(low, high), else 0
};

// --scenario and the options that override it ("scenario" = its value).
struct ScenarioOptions {
  std::string scenario = "baseline";
  std::string activation = "scenario";
  std::string conv_init = "scenario";
  std::string conv_bias_init = "scenario";
  std::string clip_norm = "scenario";
};

// What a --scenario sets, after explicit options have overridden it.
struct ScenarioSettings {
  Activation activation = Activation::LeakyRelu;
  InitSpec conv_init;
  double clip_norm = 0.0;  // 0 = no clipping
};

// baseline: leaky-relu, Glorot, clip 1; exploding: relu, U(8,10), no clip;
// vanishing: tanh, U(4,7), no clip (GSC paper, section 7.1). The paper's
// "weights of the convolutional layers" is read as Keras's layer weights,
// kernel and bias; --conv-bias-init zero gives the kernel-only reading.
ScenarioSettings resolve_scenario(const ScenarioOptions& options);

std::string to_string(Activation activation);
std::string to_string(const InitSpec& init);
std::string bias_init_name(const InitSpec& init);
std::string format_clip_norm(double clip_norm);

}  // namespace fedhpc::model
