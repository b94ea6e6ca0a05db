#include "fedhpc/io/hdf5.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <utility>

namespace fedhpc::h5 {

namespace {

// HDF5 prints every error stack to stderr by default; we turn it into
// exceptions instead, so switch the printing off once per process.
void silence_auto_print() {
  static const bool done = [] {
    if (H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr) < 0) throw Error("H5Eset_auto2 failed");
    return true;
  }();
  (void)done;
}

std::string message_text(hid_t msg) {
  char buf[256] = {0};
  if (H5Eget_msg(msg, nullptr, buf, sizeof buf) < 0) return "?";
  return buf;
}

herr_t append_entry(unsigned n, const H5E_error2_t* e, void* data) {
  auto& text = *static_cast<std::string*>(data);
  text += "\n  #" + std::to_string(n) + " " + (e->func_name ? e->func_name : "?") + "(): " +
          (e->desc ? e->desc : "") + " [" + message_text(e->maj_num) + " / " +
          message_text(e->min_num) + "]";
  return 0;
}

[[noreturn]] void fail(const std::string& attempted) {
  std::string stack = error_stack();
  throw Error(attempted + ": " + (stack.empty() ? "(no HDF5 error stack)" : "HDF5 error stack:" + stack));
}

hid_t check_id(hid_t id, const char* op, const std::string& where) {
  if (id < 0) fail(std::string(op) + " " + where);
  return id;
}

void check(herr_t rc, const char* op, const std::string& where) {
  if (rc < 0) fail(std::string(op) + " " + where);
}

bool check_tri(htri_t rc, const char* op, const std::string& where) {
  if (rc < 0) fail(std::string(op) + " " + where);
  return rc > 0;
}

void close_checked(detail::Handle& h, const char* op, const std::string& where) {
  check(h.close(), op, where);
}

std::string quoted(const std::string& s) { return "'" + s + "'"; }

bool has_zero(const Dims& d) { return std::find(d.begin(), d.end(), hsize_t{0}) != d.end(); }

std::size_t product(const Dims& d) {
  std::size_t n = 1;
  for (hsize_t x : d) n *= static_cast<std::size_t>(x);
  return n;
}

detail::Handle make_type(hid_t id, const std::string& where) {
  return detail::Handle(check_id(id, "copy datatype for", where), H5Tclose);
}

detail::Handle vl_string_type(H5T_cset_t cset, const std::string& where) {
  auto t = make_type(H5Tcopy(H5T_C_S1), where);
  check(H5Tset_size(t.id(), H5T_VARIABLE), "set string size for", where);
  check(H5Tset_cset(t.id(), cset), "set string charset for", where);
  return t;
}

detail::Handle fixed_string_type(std::size_t size, const std::string& where) {
  auto t = make_type(H5Tcopy(H5T_C_S1), where);
  check(H5Tset_size(t.id(), size), "set string size for", where);
  check(H5Tset_strpad(t.id(), H5T_STR_NULLPAD), "set string padding for", where);
  check(H5Tset_cset(t.id(), H5T_CSET_UTF8), "set string charset for", where);
  return t;
}

std::vector<const char*> c_strings(const std::vector<std::string>& values) {
  std::vector<const char*> ptrs;
  ptrs.reserve(values.size());
  for (const auto& v : values) ptrs.push_back(v.c_str());
  return ptrs;
}

// Reads string data of either storage kind. read(mem_type, buf) performs the
// actual H5Aread/H5Dread; space is the object's whole dataspace.
using RawReader = std::function<herr_t(hid_t, void*)>;

std::vector<std::string> read_string_data(hid_t file_type, const DataSpace& space,
                                          const RawReader& read, const std::string& where) {
  if (H5Tget_class(file_type) != H5T_STRING) throw Error("read strings " + where + ": not a string type");
  auto n = static_cast<std::size_t>(space.selected_points());
  std::vector<std::string> out;
  if (n == 0) return out;
  out.reserve(n);
  if (check_tri(H5Tis_variable_str(file_type), "inspect string type of", where)) {
    H5T_cset_t cset = H5Tget_cset(file_type);
    if (cset < 0) fail("get charset of " + where);
    auto mem = vl_string_type(cset, where);
    std::vector<char*> ptrs(n, nullptr);
    check(read(mem.id(), ptrs.data()), "read strings", where);
    for (char* p : ptrs) out.emplace_back(p ? p : "");
    check(H5Dvlen_reclaim(mem.id(), space.id(), H5P_DEFAULT, ptrs.data()), "free strings of", where);
    return out;
  }
  std::size_t size = H5Tget_size(file_type);
  if (size == 0) fail("get string size of " + where);
  auto mem = make_type(H5Tcopy(file_type), where);
  std::vector<char> buf(n * size);
  check(read(mem.id(), buf.data()), "read strings", where);
  bool space_pad = H5Tget_strpad(file_type) == H5T_STR_SPACEPAD;
  for (std::size_t i = 0; i < n; ++i) {
    const char* p = buf.data() + i * size;
    std::string s(p, std::find(p, p + size, '\0'));
    if (space_pad) s.erase(s.find_last_not_of(' ') + 1);
    out.push_back(std::move(s));
  }
  return out;
}

// Link creation list that creates missing intermediate groups and marks link
// names as UTF-8.
PropList nested_link_creation(const std::string& where) {
  auto lcpl = PropList::create(H5P_LINK_CREATE);
  check(H5Pset_create_intermediate_group(lcpl.id(), 1), "set intermediate groups for", where);
  check(H5Pset_char_encoding(lcpl.id(), H5T_CSET_UTF8), "set link encoding for", where);
  return lcpl;
}

// HDF5 rejects a chunk larger than a fixed dimension, which makes a generic
// chunk size fail on small datasets; shrink such chunks to the dimension.
Dims clamp_chunk(Dims chunk, const Dims& dims, const Dims& max_dims) {
  for (std::size_t i = 0; i < chunk.size() && i < dims.size(); ++i) {
    hsize_t limit = max_dims.empty() ? dims[i] : max_dims[i];
    if (limit != H5S_UNLIMITED) chunk[i] = std::max<hsize_t>(1, std::min(chunk[i], limit));
  }
  return chunk;
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (end > start) parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

}  // namespace

std::string error_stack() {
  silence_auto_print();
  hid_t stack = H5Eget_current_stack();  // copies and clears the current stack
  if (stack < 0) return "(could not read the HDF5 error stack)";
  std::string text;
  H5Ewalk2(stack, H5E_WALK_DOWNWARD, append_entry, &text);
  H5Eclose_stack(stack);
  return text;
}

// ---------------------------------------------------------------- Handle

namespace detail {

Handle::~Handle() { close(); }

Handle::Handle(Handle&& other) noexcept
    : id_(std::exchange(other.id_, H5I_INVALID_HID)), closer_(other.closer_) {}

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    close();
    id_ = std::exchange(other.id_, H5I_INVALID_HID);
    closer_ = other.closer_;
  }
  return *this;
}

