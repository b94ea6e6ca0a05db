#pragma once
// Shared by the fuzz targets: a private temp dir, writing files, and the rule
// that fedhpc::InputError is an expected outcome while anything else crashes.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <typeinfo>

#include "fedhpc/core/error.hpp"

namespace fuzz {

inline const std::string& temp_dir() {
  static std::string dir = [] {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/fedhpc-fuzz-XXXXXX";
    if (!mkdtemp(pattern.data())) std::abort();
    // The cleanup runs after this string is destroyed: keep its own copy.
    static char copy[4096];
    std::snprintf(copy, sizeof copy, "rm -rf '%s'", pattern.c_str());
    std::atexit([] {
      if (std::system(copy)) {}
    });
    return pattern;
  }();
  return dir;
}

inline void write_file(const std::string& path, const void* data, std::size_t size) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
}

// Runs fn; InputError is fine, any other exception is a finding (abort).
template <class Fn>
void expect_only_input_errors(Fn&& fn) {
  try {
    fn();
  } catch (const fedhpc::InputError&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "FINDING: unexpected exception %s: %s\n", typeid(e).name(), e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "FINDING: unexpected non-std exception\n");
    std::abort();
  }
}

}  // namespace fuzz
