#include "fedhpc/core/blas_info.hpp"

#include <dlfcn.h>

#include <climits>
#include <cstdlib>

namespace fedhpc {

namespace {

std::string real_path(const char* path) {
  char buf[PATH_MAX];
  if (path && ::realpath(path, buf)) return buf;
  return path ? path : "";
}

// The file that defines `symbol` in this process's global scope, or "".
std::string defining_file(void* address) {
  Dl_info info{};
  if (!address || dladdr(address, &info) == 0 || !info.dli_fname) return "";
  return real_path(info.dli_fname);
}

// Looks `name` up in the BLAS library itself and what it links (OpenBLAS's
// libblas.so.3 is a thin front for libopenblas.so.0), not in the whole
// process: an OpenBLAS pulled in by another library (e.g. liblapack.so.3)
// must not make a reference libblas look like OpenBLAS.
void* blas_symbol(const std::string& blas_path, const char* name) {
  void* handle = dlopen(blas_path.c_str(), RTLD_LAZY | RTLD_NOLOAD);
  if (!handle) return nullptr;
  void* symbol = dlsym(handle, name);
  dlclose(handle);  // drops the reference NOLOAD took; the library stays loaded
  return symbol;
}

std::string openblas_parallel(const std::string& path) {
  using Fn = int (*)();
  auto fn = reinterpret_cast<Fn>(blas_symbol(path, "openblas_get_parallel"));
  if (!fn) return "";
  switch (fn()) {
    case 0: return "sequential";
    case 1: return "pthread";
    case 2: return "openmp";
    default: return "unknown threading";
  }
}

// Netlib's reference BLAS has no marker of its own: Debian installs it as
// .../blas/libblas.so.3; elsewhere it is a libblas.so that is none of the
// optimised libraries we know by an exported symbol.
bool is_reference(const std::string& path) {
  if (path.find("/blas/") != std::string::npos) return true;
  const auto slash = path.rfind('/');
  if (path.compare(slash == std::string::npos ? 0 : slash + 1, 9, "libblas.s") != 0) return false;
  for (const char* marker : {"bli_info_get_version_str", "MKL_Get_Version", "ATL_buildinfo"})
    if (blas_symbol(path, marker)) return false;
  return true;
}

BlasInfo detect() {
  BlasInfo info;
  info.path = defining_file(dlsym(RTLD_DEFAULT, "sgemm_"));
  if (info.path.empty()) {
    info.description = "no BLAS found (sgemm_ is not loaded)";
    return info;
  }
  using ConfigFn = const char* (*)();
  if (auto config = reinterpret_cast<ConfigFn>(blas_symbol(info.path, "openblas_get_config"))) {
    info.kind = BlasInfo::Kind::OpenBlas;
    const std::string core = defining_file(reinterpret_cast<void*>(config));
    info.description = std::string(config()) + " (" + openblas_parallel(info.path) + "; " + info.path +
                       (core != info.path ? " -> " + core : "") + ")";
  } else if (is_reference(info.path)) {
    info.kind = BlasInfo::Kind::Reference;
    info.description = "reference BLAS (" + info.path + ")";
  } else {
    info.kind = BlasInfo::Kind::Other;
    info.description = "unknown BLAS (" + info.path + ")";
  }
  return info;
}

}  // namespace

const BlasInfo& blas_info() {
  static const BlasInfo info = detect();
  return info;
}

bool set_blas_threads(int threads) {
  const auto& info = blas_info();
  if (info.kind != BlasInfo::Kind::OpenBlas) return false;
  using Fn = void (*)(int);
  auto fn = reinterpret_cast<Fn>(blas_symbol(info.path, "openblas_set_num_threads"));
  if (!fn) return false;
  fn(threads);
  return true;
}

std::string reference_blas_warning(const BlasInfo& info) {
  if (info.kind != BlasInfo::Kind::Reference) return "";
  return "fedhpc: warning: LibTorch uses the reference BLAS (" + info.path +
         "), several times slower than OpenBLAS; switch with: update-alternatives --set "
         "libblas.so.3-x86_64-linux-gnu /usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3";
}

}  // namespace fedhpc
