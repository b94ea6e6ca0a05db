#include "fedhpc/data/node_shared.hpp"

#include <mpi.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "fedhpc/core/error.hpp"

namespace fedhpc::data {

namespace {

// The window and the node communicator it lives on. MPI_Win_free is
// collective: every rank of the node drops its last reference to the data set
// at the same point (the end of the run), so the destructor is reached together.
// While an exception unwinds, other ranks may not come: the window is left to
// MPI_Abort or MPI_Finalize rather than risk a hang.
struct Window {
  MPI_Comm node = MPI_COMM_NULL;
  MPI_Win win = MPI_WIN_NULL;
  ~Window() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (finalized || std::uncaught_exceptions() > 0) return;
    if (win != MPI_WIN_NULL) MPI_Win_free(&win);
    if (node != MPI_COMM_NULL) MPI_Comm_free(&node);
  }
};

template <class T>
void bcast_vector(const mpi::Comm& node, std::vector<T>& v, const char* what) {
  auto n = static_cast<std::int64_t>(v.size());
  mpi::broadcast(node, &n, 1, 0, what);
  v.resize(static_cast<std::size_t>(n));
  if (n > 0) mpi::broadcast(node, v.data(), v.size(), 0, what);
}

// Everything but the pixels: what partitioning and the model need.
void bcast_shape(const mpi::Comm& node, ImageSet& set) {
  std::int64_t shape[4] = {set.count, set.channels, set.height, set.width};
  mpi::broadcast(node, shape, 4, 0, "MPI_Bcast (data set shape)");
  set.count = shape[0];
  set.channels = int(shape[1]);
  set.height = int(shape[2]);
  set.width = int(shape[3]);
  bcast_vector(node, set.labels, "MPI_Bcast (labels)");
  bcast_vector(node, set.targets, "MPI_Bcast (regression targets)");  // empty for classification
}

void bcast_header(const mpi::Comm& node, Dataset& ds) {
  ds.name = mpi::broadcast_string(node, ds.name);
  mpi::broadcast(node, &ds.num_classes, 1, 0, "MPI_Bcast (classes)");
  bcast_shape(node, ds.train);
  bcast_shape(node, ds.test);
  bcast_vector(node, ds.train_clients, "MPI_Bcast (sample clients)");
  ds.task = mpi::broadcast_string(node, ds.task);
  auto names = static_cast<std::int64_t>(ds.target_names.size());
  mpi::broadcast(node, &names, 1, 0, "MPI_Bcast (target names)");
  ds.target_names.resize(std::size_t(names));
  for (auto& name : ds.target_names) name = mpi::broadcast_string(node, name);
}

std::size_t pixel_count(const ImageSet& set) { return std::size_t(set.count * set.sample_size()); }

// Free bytes where Open MPI puts the backing file of a shared window (its
// default, /dev/shm): a window larger than that faults with SIGBUS when touched.
bool fits_in_shm(std::size_t bytes) {
  struct statvfs fs {};
  if (statvfs("/dev/shm", &fs) != 0) return true;  // not Linux-like: let MPI decide
  const double free_bytes = double(fs.f_bavail) * double(fs.f_frsize);
  return double(bytes) * 1.05 + 64.0 * 1024 * 1024 < free_bytes;
}

}  // namespace

struct NodeLoader::Impl {
  const mpi::Comm& comm;
  bool share;
  mpi::Comm node;  // a view of window->node
  std::shared_ptr<Window> window = std::make_shared<Window>();

  bool leader() const { return !share || node.rank() == 0; }
};

NodeLoader::NodeLoader(const mpi::Comm& comm, bool share) : impl_(new Impl{comm, share, {}}) {
  if (!share) return;
  mpi::check(MPI_Comm_split_type(comm.get(), MPI_COMM_TYPE_SHARED, comm.rank(), MPI_INFO_NULL, &impl_->window->node),
             "MPI_Comm_split_type");
  impl_->node = mpi::Comm::view(impl_->window->node);
}

NodeLoader::~NodeLoader() = default;

bool NodeLoader::sharing() const { return impl_->share; }

