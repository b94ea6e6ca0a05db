#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace fedhpc::io {

// A run writes OUTPUT.partial while it goes and moves it into place at the
// end (see publish), so a run that fails never destroys an earlier result.
std::string partial_path(const std::string& output);

// The value of a run option by name, as the INI dump writes it; nullopt for
// a name that is no option.
using OptionLookup = std::function<std::optional<std::string>(const std::string& name)>;

// Expands the placeholders of an --output template, so a sweep names its
// files from their options: {seed}, {topology} and {aggregator} are short for
// {opt:seed}, {opt:topology} and {opt:aggregator}; {opt:NAME} is any option's
// value. A substituted '/', '{' or '}' becomes '_', so a value never adds a
// folder level and the result expands to itself. Throws InputError naming
// --output for an unknown placeholder or an unclosed '{'.
std::string expand_output(const std::string& pattern, const OptionLookup& value);

// Checks --output before anything is written; throws InputError naming
// --output. `inputs` are the files the run reads (config, dataset files):
// the output may not be one of them. The output's folder is created when it
// is missing but its parent exists (one level, as a sweep's results/NAME/).
// Call on one rank.
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
