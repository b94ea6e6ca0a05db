#pragma once

namespace fedhpc {

// The x86-64 vector extensions of the CPU this process runs on, for kernels
// that are compiled once per instruction set and picked at run time
// (core/exact_sum.cpp, model/conv_pool.cpp). Detected once; all false on
// other architectures and compilers.
struct CpuFeatures {
  bool avx2 = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512dq = false;
};
const CpuFeatures& cpu_features();

}  // namespace fedhpc
