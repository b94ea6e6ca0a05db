#pragma once
// Thin RAII wrapper over the HDF5 C API (HighFive-style, but only what fedhpc
// needs). Every class owns one hid_t, closes it with the right H5*close in its
// destructor and is move-only. Every HDF5 return code is checked; a failure
// throws h5::Error carrying what was attempted plus the HDF5 error stack.
//
// Parallel files (File::create/open with a communicator) follow the HDF5
// collective rules, which this wrapper does not hide:
//  * everything that changes metadata (creating files, groups, datasets and
//    attributes, extend(), flush(), close()) is collective: every rank of the
//    file's communicator calls it, in the same order, with the same arguments;
//  * every dataset read and write uses collective transfer, so every rank
//    calls it too; a rank with nothing to do passes a count containing a zero;
//  * reading attributes, dims() and exists() may be done by any rank alone.
// Destructors close handles, and closing is collective too: if one rank throws
// past an open parallel File while the others go on, the job hangs. Treat an
// h5::Error on a parallel file as fatal for the whole job (MPI_Abort).
//
// Parallel HDF5 1.10.8 allocates every dataset's storage at creation (alloc
// time "early" regardless of what is asked), so a dataset with a fill value
// is written in full with that value when it is created.
#include <hdf5.h>
#include <mpi.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace fedhpc::h5 {

using Dims = std::vector<hsize_t>;

// Use in DataSetOptions::max_dims for a dimension that can grow without bound.
inline constexpr hsize_t unlimited = H5S_UNLIMITED;

// An HDF5 call failed. what() = "<operation> <object>: <HDF5 error stack>".
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Text of the calling thread's current HDF5 error stack, one line per entry
// ("func(): description [major / minor]"); clears the stack. Empty if none.
std::string error_stack();

// The reason an HDF5 error message gives, in a few words: the operating
// system's message where a file driver reported one ("No space left on
// device"), else the innermost entry of the error stack.
std::string os_reason(const std::string& what);

// Native HDF5 memory type of a C++ element type. Only the listed types are
// supported; anything else fails to compile.
template <class T>
struct NativeType;
template <> struct NativeType<float> { static hid_t id() { return H5T_NATIVE_FLOAT; } };
template <> struct NativeType<double> { static hid_t id() { return H5T_NATIVE_DOUBLE; } };
template <> struct NativeType<std::int64_t> { static hid_t id() { return H5T_NATIVE_INT64; } };
template <> struct NativeType<std::int32_t> { static hid_t id() { return H5T_NATIVE_INT32; } };
template <> struct NativeType<std::uint8_t> { static hid_t id() { return H5T_NATIVE_UINT8; } };
template <> struct NativeType<char> { static hid_t id() { return H5T_NATIVE_CHAR; } };

namespace detail {

// Owns one hid_t and the H5*close function for its kind.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  ~Handle();
  Handle(Handle&& other) noexcept;
  Handle& operator=(Handle&& other) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  hid_t id() const { return id_; }
  bool valid() const { return id_ >= 0; }
  // Closes now; returns the H5*close status (0 when nothing was open).
  herr_t close() noexcept;

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

}  // namespace detail

// A property list (file access, dataset creation, transfer, ...).
class PropList {
 public:
  // cls: H5P_FILE_ACCESS, H5P_DATASET_CREATE, H5P_DATASET_XFER, ...
  static PropList create(hid_t cls);
  hid_t id() const { return h_.id(); }

 private:
  explicit PropList(hid_t id);
  detail::Handle h_;
};

// A dataspace plus its selection.
class DataSpace {
 public:
  static DataSpace scalar();
  // max_dims empty means fixed size (max = dims).
  static DataSpace simple(const Dims& dims, const Dims& max_dims = {});
  // Takes ownership of an id returned by H5Dget_space / H5Aget_space.
  static DataSpace adopt(hid_t id, const std::string& what);

  hid_t id() const { return h_.id(); }
  int rank() const;
  Dims dims() const;
  hssize_t selected_points() const;
  void select_hyperslab(const Dims& offset, const Dims& count);
  void select_none();

 private:
  explicit DataSpace(hid_t id);
  detail::Handle h_;
};