herr_t Handle::close() noexcept {
  if (id_ < 0) return 0;
  herr_t rc = closer_(id_);
  id_ = H5I_INVALID_HID;
  return rc;
}

}  // namespace detail

// ---------------------------------------------------------------- PropList

PropList::PropList(hid_t id) : h_(id, H5Pclose) {}

PropList PropList::create(hid_t cls) {
  silence_auto_print();
  return PropList(check_id(H5Pcreate(cls), "create", "property list"));
}

// ---------------------------------------------------------------- DataSpace

DataSpace::DataSpace(hid_t id) : h_(id, H5Sclose) {}

DataSpace DataSpace::scalar() {
  silence_auto_print();
  return DataSpace(check_id(H5Screate(H5S_SCALAR), "create", "scalar dataspace"));
}

DataSpace DataSpace::simple(const Dims& dims, const Dims& max_dims) {
  silence_auto_print();
  if (dims.empty()) throw Error("create simple dataspace: rank must be at least 1");
  if (!max_dims.empty() && max_dims.size() != dims.size())
    throw Error("create simple dataspace: max_dims has a different rank than dims");
  hid_t id = H5Screate_simple(static_cast<int>(dims.size()), dims.data(),
                              max_dims.empty() ? nullptr : max_dims.data());
  return DataSpace(check_id(id, "create", "simple dataspace"));
}

DataSpace DataSpace::adopt(hid_t id, const std::string& what) {
  return DataSpace(check_id(id, "get dataspace of", what));
}

int DataSpace::rank() const {
  int n = H5Sget_simple_extent_ndims(id());
  if (n < 0) fail("get rank of dataspace");
  return n;
}

