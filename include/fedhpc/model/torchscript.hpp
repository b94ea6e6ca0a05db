#pragma once
// No torch here: the option parser only needs to recognise the name.
#include <memory>
#include <string>

namespace fedhpc::model {

class Model;
struct ModelOptions;

// --model torchscript:FILE.pt: a module saved with torch.jit.script or
// torch.jit.trace. Its named_parameters (in that order) are the flat
// buffer's tensors; its saved values are the initial model.
inline constexpr const char* kTorchScriptPrefix = "torchscript:";

inline bool is_torchscript_model(const std::string& name) {
  return name.rfind(kTorchScriptPrefix, 0) == 0;
}

// Loads options.name (torchscript:FILE) and checks it on a batch of the
// dataset's sample shape; a bad file is an InputError naming --model and FILE.
std::unique_ptr<Model> load_torchscript_model(const ModelOptions& options);

}  // namespace fedhpc::model