// An opened attribute. The usual way in is Object::get_attribute_*().
class Attribute {
 public:
  static Attribute open(hid_t loc, const std::string& name, const std::string& where);
  hid_t id() const { return h_.id(); }
  const std::string& name() const { return name_; }

  // Reads a scalar or one-element string (variable or fixed length).
  std::string read_string() const;
  std::vector<std::string> read_strings() const;
  // Integer and float attributes of any width convert to the requested type.
  std::vector<std::int64_t> read_int64s() const;
  std::vector<double> read_doubles() const;

 private:
  Attribute(hid_t id, std::string name);
  template <class T>
  std::vector<T> read_numbers(H5T_class_t want_a, H5T_class_t want_b) const;
  detail::Handle h_;
  std::string name_;  // "<attr> on <object>" for messages
};

// Common part of Group and DataSet: identity and attributes. Writing an
// attribute that already exists replaces it (delete + recreate). Strings are
// stored as variable-length UTF-8, which h5py reads as Python str.
class Object {
 public:
  hid_t id() const { return h_.id(); }
  const std::string& path() const { return path_; }  // HDF5 path, "/a/b"
  const std::string& file_name() const { return file_; }
  bool is_parallel() const { return parallel_; }

  bool has_attribute(const std::string& name) const;
  void delete_attribute(const std::string& name);
  void set_attribute(const std::string& name, const std::string& value);
  void set_attribute(const std::string& name, const char* value);
  void set_attribute(const std::string& name, std::int64_t value);
  // Any other integer type (int, size_t, ...) is stored as int64.
  template <class I, std::enable_if_t<std::is_integral_v<I> && !std::is_same_v<I, bool>, int> = 0>
  void set_attribute(const std::string& name, I value) {
    set_attribute(name, static_cast<std::int64_t>(value));
  }
  void set_attribute(const std::string& name, double value);
  void set_attribute(const std::string& name, const std::vector<std::int64_t>& value);
  void set_attribute(const std::string& name, const std::vector<double>& value);
  void set_attribute(const std::string& name, const std::vector<std::string>& value);

  Attribute attribute(const std::string& name) const;
  std::string get_attribute_string(const std::string& name) const;
  std::int64_t get_attribute_int64(const std::string& name) const;
  double get_attribute_double(const std::string& name) const;
  std::vector<std::int64_t> get_attribute_int64s(const std::string& name) const;
  std::vector<double> get_attribute_doubles(const std::string& name) const;
  std::vector<std::string> get_attribute_strings(const std::string& name) const;

 protected:
  // Everything a child object inherits from the file it lives in.
  struct Context {
    std::string file;
    bool parallel = false;
    int rank = 0;  // rank in the file's communicator (0 for serial files)
  };
  Object(hid_t id, detail::Handle::Closer closer, std::string path, Context ctx);
  Context context() const { return {file_, parallel_, rank_}; }
  std::string where() const;                         // "'/a/b' in file.h5"
  std::string where(const std::string& name) const;  // child of this object
  std::string child_path(const std::string& name) const;
  int mpi_rank() const { return rank_; }

 private:
  void write_attribute(const std::string& name, hid_t type, const DataSpace& space,
                       const void* data);
  detail::Handle h_;
  std::string path_;
  std::string file_;
  bool parallel_ = false;
  int rank_ = 0;
};

struct DataSetOptions {
  // Required when deflate, shuffle or max_dims is set. A chunk dimension
  // larger than a fixed (non-unlimited) maximum is shrunk to it.
  Dims chunk;
  int deflate = 0;              // gzip level 1..9, 0 = off
  bool shuffle = false;         // byte shuffle before deflate
  std::optional<double> fill;   // fill value, converted to the element type
  Dims max_dims;                // empty = fixed size; h5::unlimited per dimension
};

class DataSet : public Object {
 public:
  Dims dims() const;

  // Hyperslab [offset, offset + count). A count with a zero selects nothing
  // (data may then be null) but the call still takes part in collective I/O.
  // Parallel files: collective, every rank calls.
  template <class T>
  void write_slab(const Dims& offset, const Dims& count, const T* data) {
    write_slab_raw(offset, count, NativeType<T>::id(), data);
  }
  template <class T>
  void read_slab(const Dims& offset, const Dims& count, T* out) const {
    read_slab_raw(offset, count, NativeType<T>::id(), out);
  }

