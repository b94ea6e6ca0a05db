#pragma once
#include <string>

namespace fedhpc {

// The BLAS library this process really calls (LibTorch's GEMMs go through
// whatever libblas.so.3 the dynamic linker found: Debian's alternatives or
// LD_LIBRARY_PATH). Weights differ in the last bits between BLAS libraries,
// so the run's output records it. Found at run time with dlsym/dladdr on
// `sgemm_`, so the binary runs on any BLAS.
struct BlasInfo {
  enum class Kind { OpenBlas, Reference, Other, None };
  Kind kind = Kind::None;
  std::string path;         // the real file that defines sgemm_ (symlinks resolved)
  std::string description;  // one line: name, version/config, path
};

// Detected once per process; cheap afterwards.
const BlasInfo& blas_info();

// Sets the BLAS's own thread count where the library has one (OpenBLAS:
// `openblas_set_num_threads`; the pthread build ignores OpenMP's setting).
// Returns false when the active BLAS has no such call (reference BLAS).
bool set_blas_threads(int threads);

// The one-line warning for the reference BLAS (how to switch), or "" when
// another BLAS is active.
std::string reference_blas_warning(const BlasInfo& info);

}  // namespace fedhpc
