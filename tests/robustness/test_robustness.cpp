// Table-driven robustness test: every case of tests/robustness/cases.txt (the
// format is documented at the top of that file) runs as one parameterised
// gtest. Each case gets a fresh temp dir, runs its command in its own process
// group under a hard timeout (a hang fails the case, the whole group is then
// killed), and checks exit status, output and the state of output files.
//
// Rank count: FEDHPC_TEST_RANKS or --ranks N (default 2).
// Helper mode used by shell cases: test_robustness --print-attr FILE NAME
// prints the root string attribute NAME of an HDF5 file (exit 3 if unreadable).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fedhpc/io/hdf5.hpp"

namespace fs = std::filesystem;

namespace {

int g_ranks = 2;
std::string g_self;  // this executable, for --print-attr from shell cases

const char* const kBase =
    "--dataset synthetic --synthetic-train-samples 2000 --synthetic-test-samples 500 --synthetic-side 12 "
    "--clients 8 --model mlp --hidden 16 --rounds 3 --quiet";

struct FileCheck {
  std::string path;                 // template ({out}, {dir}, {tmpfs} expanded later)
  std::vector<std::string> states;  // absent | untouched | exists | opens | chardev | status=a|b | attr=NAME
};

struct Case {
  std::string name;
  int line = 0;
  std::string kind;                  // run | plot | shell
  std::string command;
  std::vector<std::string> setup;    // shell snippets run before the command
  std::vector<std::pair<std::string, std::string>> writes;  // path, content (unescaped)
  bool has_precreate = false;
  std::string precreate;             // content written to {out} beforehand
  std::string expect_exit = "0";     // N, N|M, or nonzero
  std::vector<std::string> match, nomatch;
  std::vector<std::pair<int, std::string>> counts;  // lines matching regex: exactly N
  std::vector<FileCheck> files;
  int timeout = 60;
  double max_seconds = 0;            // 0: no limit besides the hard timeout
  int error_max_chars = 0;           // error lines shorter than this (0: unchecked)
  bool error_printable = false;
  std::string tmpfs_size;            // mount a tmpfs of this size at {dir}/tmpfs
  std::vector<int> only_ranks;
  std::string outname = "out.h5";    // file name of {out} inside {dir}
  std::vector<std::string> requires_; // shell checks; the case skips when one fails
  std::string parse_error;           // set for the placeholder case of a broken table
};

// gtest prints this instead of the object's bytes.
void PrintTo(const Case& c, std::ostream* os) { *os << c.name << " (cases.txt:" << c.line << ")"; }

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// \n \t \r \0 \\ \xHH
std::string unescape(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out += s[i];
      continue;
    }
    char c = s[++i];
    switch (c) {
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case '0': out += '\0'; break;
      case '\\': out += '\\'; break;
      case 'x':
        if (i + 2 < s.size() + 0 && std::isxdigit((unsigned char)s[i + 1]) && std::isxdigit((unsigned char)s[i + 2])) {
          out += char(std::stoi(s.substr(i + 1, 2), nullptr, 16));
          i += 2;
        } else {
          out += "\\x";
        }
        break;
      default: out += '\\'; out += c;
    }
  }
  return out;
}