Dims DataSpace::dims() const {
  Dims d(static_cast<std::size_t>(rank()));
  if (H5Sget_simple_extent_dims(id(), d.data(), nullptr) < 0) fail("get dims of dataspace");
  return d;
}

hssize_t DataSpace::selected_points() const {
  hssize_t n = H5Sget_select_npoints(id());
  if (n < 0) fail("count selected points of dataspace");
  return n;
}

void DataSpace::select_hyperslab(const Dims& offset, const Dims& count) {
  auto r = static_cast<std::size_t>(rank());
  if (offset.size() != r || count.size() != r)
    throw Error("select hyperslab: offset/count rank does not match dataspace rank " +
                std::to_string(r));
  check(H5Sselect_hyperslab(id(), H5S_SELECT_SET, offset.data(), nullptr, count.data(), nullptr),
        "select hyperslab in", "dataspace");
}

void DataSpace::select_none() { check(H5Sselect_none(id()), "select none in", "dataspace"); }

// ---------------------------------------------------------------- Attribute

Attribute::Attribute(hid_t id, std::string name) : h_(id, H5Aclose), name_(std::move(name)) {}

Attribute Attribute::open(hid_t loc, const std::string& name, const std::string& where) {
  std::string full = "attribute " + quoted(name) + " of " + where;
  return Attribute(check_id(H5Aopen(loc, name.c_str(), H5P_DEFAULT), "open", full), full);
}

std::vector<std::string> Attribute::read_strings() const {
  auto type = make_type(H5Aget_type(id()), name_);
  auto space = DataSpace::adopt(H5Aget_space(id()), name_);
  auto read = [this](hid_t mem, void* buf) { return H5Aread(id(), mem, buf); };
  return read_string_data(type.id(), space, read, name_);
}

std::string Attribute::read_string() const {
  auto v = read_strings();
  if (v.size() != 1) throw Error("read " + name_ + ": expected one string, found " + std::to_string(v.size()));
  return v[0];
}

template <class T>
std::vector<T> Attribute::read_numbers(H5T_class_t want_a, H5T_class_t want_b) const {
  auto type = make_type(H5Aget_type(id()), name_);
  H5T_class_t cls = H5Tget_class(type.id());
  if (cls != want_a && cls != want_b) throw Error("read " + name_ + ": not a numeric attribute");
  auto space = DataSpace::adopt(H5Aget_space(id()), name_);
  std::vector<T> out(static_cast<std::size_t>(space.selected_points()));
  if (!out.empty()) check(H5Aread(id(), NativeType<T>::id(), out.data()), "read", name_);
  return out;
}

std::vector<std::int64_t> Attribute::read_int64s() const {
  return read_numbers<std::int64_t>(H5T_INTEGER, H5T_INTEGER);
}

std::vector<double> Attribute::read_doubles() const {
  return read_numbers<double>(H5T_FLOAT, H5T_INTEGER);
}

// ---------------------------------------------------------------- Object

Object::Object(hid_t id, detail::Handle::Closer closer, std::string path, Context ctx)
    : h_(id, closer), path_(std::move(path)), file_(std::move(ctx.file)),
      parallel_(ctx.parallel), rank_(ctx.rank) {}

std::string Object::where() const { return quoted(path_) + " in " + file_; }
std::string Object::where(const std::string& name) const { return quoted(child_path(name)) + " in " + file_; }

std::string Object::child_path(const std::string& name) const {
  if (!name.empty() && name[0] == '/') return name;
  return path_ == "/" ? "/" + name : path_ + "/" + name;
}

bool Object::has_attribute(const std::string& name) const {
  return check_tri(H5Aexists(id(), name.c_str()), "check attribute", quoted(name) + " of " + where());
}

void Object::delete_attribute(const std::string& name) {
  check(H5Adelete(id(), name.c_str()), "delete attribute", quoted(name) + " of " + where());
}

void Object::write_attribute(const std::string& name, hid_t type, const DataSpace& space,
                             const void* data) {
  // HDF5 has no "replace": overwriting means delete + recreate, which also
  // lets the type and shape change.
  if (has_attribute(name)) delete_attribute(name);
  std::string full = "attribute " + quoted(name) + " of " + where();
  detail::Handle attr(
      check_id(H5Acreate2(id(), name.c_str(), type, space.id(), H5P_DEFAULT, H5P_DEFAULT), "create", full),
      H5Aclose);
  char dummy = 0;  // H5Awrite rejects a null buffer even for zero elements
  check(H5Awrite(attr.id(), type, data ? data : &dummy), "write", full);
  close_checked(attr, "close", full);
}

