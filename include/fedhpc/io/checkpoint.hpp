#pragma once
// The checkpoint of a run: everything needed to continue it bit for bit
// after its round `round` (README, "Checkpoint and resume"). It lives beside
// the run's file as OUTPUT.ckpt, a serial HDF5 file that is written under a
// temporary name, fsync'd and renamed over the previous one, so a kill at
// any instant leaves either the previous or the new checkpoint.
#include <cstdint>
#include <string>
#include <vector>

#include "fedhpc/mpi/comm.hpp"
#include "fedhpc/topology/topology.hpp"
#include "fedhpc/topology/topology_state.hpp"

namespace fedhpc::io {

struct Checkpoint {
  int round = 0;           // the last round whose state and rows are kept
  std::string config;      // the run's stored configuration (INI)
  std::int64_t num_clients = 0;
  std::vector<float> global;              // the global model after `round`
  std::vector<double> server_optimizer;   // ServerOptimizer::state()
  // client_rows: this rank's clients' rows only, the first of them client
  // rows_begin (no rank ever holds all N).
  topology::TopologyState topology;
  std::int64_t rows_begin = 0;
};

// OUTPUT.ckpt
std::string checkpoint_path(const std::string& output);

// Writes `c` to checkpoint_path(output) atomically (temporary file, fsync,
// rename, fsync of the folder). Collective: rank 0 writes the file; the
// other ranks send it their clients' rows in pieces of about 16 MB, which it
// writes as they arrive, so no rank holds more than its own clients' rows
// and one piece. If the write fails, every rank throws RunError (with the
// OS reason) and the previous checkpoint stays.
void write_checkpoint(const std::string& output, const Checkpoint& c, const mpi::Comm& comm);

// Reads the checkpoint beside `output`; topology.client_rows holds only the
// rows of `block`. Throws RunError when it is missing or unreadable.
Checkpoint read_checkpoint(const std::string& output, topology::ClientBlock block);

// The file a --resume continues: OUTPUT.partial when a killed run left it,
// else OUTPUT when an interrupted or failed run was moved there; its status
// and stored configuration. Throws InputError naming --resume when there is
// none, when it is finished (status complete), or when its checkpoint is
// missing or belongs to another configuration (compared without the INI
// lines of `free_keys`, options a resumed leg may change). Call on one rank.
struct ResumeSource {
  std::string path;
  std::string status;
  std::string config;
  int round = 0;  // the checkpoint's round
};
ResumeSource find_resume_source(const std::string& output, const std::vector<std::string>& free_keys);

}  // namespace fedhpc::io
