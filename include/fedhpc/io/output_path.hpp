#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace fedhpc::io {

// A run writes OUTPUT.partial while it goes and moves it into place at the
// end (see publish), so a run that fails never destroys an earlier result.
std::string partial_path(const std::string& output);

// Checks --output before anything is written; throws InputError naming
// --output. `inputs` are the files the run reads (config, dataset files):
// the output may not be one of them. Call on one rank.
void check_output_path(const std::string& output, bool overwrite, const std::vector<std::string>& inputs);

// Bytes an unprivileged user may still write on the output's filesystem.
std::uint64_t free_bytes(const std::string& output);

// The exclusive right to write OUTPUT: flock(2) on OUTPUT.lock, held for the
// object's life (and released by the kernel if the process dies). Throws
// InputError when another process holds it.
class OutputLock {
 public:
  explicit OutputLock(const std::string& output);
  ~OutputLock();
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;

 private:
  std::string path_;
  int fd_ = -1;
};

// Moves OUTPUT.partial into place. A complete run replaces OUTPUT; a failed
// or interrupted one takes OUTPUT only when nothing is there yet, so an
// earlier result is never replaced by a worse one. Returns where the file is.
std::string publish(const std::string& output, bool complete);

}  // namespace fedhpc::io