void Object::set_attribute(const std::string& name, const std::string& value) {
  auto type = vl_string_type(H5T_CSET_UTF8, where());
  const char* p = value.c_str();
  write_attribute(name, type.id(), DataSpace::scalar(), &p);
}

void Object::set_attribute(const std::string& name, const char* value) {
  set_attribute(name, std::string(value));
}

void Object::set_attribute(const std::string& name, std::int64_t value) {
  write_attribute(name, H5T_NATIVE_INT64, DataSpace::scalar(), &value);
}

void Object::set_attribute(const std::string& name, double value) {
  write_attribute(name, H5T_NATIVE_DOUBLE, DataSpace::scalar(), &value);
}

void Object::set_attribute(const std::string& name, const std::vector<std::int64_t>& value) {
  write_attribute(name, H5T_NATIVE_INT64, DataSpace::simple({value.size()}), value.data());
}

void Object::set_attribute(const std::string& name, const std::vector<double>& value) {
  write_attribute(name, H5T_NATIVE_DOUBLE, DataSpace::simple({value.size()}), value.data());
}

void Object::set_attribute(const std::string& name, const std::vector<std::string>& value) {
  auto type = vl_string_type(H5T_CSET_UTF8, where());
  auto ptrs = c_strings(value);
  write_attribute(name, type.id(), DataSpace::simple({value.size()}), ptrs.data());
}

Attribute Object::attribute(const std::string& name) const { return Attribute::open(id(), name, where()); }

std::string Object::get_attribute_string(const std::string& name) const {
  return attribute(name).read_string();
}

std::vector<std::string> Object::get_attribute_strings(const std::string& name) const {
  return attribute(name).read_strings();
}

std::vector<std::int64_t> Object::get_attribute_int64s(const std::string& name) const {
  return attribute(name).read_int64s();
}

std::vector<double> Object::get_attribute_doubles(const std::string& name) const {
  return attribute(name).read_doubles();
}

std::int64_t Object::get_attribute_int64(const std::string& name) const {
  auto v = get_attribute_int64s(name);
  if (v.size() != 1) throw Error("read attribute " + quoted(name) + " of " + where() + ": not a single value");
  return v[0];
}

double Object::get_attribute_double(const std::string& name) const {
  auto v = get_attribute_doubles(name);
  if (v.size() != 1) throw Error("read attribute " + quoted(name) + " of " + where() + ": not a single value");
  return v[0];
}

std::string os_reason(const std::string& what) {
  // The file drivers put the operating system's words in their entry, e.g.
  // "... errno = 27, error message = 'File too large', ...".
  const std::string key = "error message = '";
  const auto at = what.rfind(key);
  if (at != std::string::npos) {
    const auto begin = at + key.size();
    const auto end = what.find('\'', begin);
    if (end != std::string::npos) return what.substr(begin, end - begin);
  }
  // Otherwise the innermost entry of the stack: "#n func(): description [...]".
  const auto last = what.rfind("(): ");
  if (last == std::string::npos) return what.substr(0, what.find('\n'));
  const auto begin = last + 4;
  return what.substr(begin, what.find_first_of("[\n", begin) - begin);
}

// ---------------------------------------------------------------- DataSet

DataSet::DataSet(hid_t id, std::string path, Context ctx)
    : Object(id, H5Dclose, std::move(path), std::move(ctx)) {}

Dims DataSet::dims() const { return DataSpace::adopt(H5Dget_space(id()), where()).dims(); }

std::size_t DataSet::element_count() const { return product(dims()); }

PropList DataSet::transfer() const {
  auto xfer = PropList::create(H5P_DATASET_XFER);
  // Filtered (compressed) datasets can only be written in parallel with
  // collective transfer, so parallel files always use it.
  if (is_parallel()) check(H5Pset_dxpl_mpio(xfer.id(), H5FD_MPIO_COLLECTIVE), "set collective transfer for", where());
  return xfer;
}

