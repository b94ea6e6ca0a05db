#include <gtest/gtest.h>
#include <mpi.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "fedhpc/io/hdf5.hpp"

namespace h5 = fedhpc::h5;

namespace {

int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

int world_size() {
  int n = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}

std::string temp_name(const std::string& tag, int rank) {
  auto dir = std::filesystem::temp_directory_path();
  return (dir / ("fedhpc_test_hdf5_" + std::to_string(::getpid()) + "_" + std::to_string(rank) + "_" +
                 tag + ".h5"))
      .string();
}

// A path every rank agrees on (rank 0 picks it), removed at scope exit.
class SharedTemp {
 public:
  explicit SharedTemp(const std::string& tag) {
    if (world_rank() == 0) path_ = temp_name(tag, 0);
    int n = static_cast<int>(path_.size());
    MPI_Bcast(&n, 1, MPI_INT, 0, MPI_COMM_WORLD);
    path_.resize(static_cast<std::size_t>(n));
    MPI_Bcast(path_.data(), n, MPI_CHAR, 0, MPI_COMM_WORLD);
  }
  ~SharedTemp() {
    MPI_Barrier(MPI_COMM_WORLD);  // nobody may still have it open
    if (world_rank() == 0) std::remove(path_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A path private to this rank, for serial (MPI_COMM_NULL) files.
class LocalTemp {
 public:
  explicit LocalTemp(const std::string& tag) : path_(temp_name(tag, world_rank())) {}
  ~LocalTemp() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

template <class T>
std::vector<T> ramp(std::size_t n, int start) {
  std::vector<T> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<T>(start + static_cast<int>(i % 100));
  return v;
}

template <class T>
void write_ramp(h5::Group& g, const std::string& name) {
  g.create_dataset<T>(name, {2, 3}).write_all(ramp<T>(6, 1));
}

template <class T>
void expect_ramp(const h5::Group& g, const std::string& name) {
  auto ds = g.dataset(name);
  EXPECT_EQ(ds.dims(), (h5::Dims{2, 3})) << name;
  EXPECT_EQ(ds.read_all<T>(), ramp<T>(6, 1)) << name;
}

void round_trip_all_types(const std::string& path, MPI_Comm comm) {
  {
    auto f = h5::File::create(path, comm, true);
    auto g = f.root();
    write_ramp<float>(g, "f32");
    write_ramp<double>(g, "f64");
    write_ramp<std::int64_t>(g, "i64");
    write_ramp<std::int32_t>(g, "i32");
    write_ramp<std::uint8_t>(g, "u8");
    write_ramp<char>(g, "bytes");
    f.close();
    f.close();  // idempotent
    EXPECT_FALSE(f.is_open());
  }
  auto f = h5::File::open(path, comm, false);
  EXPECT_EQ(f.is_parallel(), comm != MPI_COMM_NULL);
  auto g = f.root();
  expect_ramp<float>(g, "f32");
  expect_ramp<double>(g, "f64");
  expect_ramp<std::int64_t>(g, "i64");
  expect_ramp<std::int32_t>(g, "i32");
  expect_ramp<std::uint8_t>(g, "u8");
  expect_ramp<char>(g, "bytes");
  // HDF5 converts between numeric types on read.
  EXPECT_EQ(g.dataset("i32").read_all<double>(), ramp<double>(6, 1));
}

}  // namespace

TEST(Hdf5, RoundTripEveryTypeSerial) {
  LocalTemp tmp("types_serial");
  round_trip_all_types(tmp.path(), MPI_COMM_NULL);
}

TEST(Hdf5, RoundTripEveryTypeParallel) {
  SharedTemp tmp("types_parallel");
  round_trip_all_types(tmp.path(), MPI_COMM_WORLD);
}

TEST(Hdf5, Collective2DSlabsWithEmptyRanks) {
  SharedTemp tmp("slabs2d");
  const int rank = world_rank(), size = world_size();
  const hsize_t r = static_cast<hsize_t>(rank), n = static_cast<hsize_t>(size);
  {
    auto f = h5::File::create(tmp.path(), MPI_COMM_WORLD, true);
    auto g = f.root();
    // Each rank owns two rows.
    auto blocks = g.create_dataset<double>("blocks", {2 * n, 3});
    auto mine = ramp<double>(6, 10 * rank);
    blocks.write_slab({2 * r, 0}, {2, 3}, mine.data());
    // Odd ranks have nothing to write but still join the collective call.
    h5::DataSetOptions opts;
    opts.fill = -1.0;
    auto sparse = g.create_dataset<std::int32_t>("sparse", {n, 4}, opts);
    std::vector<std::int32_t> row(4, rank + 1);
    if (rank % 2 == 0)
      sparse.write_slab({r, 0}, {1, 4}, row.data());
    else
      sparse.write_slab<std::int32_t>({r, 0}, {0, 4}, nullptr);
    // Every rank empty at once must work too.
    auto none = g.create_dataset<float>("none", {n, 2}, opts);
    none.write_slab<float>({0, 0}, {0, 0}, nullptr);
  }
  auto f = h5::File::open(tmp.path(), MPI_COMM_WORLD, false);
  auto g = f.root();
  auto blocks = g.dataset("blocks");
  std::vector<double> back(6);
  blocks.read_slab({2 * r, 0}, {2, 3}, back.data());
  EXPECT_EQ(back, ramp<double>(6, 10 * rank));
  blocks.read_slab<double>({0, 0}, {0, 3}, nullptr);  // empty read is fine too
  auto all = blocks.read_all<double>();
  ASSERT_EQ(all.size(), 6 * n);
  for (int q = 0; q < size; ++q)
    for (int i = 0; i < 6; ++i) EXPECT_EQ(all[static_cast<std::size_t>(6 * q + i)], 10 * q + i);
  auto sparse = g.dataset("sparse").read_all<std::int32_t>();
  for (int q = 0; q < size; ++q)
    for (int c = 0; c < 4; ++c)
      EXPECT_EQ(sparse[static_cast<std::size_t>(4 * q + c)], q % 2 == 0 ? q + 1 : -1) << "row " << q;
  EXPECT_EQ(g.dataset("none").read_all<float>(), std::vector<float>(2 * n, -1.0f));
}

TEST(Hdf5, Collective3DSlabsInTheMiddleDimension) {
  SharedTemp tmp("slabs3d");
  const int rank = world_rank(), size = world_size();
  const hsize_t r = static_cast<hsize_t>(rank), n = static_cast<hsize_t>(size);
  // Rank r owns [:, 3r:3r+3, :], which is not contiguous in the file.
  auto value = [](hsize_t i, hsize_t j, hsize_t k) { return static_cast<float>(1000 * i + 10 * j + k); };
  {
    auto f = h5::File::create(tmp.path(), MPI_COMM_WORLD, true);
    auto ds = f.root().create_dataset<float>("cube", {2, 3 * n, 4});
    std::vector<float> mine;
    for (hsize_t i = 0; i < 2; ++i)
      for (hsize_t j = 3 * r; j < 3 * r + 3; ++j)
        for (hsize_t k = 0; k < 4; ++k) mine.push_back(value(i, j, k));
    ds.write_slab({0, 3 * r, 0}, {2, 3, 4}, mine.data());
    f.flush();
  }
  auto f = h5::File::open(tmp.path(), MPI_COMM_WORLD, false);
  auto ds = f.root().dataset("cube");
  EXPECT_EQ(ds.dims(), (h5::Dims{2, 3 * n, 4}));
  auto all = ds.read_all<float>();
  std::size_t idx = 0;
  for (hsize_t i = 0; i < 2; ++i)
    for (hsize_t j = 0; j < 3 * n; ++j)
      for (hsize_t k = 0; k < 4; ++k) ASSERT_EQ(all[idx++], value(i, j, k));
}

TEST(Hdf5, EmptyDatasetsInParallel) {
  // Zero-element datasets have no storage; I/O on them must be a no-op.
  SharedTemp tmp("empty");
  auto f = h5::File::create(tmp.path(), MPI_COMM_WORLD, true);
  auto flat = f.root().create_dataset<double>("flat", {0, 4});
  flat.write_all(std::vector<double>{});
  EXPECT_TRUE(flat.read_all<double>().empty());
  h5::DataSetOptions opts;
  opts.chunk = {8};
  opts.deflate = 3;
  opts.max_dims = {h5::unlimited};
  auto grow = f.root().create_dataset<float>("grow", {0}, opts);
  grow.write_slab<float>({0}, {0}, nullptr);
  EXPECT_TRUE(grow.read_all<float>().empty());
}

TEST(Hdf5, ChunkedDeflateWrittenCollectively) {
  SharedTemp tmp("deflate");
  const int rank = world_rank(), size = world_size();
  const hsize_t r = static_cast<hsize_t>(rank), n = static_cast<hsize_t>(size);
  auto value = [](hsize_t i, hsize_t j) { return 0.5 * static_cast<double>(i) - 3.0 * static_cast<double>(j); };
  {
    auto f = h5::File::create(tmp.path(), MPI_COMM_WORLD, true);
    h5::DataSetOptions opts;
    opts.chunk = {5, 4};  // chunk borders do not match rank borders: shared chunks
    opts.deflate = 6;
    opts.shuffle = true;
    auto ds = f.root().create_dataset<double>("z", {8 * n, 6}, opts);
    std::vector<double> mine;
    for (hsize_t i = 8 * r; i < 8 * r + 8; ++i)
      for (hsize_t j = 0; j < 6; ++j) mine.push_back(value(i, j));
    ds.write_slab({8 * r, 0}, {8, 6}, mine.data());
  }
  auto f = h5::File::open(tmp.path(), MPI_COMM_WORLD, false);
  auto ds = f.root().dataset("z");
  hid_t dcpl = H5Dget_create_plist(ds.id());
  ASSERT_GE(dcpl, 0);
  EXPECT_EQ(H5Pget_nfilters(dcpl), 2);  // shuffle + deflate really applied
  H5Pclose(dcpl);
  auto all = ds.read_all<double>();
  std::size_t idx = 0;
  for (hsize_t i = 0; i < 8 * n; ++i)
    for (hsize_t j = 0; j < 6; ++j) ASSERT_EQ(all[idx++], value(i, j));
}

TEST(Hdf5, ExtendChunkedDeflateWithFill) {
  SharedTemp tmp("extend");
  const int rank = world_rank();
  const hsize_t r = static_cast<hsize_t>(rank), n = static_cast<hsize_t>(world_size());
  {
    auto f = h5::File::create(tmp.path(), MPI_COMM_WORLD, true);
    h5::DataSetOptions opts;
    opts.chunk = {4, 3};
    opts.deflate = 1;
    opts.fill = 7;
    opts.max_dims = {h5::unlimited, 3};
    auto ds = f.root().create_dataset<std::int64_t>("grow", {0, 3}, opts);
    ds.extend({2 * n, 3});
    auto mine = ramp<std::int64_t>(6, 100 * rank);
    ds.write_slab({2 * r, 0}, {2, 3}, mine.data());
    ds.extend({2 * n + 3, 3});  // the new rows keep the fill value
    EXPECT_EQ(ds.dims(), (h5::Dims{2 * n + 3, 3}));
  }
  auto f = h5::File::open(tmp.path(), MPI_COMM_WORLD, false);
  auto all = f.root().dataset("grow").read_all<std::int64_t>();
  ASSERT_EQ(all.size(), 6 * n + 9);
  for (hsize_t q = 0; q < n; ++q)
    for (hsize_t i = 0; i < 6; ++i) EXPECT_EQ(all[6 * q + i], static_cast<std::int64_t>(100 * q + i));
  for (hsize_t i = 6 * n; i < all.size(); ++i) EXPECT_EQ(all[i], 7);
}

namespace {

const std::vector<std::string> kWords = {"alpha", "", "grüße", "日本語", "a longer string with spaces"};

void string_round_trip(const std::string& path, MPI_Comm comm) {
  {
    auto f = h5::File::create(path, comm, true);
    auto g = f.root();
    g.create_string_dataset("words", kWords);
    g.create_string_dataset("nested/empty", {});
  }
  auto f = h5::File::open(path, comm, false);
  EXPECT_EQ(f.root().dataset("words").read_strings(), kWords);
  EXPECT_TRUE(f.root().dataset("nested/empty").read_strings().empty());
}

}  // namespace

TEST(Hdf5, StringDatasetSerial) {
  LocalTemp tmp("strings_serial");
  string_round_trip(tmp.path(), MPI_COMM_NULL);
}

TEST(Hdf5, StringDatasetParallel) {
  SharedTemp tmp("strings_parallel");
  string_round_trip(tmp.path(), MPI_COMM_WORLD);
}

TEST(Hdf5, VariableLengthStringsReadInParallel) {
  // Written serially (variable length), read back through MPI-IO.
  SharedTemp tmp("strings_vl");
  if (world_rank() == 0) {
    auto f = h5::File::create(tmp.path(), MPI_COMM_NULL, true);
    f.root().create_string_dataset("words", kWords);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  auto f = h5::File::open(tmp.path(), MPI_COMM_WORLD, false);
  EXPECT_EQ(f.root().dataset("words").read_strings(), kWords);
}

TEST(Hdf5, AttributesRoundTripAndOverwrite) {
  SharedTemp tmp("attrs");
  std::vector<double> big(100000);  // > 64 KiB: needs dense attribute storage
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = 0.25 * static_cast<double>(i);
  {
    auto f = h5::File::create(tmp.path(), MPI_COMM_WORLD, true);
    auto root = f.root();
    root.set_attribute("title", std::string("fedhpc run ✓"));
    root.set_attribute("rounds", std::int64_t{1} << 40);
    root.set_attribute("clients", 12);  // plain int goes through the int64 path
    root.set_attribute("lr", 0.125);
    root.set_attribute("shape", std::vector<std::int64_t>{3, -4, 5});
    root.set_attribute("weights", std::vector<double>{0.5, 1.5});
    root.set_attribute("names", std::vector<std::string>{"x", "", "ζ"});
    root.set_attribute("nothing", std::vector<double>{});
    root.set_attribute("big", big);
    auto ds = root.create_dataset<float>("g/d", {4});
    ds.set_attribute("unit", "loss");
    ds.set_attribute("unit", std::int64_t{5});  // overwrite with another type
    auto g = root.group("g");
    g.set_attribute("tag", "first");
    g.set_attribute("tag", "second, and longer");
    g.set_attribute("weights", std::vector<double>{1, 2, 3});
    g.set_attribute("weights", std::vector<double>{9});
  }
  auto f = h5::File::open(tmp.path(), MPI_COMM_WORLD, false);
  auto root = f.root();
  EXPECT_EQ(root.get_attribute_string("title"), "fedhpc run ✓");
  EXPECT_EQ(root.get_attribute_int64("rounds"), std::int64_t{1} << 40);
  EXPECT_EQ(root.get_attribute_int64("clients"), 12);
  EXPECT_EQ(root.get_attribute_double("lr"), 0.125);
  EXPECT_EQ(root.get_attribute_double("clients"), 12.0);  // int converts to double
  EXPECT_EQ(root.get_attribute_int64s("shape"), (std::vector<std::int64_t>{3, -4, 5}));
  EXPECT_EQ(root.get_attribute_doubles("weights"), (std::vector<double>{0.5, 1.5}));
  EXPECT_EQ(root.get_attribute_strings("names"), (std::vector<std::string>{"x", "", "ζ"}));
  EXPECT_TRUE(root.get_attribute_doubles("nothing").empty());
  EXPECT_EQ(root.get_attribute_doubles("big"), big);
  EXPECT_TRUE(root.has_attribute("title"));
  EXPECT_FALSE(root.has_attribute("missing"));
  auto ds = root.dataset("g/d");
  EXPECT_EQ(ds.get_attribute_int64("unit"), 5);
  EXPECT_THROW(ds.get_attribute_string("unit"), h5::Error);  // it is an int now
  auto g = root.group("g");
  EXPECT_EQ(g.get_attribute_string("tag"), "second, and longer");
  EXPECT_EQ(g.get_attribute_doubles("weights"), std::vector<double>{9});
  EXPECT_THROW(g.get_attribute_int64("tag"), h5::Error);
  EXPECT_THROW(root.get_attribute_int64("shape"), h5::Error);  // three values, not one
  try {
    root.get_attribute_string("missing");
    ADD_FAILURE() << "no throw";
  } catch (const h5::Error& e) {
    EXPECT_NE(std::string(e.what()).find("'missing'"), std::string::npos) << e.what();
  }
}

TEST(Hdf5, NestedGroupsAndExists) {
  SharedTemp tmp("groups");
  auto f = h5::File::create(tmp.path(), MPI_COMM_WORLD, true);
  auto root = f.root();
  auto c = root.create_group("a/b/c");
  EXPECT_EQ(c.path(), "/a/b/c");
  auto d = root.group("a/b").create_group("d");
  EXPECT_EQ(d.path(), "/a/b/d");
  root.create_dataset<double>("a/data", {3});
  EXPECT_TRUE(root.exists("a"));
  EXPECT_TRUE(root.exists("a/b/c"));
  EXPECT_TRUE(root.exists("/a/b/d"));
  EXPECT_TRUE(root.exists("a//b/"));
  EXPECT_TRUE(root.exists("a/data"));
  EXPECT_TRUE(root.group("a").exists("b/c"));
  EXPECT_FALSE(root.exists("x"));
  EXPECT_FALSE(root.exists("x/y/z"));
  EXPECT_FALSE(root.exists("a/b/x"));
  EXPECT_FALSE(root.exists("a/data/x"));  // a dataset has no children
  EXPECT_EQ(root.require_group("a/b").path(), "/a/b");
  EXPECT_EQ(root.require_group("a/e").path(), "/a/e");
  EXPECT_TRUE(root.exists("a/e"));
  EXPECT_THROW(root.create_group("a/b"), h5::Error);  // already there
  EXPECT_THROW(root.group("nope"), h5::Error);
  try {
    root.dataset("a/nope");
    ADD_FAILURE() << "no throw";
  } catch (const h5::Error& e) {
    EXPECT_NE(std::string(e.what()).find("/a/nope"), std::string::npos) << e.what();
  }
}

TEST(Hdf5, DatasetPathsListsEveryDatasetBelowAGroup) {
  LocalTemp tmp("listing");
  auto f = h5::File::create(tmp.path(), MPI_COMM_NULL, true);
  auto root = f.root();
  root.create_dataset<float>("b/y", {1});
  root.create_dataset<float>("a", {1});
  root.create_group("empty");
  root.create_string_dataset("b/c/names", {"x"});
  EXPECT_EQ(root.dataset_paths(), (std::vector<std::string>{"a", "b/c/names", "b/y"}));
  EXPECT_EQ(root.group("b").dataset_paths(), (std::vector<std::string>{"c/names", "y"}));
  EXPECT_TRUE(root.group("empty").dataset_paths().empty());
}

TEST(Hdf5, MovedHandlesStayValid) {
  LocalTemp tmp("moves");
  auto f = h5::File::create(tmp.path(), MPI_COMM_NULL, true);
  auto ds = f.root().create_dataset<std::int32_t>("x", {2});
  auto moved = std::move(ds);
  EXPECT_LT(ds.id(), 0);  // NOLINT(bugprone-use-after-move): checking the moved-from state
  moved.write_all(std::vector<std::int32_t>{4, 5});
  h5::File other = std::move(f);
  other.close();  // datasets still alive keep the file open (weak close)
  EXPECT_EQ(moved.read_all<std::int32_t>(), (std::vector<std::int32_t>{4, 5}));
}

TEST(Hdf5, DataSetOptionsAreValidated) {
  LocalTemp tmp("options");
  auto f = h5::File::create(tmp.path(), MPI_COMM_NULL, true);
  h5::DataSetOptions opts;
  opts.deflate = 4;  // no chunk shape
  EXPECT_THROW(f.root().create_dataset<float>("d", {4}, opts), h5::Error);
  opts.chunk = {1024, 1024};  // larger than the fixed dims: shrunk, not refused
  auto small = f.root().create_dataset<float>("small", {3, 2}, opts);
  small.write_all(std::vector<float>{1, 2, 3, 4, 5, 6});
  EXPECT_EQ(small.read_all<float>(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  opts.max_dims = {h5::unlimited};  // wrong rank
  EXPECT_THROW(f.root().create_dataset<float>("d", {4, 4}, opts), h5::Error);
  auto ds = f.root().create_dataset<float>("ok", {4});
  EXPECT_THROW(ds.write_all(std::vector<float>(3)), h5::Error);
  EXPECT_THROW(ds.extend({8}), h5::Error);  // not chunked
  std::vector<float> v(2);
  EXPECT_THROW(ds.write_slab({3}, {2}, v.data()), h5::Error);  // past the end
}

TEST(Hdf5, OpeningMissingFileNamesPathAndStack) {
  for (MPI_Comm comm : {MPI_COMM_NULL, MPI_COMM_WORLD}) {
    const std::string path = "/nonexistent_dir_fedhpc/missing.h5";
    try {
      h5::File::open(path, comm, false);
      ADD_FAILURE() << "no throw";
    } catch (const h5::Error& e) {
      std::string what = e.what();
      EXPECT_NE(what.find("open file '" + path + "'"), std::string::npos) << what;
      EXPECT_NE(what.find("HDF5 error stack"), std::string::npos) << what;
      EXPECT_NE(what.find("H5Fopen()"), std::string::npos) << what;
      EXPECT_NE(what.find("unable to open file"), std::string::npos) << what;
    }
  }
  EXPECT_EQ(h5::error_stack(), "");  // consumed by the exception
}

TEST(Hdf5, CreateWithoutOverwriteRefusesExistingFile) {
  {
    LocalTemp tmp("excl_serial");
    h5::File::create(tmp.path(), MPI_COMM_NULL, false).close();
    EXPECT_THROW(h5::File::create(tmp.path(), MPI_COMM_NULL, false), h5::Error);
    EXPECT_NO_THROW(h5::File::create(tmp.path(), MPI_COMM_NULL, true));
  }
  SharedTemp tmp("excl_parallel");
  h5::File::create(tmp.path(), MPI_COMM_WORLD, false).close();
  try {
    h5::File::create(tmp.path(), MPI_COMM_WORLD, false);
    ADD_FAILURE() << "no throw";
  } catch (const h5::Error& e) {
    EXPECT_NE(std::string(e.what()).find("create file '" + tmp.path() + "'"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(h5::File::create(tmp.path(), MPI_COMM_WORLD, true));
}
