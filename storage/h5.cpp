#include "storage/h5.h"

#include "common/error.h"
#include "storage/fletcher32.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <future>
#include <numeric>
#include <type_traits>
#include <utility>

namespace trainer::storage {
namespace {

// Once, before the library's first use: HDF5 prints its error stack to stderr by default (we fold
// it into exceptions instead), and registers an exit handler that closes whatever is still open;
// after a failed write (disk full) that handler crashes inside HDF5 1.10 on the half-closed file.
// Every file we open is closed explicitly, so the handler is not needed.
void prepare_library() {
  static const bool done = [] {
    H5dont_atexit();
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)done;
}

struct ErrorText {
  std::string stack;   // the top of HDF5's stack: what failed
  std::string system;  // the operating system's reason at its bottom, e.g. "No space left on device"
};

herr_t append_error(unsigned depth, const H5E_error2_t* error, void* out) {
  auto* text = static_cast<ErrorText*>(out);
  if (error->desc == nullptr || error->desc[0] == '\0') return 0;
  const std::string desc = error->desc;
  if (depth < 3) text->stack += (text->stack.empty() ? "" : "; ") + desc;
  const std::string marker = "error message = '";
  if (const auto at = desc.find(marker); at != std::string::npos && text->system.empty())
    text->system = desc.substr(at + marker.size(), desc.find('\'', at + marker.size()) - at - marker.size());
  return 0;
}

std::string error_stack() {
  ErrorText text;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, append_error, &text);
  H5Eclear2(H5E_DEFAULT);
  if (text.stack.empty()) text.stack = "unknown HDF5 error";
  return text.system.empty() ? text.stack : text.stack + ": " + text.system;
}

template <typename T>
hid_t memory_type() {
  if constexpr (std::is_same_v<T, std::uint8_t>) return H5T_NATIVE_UINT8;
  else if constexpr (std::is_same_v<T, std::int64_t>) return H5T_NATIVE_INT64;
  else if constexpr (std::is_same_v<T, float>) return H5T_NATIVE_FLOAT;
  else if constexpr (std::is_same_v<T, double>) return H5T_NATIVE_DOUBLE;
  else static_assert(sizeof(T) == 0, "unsupported element type");
}

Handle make_space(const std::vector<std::int64_t>& shape) {
  if (shape.empty()) return Handle(check(H5Screate(H5S_SCALAR), "creating a scalar dataspace"), H5Sclose);
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  return Handle(check(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                      "creating a dataspace"),
                H5Sclose);
}

// Our files do without HDF5's file locks (see File::open_read); HDF5_USE_FILE_LOCKING overrides.
Handle file_access() {
  Handle fapl(check(H5Pcreate(H5P_FILE_ACCESS), "creating file access properties"), H5Pclose);
  check(H5Pset_file_locking(fapl.id(), /*use_file_locking=*/0, /*ignore_when_disabled=*/1),
        "disabling HDF5 file locking");
  // Keep the shards an index links to open while the index is, instead of reopening one per tensor.
  // Kept open also after a retention racing a reader removes them (opened files stay readable).
  check(H5Pset_elink_file_cache_size(fapl.id(), 4096), "sizing the external-link file cache");
  return fapl;
}

Handle string_type() {
  Handle type(check(H5Tcopy(H5T_C_S1), "copying the string type"), H5Tclose);
  check(H5Tset_size(type.id(), H5T_VARIABLE), "making a variable-length string type");
  check(H5Tset_cset(type.id(), H5T_CSET_UTF8), "setting UTF-8");
  return type;
}

Handle link_creation() {
  Handle links(check(H5Pcreate(H5P_LINK_CREATE), "creating link properties"), H5Pclose);
  check(H5Pset_create_intermediate_group(links.id(), 1), "setting link properties");
  return links;
}

// HDF5 1.12 renamed the link API (H5L_info2_t, H5Literate2, H5Lget_info2); 1.10 is Debian 12's.
#if H5_VERSION_GE(1, 12, 0)
using LinkInfo = H5L_info2_t;
#define TRAINER_H5L_ITERATE H5Literate2
#define TRAINER_H5L_GET_INFO H5Lget_info2
#else
using LinkInfo = H5L_info_t;
#define TRAINER_H5L_ITERATE H5Literate
#define TRAINER_H5L_GET_INFO H5Lget_info
#endif

herr_t collect_name(hid_t, const char* name, const LinkInfo*, void* out) {
  static_cast<std::vector<std::string>*>(out)->emplace_back(name);
  return 0;
}

}  // namespace