DataSpace DataSet::file_selection(const Dims& offset, const Dims& count) const {
  auto space = DataSpace::adopt(H5Dget_space(id()), where());
  if (offset.size() != count.size()) throw Error("select slab of " + where() + ": offset and count ranks differ");
  if (has_zero(count))
    space.select_none();
  else
    space.select_hyperslab(offset, count);
  return space;
}

// Memory space matching the file selection: the slab itself, or a one-element
// space with nothing selected for a rank that takes part without data.
static DataSpace memory_selection(const Dims& count) {
  if (!has_zero(count)) return DataSpace::simple(count);
  auto mem = DataSpace::simple({1});
  mem.select_none();
  return mem;
}

void DataSet::write_slab_raw(const Dims& offset, const Dims& count, hid_t mem_type, const void* data) {
  // A dataset with no elements has no storage; collective I/O on it fails in
  // 1.10.8 (write at HADDR_UNDEF). Every rank sees the same dims, so every
  // rank skips together.
  if (element_count() == 0) return;
  auto file_space = file_selection(offset, count);
  auto mem_space = memory_selection(count);
  auto xfer = transfer();
  char dummy = 0;  // HDF5 rejects a null buffer even when nothing is selected
  check(H5Dwrite(id(), mem_type, mem_space.id(), file_space.id(), xfer.id(), data ? data : &dummy),
        "write", where());
}

void DataSet::read_slab_raw(const Dims& offset, const Dims& count, hid_t mem_type, void* out) const {
  if (element_count() == 0) return;  // see write_slab_raw
  auto file_space = file_selection(offset, count);
  auto mem_space = memory_selection(count);
  auto xfer = transfer();
  char dummy = 0;
  check(H5Dread(id(), mem_type, mem_space.id(), file_space.id(), xfer.id(), out ? out : &dummy),
        "read", where());
}

void DataSet::write_all_raw(hid_t mem_type, const void* data, std::size_t n) {
  Dims d = dims();
  if (n != product(d))
    throw Error("write " + where() + ": " + std::to_string(n) + " values for " +
                std::to_string(product(d)) + " elements");
  // In a parallel file only rank 0 writes; the others join the collective
  // call with an empty selection, so no two ranks write the same bytes.
  Dims count = (is_parallel() && mpi_rank() != 0) ? Dims(d.size(), 0) : d;
  write_slab_raw(Dims(d.size(), 0), count, mem_type, data);
}

void DataSet::read_all_raw(hid_t mem_type, void* out) const {
  Dims d = dims();
  read_slab_raw(Dims(d.size(), 0), d, mem_type, out);
}

void DataSet::extend(const Dims& new_dims) {
  check(H5Dset_extent(id(), new_dims.data()), "extend", where());
}

std::vector<std::string> DataSet::read_strings() const {
  auto type = make_type(H5Dget_type(id()), where());
  auto space = DataSpace::adopt(H5Dget_space(id()), where());
  auto xfer = transfer();
  auto read = [&](hid_t mem, void* buf) { return H5Dread(id(), mem, H5S_ALL, H5S_ALL, xfer.id(), buf); };
  return read_string_data(type.id(), space, read, where());
}

// ---------------------------------------------------------------- Group

Group::Group(hid_t id, std::string path, Context ctx)
    : Object(id, H5Gclose, std::move(path), std::move(ctx)) {}

Group Group::create_group(const std::string& name) {
  auto lcpl = nested_link_creation(where(name));
  hid_t g = H5Gcreate2(id(), name.c_str(), lcpl.id(), H5P_DEFAULT, H5P_DEFAULT);
  return Group(check_id(g, "create group", where(name)), child_path(name), context());
}

Group Group::group(const std::string& name) const {
  hid_t g = H5Gopen2(id(), name.c_str(), H5P_DEFAULT);
  return Group(check_id(g, "open group", where(name)), child_path(name), context());
}

Group Group::require_group(const std::string& name) {
  return exists(name) ? group(name) : create_group(name);
}