std::vector<Case> load_cases() {
  std::vector<Case> cases;
  std::ifstream in(FEDHPC_ROBUSTNESS_CASES);
  auto broken = [&](int line, const std::string& why) {
    Case c;
    c.name = "table_error_line_" + std::to_string(line);
    c.line = line;
    c.parse_error = std::string(FEDHPC_ROBUSTNESS_CASES) + ":" + std::to_string(line) + ": " + why;
    return c;
  };
  if (!in) return {broken(0, "cannot open the case table")};
  std::string raw;
  int lineno = 0;
  std::map<std::string, int> seen;
  while (std::getline(in, raw)) {
    ++lineno;
    // continuation: a line ending in a single backslash joins the next one
    while (!raw.empty() && raw.back() == '\\' && (raw.size() < 2 || raw[raw.size() - 2] != '\\')) {
      raw.pop_back();
      std::string more;
      if (!std::getline(in, more)) break;
      ++lineno;
      raw += "\n" + more;
    }
    std::string line = trim(raw);
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("case ", 0) == 0) {
      Case c;
      c.name = trim(line.substr(5));
      c.line = lineno;
      if (!std::regex_match(c.name, std::regex("[A-Za-z0-9_]+")))
        return {broken(lineno, "case name must be [A-Za-z0-9_]+: " + c.name)};
      if (seen.count(c.name)) return {broken(lineno, "duplicate case name " + c.name)};
      seen[c.name] = lineno;
      cases.push_back(c);
      continue;
    }
    if (cases.empty()) return {broken(lineno, "directive before the first 'case'")};
    Case& c = cases.back();
    auto colon = line.find(':');
    if (colon == std::string::npos) return {broken(lineno, "expected 'key: value'")};
    const std::string key = trim(line.substr(0, colon));
    const std::string value = trim(line.substr(colon + 1));
    auto first_word = [](const std::string& v, std::string& rest) {
      auto sp = v.find_first_of(" \t");
      rest = sp == std::string::npos ? "" : trim(v.substr(sp + 1));
      return v.substr(0, sp);
    };
    std::string rest;
    if (key == "run" || key == "plot" || key == "shell") {
      if (!c.kind.empty() && !(c.kind == "shell" && key == "shell"))
        return {broken(lineno, "one command per case")};
      if (c.kind == "shell") c.command += "\n" + value;
      else c.command = value;
      c.kind = key;
    } else if (key == "setup") {
      c.setup.push_back(value);
    } else if (key == "write") {
      std::string path = first_word(value, rest);
      c.writes.emplace_back(path, unescape(rest));
    } else if (key == "write-repeat") {  // write-repeat: PATH COUNT TEXT  (appends TEXT COUNT times)
      std::string path = first_word(value, rest);
      std::string text;
      std::string count = first_word(rest, text);
      std::string content;
      text = unescape(text);
      for (long k = 0, n = std::stol(count); k < n; ++k) content += text;
      c.writes.emplace_back(path + "\x01append", content);
    } else if (key == "precreate") {
      c.has_precreate = true;
      c.precreate = unescape(value);
    } else if (key == "exit") {
      c.expect_exit = value;
    } else if (key == "match") {
      c.match.push_back(value);
    } else if (key == "nomatch") {
      c.nomatch.push_back(value);
    } else if (key == "count") {
      std::string n = first_word(value, rest);
      c.counts.emplace_back(std::stoi(n), rest);
    } else if (key == "out" || key == "file") {
      FileCheck f;
      std::string states = value;
      if (key == "file") f.path = first_word(value, states);
      else f.path = "{out}";
      std::istringstream ss(states);
      for (std::string s; ss >> s;) f.states.push_back(s);
      c.files.push_back(f);
    } else if (key == "timeout") {
      c.timeout = std::stoi(value);
    } else if (key == "max-seconds") {
      c.max_seconds = std::stod(value);
    } else if (key == "error-max-chars") {
      c.error_max_chars = std::stoi(value);
    } else if (key == "error-printable") {
      c.error_printable = value == "yes";
    } else if (key == "tmpfs") {
      c.tmpfs_size = value;
    } else if (key == "outname") {
      c.outname = value;
    } else if (key == "require") {
      c.requires_.push_back(value);
    } else if (key == "ranks") {
      std::istringstream ss(value);
      for (int r; ss >> r;) c.only_ranks.push_back(r);
    } else {
      return {broken(lineno, "unknown key '" + key + "'")};
    }
  }
  for (const auto& c : cases)
    if (c.kind.empty()) return {broken(c.line, "case " + c.name + " has no run/plot/shell command")};
  return cases;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (std::size_t at = 0; (at = s.find(from, at)) != std::string::npos; at += to.size()) s.replace(at, from.size(), to);
  return s;
}

// $B minus any option the rest of the text sets itself (so "$B --rounds 200" works).
std::string expand_base(const std::string& text) {
  static const std::regex dollar_b(R"(\$B(?![A-Za-z0-9_]))");
  if (!std::regex_search(text, dollar_b)) return text;
  std::istringstream ss(kBase);
  std::vector<std::string> words;
  for (std::string w; ss >> w;) words.push_back(w);
  std::string base;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (words[i].rfind("--", 0) != 0) continue;
    const bool has_value = i + 1 < words.size() && words[i + 1].rfind("--", 0) != 0;
    const std::regex given(words[i] + R"((?![A-Za-z0-9-]))");
    if (!std::regex_search(text, given)) {
      base += (base.empty() ? "" : " ") + words[i];
      if (has_value) base += " " + words[i + 1];
    }
    if (has_value) ++i;
  }
  return std::regex_replace(text, dollar_b, base);
}

