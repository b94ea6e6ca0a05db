#include "fedhpc/io/checkpoint.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <optional>
#include <sstream>
#include <tuple>
#include <utility>

#include "fedhpc/core/error.hpp"
#include "fedhpc/core/test_kill.hpp"
#include "fedhpc/io/hdf5.hpp"

namespace fedhpc::io {

namespace {

constexpr const char* kFormat = "fedhpc-checkpoint-1";

std::string directory_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Data and metadata on disk before the rename makes them the checkpoint.
void sync_path(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) throw RunError("cannot open " + path + " to sync it: " + std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  // Some filesystems cannot sync a folder; the file itself was synced.
  if (rc != 0 && !(flags & O_DIRECTORY)) throw RunError("cannot sync " + path + ": " + std::strerror(err));
}

template <class T>
void put(h5::Group& root, const std::string& name, const std::vector<T>& values) {
  if (values.empty()) return;  // absent reads back as empty
  root.create_dataset<T>(name, {values.size()}).write_all(values);
}

template <class T>
std::vector<T> get(const h5::Group& root, const std::string& name) {
  if (!root.exists(name)) return {};
  return root.dataset(name).read_all<T>();
}

// Rows [first, first + rows) of /topology/client_rows.
void write_rows(const h5::File& file, std::int64_t first, std::int64_t rows, std::int64_t width, const float* data) {
  if (rows > 0)
    file.root()
        .dataset("topology/client_rows")
        .write_slab<float>({std::uint64_t(first), 0}, {std::uint64_t(rows), std::uint64_t(width)}, data);
}

// The file with everything but the other ranks' client rows.
h5::File create_head(const std::string& path, const Checkpoint& c) {
  auto file = h5::File::create(path, MPI_COMM_NULL, true);
  auto root = file.root();
  root.set_attribute("format", std::string(kFormat));
  root.set_attribute("round", std::int64_t(c.round));
  root.set_attribute("config", c.config);
  root.set_attribute("num_clients", c.num_clients);
  put(root, "global", c.global);
  put(root, "server_optimizer", c.server_optimizer);
  put(root, "topology/shared_ints", c.topology.shared_ints);
  put(root, "topology/shared_floats", c.topology.shared_floats);
  const auto width = c.topology.client_width;
  if (width > 0) {
    root.create_dataset<float>("topology/client_rows", {std::uint64_t(c.num_clients), std::uint64_t(width)});
    write_rows(file, c.rows_begin, std::int64_t(c.topology.client_rows.size()) / width, width,
               c.topology.client_rows.data());
  }
  return file;
}

// Runs fn unless an earlier step failed; keeps its exception, as RunError
// with the OS reason for HDF5 errors.
template <class F>
void attempt(std::exception_ptr& failure, const std::string& path, F&& fn) {
  if (failure) return;
  try {
    fn();
  } catch (const h5::Error& e) {
    failure = std::make_exception_ptr(RunError("cannot write the checkpoint " + path + ": " + h5::os_reason(e.what())));
  } catch (...) {
    failure = std::current_exception();
  }
}

constexpr int kRowsTag = 7103;

// fn(done, n) for the pieces of `rows` rows that travel as one message
// each: about 16 MB, at least one row. Sender and receiver cut alike.
template <class F>
void for_each_piece(std::int64_t rows, std::int64_t width, F&& fn) {
  const std::int64_t per_piece =
      std::max<std::int64_t>(1, (std::int64_t(16) << 20) / (width * std::int64_t(sizeof(float))));
  for (std::int64_t done = 0; done < rows; done += per_piece) fn(done, std::min(per_piece, rows - done));
}

// Rank 0: the file, then every other rank's rows as they arrive, piece by
// piece (no rank ever holds all N rows). After a failure it still receives
// everything, so that no sender is left waiting.
void write_as_leader(const std::string& path, const Checkpoint& c, const mpi::Comm& comm,
                     std::exception_ptr& failure) {
  std::optional<h5::File> file;
  attempt(failure, path, [&] { file.emplace(create_head(path, c)); });
  const auto width = c.topology.client_width;
  std::vector<float> piece;
  for (int r = 1; width > 0 && r < comm.size(); ++r) {
    std::int64_t head[2];  // first row, rows
    mpi::recv_bytes(comm, r, kRowsTag, head, sizeof head);
    for_each_piece(head[1], width, [&](std::int64_t done, std::int64_t n) {
      piece.resize(std::size_t(n * width));
      mpi::recv_bytes(comm, r, kRowsTag, piece.data(), piece.size() * sizeof(float));
      attempt(failure, path, [&] { write_rows(*file, head[0] + done, n, width, piece.data()); });
    });
  }
  attempt(failure, path, [&] { file->close(); });
}

// The other ranks: their rows to rank 0, in the pieces it expects.
void send_rows(const Checkpoint& c, const mpi::Comm& comm) {
  const auto width = c.topology.client_width;
  if (width <= 0) return;
  const std::int64_t head[2] = {c.rows_begin, std::int64_t(c.topology.client_rows.size()) / width};
  mpi::send_bytes(comm, 0, kRowsTag, head, sizeof head);
  kill_point(c.round, "checkpoint-rows", comm.rank());  // test-only: rank 0 has the file half written
  for_each_piece(head[1], width, [&](std::int64_t done, std::int64_t n) {
    mpi::send_bytes(comm, 0, kRowsTag, c.topology.client_rows.data() + done * width,
                    std::size_t(n * width) * sizeof(float));
  });
}

}  // namespace

std::string checkpoint_path(const std::string& output) { return output + ".ckpt"; }

void write_checkpoint(const std::string& output, const Checkpoint& c, const mpi::Comm& comm) {
  const auto path = checkpoint_path(output);
  const auto temporary = path + "~";
  std::exception_ptr failure;  // kept until every rank has done its part, so none is left waiting
  if (comm.rank() != 0) {
    send_rows(c, comm);
  } else {
    write_as_leader(temporary, c, comm, failure);
    attempt(failure, temporary, [&] {
      sync_path(temporary, O_RDONLY);
      kill_point(c.round, "checkpoint", 0);  // test-only: the new one written, the old one still in place
      if (::rename(temporary.c_str(), path.c_str()) != 0)
        throw RunError("cannot rename " + temporary + " to " + path + ": " + std::strerror(errno));
      sync_path(directory_of(path), O_RDONLY | O_DIRECTORY);
    });
    if (failure) ::unlink(temporary.c_str());  // the previous checkpoint stays
  }
  mpi::collective_try(comm, [&] {
    if (failure) std::rethrow_exception(failure);
  });
}

Checkpoint read_checkpoint(const std::string& output, topology::ClientBlock block) {
  const auto path = checkpoint_path(output);
  if (::access(path.c_str(), F_OK) != 0) throw RunError("no checkpoint " + path);
  try {
    auto file = h5::File::open(path, MPI_COMM_NULL, false);
    const auto root = file.root();
    if (root.get_attribute_string("format") != kFormat)
      throw RunError(path + " is not a fedhpc checkpoint of this version");
    Checkpoint c;
    c.rows_begin = block.begin;
    c.round = int(root.get_attribute_int64("round"));
    c.config = root.get_attribute_string("config");
    c.num_clients = root.get_attribute_int64("num_clients");
    c.global = get<float>(root, "global");
    c.server_optimizer = get<double>(root, "server_optimizer");
    c.topology.shared_ints = get<std::int64_t>(root, "topology/shared_ints");
    c.topology.shared_floats = get<float>(root, "topology/shared_floats");
    if (root.exists("topology/client_rows")) {
      const auto rows = root.dataset("topology/client_rows");
      const auto dims = rows.dims();
      if (dims.size() != 2 || std::int64_t(dims[0]) != c.num_clients || block.end > c.num_clients)
        throw RunError(path + ": /topology/client_rows does not have one row per client");
      c.topology.client_width = std::int64_t(dims[1]);
      c.topology.client_rows.resize(std::size_t(block.size() * c.topology.client_width));
      if (block.size() > 0)
        rows.read_slab<float>({std::uint64_t(block.begin), 0}, {std::uint64_t(block.size()), dims[1]},
                              c.topology.client_rows.data());
    }
    return c;
  } catch (const h5::Error& e) {
    throw RunError("cannot read the checkpoint " + path + ": " + h5::os_reason(e.what()));
  }
}

namespace {

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// status and config of a run file; "unreadable" when HDF5 cannot open it.
std::pair<std::string, std::string> run_status(const std::string& path) {
  try {
    auto file = h5::File::open(path, MPI_COMM_NULL, false);
    const auto root = file.root();
    return {root.get_attribute_string("status"), root.get_attribute_string("config")};
  } catch (const std::exception& e) {
    throw InputError("--resume: cannot read " + path + ": " + h5::os_reason(e.what()));
  }
}

// The INI text without the lines of `keys` ("key = value").
std::string without_keys(const std::string& ini, const std::vector<std::string>& keys) {
  std::string out, line;
  std::istringstream in(ini);
  while (std::getline(in, line)) {
    bool drop = false;
    for (const auto& key : keys) drop = drop || line.rfind(key + " = ", 0) == 0;
    if (!drop) out += line + "\n";
  }
  return out;
}

}  // namespace

ResumeSource find_resume_source(const std::string& output, const std::vector<std::string>& free_keys) {
  ResumeSource r;
  const auto partial = output + ".partial";
  if (exists(partial)) r.path = partial;
  else if (exists(output)) r.path = output;
  else throw InputError("--resume: neither " + output + " nor " + partial + " exists; nothing to resume");
  std::tie(r.status, r.config) = run_status(r.path);
  if (r.status == "complete")
    throw InputError("--resume: " + r.path + " is a finished run (status complete); nothing to resume");
  if (!exists(checkpoint_path(output)))
    throw InputError("--resume: " + r.path + " has no checkpoint " + checkpoint_path(output) +
                     " (was it run with --checkpoint-every 0?)");
  Checkpoint c;
  try {
    c = read_checkpoint(output, {0, 0});
  } catch (const RunError& e) {
    throw InputError(std::string("--resume: ") + e.what());
  }
  if (without_keys(c.config, free_keys) != without_keys(r.config, free_keys))
    throw InputError("--resume: the checkpoint " + checkpoint_path(output) + " belongs to another configuration than " +
                     r.path);
  r.round = c.round;
  return r;
}

}  // namespace fedhpc::io