bool Group::exists(const std::string& path) const {
  // H5Lexists("a/b") fails (not "false") when "a" is missing, so walk the
  // path one component at a time.
  auto parts = split_path(path);
  std::string prefix = (!path.empty() && path[0] == '/') ? "/" : "";
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (!prefix.empty() && prefix.back() != '/') prefix += '/';
    prefix += parts[i];
    const char* p = prefix.c_str();
    if (!check_tri(H5Lexists(id(), p, H5P_DEFAULT), "check link", where(prefix))) return false;
    // A dangling soft/external link exists as a link but not as an object.
    if (!check_tri(H5Oexists_by_name(id(), p, H5P_DEFAULT), "check object", where(prefix))) return false;
    if (i + 1 == parts.size()) break;
    detail::Handle obj(check_id(H5Oopen(id(), p, H5P_DEFAULT), "open object", where(prefix)), H5Oclose);
    if (H5Iget_type(obj.id()) != H5I_GROUP) return false;  // cannot descend into a dataset
  }
  return true;
}

namespace {
herr_t collect_dataset(hid_t, const char* name, const H5O_info_t* info, void* out) {
  if (info->type == H5O_TYPE_DATASET) static_cast<std::vector<std::string>*>(out)->push_back(name);
  return 0;
}
}  // namespace

std::vector<std::string> Group::dataset_paths() const {
  std::vector<std::string> out;
  check(H5Ovisit2(id(), H5_INDEX_NAME, H5_ITER_INC, collect_dataset, &out, H5O_INFO_BASIC), "list datasets", where());
  return out;
}

DataSet Group::dataset(const std::string& name) const {
  hid_t d = H5Dopen2(id(), name.c_str(), H5P_DEFAULT);
  return DataSet(check_id(d, "open dataset", where(name)), child_path(name), context());
}

DataSet Group::create_dataset_raw(const std::string& name, hid_t type, const Dims& dims,
                                  const DataSetOptions& opts) {
  const std::string w = where(name);
  bool needs_chunks = opts.deflate > 0 || opts.shuffle || !opts.max_dims.empty();
  if (needs_chunks && opts.chunk.empty())
    throw Error("create dataset " + w + ": deflate, shuffle and max_dims need opts.chunk");
  if (!opts.chunk.empty() && opts.chunk.size() != dims.size())
    throw Error("create dataset " + w + ": chunk rank differs from dims rank");
  if (!opts.max_dims.empty() && opts.max_dims.size() != dims.size())
    throw Error("create dataset " + w + ": max_dims rank differs from dims rank");

  auto dcpl = PropList::create(H5P_DATASET_CREATE);
  if (!opts.chunk.empty()) {
    Dims chunk = clamp_chunk(opts.chunk, dims, opts.max_dims);
    check(H5Pset_chunk(dcpl.id(), static_cast<int>(chunk.size()), chunk.data()), "set chunks for", w);
  }
  // Filter order matters: shuffle must run before deflate to help it.
  if (opts.shuffle) check(H5Pset_shuffle(dcpl.id()), "set shuffle for", w);
  if (opts.deflate > 0) check(H5Pset_deflate(dcpl.id(), static_cast<unsigned>(opts.deflate)), "set deflate for", w);
  // The fill value is given as double; HDF5 converts it to the element type.
  if (opts.fill) check(H5Pset_fill_value(dcpl.id(), H5T_NATIVE_DOUBLE, &*opts.fill), "set fill value for", w);
  // No alloc/fill time settings: parallel HDF5 1.10.8 forces early allocation
  // for every dataset in an MPI-IO file and handles filtered chunks itself.

  auto space = DataSpace::simple(dims, opts.max_dims);
  auto lcpl = nested_link_creation(w);
  hid_t d = H5Dcreate2(id(), name.c_str(), type, space.id(), lcpl.id(), dcpl.id(), H5P_DEFAULT);
  return DataSet(check_id(d, "create dataset", w), child_path(name), context());
}

DataSet Group::create_string_dataset(const std::string& name, const std::vector<std::string>& values) {
  const std::string w = where(name);
  auto space = DataSpace::simple({values.size()});
  auto lcpl = nested_link_creation(w);
  if (!is_parallel()) {
    auto type = vl_string_type(H5T_CSET_UTF8, w);
    hid_t d = H5Dcreate2(id(), name.c_str(), type.id(), space.id(), lcpl.id(), H5P_DEFAULT, H5P_DEFAULT);
    DataSet ds(check_id(d, "create dataset", w), child_path(name), context());
    auto ptrs = c_strings(values);
    ds.write_all_raw(type.id(), ptrs.data(), ptrs.size());
    return ds;
  }
  // Parallel HDF5 refuses to write variable-length data ("Parallel IO does not
  // support writing VL ... datatypes yet"), so pad to the longest string.
  std::size_t width = 1;
  for (const auto& v : values) width = std::max(width, v.size());
  auto type = fixed_string_type(width, w);
  std::vector<char> buf(values.size() * width, '\0');
  for (std::size_t i = 0; i < values.size(); ++i) std::copy(values[i].begin(), values[i].end(), buf.begin() + i * width);
  hid_t d = H5Dcreate2(id(), name.c_str(), type.id(), space.id(), lcpl.id(), H5P_DEFAULT, H5P_DEFAULT);
  DataSet ds(check_id(d, "create dataset", w), child_path(name), context());
  ds.write_all_raw(type.id(), buf.data(), values.size());
  return ds;
}

