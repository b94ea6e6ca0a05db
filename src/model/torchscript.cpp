#include "fedhpc/model/torchscript.hpp"

#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/script.h>

#include <fstream>
#include <limits>
#include <sstream>

#include "fedhpc/core/error.hpp"
#include "fedhpc/model/model.hpp"

namespace fedhpc::model {
namespace {

// TorchScript errors carry the script's traceback over many lines; the
// last non-empty one says what went wrong.
std::string last_line(const std::string& text) {
  std::istringstream in(text);
  std::string line, last;
  while (std::getline(in, line))
    if (line.find_first_not_of(" \t\r") != std::string::npos) last = line;
  return last.empty() ? text : last;
}

// c10::Error's what() ends with a C++ backtrace; its message comes without.
std::string message_of(const std::exception& e) {
  const auto* torch_error = dynamic_cast<const c10::Error*>(&e);
  return last_line(torch_error ? torch_error->what_without_backtrace() : e.what());
}

std::string shape_text(at::IntArrayRef shape) {
  std::string s = "[";
  for (std::size_t d = 0; d < shape.size(); ++d) s += (d ? ", " : "") + std::to_string(shape[d]);
  return s + "]";
}

// A parameter's slot: the (sub)module that owns it and its own name there.
struct Slot {
  torch::jit::Module owner;
  std::string leaf;
};

class TorchScriptModel : public Model {
 public:
  explicit TorchScriptModel(const ModelOptions& o) : Model(o), where_("--model " + o.name) {
    const std::string path = o.name.substr(std::string(kTorchScriptPrefix).size());
    if (path.empty()) throw InputError(where_ + ": name a file (torchscript:FILE.pt)");
    if (!std::ifstream(path)) throw InputError(where_ + ": cannot open the file");
    // The optimizing executor specialises (and may fuse) the graph after a
    // few profiled calls, so a client's bits could depend on how often its
    // rank had run the model before; the plain interpreter cannot.
    torch::jit::setGraphExecutorOptimize(false);
    try {
      module_ = torch::jit::load(path);
    } catch (const std::exception& e) {
      throw InputError(where_ + ": not a TorchScript archive (" + message_of(e) + ")");
    }
    // Dropout and batch-norm statistics updates would draw from or write
    // to state outside the flat buffer: the module runs in eval mode.
    module_.eval();
    read_parameters();
    check_forward();
  }

  // Each module parameter becomes the given tensor (a view into the flat
  // buffer), so autograd reaches the flat gradient buffer as for the
  // built-in models. No layer taps: the module's intermediate values are
  // not reachable generically (the GSC itself uses only x's gradient).
  at::Tensor forward(const std::vector<at::Tensor>& p, const at::Tensor& x,
                     std::vector<at::Tensor>* /*taps*/) const override {
    for (std::size_t i = 0; i < slots_.size(); ++i) slots_[i].owner.setattr(slots_[i].leaf, p[i]);
    return module_.forward({x}).toTensor();
  }

  // The module's own saved values; the run's seed does not change them.
  void initialize(float* flat, Rng& /*rng*/) const override {
    const auto& layers = layout_.layers();
    for (std::size_t i = 0; i < layers.size(); ++i)
      std::copy_n(initial_[i].data_ptr<float>(), layers[i].size, flat + layers[i].offset);
  }

 private:
  void read_parameters() {
    for (const auto& named : module_.named_parameters(/*recurse=*/true)) {
      const at::Tensor& t = named.value;
      if (t.scalar_type() != at::kFloat)
        throw InputError(where_ + ": parameter " + named.name + " is " + std::string(c10::toString(t.scalar_type())) +
                         ", not float32 (export the module after .float())");
      // Matrices and kernels are weights (monitored per layer); vectors are
      // biases and normalisation parameters, as in the built-in models.
      layout_.add(named.name, t.sizes().vec(), t.dim() >= 2);
      initial_.push_back(t.detach().contiguous().clone());
      slots_.push_back(slot_of(named.name));
    }
    if (initial_.empty()) throw InputError(where_ + ": the module has no parameters to train");
  }

  Slot slot_of(const std::string& name) const {
    Slot s{module_, name};
    for (auto dot = s.leaf.find('.'); dot != std::string::npos; dot = s.leaf.find('.')) {
      s.owner = s.owner.attr(s.leaf.substr(0, dot)).toModule();
      s.leaf = s.leaf.substr(dot + 1);
    }
    return s;
  }

  // One batch of two samples of the dataset's shape must give [2, classes].
  void check_forward() const {
    const auto x = at::zeros({2, options_.channels, options_.height, options_.width}, at::kFloat);
    const std::string input = "on a " + shape_text(x.sizes()) + " batch";
    at::Tensor out;
    try {
      at::NoGradGuard no_grad;
      out = forward(initial_, x, nullptr);
    } catch (const std::exception& e) {
      throw InputError(where_ + ": forward failed " + input + " (" + message_of(e) + ")");
    }
    if (out.dim() != 2 || out.size(0) != 2 || out.size(1) != options_.classes)
      throw InputError(where_ + ": forward " + input + " gave " + shape_text(out.sizes()) + ", not [2, " +
                       std::to_string(options_.classes) + "] logits");
  }

  std::string where_;
  mutable torch::jit::Module module_;
  std::vector<at::Tensor> initial_;
  mutable std::vector<Slot> slots_;  // setattr is not const; the module is a handle
};

}  // namespace

std::unique_ptr<Model> load_torchscript_model(const ModelOptions& options) {
  return std::make_unique<TorchScriptModel>(options);
}

}  // namespace fedhpc::model
