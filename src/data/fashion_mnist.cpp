// Reader for the gzip-compressed IDX files of Fashion-MNIST (the format of
// the Debian package dataset-fashion-mnist). Every problem with a file is an
// InputError of one line that names the file.
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "fedhpc/core/error.hpp"
#include "fedhpc/data/dataset.hpp"

namespace fedhpc::data::detail {

namespace {

constexpr std::uint32_t kImageMagic = 0x00000803;  // unsigned byte, 3 dimensions
constexpr std::uint32_t kLabelMagic = 0x00000801;  // unsigned byte, 1 dimension
constexpr int kSide = 28;
constexpr int kClasses = 10;
// Guards the allocation against a corrupt header that claims billions of items.
constexpr std::uint32_t kMaxItems = 1u << 24;
constexpr unsigned kBlock = 1u << 20;
constexpr std::size_t kReserveFloats = std::size_t(1) << 24;

std::string hex32(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

// One open .gz file; errors carry the path.
class GzFile {
 public:
  explicit GzFile(std::string path) : path_(std::move(path)) {
    file_ = gzopen(path_.c_str(), "rb");
    if (!file_)
      throw InputError("fashion-mnist: cannot open " + path_ +
                       " (install the Debian package dataset-fashion-mnist or pass --data-dir)");
    gzbuffer(file_, 1u << 20);  // bigger than the 8 KiB default: fewer syscalls
  }
  ~GzFile() { gzclose(file_); }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;

  [[noreturn]] void fail(const std::string& what) const {
    throw InputError("fashion-mnist: " + path_ + ": " + what);
  }

  // Reads up to n bytes; returns how many arrived (0 at the end of the file).
  std::size_t read_some(void* dst, unsigned n) {
    int got = gzread(file_, dst, n);
    if (got < 0) {
      int code = 0;
      const char* msg = gzerror(file_, &code);
      // zlib reports a gzip stream cut short as Z_BUF_ERROR.
      const char* what = code == Z_BUF_ERROR ? "truncated gzip stream"
                         : code == Z_ERRNO   ? "read error"
                                             : "corrupt gzip data";
      fail(std::string(what) + " (" + (msg ? msg : "unknown zlib error") + ")");
    }
    return static_cast<std::size_t>(got);
  }

  // Reads until n bytes or the end of the file; returns how many arrived.
  std::size_t read_fully(void* dst, std::size_t n) {
    auto* out = static_cast<unsigned char*>(dst);
    std::size_t done = 0;
    while (done < n) {
      auto chunk = static_cast<unsigned>(std::min<std::size_t>(n - done, kBlock));
      std::size_t got = read_some(out + done, chunk);
      if (got == 0) break;
      done += got;
    }
    return done;
  }

  std::uint32_t read_u32() {
    unsigned char b[4];
    if (read_fully(b, 4) != 4) fail("truncated header");
    return (std::uint32_t(b[0]) << 24) | (std::uint32_t(b[1]) << 16) | (std::uint32_t(b[2]) << 8) |
           std::uint32_t(b[3]);
  }

  // The IDX format has no footer, so extra bytes mean a wrong header or file.
  void expect_end() {
    unsigned char b;
    if (read_some(&b, 1) != 0)
      fail("unexpected data after the last item (header count too small?)");
  }

  void read_magic(std::uint32_t expected, const char* kind) {
    std::uint32_t magic = read_u32();
    if (magic != expected)
      fail("bad magic number " + hex32(magic) + " (expected " + hex32(expected) + " for an IDX " +
           kind + " file)");
  }

  std::uint32_t read_count() {
    std::uint32_t count = read_u32();
    if (count == 0 || count > kMaxItems)
      fail("implausible item count " + std::to_string(count) + " in the header");
    return count;
  }

 private:
  std::string path_;
  gzFile file_ = nullptr;
};

// Converts bytes to floats block by block so the raw bytes never need a
// second full-size buffer.
ImageSet read_images(const std::string& path) {
  GzFile f(path);
  f.read_magic(kImageMagic, "image");
  const std::uint32_t count = f.read_count();
  const std::uint32_t rows = f.read_u32();
  const std::uint32_t cols = f.read_u32();
  if (rows != kSide || cols != kSide)
    f.fail("images are " + std::to_string(rows) + "x" + std::to_string(cols) + ", expected " +
           std::to_string(kSide) + "x" + std::to_string(kSide));

  ImageSet set;
  set.count = count;
  set.channels = 1;
  set.height = kSide;
  set.width = kSide;
  const std::size_t total = std::size_t(count) * kSide * kSide;
  // Memory grows with the bytes that really arrive, not with what a (maybe
  // corrupt) header promises.
  set.pixels.reserve(std::min<std::size_t>(total, kReserveFloats));
  std::vector<unsigned char> block(std::min<std::size_t>(total, kBlock));
  for (std::size_t done = 0; done < total;) {
    std::size_t n = std::min(total - done, block.size());
    if (f.read_fully(block.data(), n) != n)
      f.fail("truncated: the header promises " + std::to_string(count) + " images (" +
             std::to_string(total) + " bytes of pixels) but the file holds fewer");
    for (std::size_t i = 0; i < n; ++i) set.pixels.push_back(float(block[i]) / 255.0f);
    done += n;
  }
  f.expect_end();
  return set;
}

std::vector<std::int64_t> read_labels(const std::string& path) {
  GzFile f(path);
  f.read_magic(kLabelMagic, "label");
  const std::uint32_t count = f.read_count();
  std::vector<unsigned char> raw;
  for (std::size_t done = 0; done < count;) {
    const std::size_t n = std::min<std::size_t>(count - done, kBlock);
    raw.resize(done + n);
    const std::size_t got = f.read_fully(raw.data() + done, n);
    done += got;
    if (got == n) continue;
    f.fail("truncated: the header promises " + std::to_string(count) +
           " labels but the file holds fewer");
  }
  f.expect_end();
  std::vector<std::int64_t> labels(raw.begin(), raw.end());
  for (std::size_t i = 0; i < labels.size(); ++i)
    if (labels[i] >= kClasses)
      f.fail("label " + std::to_string(labels[i]) + " of item " + std::to_string(i) +
             " is outside 0.." + std::to_string(kClasses - 1));
  return labels;
}

ImageSet read_split(const std::string& dir, const std::string& prefix) {
  const std::string images_path = dir + "/" + prefix + "-images-idx3-ubyte.gz";
  const std::string labels_path = dir + "/" + prefix + "-labels-idx1-ubyte.gz";
  ImageSet set = read_images(images_path);
  set.labels = read_labels(labels_path);
  if (std::int64_t(set.labels.size()) != set.count)
    throw InputError("fashion-mnist: " + labels_path + ": holds " +
                     std::to_string(set.labels.size()) + " labels but " + images_path + " holds " +
                     std::to_string(set.count) + " images");
  return set;
}

}  // namespace

Dataset load_fashion_mnist(const DatasetOptions& options) {
  std::string dir = options.data_dir.empty() ? "." : options.data_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  Dataset ds;
  ds.name = "fashion-mnist";
  ds.num_classes = kClasses;
  ds.train = read_split(dir, "train");
  ds.test = read_split(dir, "t10k");
  return ds;
}

}  // namespace fedhpc::data::detail