// ---------------------------------------------------------------- File

File::File(hid_t id, std::string path, bool parallel, int rank)
    : h_(id, H5Fclose), path_(std::move(path)), parallel_(parallel), rank_(rank) {}

namespace {

PropList file_access(const std::string& path, MPI_Comm comm, bool lock) {
  const std::string w = quoted(path);
  auto fapl = PropList::create(H5P_FILE_ACCESS);
  // The 1.8 format lets attributes grow beyond 64 KiB (dense storage) and
  // stays readable by every HDF5 >= 1.8 reader, h5py included.
  check(H5Pset_libver_bounds(fapl.id(), H5F_LIBVER_V18, H5F_LIBVER_LATEST), "set format bounds for", w);
  // MPI-IO defaults to "semi" close, which fails while objects are open;
  // weak close behaves like serial files.
  check(H5Pset_fclose_degree(fapl.id(), H5F_CLOSE_WEAK), "set close degree for", w);
  if (comm != MPI_COMM_NULL)
    check(H5Pset_fapl_mpio(fapl.id(), comm, MPI_INFO_NULL), "set MPI-IO driver for", w);
  else
    check(H5Pset_fapl_sec2(fapl.id()), "set sec2 driver for", w);
  // A file fedhpc creates is guarded by fedhpc's own output lock; HDF5's
  // lock would also keep h5py readers out of a run that is still going.
  if (!lock) check(H5Pset_file_locking(fapl.id(), false, true), "set file locking for", w);
  return fapl;
}

int rank_in(MPI_Comm comm) {
  int rank = 0;
  if (comm != MPI_COMM_NULL) MPI_Comm_rank(comm, &rank);
  return rank;
}

}  // namespace

File File::create(const std::string& path, MPI_Comm comm, bool overwrite) {
  silence_auto_print();
  auto fapl = file_access(path, comm, false);
  unsigned flags = overwrite ? H5F_ACC_TRUNC : H5F_ACC_EXCL;
  hid_t id = H5Fcreate(path.c_str(), flags, H5P_DEFAULT, fapl.id());
  return File(check_id(id, "create file", quoted(path)), path, comm != MPI_COMM_NULL, rank_in(comm));
}

File File::open(const std::string& path, MPI_Comm comm, bool writable) {
  silence_auto_print();
  auto fapl = file_access(path, comm, true);
  hid_t id = H5Fopen(path.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl.id());
  return File(check_id(id, "open file", quoted(path)), path, comm != MPI_COMM_NULL, rank_in(comm));
}

Group File::root() const {
  hid_t g = H5Gopen2(id(), "/", H5P_DEFAULT);
  return Group(check_id(g, "open root group of", quoted(path_)), "/", {path_, parallel_, rank_});
}

void File::flush() { check(H5Fflush(id(), H5F_SCOPE_GLOBAL), "flush file", quoted(path_)); }

void File::close() { close_checked(h_, "close file", quoted(path_)); }

bool File::abandon() noexcept {
  if (!h_.valid() || parallel_) return false;
  void* handle = nullptr;
  if (H5Fget_vfd_handle(h_.id(), H5P_DEFAULT, &handle) < 0 || !handle) return false;
  const int fd = *static_cast<int*>(handle);
  const int scratch = ::memfd_create("fedhpc-abandoned", MFD_CLOEXEC);
  if (scratch < 0) return false;
  const bool moved = ::dup2(scratch, fd) >= 0;
  ::close(scratch);
  if (!moved) return false;
  H5Eclear2(H5E_DEFAULT);
  return h_.close() >= 0;
}

}  // namespace fedhpc::h5
