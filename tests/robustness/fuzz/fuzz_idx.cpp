// Fuzzes the Fashion-MNIST IDX reader (src/data/fashion_mnist.cpp) through
// its only entry point, load_fashion_mnist(data_dir): the input becomes the
// four files of a data directory.
// Input: [flags:1][n:2 big-endian][images: n bytes][labels: rest]
//   flags bit 0: gzip the image file, bit 1: gzip the label file (else the
//   bytes are written raw; zlib reads non-gzip files transparently).
// The t10k-* files are copies of the train-* files.
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "fedhpc/data/dataset.hpp"
#include "fuzz_common.hpp"

namespace fedhpc::data::detail {
Dataset load_fashion_mnist(const DatasetOptions& options);
}

namespace {
void write(const std::string& path, const std::uint8_t* data, std::size_t size, bool gzip) {
  if (!gzip) return fuzz::write_file(path, data, size);
  gzFile f = gzopen(path.c_str(), "wb1");
  if (!f) std::abort();
  if (size && gzwrite(f, data, unsigned(size)) != int(size)) std::abort();
  gzclose(f);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const unsigned flags = data[0];
  std::size_t n = (std::size_t(data[1]) << 8) | data[2];
  data += 3;
  size -= 3;
  if (n > size) n = size;
  const std::string dir = fuzz::temp_dir();
  for (const char* split : {"train", "t10k"}) {
    write(dir + "/" + split + "-images-idx3-ubyte.gz", data, n, flags & 1);
    write(dir + "/" + split + "-labels-idx1-ubyte.gz", data + n, size - n, flags & 2);
  }
  fedhpc::data::DatasetOptions options;
  options.data_dir = dir;
  fuzz::expect_only_input_errors([&] { fedhpc::data::detail::load_fashion_mnist(options); });
  return 0;
}