  // Whole dataset; data.size() must equal the product of dims() on every
  // rank. Parallel files: collective; rank 0's data is written, the other
  // ranks' is ignored.
  template <class T>
  void write_all(const std::vector<T>& data) {
    write_all_raw(NativeType<T>::id(), data.data(), data.size());
  }
  // Parallel files: collective, every rank gets the whole dataset.
  template <class T>
  std::vector<T> read_all() const {
    std::vector<T> out(element_count());
    read_all_raw(NativeType<T>::id(), out.data());
    return out;
  }

  // Grows (or shrinks) a chunked dataset within its max_dims. Collective.
  void extend(const Dims& new_dims);
  // Reads a 1-D string dataset (variable or fixed length). Collective.
  std::vector<std::string> read_strings() const;

  void write_slab_raw(const Dims& offset, const Dims& count, hid_t mem_type, const void* data);
  void read_slab_raw(const Dims& offset, const Dims& count, hid_t mem_type, void* out) const;
  void write_all_raw(hid_t mem_type, const void* data, std::size_t n);
  void read_all_raw(hid_t mem_type, void* out) const;
  std::size_t element_count() const;

 private:
  friend class Group;
  DataSet(hid_t id, std::string path, Context ctx);
  PropList transfer() const;
  DataSpace file_selection(const Dims& offset, const Dims& count) const;
};

class Group : public Object {
 public:
  // Names may be nested ("a/b/c"); missing intermediate groups are created.
  Group create_group(const std::string& name);
  Group group(const std::string& name) const;
  // Opens the group if it exists, creates it otherwise.
  Group require_group(const std::string& name);
  // True if every component of the (relative or absolute) path exists and
  // every component but the last is a group. Never throws for missing parts.
  bool exists(const std::string& path) const;
  // Paths ("a/b", relative to this group) of every dataset below it, in
  // name order; links are not followed.
  std::vector<std::string> dataset_paths() const;

  DataSet dataset(const std::string& name) const;
  template <class T>
  DataSet create_dataset(const std::string& name, const Dims& dims,
                         const DataSetOptions& opts = {}) {
    return create_dataset_raw(name, NativeType<T>::id(), dims, opts);
  }
  DataSet create_dataset_raw(const std::string& name, hid_t type, const Dims& dims,
                             const DataSetOptions& opts = {});

  // 1-D UTF-8 string dataset. Serial files store variable-length strings.
  // Parallel HDF5 1.10 cannot write variable-length data at all, so parallel
  // files store fixed-length UTF-8 (null padded) instead; read_strings() and
  // h5py's .asstr() read both. Parallel: collective, same strings everywhere.
  DataSet create_string_dataset(const std::string& name, const std::vector<std::string>& values);

 private:
  friend class File;
  Group(hid_t id, std::string path, Context ctx);
};

class File {
 public:
  // comm != MPI_COMM_NULL: MPI-IO driver on that communicator (collective);
  // MPI_COMM_NULL: plain serial file. overwrite=false fails if path exists.
  static File create(const std::string& path, MPI_Comm comm, bool overwrite);
  static File open(const std::string& path, MPI_Comm comm, bool writable);

  File(File&&) noexcept = default;
  File& operator=(File&&) noexcept = default;
  ~File() = default;

  Group root() const;
  void flush();
  // Idempotent. Groups/datasets still alive keep the file open until they
  // go too (weak close degree, same for serial and MPI-IO files).
  void close();
  // For a serial file whose writes failed (disk full): HDF5 1.10 cannot
  // close such a file, and crashes when it retries at exit. This points the
  // file's descriptor at an anonymous memory file, so the pending writes land
  // there and the close succeeds; the file on disk keeps what it had.
  // Returns false if it could not.
  bool abandon() noexcept;
  bool is_open() const { return h_.valid(); }
  bool is_parallel() const { return parallel_; }
  const std::string& path() const { return path_; }
  hid_t id() const { return h_.id(); }

 private:
  File(hid_t id, std::string path, bool parallel, int rank);
  detail::Handle h_;
  std::string path_;
  bool parallel_ = false;
  int rank_ = 0;
};

}  // namespace fedhpc::h5