Dataset NodeLoader::load(const DatasetOptions& options) {
  if (!impl_->share || impl_->node.size() == 1) return load_dataset(options);
  Dataset ds;
  mpi::collective_try(impl_->node, [&] {
    if (impl_->leader()) ds = load_dataset(options);
  });
  bcast_header(impl_->node, ds);
  return ds;
}

namespace {

// Copies v into dst in 16 MB pieces and hands each copied piece's pages back
// to the kernel (MADV_DONTNEED: they read as zeros from then on, which is
// only a write to memory we own and never read again), so the leader holds
// one copy plus one piece instead of two copies. Then frees v.
void move_into(float* dst, std::vector<float>& v) {
  const auto page = std::size_t(sysconf(_SC_PAGESIZE));
  const std::size_t piece = (std::size_t(16) << 20) / sizeof(float);
  char* const start = reinterpret_cast<char*>(v.data());
  for (std::size_t at = 0; at < v.size(); at += piece) {
    const std::size_t n = std::min(piece, v.size() - at);
    std::memcpy(dst + at, v.data() + at, n * sizeof(float));
    // Whole pages inside what has been copied so far.
    const auto first = (reinterpret_cast<std::uintptr_t>(start) + page - 1) / page * page;
    const auto end = reinterpret_cast<std::uintptr_t>(v.data() + at + n) / page * page;
    if (end > first) madvise(reinterpret_cast<void*>(first), end - first, MADV_DONTNEED);
  }
  std::vector<float>().swap(v);
}

// The leader's pixels into the window; the others map them.
void to_window(const mpi::Comm& node, Window& window, const std::shared_ptr<Window>& owner, Dataset& ds) {
  const std::size_t train = pixel_count(ds.train), test = pixel_count(ds.test);
  const bool leader = node.rank() == 0;
  const MPI_Aint bytes = leader ? MPI_Aint((train + test) * sizeof(float)) : 0;
  float* base = nullptr;
  mpi::check(MPI_Win_allocate_shared(bytes, int(sizeof(float)), MPI_INFO_NULL, window.node, &base, &window.win),
             "MPI_Win_allocate_shared");
  if (leader) {
    move_into(base, ds.train.pixels);
    move_into(base + train, ds.test.pixels);
  } else {
    MPI_Aint size = 0;
    int unit = 0;
    mpi::check(MPI_Win_shared_query(window.win, 0, &size, &unit, &base), "MPI_Win_shared_query");
  }
  // The leader's stores are complete before anyone reads (unified memory model).
  node.barrier();
  ds.train.shared = std::shared_ptr<const float>(owner, base);
  ds.test.shared = std::shared_ptr<const float>(owner, base + train);
}

void bcast_pixels(const mpi::Comm& node, ImageSet& set) {
  set.pixels.resize(pixel_count(set));
  if (!set.pixels.empty()) mpi::broadcast(node, set.pixels.data(), set.pixels.size(), 0, "MPI_Bcast (pixels)");
}

}  // namespace

void NodeLoader::finish(Dataset& ds, const Partition& partition, const DatasetOptions& options) {
  if (!impl_->share) return finish_dataset(ds, partition, options);
  const auto& node = impl_->node;
  if (node.size() == 1) return finish_dataset(ds, partition, options);  // nobody to share with
  mpi::collective_try(node, [&] {
    if (impl_->leader()) finish_dataset(ds, partition, options);
  });
  bcast_header(node, ds);  // colouring changes channels, labels and classes
  const std::size_t bytes = (pixel_count(ds.train) + pixel_count(ds.test)) * sizeof(float);
  int fits = node.rank() == 0 ? int(fits_in_shm(bytes)) : 0;
  mpi::broadcast(node, &fits, 1, 0, "MPI_Bcast (shared window fits)");
  if (fits) return to_window(node, *impl_->window, impl_->window, ds);
  if (impl_->comm.rank() == 0)
    std::fprintf(stderr,
                 "fedhpc: warning: --data-copies node: /dev/shm has no room for the %.0f MB of pixels; every rank "
                 "holds its own copy\n",
                 double(bytes) / 1e6);
  bcast_pixels(node, ds.train);
  bcast_pixels(node, ds.test);
}

}  // namespace fedhpc::data