Handle::Handle(Handle&& other) noexcept : id_(std::exchange(other.id_, -1)), closer_(other.closer_) {}

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    if (valid() && closer_ != nullptr) closer_(id_);
    id_ = std::exchange(other.id_, -1);
    closer_ = other.closer_;
  }
  return *this;
}

Handle::~Handle() {
  if (valid() && closer_ != nullptr) closer_(id_);
}

hid_t check(hid_t status, const std::string& what) {
  if (status < 0) throw StorageError(what + ": " + error_stack());
  return status;
}

std::int64_t DatasetInfo::element_count() const {
  std::int64_t count = 1;
  for (std::int64_t d : shape) count *= d;
  return count;
}

File File::open_read(const std::string& path) {
  prepare_library();
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) throw StorageError(path + ": no such file");
  if (S_ISDIR(info.st_mode)) throw StorageError(path + ": is a directory, not an HDF5 file");
  if (!S_ISREG(info.st_mode))
    throw StorageError(path + ": not a regular file (a FIFO, socket or device): refused, reading it could block forever");
  if (H5Fis_hdf5(path.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    throw StorageError(path + ": not an HDF5 file");
  }
  Handle fapl = file_access();
  hid_t id = check(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.id()), path + ": cannot open");
  return File(Handle(id, H5Fclose), path);
}

File File::create(const std::string& path) {
  prepare_library();
  Handle fapl = file_access();
  hid_t id = check(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.id()),
                   path + ": cannot create");
  return File(Handle(id, H5Fclose), path);
}

std::string File::where(const std::string& object) const { return path_ + ":" + object; }

