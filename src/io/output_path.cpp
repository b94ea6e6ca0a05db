#include "fedhpc/io/output_path.hpp"

#include <fcntl.h>
#include <limits.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "fedhpc/core/error.hpp"

namespace fedhpc::io {

namespace {

const std::string kPartial = ".partial";

[[noreturn]] void refuse(const std::string& message) { throw InputError("--output: " + message); }

std::string directory_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string base_name(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Long paths are shown by their two ends, so the message stays one short line.
std::string shown(const std::string& path) {
  if (path.size() <= 100) return path;
  return path.substr(0, 40) + "..." + path.substr(path.size() - 40);
}

std::string quote_text(const std::string& text) { return "'" + shown(text) + "'"; }

bool same_file(const struct stat& a, const std::string& other) {
  struct stat b;
  return ::stat(other.c_str(), &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

void check_length(const std::string& output) {
  if (output.size() + kPartial.size() + 1 >= PATH_MAX)
    refuse("the path is " + std::to_string(output.size()) + " characters; at most " +
           std::to_string(PATH_MAX - kPartial.size() - 2) + " allowed");
  const auto name = base_name(output);
  if (name.size() + kPartial.size() > NAME_MAX)
    refuse("the file name '" + shown(name) + "' is " + std::to_string(name.size()) + " characters; at most " +
           std::to_string(NAME_MAX - kPartial.size()) + " allowed (the run also writes NAME" + kPartial + ")");
}

void check_existing(const std::string& output, bool overwrite, const std::vector<std::string>& inputs) {
  struct stat info;
  if (::stat(output.c_str(), &info) != 0) return;
  if (S_ISDIR(info.st_mode)) refuse(shown(output) + " is a directory; name a file (e.g. " + shown(output) + "/run.h5)");
  if (!S_ISREG(info.st_mode)) refuse(shown(output) + " is not a regular file (a device, pipe or socket); name a file");
  for (const auto& input : inputs)
    if (!input.empty() && same_file(info, input))
      refuse(shown(output) + " is also an input of this run (" + shown(input) + "); name another file");
  if (!overwrite) refuse(shown(output) + " exists; pass --overwrite to replace it");
}

bool is_directory(const std::string& path) {
  struct stat info;
  return ::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

// Only the last folder is made: a typo higher up stays an error instead of
// silently growing a tree somewhere unexpected.
void make_last_folder(const std::string& dir) {
  struct stat info;
  if (::stat(dir.c_str(), &info) == 0) {
    if (!S_ISDIR(info.st_mode)) refuse(shown(dir) + " is not a directory");
    return;
  }
  const std::string parent = directory_of(dir);
  if (!is_directory(parent))
    refuse("directory " + shown(dir) + " does not exist, nor does its parent " + shown(parent) +
           " (only the last folder is created)");
  if (::mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST)
    refuse("cannot create directory " + shown(dir) + ": " + std::strerror(errno));
}

void check_directory(const std::string& output) {
  const std::string dir = directory_of(output);
  make_last_folder(dir);
  if (!is_directory(dir)) refuse(shown(dir) + " is not a directory");
  if (::access(dir.c_str(), W_OK) != 0) refuse("directory " + shown(dir) + " is not writable");
}

// A .partial left by a run that was killed or failed beside an earlier result
// holds rounds nobody else has: replacing it takes --overwrite too.
void check_partial(const std::string& output, bool overwrite) {
  const auto partial = partial_path(output);
  struct stat info;
  if (::stat(partial.c_str(), &info) != 0) return;
  if (!S_ISREG(info.st_mode)) refuse(shown(partial) + " exists and is not a regular file; remove it");
  if (!overwrite)
    refuse(shown(partial) + " holds an unfinished run (killed, failed or still going); pass --overwrite to replace it");
}

const std::vector<std::string> kShortcuts = {"seed", "topology", "aggregator"};

std::string placeholder_help() {
  return "allowed: {seed}, {topology}, {aggregator}, {job}, {task}, {opt:NAME} (NAME a run option)";
}

// Slurm's ids, the same on every rank of a job: {job} is the array's job id
// for an array task (so all tasks of one array share it), else the job id;
// outside Slurm "local". {task} is the array task id, else "0".
std::string slurm_value(const std::string& name) {
  const auto env = [](const char* key) -> std::string {
    const char* v = std::getenv(key);
    return v && *v ? v : "";
  };
  if (name == "job") {
    for (const char* key : {"SLURM_ARRAY_JOB_ID", "SLURM_JOB_ID"})
      if (!env(key).empty()) return env(key);
    return "local";
  }
  const auto task = env("SLURM_ARRAY_TASK_ID");
  return task.empty() ? "0" : task;
}

std::string sanitized(std::string value) {
  for (auto& c : value)
    if (c == '/' || c == '{' || c == '}') c = '_';
  return value;
}

// The text for one placeholder's name (what stands between the braces).
std::string substitute(const std::string& name, const OptionLookup& value) {
  if (name == "job" || name == "task") return sanitized(slurm_value(name));
  const std::string option = name.rfind("opt:", 0) == 0 ? name.substr(4) : name;
  const bool known_form = option != name || std::count(kShortcuts.begin(), kShortcuts.end(), name) > 0;
  const auto text = known_form && option != "output" ? value(option) : std::nullopt;
  if (!text) refuse("unknown placeholder " + quote_text("{" + name + "}") + "; " + placeholder_help());
  return sanitized(*text);
}

}  // namespace

std::string expand_output(const std::string& pattern, const OptionLookup& value) {
  std::string out;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '}') refuse("'}' without '{' in " + quote_text(pattern) + "; " + placeholder_help());
    if (pattern[i] != '{') {
      out += pattern[i];
      continue;
    }
    const auto end = pattern.find_first_of("{}", i + 1);
    if (end == std::string::npos || pattern[end] != '}')
      refuse("unclosed '{' in " + quote_text(pattern) + "; " + placeholder_help());
    out += substitute(pattern.substr(i + 1, end - i - 1), value);
    i = end;
  }
  return out;
}

std::string partial_path(const std::string& output) { return output + kPartial; }

void check_output_path(const std::string& output, bool overwrite, const std::vector<std::string>& inputs) {
  if (output.empty() || output.back() == '/') refuse("'" + shown(output) + "' does not name a file");
  check_length(output);
  check_existing(output, overwrite, inputs);
  check_directory(output);
  check_partial(output, overwrite);
}

std::uint64_t free_bytes(const std::string& output) {
  struct statvfs fs;
  if (::statvfs(directory_of(output).c_str(), &fs) != 0) return UINT64_MAX;
  return std::uint64_t(fs.f_bavail) * std::uint64_t(fs.f_frsize);
}

OutputLock::OutputLock(const std::string& output) : path_(output + ".lock") {
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) refuse("cannot create the lock file " + shown(path_) + ": " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    char owner[128] = {0};
    const auto n = ::pread(fd_, owner, sizeof owner - 1, 0);
    ::close(fd_);
    fd_ = -1;
    std::string who = n > 0 ? std::string(owner, std::size_t(n)) : "";
    while (!who.empty() && (who.back() == '\n' || who.back() == ' ')) who.pop_back();
    refuse(shown(output) + " is in use by another fedhpc run" + (who.empty() ? "" : " (" + who + ")") +
           "; wait for it or choose another output");
  }
  char host[64] = {0};
  ::gethostname(host, sizeof host - 1);
  const std::string me = "pid " + std::to_string(::getpid()) + " on " + host + "\n";
  if (::ftruncate(fd_, 0) == 0 && ::pwrite(fd_, me.data(), me.size(), 0) < 0) {
    // The owner's name is only a courtesy for the message above.
  }
}

OutputLock::~OutputLock() {
  if (fd_ < 0) return;
  // Unlink while still holding the lock, so no other run can take this
  // inode's lock and believe it owns the path.
  ::unlink(path_.c_str());
  ::close(fd_);
}

std::string publish(const std::string& output, bool complete) {
  const auto partial = partial_path(output);
  struct stat info;
  if (!complete && ::stat(output.c_str(), &info) == 0) return partial;
  if (::rename(partial.c_str(), output.c_str()) != 0)
    throw RunError("cannot move " + shown(partial) + " to " + shown(output) + ": " + std::strerror(errno));
  return output;
}

}  // namespace fedhpc::io