std::string shell_quote(const std::string& s) { return "'" + replace_all(s, "'", "'\\''") + "'"; }

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Outcome {
  int status = -1;      // exit status, or 128+signal
  bool hung = false;
  double seconds = 0;
  std::string output;
};

// Runs `bash -c script` in a new session with output to a file; kills the
// whole process group after timeout (and always at the end, for stragglers).
volatile sig_atomic_t g_child = 0;  // the running case's session, killed if the harness is stopped

void on_stop(int sig) {
  if (g_child > 0) kill(-g_child, SIGKILL);
  signal(sig, SIG_DFL);
  raise(sig);
}

Outcome run_script(const std::string& script, const std::string& dir, int timeout) {
  std::cout.flush();
  Outcome o;
  const std::string log = dir + "/output.log";
  const auto start = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    setsid();
    if (chdir(dir.c_str()) != 0) _exit(126);
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int null = ::open("/dev/null", O_RDONLY);
    dup2(null, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    // Memory cap: a case that tries to allocate absurd sizes fails instead
    // of taking the shared machine down.
    struct rlimit as {};
    as.rlim_cur = as.rlim_max = rlim_t(8) << 30;
    setrlimit(RLIMIT_AS, &as);
    execl("/bin/bash", "bash", "-c", script.c_str(), (char*)nullptr);
    _exit(127);
  }
  g_child = pid;
  int raw = 0;
  for (;;) {
    pid_t got = waitpid(pid, &raw, WNOHANG);
    if (got == pid) break;
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (t > timeout) {
      o.hung = true;
      kill(-pid, SIGKILL);
      waitpid(pid, &raw, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  o.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  g_child = 0;
  kill(-pid, SIGKILL);  // background processes the case left behind, also in other groups of its session
  std::system(("pkill -KILL -s " + std::to_string(pid) + " 2>/dev/null").c_str());
  o.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
  o.output = read_file(log);
  return o;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream ss(text);
  for (std::string l; std::getline(ss, l);) out.push_back(l);
  return out;
}

bool exit_ok(const std::string& spec, int status) {
  if (spec == "nonzero") return status != 0;
  std::istringstream ss(replace_all(spec, "|", " "));
  for (int v; ss >> v;)
    if (v == status) return true;
  return false;
}

// Root string attribute of an HDF5 file, or an explanation in *why.
bool root_attr(const std::string& path, const std::string& name, std::string* value, std::string* why) {
  try {
    auto file = fedhpc::h5::File::open(path, MPI_COMM_NULL, false);
    auto root = file.root();
    if (name == "rounds_completed") *value = std::to_string(root.get_attribute_int64(name));
    else *value = root.get_attribute_string(name);
    return true;
  } catch (const std::exception& e) {
    *why = e.what();
    return false;
  }
}

std::string printable(const std::string& s, std::size_t max = 4000) {
  std::string out;
  for (unsigned char c : s.substr(0, max)) {
    if (c == '\n' || c == '\t' || (c >= 32 && c < 127)) out += char(c);
    else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  if (s.size() > max) out += "... [" + std::to_string(s.size() - max) + " more bytes]";
  return out;
}

std::string g_tmpfs_reason;  // why tmpfs cases skip ("" = mount works)

void probe_tmpfs(const std::string& root) {
  static bool done = false;
  if (done) return;
  done = true;
  const std::string dir = root + "/tmpfs-probe";
  fs::create_directories(dir);
  if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=1m") != 0) {
    g_tmpfs_reason = std::string("mount -t tmpfs -o size=1m tmpfs DIR failed: ") + std::strerror(errno);
  } else {
    ::umount2(dir.c_str(), MNT_DETACH);
  }
  fs::remove(dir);
}

std::string case_root() {
  static std::string root = [] {
    auto d = fs::temp_directory_path() /
             ("fedhpc-robust-np" + std::to_string(g_ranks) + "-" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d.string();
  }();
  return root;
}

class Robustness : public ::testing::TestWithParam<Case> {};

TEST_P(Robustness, Case) {
  const Case& c = GetParam();
  if (!c.parse_error.empty()) FAIL() << c.parse_error;
  if (!c.only_ranks.empty() && std::find(c.only_ranks.begin(), c.only_ranks.end(), g_ranks) == c.only_ranks.end())
    GTEST_SKIP() << "case runs only at ranks listed in its 'ranks:' line";
  const std::string root = case_root();
  const std::string dir = root + "/" + c.name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string out = dir + "/" + c.outname;
  const std::string tmpfs = dir + "/tmpfs";
  bool mounted = false;
  if (!c.tmpfs_size.empty()) {
    probe_tmpfs(root);
    if (!g_tmpfs_reason.empty()) GTEST_SKIP() << g_tmpfs_reason;
    fs::create_directories(tmpfs);
    if (::mount("tmpfs", tmpfs.c_str(), "tmpfs", 0, ("size=" + c.tmpfs_size).c_str()) != 0)
      GTEST_SKIP() << "mount tmpfs size=" << c.tmpfs_size << " failed: " << std::strerror(errno);
    mounted = true;
  }
  struct Unmount {
    bool on;
    std::string path;
    void release() {
      if (on) ::umount2(path.c_str(), MNT_DETACH);
      on = false;
    }
    ~Unmount() { release(); }
  } unmount{mounted, tmpfs};

  const std::string mpirun = std::string(FEDHPC_MPIEXEC) + " --oversubscribe --bind-to none -n " + std::to_string(g_ranks);
  auto subst = [&](std::string s) {
    s = replace_all(s, "{out}", out);
    s = replace_all(s, "{dir}", dir);
    s = replace_all(s, "{tmpfs}", tmpfs);
    return s;
  };
  for (const auto& [path_tpl, content] : c.writes) {
    std::string path = path_tpl;
    bool append = false;
    if (auto at = path.find("\x01append"); at != std::string::npos) {
      path.erase(at);
      append = true;
    }
    path = subst(path);
    const std::string text = subst(content);
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream f(path, std::ios::binary | (append ? std::ios::app : std::ios::trunc));
    f.write(text.data(), std::streamsize(text.size()));
    ASSERT_TRUE(f.good()) << "cannot write " << path;
  }
  if (c.has_precreate) {
    std::ofstream f(out, std::ios::binary);
    f.write(c.precreate.data(), std::streamsize(c.precreate.size()));
  }
  // What every script sees: the helpers and the paths.
  std::string prelude =
      "export OUT=" + shell_quote(out) + " DIR=" + shell_quote(dir) + " TMPFS=" + shell_quote(tmpfs) +
      " FEDHPC=" + shell_quote(FEDHPC_BINARY) + " MPIRUN=" + shell_quote(mpirun) + " PLOT=" + shell_quote(FEDHPC_PLOT) +
      " HARNESS=" + shell_quote(g_self) + " RANKS=" + std::to_string(g_ranks) +
      "\n"
      "# wait_for FILE [SECS]: wait until FILE exists, else report and exit 97\n"
      "wait_for() { local i; for ((i = 0; i < ${2:-20} * 10; i++)); do [[ -e $1 ]] && return 0; sleep 0.1; done;"
      " echo \"HARNESS: $1 did not appear within ${2:-20} s\"; exit 97; }\n"
      "# wait_exit PID [SECS]: wait for PID to end, print 'HARNESS: exit=N', return N; exit 98 on a hang\n"
      "wait_exit() { local i; for ((i = 0; i < ${2:-30} * 10; i++)); do kill -0 $1 2>/dev/null || break; sleep 0.1; done;"
      " if kill -0 $1 2>/dev/null; then echo \"HARNESS: HANG: pid $1 still running ${2:-30} s later\"; exit 98; fi;"
      " wait $1; local rc=$?; echo \"HARNESS: exit=$rc\"; return $rc; }\n"
      "# rank_pids: pids of the rank processes of the mpirun whose pid is $1\n"
      "rank_pids() { pgrep -P $1 -f \"$OUT\"; }\n"
      "set -o pipefail\n";
  for (const auto& r : c.requires_) {
    auto o = run_script(prelude + r, dir, 60);
    if (o.status != 0) {
      unmount.release();
      fs::remove_all(dir);
      GTEST_SKIP() << "requirement not met: " << r << "\n" << printable(o.output, 600);
    }
  }
  for (const auto& s : c.setup) {
    auto o = run_script(prelude + expand_base(subst(s)), dir, 60);
    ASSERT_EQ(o.status, 0) << "setup failed: " << s << "\n" << printable(o.output);
  }
  std::string script;
  if (c.kind == "run") script = "exec " + mpirun + " " + shell_quote(FEDHPC_BINARY) + " run " + expand_base(subst(c.command));
  else if (c.kind == "plot") script = "exec /usr/bin/python3 " + shell_quote(FEDHPC_PLOT) + " " + subst(c.command);
  else script = expand_base(subst(c.command));

  const Outcome o = run_script(prelude + script, dir, c.timeout);
  const std::string shown = printable(o.output);
  const std::string what = "case " + c.name + " (cases.txt:" + std::to_string(c.line) + ", ranks " +
                           std::to_string(g_ranks) + ", " + std::to_string(o.seconds).substr(0, 5) + " s)\n  " +
                           (c.kind == "shell" ? "shell script" : c.kind + " " + subst(c.command)).substr(0, 600) +
                           "\n--- output ---\n" + shown + "--------------";
  bool ok = true;
  auto check = [&](bool cond, const std::string& msg) {
    if (!cond) {
      ok = false;
      ADD_FAILURE() << msg << "\n" << what;
    }
  };
  if (o.hung) {
    ADD_FAILURE() << "HANG: killed after the hard timeout of " << c.timeout << " s\n" << what;
    return;  // nothing else is meaningful; temp dir kept
  }
  check(exit_ok(c.expect_exit, o.status), "exit status " + std::to_string(o.status) + ", expected " + c.expect_exit);
  if (c.max_seconds > 0)
    check(o.seconds <= c.max_seconds, "took " + std::to_string(o.seconds) + " s, expected at most " +
                                          std::to_string(c.max_seconds) + " s");
  // {out} {dir} {tmpfs} in regexes stand for the literal paths.
  auto subst_re = [&](std::string s) {
    auto esc = [](const std::string& p) { return std::regex_replace(p, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)"); };
    s = replace_all(s, "{out}", esc(out));
    s = replace_all(s, "{dir}", esc(dir));
    return replace_all(s, "{tmpfs}", esc(tmpfs));
  };
  for (const auto& m : c.match)
    check(std::regex_search(o.output, std::regex(subst_re(m))), "output does not match /" + m + "/");
  for (const auto& m : c.nomatch)
    check(!std::regex_search(o.output, std::regex(subst_re(m))), "output matches /" + m + "/ but must not");

  // Error-line rules: the defaults follow from the expected exit status.
  auto counts = c.counts;
  const std::string err_prefix = c.kind == "plot" ? "^fedhpc-plot: error: " : "^fedhpc: error: ";
  auto has_count_for = [&](const std::string& re) {
    for (const auto& [n, r] : counts)
      if (r == re) return true;
    return false;
  };
  if (c.expect_exit == "2" && !has_count_for(err_prefix)) counts.emplace_back(1, err_prefix);
  if (c.expect_exit == "1" && c.kind == "run" && !has_count_for("^fedhpc: run failed: "))
    counts.emplace_back(1, "^fedhpc: run failed: ");
  const auto lines = lines_of(o.output);
  for (const auto& [n, re] : counts) {
    std::regex r(subst_re(re));
    int got = 0;
    for (const auto& l : lines) got += std::regex_search(l, r) ? 1 : 0;
    check(got == n, std::to_string(got) + " lines match /" + re + "/, expected " + std::to_string(n));
  }
  for (const auto& l : lines) {
    if (l.rfind("fedhpc: error: ", 0) != 0 && l.rfind("fedhpc-plot: error: ", 0) != 0 &&
        l.rfind("fedhpc: run failed: ", 0) != 0)
      continue;
    if (c.error_max_chars > 0)
      check(int(l.size()) < c.error_max_chars,
            "error line has " + std::to_string(l.size()) + " chars, expected < " + std::to_string(c.error_max_chars));
    if (c.error_printable) {
      bool clean = true;
      for (unsigned char ch : l) clean = clean && (ch == '\t' || (ch >= 32 && ch < 127));
      check(clean, "error line holds raw non-printable bytes: " + printable(l, 300));
    }
  }

  // Bad input leaves the output path as it was, and no .partial beside it.
  auto files = c.files;
  if (c.expect_exit == "2" && c.kind == "run") {
    bool has_out = false, has_partial = false;
    for (const auto& f : files) {
      has_out = has_out || f.path == "{out}";
      has_partial = has_partial || f.path == "{out}.partial";
    }
    if (!has_out) files.push_back({"{out}", {c.has_precreate ? "untouched" : "absent"}});
    if (!has_partial) files.push_back({"{out}.partial", {"absent"}});
  }
  for (const auto& f : files) {
    const std::string path = subst(f.path);
    struct stat st {};
    const bool exists = ::lstat(path.c_str(), &st) == 0;
    for (const auto& state : f.states) {
      const std::string where = path + " should be " + state + ": ";
      if (state == "absent") {
        check(!exists, where + "it exists");
      } else if (state == "exists") {
        check(exists, where + "it does not exist");
      } else if (state.rfind("same-as=", 0) == 0) {
        const std::string other = subst(state.substr(8));
        check(exists && read_file(path) == read_file(other), where + "content differs from " + other);
      } else if (state == "chardev") {
        check(exists && S_ISCHR(st.st_mode), where + "it is not a character device any more");
      } else if (state == "untouched") {
        if (!c.has_precreate) {
          check(false, where + "table error: 'untouched' needs 'precreate'");
        } else if (!exists) {
          check(false, where + "it was removed");
        } else {
          const std::string now = read_file(path);
          check(now == c.precreate, where + "content changed (" + std::to_string(c.precreate.size()) + " -> " +
                                        std::to_string(now.size()) + " bytes)");
        }
      } else if (state == "opens" || state.rfind("status=", 0) == 0 || state.rfind("attr=", 0) == 0) {
        if (!exists) {
          check(false, where + "it does not exist");
          continue;
        }
        std::string attr = state == "opens" ? "status" : state.rfind("attr=", 0) == 0 ? state.substr(5) : "status";
        std::string value, why;
        const bool read = root_attr(path, attr, &value, &why);
        check(read, where + "cannot open it or read root attribute '" + attr + "': " + why.substr(0, 600));
        if (read && state.rfind("status=", 0) == 0) {
          const std::string want = "|" + state.substr(7) + "|";
          check(want.find("|" + value + "|") != std::string::npos, where + "status is '" + value + "'");
        }
      } else {
        check(false, "table error: unknown file state '" + state + "'");
      }
    }
  }
  unmount.release();  // a mounted tmpfs cannot be removed
  if (ok) fs::remove_all(dir);
  else std::cout << "[ kept ] " << dir << "\n";
}

std::string name_of(const ::testing::TestParamInfo<Case>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(Table, Robustness, ::testing::ValuesIn(load_cases()), name_of);

}  // namespace

int main(int argc, char** argv) {
  g_self = fs::canonical("/proc/self/exe").string();
  if (argc == 4 && std::string(argv[1]) == "--print-attr") {
    std::string value, why;
    if (!root_attr(argv[2], argv[3], &value, &why)) {
      std::cerr << "HARNESS: cannot read attribute " << argv[3] << " of " << argv[2] << ": " << why << "\n";
      return 3;
    }
    std::cout << value;
    return 0;
  }
  ::testing::InitGoogleTest(&argc, argv);
  signal(SIGTERM, on_stop);
  signal(SIGINT, on_stop);
  if (const char* r = std::getenv("FEDHPC_TEST_RANKS")) g_ranks = std::atoi(r);
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--ranks" && i + 1 < argc) g_ranks = std::atoi(argv[++i]);
    else if (a.rfind("--ranks=", 0) == 0) g_ranks = std::atoi(a.c_str() + 8);
  }
  if (g_ranks < 1) g_ranks = 1;
  // Open MPI as root, and no spinning on shared cores (as cmake/mpi-env.sh).
  for (const char* kv : {"OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1", "OMPI_MCA_mpi_yield_when_idle=1",
                         "OMP_NUM_THREADS=1", "OMPI_MCA_rmaps_base_oversubscribe=1"}) {
    std::string s = kv;
    auto eq = s.find('=');
    setenv(s.substr(0, eq).c_str(), s.substr(eq + 1).c_str(), 0);
  }
  std::cout << "robustness: " << g_ranks << " rank(s), case dirs under " << case_root() << "\n";
  const int rc = RUN_ALL_TESTS();
  std::error_code ec;
  if (fs::is_empty(case_root(), ec)) fs::remove(case_root(), ec);
  return rc;
}