bool File::has(const std::string& name) const {
  // H5Lexists fails on a missing intermediate group, so walk the path one link at a time.
  std::string prefix;
  std::size_t start = name.front() == '/' ? 1 : 0;
  while (start <= name.size()) {
    std::size_t end = name.find('/', start);
    if (end == std::string::npos) end = name.size();
    prefix += "/" + name.substr(start, end - start);
    htri_t exists = H5Lexists(handle_.id(), prefix.c_str(), H5P_DEFAULT);
    if (exists <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
    start = end + 1;
  }
  return true;
}

DatasetInfo File::describe(const std::string& dataset) const {
  if (!has(dataset)) throw StorageError(where(dataset) + ": no such dataset");
  Handle set(check(H5Dopen2(handle_.id(), dataset.c_str(), H5P_DEFAULT), where(dataset) + ": cannot open dataset"),
             H5Dclose);
  Handle type(check(H5Dget_type(set.id()), where(dataset) + ": cannot read its type"), H5Tclose);
  Handle space(check(H5Dget_space(set.id()), where(dataset) + ": cannot read its shape"), H5Sclose);

  DatasetInfo info;
  int rank = static_cast<int>(check(H5Sget_simple_extent_ndims(space.id()), where(dataset) + ": cannot read its rank"));
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  if (rank > 0) H5Sget_simple_extent_dims(space.id(), dims.data(), nullptr);
  // A damaged or hostile file can announce any extent: refuse sizes no real tensor has, so that
  // element counts never overflow and no reader tries to allocate them.
  constexpr hsize_t kMaxElements = hsize_t{1} << 40;
  hsize_t elements = 1;
  for (hsize_t d : dims) {
    if (d != 0 && elements > kMaxElements / d)
      throw StorageError(where(dataset) + ": announces an impossible size (corrupt file?)");
    elements *= d;
  }
  info.shape.assign(dims.begin(), dims.end());
  info.element_size = H5Tget_size(type.id());
  switch (H5Tget_class(type.id())) {
    case H5T_INTEGER:
      info.kind = ElementKind::kInteger;
      info.is_signed = H5Tget_sign(type.id()) == H5T_SGN_2;
      break;
    case H5T_FLOAT:
      info.kind = ElementKind::kFloat;
      info.is_signed = true;
      break;
    default:
      info.kind = ElementKind::kOther;
  }
  return info;
}

std::uint64_t File::storage_size(const std::string& dataset) const {
  Handle set(check(H5Dopen2(handle_.id(), dataset.c_str(), H5P_DEFAULT), where(dataset) + ": cannot open dataset"),
             H5Dclose);
  return H5Dget_storage_size(set.id());
}

bool File::checksummed(const std::string& dataset) const {
  Handle set(check(H5Dopen2(handle_.id(), dataset.c_str(), H5P_DEFAULT), where(dataset) + ": cannot open dataset"),
             H5Dclose);
  Handle create(check(H5Dget_create_plist(set.id()), where(dataset) + ": cannot read its properties"), H5Pclose);
  const int filters = H5Pget_nfilters(create.id());
  for (int i = 0; i < filters; ++i) {
    unsigned flags = 0;
    std::size_t elements = 0;
    if (H5Pget_filter2(create.id(), static_cast<unsigned>(i), &flags, &elements, nullptr, 0, nullptr, nullptr) ==
        H5Z_FILTER_FLETCHER32)
      return true;
  }
  return false;
}

template <typename T>
std::vector<T> File::read(const std::string& dataset) const {
  DatasetInfo info = describe(dataset);
  if (info.kind == ElementKind::kOther)
    throw StorageError(where(dataset) + ": holds neither integers nor floating-point numbers");
  Handle set(check(H5Dopen2(handle_.id(), dataset.c_str(), H5P_DEFAULT), where(dataset) + ": cannot open dataset"),
             H5Dclose);
  if (static_cast<std::uint64_t>(info.element_count()) * sizeof(T) > (std::uint64_t{1} << 36))
    throw StorageError(where(dataset) + ": too large to read into memory at once (" +
                       std::to_string(info.element_count()) + " elements)");
  std::vector<T> values(static_cast<std::size_t>(info.element_count()));
  check(H5Dread(set.id(), memory_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()),
        where(dataset) + ": cannot read");
  return values;
}

template <typename T>
void File::write(const std::string& dataset, const std::vector<std::int64_t>& shape,
                 const std::vector<T>& values) {
  std::int64_t count = 1;
  for (std::int64_t d : shape) count *= d;
  if (count != static_cast<std::int64_t>(values.size()))
    throw Error(where(dataset) + ": " + std::to_string(values.size()) +
                " values do not fill the shape given");
  write_raw(dataset, shape, memory_type<T>(), values.data());
}

Handle File::create_dataset(const std::string& dataset, const std::vector<std::int64_t>& shape, hid_t type,
                            bool checksummed, hsize_t& chunk_rows) {
  Handle links = link_creation();
  Handle space = make_space(shape);
  Handle create(check(H5Pcreate(H5P_DATASET_CREATE), "creating dataset properties"), H5Pclose);
  const std::int64_t count = std::accumulate(shape.begin(), shape.end(), std::int64_t{1}, std::multiplies<>());
  chunk_rows = 0;  // checksummed: chunks of at most ~16 MiB along the first axis
  if (checksummed && !shape.empty() && count > 0) {
    constexpr std::int64_t kChunkBytes = std::int64_t{16} << 20;
    const std::int64_t row_bytes = count / shape[0] * static_cast<std::int64_t>(H5Tget_size(type));
    std::vector<hsize_t> chunk(shape.begin(), shape.end());
    chunk[0] = static_cast<hsize_t>(std::clamp<std::int64_t>(kChunkBytes / std::max<std::int64_t>(row_bytes, 1), 1, shape[0]));
    check(H5Pset_chunk(create.id(), static_cast<int>(chunk.size()), chunk.data()), where(dataset) + ": chunking");
    check(H5Pset_fletcher32(create.id()), where(dataset) + ": Fletcher-32 filter");
    chunk_rows = chunk[0];
  }
  return Handle(check(H5Dcreate2(handle_.id(), dataset.c_str(), type, space.id(), links.id(), create.id(), H5P_DEFAULT),
                      where(dataset) + ": cannot create dataset"),
                H5Dclose);
}

void File::write_raw(const std::string& dataset, const std::vector<std::int64_t>& shape, hid_t type,
                     const void* data, bool checksummed) {
  if (checksummed) return write_checksummed({{dataset, shape, type, data}});
  hsize_t chunk_rows = 0;
  Handle set = create_dataset(dataset, shape, type, /*checksummed=*/false, chunk_rows);
  if (std::accumulate(shape.begin(), shape.end(), std::int64_t{1}, std::multiplies<>()) > 0)
    check(H5Dwrite(set.id(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), where(dataset) + ": cannot write");
}

namespace {

// One chunk of a dataset as it will be stored: `rows` rows from `row`, padded with zeros to a
// whole chunk (edge chunks), then its Fletcher-32 sum, little-endian.
struct ChunkJob {
  std::size_t dataset;
  hsize_t row;
  std::size_t rows, row_bytes, chunk_bytes;
};

void prepare_chunk(const ChunkJob& job, const void* data, std::vector<unsigned char>& buffer) {
  if (buffer.size() < job.chunk_bytes + 4) buffer.resize(job.chunk_bytes + 4);
  std::memcpy(buffer.data(), static_cast<const unsigned char*>(data) + job.row * job.row_bytes, job.rows * job.row_bytes);
  std::memset(buffer.data() + job.rows * job.row_bytes, 0, job.chunk_bytes - job.rows * job.row_bytes);
  const std::uint32_t sum = fletcher32(buffer.data(), job.chunk_bytes);
  for (std::size_t b = 0; b < 4; ++b) buffer[job.chunk_bytes + b] = static_cast<unsigned char>(sum >> (8 * b));
}

// Below this a chunk is prepared on the writing thread: starting a helper costs more than it saves.
constexpr std::size_t kOverlapBytes = std::size_t{1} << 20;

}  // namespace

// HDF5's filter pipeline would allocate a fresh buffer per chunk, copy it and checksum it with a
// word-at-a-time loop, all before the write. Here chunks go through two reused buffers with the
// vectorized checksum, the next one prepared while this one is written (H5Dwrite_chunk: stored as
// is, and checked on every read like any chunk HDF5's own filter wrote).
void File::write_checksummed(const std::vector<RawDataset>& datasets) {
  std::vector<Handle> sets;
  std::vector<ChunkJob> jobs;
  for (std::size_t i = 0; i < datasets.size(); ++i) {
    const RawDataset& d = datasets[i];
    hsize_t chunk_rows = 0;
    sets.push_back(create_dataset(d.path, d.shape, d.type, /*checksummed=*/true, chunk_rows));
    const std::int64_t count = std::accumulate(d.shape.begin(), d.shape.end(), std::int64_t{1}, std::multiplies<>());
    if (count == 0) continue;
    if (chunk_rows == 0) {  // a scalar: contiguous, no checksum
      check(H5Dwrite(sets.back().id(), d.type, H5S_ALL, H5S_ALL, H5P_DEFAULT, d.data), where(d.path) + ": cannot write");
      continue;
    }
    const std::size_t row_bytes = static_cast<std::size_t>(count / d.shape[0]) * H5Tget_size(d.type);
    const auto rows = static_cast<hsize_t>(d.shape[0]);
    for (hsize_t row = 0; row < rows; row += chunk_rows)
      jobs.push_back({i, row, static_cast<std::size_t>(std::min(chunk_rows, rows - row)), row_bytes,
                      static_cast<std::size_t>(chunk_rows) * row_bytes});
  }
  std::vector<unsigned char> buffers[2];  // before `next`, whose destructor waits for its work
  const auto prepare = [&](std::size_t k) { prepare_chunk(jobs[k], datasets[jobs[k].dataset].data, buffers[k % 2]); };
  std::future<void> next;
  if (!jobs.empty()) prepare(0);
  for (std::size_t k = 0; k < jobs.size(); ++k) {
    if (next.valid()) next.get();
    const bool ahead = k + 1 < jobs.size() && jobs[k + 1].chunk_bytes >= kOverlapBytes;
    if (ahead) next = std::async(std::launch::async, prepare, k + 1);
    const ChunkJob& job = jobs[k];
    std::vector<hsize_t> offset(datasets[job.dataset].shape.size(), 0);
    offset[0] = job.row;
    check(H5Dwrite_chunk(sets[job.dataset].id(), H5P_DEFAULT, 0, offset.data(), job.chunk_bytes + 4, buffers[k % 2].data()),
          where(datasets[job.dataset].path) + ": cannot write");
    if (k + 1 < jobs.size() && !ahead) prepare(k + 1);
  }
}

void File::read_raw(const std::string& dataset, hid_t type, void* out, std::size_t capacity) const {
  if (!has(dataset)) throw StorageError(where(dataset) + ": no such dataset");
  Handle set(check(H5Dopen2(handle_.id(), dataset.c_str(), H5P_DEFAULT), where(dataset) + ": cannot open dataset"),
             H5Dclose);
  if (read_checksummed_chunks(set.id(), type, out, capacity)) return;
  check(H5Dread(set.id(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out), where(dataset) + ": cannot read");
}

// HDF5's filter pipeline reads each chunk into a buffer of its own, verifies it word by word
// (1.4 GB/s here) and copies it out: a load took 15x a raw read of its bytes. Chunks as our writer
// makes them (chunked along the first axis, Fletcher-32 the only filter, stored in the memory type)
// are read raw instead (H5Dread_chunk), straight into `out` where chunk and checksum fit, and
// checked with the vectorized fletcher32(). False where the dataset is not of that kind or a chunk
// does not verify: then H5Dread reads it, and reports a mismatch in HDF5's own words (it also
// accepts the checksum byte order of files from old HDF5 versions).
bool File::read_checksummed_chunks(hid_t set, hid_t type, void* out, std::size_t capacity) const {
  Handle create(H5Dget_create_plist(set), H5Pclose);
  if (!create.valid() || H5Pget_layout(create.id()) != H5D_CHUNKED || H5Pget_nfilters(create.id()) != 1) return false;
  unsigned flags = 0, config = 0;
  std::size_t values = 0;
  if (H5Pget_filter2(create.id(), 0, &flags, &values, nullptr, 0, nullptr, &config) != H5Z_FILTER_FLETCHER32)
    return false;
  Handle file_type(H5Dget_type(set), H5Tclose);
  Handle space(H5Dget_space(set), H5Sclose);
  const int rank = space.valid() ? H5Sget_simple_extent_ndims(space.id()) : -1;
  if (!file_type.valid() || H5Tequal(file_type.id(), type) <= 0 || rank < 1) return false;
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank)), chunk(static_cast<std::size_t>(rank));
  if (H5Sget_simple_extent_dims(space.id(), dims.data(), nullptr) != rank ||
      H5Pget_chunk(create.id(), rank, chunk.data()) != rank || !std::equal(dims.begin() + 1, dims.end(), chunk.begin() + 1))
    return false;
  const std::size_t row_bytes =
      H5Tget_size(type) * std::accumulate(dims.begin() + 1, dims.end(), std::size_t{1}, std::multiplies<>());
  const std::size_t chunk_bytes = chunk[0] * row_bytes, total = dims[0] * row_bytes;
  std::vector<unsigned char> bounce;  // for an edge chunk (stored padded to a whole chunk)
  std::vector<hsize_t> offset(dims.size(), 0);
  for (offset[0] = 0; offset[0] < dims[0]; offset[0] += chunk[0]) {
    const std::size_t at = offset[0] * row_bytes;
    hsize_t stored = 0;
    if (H5Dget_chunk_storage_size(set, offset.data(), &stored) < 0 || stored != chunk_bytes + 4) {
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
    const bool direct = at + chunk_bytes + 4 <= capacity;
    if (!direct) bounce.resize(chunk_bytes + 4);
    unsigned char* target = direct ? static_cast<unsigned char*>(out) + at : bounce.data();
    std::uint32_t filter_mask = 0;
    if (H5Dread_chunk(set, H5P_DEFAULT, offset.data(), &filter_mask, target) < 0) {
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
    std::uint32_t sum = 0;  // little-endian behind the chunk, as HDF5's filter stores it
    for (int b = 3; b >= 0; --b) sum = (sum << 8) | target[chunk_bytes + static_cast<std::size_t>(b)];
    if (filter_mask != 0 || fletcher32(target, chunk_bytes) != sum) return false;
    if (!direct) std::memcpy(static_cast<unsigned char*>(out) + at, target, std::min(chunk_bytes, total - at));
  }
  return true;
}

void File::read_rows(const std::string& dataset, hid_t type, const std::vector<std::int64_t>& rows, void* out) const {
  if (!has(dataset)) throw StorageError(where(dataset) + ": no such dataset");
  Handle set(check(H5Dopen2(handle_.id(), dataset.c_str(), H5P_DEFAULT), where(dataset) + ": cannot open dataset"),
             H5Dclose);
  Handle file_space(check(H5Dget_space(set.id()), where(dataset) + ": no dataspace"), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(file_space.id());
  std::vector<hsize_t> dims(static_cast<std::size_t>(std::max(rank, 1)));
  if (rank < 1 || H5Sget_simple_extent_dims(file_space.id(), dims.data(), nullptr) != rank)
    throw StorageError(where(dataset) + ": not an array with rows");
  const std::size_t row_bytes = H5Tget_size(type) * static_cast<std::size_t>(std::accumulate(
                                                         dims.begin() + 1, dims.end(), hsize_t{1}, std::multiplies<>()));
  for (std::size_t first = 0; first < rows.size();) {
    std::size_t last = first + 1;
    while (last < rows.size() && rows[last] == rows[last - 1] + 1) ++last;
    if (rows[first] < 0 || static_cast<hsize_t>(rows[last - 1]) >= dims[0])
      throw StorageError(where(dataset) + ": row " + std::to_string(rows[first]) + " is out of range");
    std::vector<hsize_t> start(dims.size(), 0), count = dims;
    start[0] = static_cast<hsize_t>(rows[first]);
    count[0] = last - first;
    check(H5Sselect_hyperslab(file_space.id(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr),
          where(dataset) + ": cannot select rows");
    Handle memory(check(H5Screate_simple(rank, count.data(), nullptr), where(dataset) + ": no memory space"),
                  H5Sclose);
    check(H5Dread(set.id(), type, memory.id(), file_space.id(), H5P_DEFAULT, static_cast<char*>(out) + first * row_bytes),
          where(dataset) + ": cannot read rows");
    first = last;
  }
}

void File::create_group(const std::string& group) {
  if (group == "/" || has(group)) return;
  Handle links = link_creation();
  Handle created(check(H5Gcreate2(handle_.id(), group.c_str(), links.id(), H5P_DEFAULT, H5P_DEFAULT),
                       where(group) + ": cannot create group"),
                 H5Gclose);
}

std::vector<std::string> File::list(const std::string& group) const {
  if (group != "/" && !has(group)) throw StorageError(where(group) + ": no such group");
  Handle opened(check(H5Gopen2(handle_.id(), group.c_str(), H5P_DEFAULT), where(group) + ": not a group"),
                H5Gclose);
  std::vector<std::string> names;
  check(TRAINER_H5L_ITERATE(opened.id(), H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_name, &names),
        where(group) + ": cannot list");
  return names;
}

void File::link_external(const std::string& link, const std::string& file, const std::string& object) {
  Handle links = link_creation();
  check(H5Lcreate_external(file.c_str(), object.c_str(), handle_.id(), link.c_str(), links.id(), H5P_DEFAULT),
        where(link) + ": cannot link to " + file + ":" + object);
}

std::string File::external_file(const std::string& link) const { return external_target(link).first; }

std::pair<std::string, std::string> File::external_target(const std::string& link) const {
  LinkInfo info{};
  if (TRAINER_H5L_GET_INFO(handle_.id(), link.c_str(), &info, H5P_DEFAULT) < 0) {
    H5Eclear2(H5E_DEFAULT);
    return {};
  }
  if (info.type != H5L_TYPE_EXTERNAL) return {};
  std::vector<char> value(info.u.val_size);
  const char* file = nullptr;
  const char* object = nullptr;
  unsigned flags = 0;
  if (H5Lget_val(handle_.id(), link.c_str(), value.data(), value.size(), H5P_DEFAULT) < 0 ||
      H5Lunpack_elink_val(value.data(), value.size(), &flags, &file, &object) < 0) {
    H5Eclear2(H5E_DEFAULT);
    return {};
  }
  return {file ? file : "", object ? object : ""};
}

namespace {

Handle open_object(hid_t file, const std::string& object, const std::string& where) {
  return Handle(check(H5Oopen(file, object.c_str(), H5P_DEFAULT), where + ": cannot open"), H5Oclose);
}

}  // namespace

void File::set_attribute(const std::string& object, const std::string& name, const AttributeValue& value) {
  Handle target = open_object(handle_.id(), object, where(object));
  if (H5Aexists(target.id(), name.c_str()) > 0) H5Adelete(target.id(), name.c_str());
  const std::string what = where(object) + " attribute " + name;
  auto write = [&](hid_t type, const Handle& space, const void* data) {
    Handle attribute(check(H5Acreate2(target.id(), name.c_str(), type, space.id(), H5P_DEFAULT, H5P_DEFAULT),
                           what + ": cannot create"),
                     H5Aclose);
    check(H5Awrite(attribute.id(), type, data), what + ": cannot write");
  };
  if (const auto* i = std::get_if<std::int64_t>(&value)) {
    write(H5T_NATIVE_INT64, make_space({}), i);
  } else if (const auto* d = std::get_if<double>(&value)) {
    write(H5T_NATIVE_DOUBLE, make_space({}), d);
  } else if (const auto* text = std::get_if<std::string>(&value)) {
    const char* pointer = text->c_str();
    write(string_type().id(), make_space({}), &pointer);
  } else {
    const auto& texts = std::get<std::vector<std::string>>(value);
    std::vector<const char*> pointers;
    for (const auto& t : texts) pointers.push_back(t.c_str());
    write(string_type().id(), make_space({static_cast<std::int64_t>(texts.size())}), pointers.data());
  }
}

bool File::has_attribute(const std::string& object, const std::string& name) const {
  if (object != "/" && !has(object)) return false;
  Handle target = open_object(handle_.id(), object, where(object));
  return H5Aexists(target.id(), name.c_str()) > 0;
}

AttributeValue File::attribute(const std::string& object, const std::string& name) const {
  const std::string what = where(object) + " attribute " + name;
  if (!has_attribute(object, name)) throw StorageError(what + ": missing");
  Handle target = open_object(handle_.id(), object, where(object));
  Handle attribute(check(H5Aopen(target.id(), name.c_str(), H5P_DEFAULT), what + ": cannot open"), H5Aclose);
  Handle type(check(H5Aget_type(attribute.id()), what + ": no type"), H5Tclose);
  Handle space(check(H5Aget_space(attribute.id()), what + ": no shape"), H5Sclose);
  const hssize_t count = H5Sget_simple_extent_npoints(space.id());
  const bool scalar = H5Sget_simple_extent_type(space.id()) == H5S_SCALAR;
  switch (H5Tget_class(type.id())) {
    case H5T_INTEGER: {
      std::int64_t value = 0;
      if (count != 1) break;
      check(H5Aread(attribute.id(), H5T_NATIVE_INT64, &value), what + ": cannot read");
      return value;
    }
    case H5T_FLOAT: {
      double value = 0;
      if (count != 1) break;
      check(H5Aread(attribute.id(), H5T_NATIVE_DOUBLE, &value), what + ": cannot read");
      return value;
    }
    case H5T_STRING: {
      std::vector<std::string> texts;
      if (H5Tis_variable_str(type.id()) > 0) {
        Handle memory = string_type();
        std::vector<char*> pointers(static_cast<std::size_t>(count), nullptr);
        check(H5Aread(attribute.id(), memory.id(), pointers.data()), what + ": cannot read");
        for (char* p : pointers) {
          texts.emplace_back(p ? p : "");
          H5free_memory(p);
        }
      } else {
        const std::size_t size = H5Tget_size(type.id());
        std::vector<char> buffer(size * static_cast<std::size_t>(count) + 1, '\0');
        check(H5Aread(attribute.id(), type.id(), buffer.data()), what + ": cannot read");
        for (hssize_t i = 0; i < count; ++i) {
          std::string text(buffer.data() + i * size, size);
          texts.push_back(text.substr(0, text.find('\0')));
        }
      }
      if (scalar && texts.size() == 1) return texts.front();
      return texts;
    }
    default:
      break;
  }
  throw StorageError(what + ": has a type or shape trainer does not read");
}

namespace {

herr_t collect_attribute_name(hid_t, const char* name, const H5A_info_t*, void* out) {
  static_cast<std::vector<std::string>*>(out)->emplace_back(name);
  return 0;
}

}  // namespace

Attributes File::attributes(const std::string& object) const {
  if (object != "/" && !has(object)) throw StorageError(where(object) + ": no such group or dataset");
  Handle target = open_object(handle_.id(), object, where(object));
  std::vector<std::string> names;
  hsize_t position = 0;
  check(H5Aiterate2(target.id(), H5_INDEX_NAME, H5_ITER_INC, &position, collect_attribute_name, &names),
        where(object) + ": cannot list its attributes");
  Attributes values;
  for (const auto& name : names) values.emplace(name, attribute(object, name));
  return values;
}

std::int64_t File::int_attribute(const std::string& object, const std::string& name) const {
  AttributeValue value = attribute(object, name);
  if (const auto* i = std::get_if<std::int64_t>(&value)) return *i;
  throw StorageError(where(object) + " attribute " + name + ": not an integer");
}

double File::double_attribute(const std::string& object, const std::string& name) const {
  AttributeValue value = attribute(object, name);
  if (const auto* d = std::get_if<double>(&value)) return *d;
  if (const auto* i = std::get_if<std::int64_t>(&value)) return static_cast<double>(*i);
  throw StorageError(where(object) + " attribute " + name + ": not a number");
}

std::string File::string_attribute(const std::string& object, const std::string& name) const {
  AttributeValue value = attribute(object, name);
  if (const auto* text = std::get_if<std::string>(&value)) return *text;
  throw StorageError(where(object) + " attribute " + name + ": not a string");
}

std::vector<std::string> File::strings_attribute(const std::string& object, const std::string& name) const {
  AttributeValue value = attribute(object, name);
  if (const auto* texts = std::get_if<std::vector<std::string>>(&value)) return *texts;
  if (const auto* text = std::get_if<std::string>(&value)) return {*text};
  throw StorageError(where(object) + " attribute " + name + ": not a list of strings");
}

void File::close() {
  if (!handle_.valid()) return;
  const hid_t id = handle_.id();
  check(H5Fflush(id, H5F_SCOPE_LOCAL), path_ + ": cannot flush");
  Handle released = std::move(handle_);  // closes below, whatever happens
  (void)released;
}

template std::vector<std::uint8_t> File::read(const std::string&) const;
template std::vector<std::int64_t> File::read(const std::string&) const;
template std::vector<float> File::read(const std::string&) const;
template std::vector<double> File::read(const std::string&) const;
template void File::write(const std::string&, const std::vector<std::int64_t>&, const std::vector<std::uint8_t>&);
template void File::write(const std::string&, const std::vector<std::int64_t>&, const std::vector<std::int64_t>&);
template void File::write(const std::string&, const std::vector<std::int64_t>&, const std::vector<float>&);
template void File::write(const std::string&, const std::vector<std::int64_t>&, const std::vector<double>&);

}  // namespace trainer::storage
