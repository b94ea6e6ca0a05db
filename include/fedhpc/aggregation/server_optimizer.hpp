#pragma once
#include <cstdint>
// Placeholder until the server-optimizer branch lands.
namespace fedhpc::aggregation {
class ServerOptimizer {
 public:
  virtual ~ServerOptimizer() = default;
  virtual void step(float* global, const float* aggregate, std::int64_t n) = 0;
};
}  // namespace fedhpc::aggregation
