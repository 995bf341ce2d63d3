#include "storage/pt_file.h"

#include "common/error.h"
#include "storage/fs.h"
#include "storage/tensor_types.h"

#include <sys/stat.h>

#include <fstream>
#include <iomanip>
#include <map>

namespace trainer::storage {
namespace {

constexpr int kMaxNesting = 32;
// The memo lets a file reference one value many times: bound the visits, not only the depth.
constexpr long kMaxVisits = 1000000;

torch::ScalarType dtype_of(const std::string& storage_type) {
  static const std::map<std::string, torch::ScalarType> types = {
      {"FloatStorage", torch::kFloat32}, {"DoubleStorage", torch::kFloat64}, {"HalfStorage", torch::kFloat16},
      {"BFloat16Storage", torch::kBFloat16}, {"LongStorage", torch::kInt64}, {"IntStorage", torch::kInt32},
      {"ShortStorage", torch::kInt16}, {"CharStorage", torch::kInt8}, {"ByteStorage", torch::kUInt8},
      {"BoolStorage", torch::kBool}};
  return types.at(storage_type);
}

bool is_tensor_dict(PyPtr v) {
  if (v->kind != PyValue::Kind::kDict || v->dict.empty()) return false;
  for (const auto& [key, value] : v->dict)
    if (key->kind != PyValue::Kind::kString || value->kind != PyValue::Kind::kTensor) return false;
  return true;
}

struct Walk {
  std::uint64_t bytes = 0;
  int tensors = 0;
  long visits = 0;
};

void describe(PyPtr v, const std::string& path, int depth, std::ostream& out, Walk& walk) {
  if (depth > kMaxNesting) throw StorageError("nesting deeper than " + std::to_string(kMaxNesting) + " at " + path);
  if (++walk.visits > kMaxVisits) throw StorageError("more than " + std::to_string(kMaxVisits) + " values to list");
  switch (v->kind) {
    case PyValue::Kind::kTensor: {
      // What the view announces, saturated: a hostile file's sizes must not overflow here.
      std::uint64_t b = storage_element_size(v->tensor.storage.type);
      for (auto d : v->tensor.size)
        if (d < 0 || __builtin_mul_overflow(b, static_cast<std::uint64_t>(d), &b)) {
          b = UINT64_MAX;
          break;
        }
      walk.bytes = b > UINT64_MAX - walk.bytes ? UINT64_MAX : walk.bytes + b;
      ++walk.tensors;
      out << "    " << std::left << std::setw(48) << path << " " << std::setw(16) << v->tensor.storage.type << " "
          << std::setw(16) << shape_text(v->tensor.size) << " " << std::right << std::setw(10) << b << "  "
          << v->tensor.storage.location << "\n";
      return;
    }
    case PyValue::Kind::kDict:
      for (const auto& [key, value] : v->dict) {
        std::string name = key->kind == PyValue::Kind::kString ? key->text
                           : key->kind == PyValue::Kind::kInt  ? std::to_string(key->integer)
                                                               : std::string("<") + key->kind_name() + ">";
        describe(value, path.empty() ? name : path + "." + name, depth + 1, out, walk);
      }
      return;
    case PyValue::Kind::kList:
    case PyValue::Kind::kTuple:
      for (std::size_t i = 0; i < v->items.size(); ++i)
        describe(v->items[i], path + "[" + std::to_string(i) + "]", depth + 1, out, walk);
      return;
    case PyValue::Kind::kInt:
      out << "    " << path << " = " << v->integer << "\n";
      return;
    case PyValue::Kind::kFloat:
      out << "    " << path << " = " << v->number << "\n";
      return;
    case PyValue::Kind::kString:
      out << "    " << path << " = '" << v->text.substr(0, 60) << "'\n";
      return;
    case PyValue::Kind::kBool:
      out << "    " << path << " = " << (v->boolean ? "True" : "False") << "\n";
      return;
    default:
      out << "    " << path << " = " << v->kind_name() << "\n";
  }
}

}  // namespace

namespace {

constexpr std::uint64_t kMaxPickleBytes = std::uint64_t{256} << 20;

std::int64_t checked_product(std::int64_t a, std::int64_t b, const std::string& what) {
  std::int64_t result = 0;
  if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &result)) throw StorageError(what + ": sizes overflow");
  return result;
}

}  // namespace

// Where each storage's bytes are, by the storage's key.
class PtFile::Storages {
 public:
  virtual ~Storages() = default;
  virtual bool has(const std::string& key) const = 0;
  virtual std::uint64_t size(const std::string& key) const = 0;
  virtual void read(const std::string& key, std::uint64_t bytes, void* out) const = 0;
  virtual const char* format() const = 0;
};

namespace {

// The zip format: storage <key> is record <archive>/data/<key>.
class ZipStorages : public PtFile::Storages {
 public:
  ZipStorages(ZipReader zip, std::string prefix) : zip_(std::move(zip)), prefix_(std::move(prefix)) {}
  bool has(const std::string& key) const override { return zip_.has(prefix_ + "data/" + key); }
  std::uint64_t size(const std::string& key) const override { return zip_.size(prefix_ + "data/" + key); }
  void read(const std::string& key, std::uint64_t bytes, void* out) const override {
    zip_.read(prefix_ + "data/" + key, 0, bytes, out);
  }
  const char* format() const override { return "zip"; }

 private:
  ZipReader zip_;
  std::string prefix_;
};

// The legacy format: after the pickles, for each storage in the order of the key list, its element
// count (int64, little-endian) and its bytes.
class LegacyStorages : public PtFile::Storages {
 public:
  struct Place {
    std::uint64_t offset = 0, bytes = 0;
  };
  LegacyStorages(std::shared_ptr<std::ifstream> file, std::map<std::string, Place> places)
      : file_(std::move(file)), places_(std::move(places)) {}
  bool has(const std::string& key) const override { return places_.count(key) > 0; }
  std::uint64_t size(const std::string& key) const override { return places_.at(key).bytes; }
  void read(const std::string& key, std::uint64_t bytes, void* out) const override {
    const Place& place = places_.at(key);
    file_->seekg(static_cast<std::streamoff>(place.offset));
    file_->read(static_cast<char*>(out), static_cast<std::streamsize>(std::min(bytes, place.bytes)));
    if (!*file_) throw StorageError("a legacy torch.save file ended inside storage " + key);
  }
  const char* format() const override { return "legacy"; }

 private:
  std::shared_ptr<std::ifstream> file_;
  std::map<std::string, Place> places_;
};

// The pickle of torch.serialization's MAGIC_NUMBER, with which the legacy format begins.
const std::string kLegacyMagic("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19\x2e", 15);

std::string first_bytes(const std::string& path, std::size_t count) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes(count, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(count));
  bytes.resize(static_cast<std::size_t>(in.gcount()));
  return bytes;
}

// The legacy format's five pickles (magic number, protocol version, system information, the
// object, the storage keys), read from a growing prefix of the file: they come before the data.
std::vector<Pickle> legacy_pickles(std::ifstream& in, const std::string& path, std::size_t& end) {
  for (std::size_t prefix = std::size_t{1} << 16;; prefix *= 4) {
    std::string head(prefix, '\0');
    in.clear();
    in.seekg(0);
    in.read(head.data(), static_cast<std::streamsize>(prefix));
    head.resize(static_cast<std::size_t>(in.gcount()));
    try {
      std::vector<Pickle> pickles;
      std::size_t at = kLegacyMagic.size();
      for (int i = 0; i < 4; ++i) {
        pickles.push_back(unpickle(reinterpret_cast<const std::uint8_t*>(head.data()) + at, head.size() - at, path));
        at += pickles.back().consumed;
      }
      end = at;
      return pickles;
    } catch (const PickleTruncated&) {
      if (head.size() < prefix || prefix >= kMaxPickleBytes) throw;  // the file ended, or no end in sight
    }
  }
}

std::unique_ptr<PtFile::Storages> open_legacy(const std::string& path, Pickle& root) {
  auto in = std::make_shared<std::ifstream>(path, std::ios::binary);
  std::size_t end = 0;
  std::vector<Pickle> pickles = legacy_pickles(*in, path, end);
  const PyPtr version = pickles[0].root;
  if (version->kind != PyValue::Kind::kInt || version->integer != 1001)
    throw StorageError(path + ": a legacy torch.save file of protocol version other than 1001");
  const PyPtr keys = pickles[3].root;
  if (keys->kind != PyValue::Kind::kList) throw StorageError(path + ": a legacy torch.save file without its storage list");
  // The storages' sizes and types come from the object's references to them.
  std::map<std::string, std::uint64_t> element_sizes;
  for (const auto& value : pickles[2].values)
    if (value->kind == PyValue::Kind::kStorage) element_sizes[value->storage.key] = storage_element_size(value->storage.type);
  in->seekg(0, std::ios::end);
  const auto file_size = static_cast<std::uint64_t>(in->tellg());
  std::map<std::string, LegacyStorages::Place> places;
  std::uint64_t at = end;
  for (const auto& key : keys->items) {
    if (key->kind != PyValue::Kind::kString || !element_sizes.count(key->text))
      throw StorageError(path + ": a legacy torch.save file whose storage list does not match its tensors");
    unsigned char count[8] = {};
    in->seekg(static_cast<std::streamoff>(at));
    in->read(reinterpret_cast<char*>(count), 8);
    std::uint64_t elements = 0;
    for (int b = 7; b >= 0; --b) elements = (elements << 8) | count[b];
    std::uint64_t bytes = 0;
    if (!*in || __builtin_mul_overflow(elements, element_sizes[key->text], &bytes) || bytes > file_size - at - 8)
      throw StorageError(path + ": a legacy torch.save file truncated in storage " + key->text);
    places[key->text] = {at + 8, bytes};
    at += 8 + bytes;
  }
  root = std::move(pickles[2]);
  return std::make_unique<LegacyStorages>(in, std::move(places));
}

std::unique_ptr<PtFile::Storages> open_zip(const std::string& path, Pickle& root) {
  ZipReader zip = ZipReader::open(path);
  for (const auto& name : zip.names())
    if (name.find("/constants.pkl") != std::string::npos)
      throw StorageError(path + ": a TorchScript archive (torch.jit.save), not a state dict that torch.save wrote");
  const std::string prefix = torch_archive_prefix(zip);
  const std::string pickle_entry = prefix + "data.pkl";
  if (prefix.empty())
    throw StorageError(path + ": " + describe_file(path) + ", not a torch.save file (no data.pkl in the archive)");
  if (zip.has(prefix + "byteorder")) {
    const std::vector<std::uint8_t> order = zip.read(prefix + "byteorder", 16);
    if (std::string(order.begin(), order.end()) != "little")
      throw StorageError(path + ": big-endian tensors are not supported");
  }
  const std::vector<std::uint8_t> pickle = zip.read(pickle_entry, kMaxPickleBytes);
  root = unpickle(pickle.data(), pickle.size(), path);
  return std::make_unique<ZipStorages>(std::move(zip), prefix);
}

}  // namespace

PtFile::PtFile(const std::string& path) : path_(path) {
  fs::require_regular_file(path);
  const std::string head = first_bytes(path, kLegacyMagic.size());
  if (head.compare(0, 4, "PK\x03\x04", 4) == 0) storages_ = open_zip(path, pickle_);
  else if (head == kLegacyMagic) storages_ = open_legacy(path, pickle_);
  else throw StorageError(path + ": " + describe_file(path) + ", not a file torch.save writes");
}

PtFile::~PtFile() = default;

const char* PtFile::format() const { return storages_->format(); }

std::vector<std::int64_t> PtFile::checked_shape(const TensorRef& ref, const std::string& name) const {
  const std::string what = path_ + ": tensor " + name;
  if (!storages_->has(ref.storage.key)) throw StorageError(what + " refers to a missing storage " + ref.storage.key);
  const auto element = static_cast<std::int64_t>(storage_element_size(ref.storage.type));
  if (element == 0) throw StorageError(what + ": unknown storage type " + ref.storage.type);
  if (checked_product(ref.storage.numel, element, what) > static_cast<std::int64_t>(storages_->size(ref.storage.key)))
    throw StorageError(what + ": its storage is shorter than its " + std::to_string(ref.storage.numel) + " elements");
  if (ref.size.size() != ref.stride.size() || ref.offset < 0) throw StorageError(what + ": malformed size or stride");
  // The view must lie inside its storage and take no element twice (an expanded view would make a
  // small file allocate without bound).
  std::int64_t elements = 1, last = ref.offset;
  for (std::size_t d = 0; d < ref.size.size(); ++d) {
    if (ref.size[d] < 0 || ref.stride[d] < 0) throw StorageError(what + ": negative size or stride");
    elements = checked_product(elements, ref.size[d], what);
    if (ref.size[d] > 1) last += checked_product(ref.size[d] - 1, ref.stride[d], what);
    if (last < 0) throw StorageError(what + ": sizes overflow");
  }
  if (elements > 0 && (last >= ref.storage.numel || elements > ref.storage.numel))
    throw StorageError(what + ": its view reaches past its storage of " + std::to_string(ref.storage.numel) +
                       " elements (or repeats elements; save it .contiguous())");
  return ref.size;
}

torch::Tensor PtFile::tensor(const TensorRef& ref, const std::string& name) const {
  checked_shape(ref, name);
  torch::Tensor storage = torch::empty({ref.storage.numel}, dtype_of(ref.storage.type));
  storages_->read(ref.storage.key, static_cast<std::uint64_t>(storage.numel()) * storage.element_size(), storage.data_ptr());
  return storage.as_strided(ref.size, ref.stride, ref.offset).clone();
}

bool is_torchscript_archive(const std::string& path) {
  try {
    const ZipReader zip = ZipReader::open(path);
    for (const auto& name : zip.names())
      if (name.find("/constants.pkl") != std::string::npos || name.find("/code/") != std::string::npos) return true;
  } catch (const StorageError&) {
  }
  return false;
}

std::string describe_file(const std::string& path) {
  const std::string head = first_bytes(path, 16);
  if (head.compare(0, 4, "PK\x03\x04", 4) == 0)
    return is_torchscript_archive(path) ? "a TorchScript archive (torch.jit.save)" : "a zip archive";
  if (head.compare(0, 8, "\x89HDF\r\n\x1a\n", 8) == 0) return "an HDF5 file";
  if (head.compare(0, 2, "\x1f\x8b", 2) == 0) return "a gzip file";
  if (head.compare(0, 6, "\x93NUMPY", 6) == 0) return "a NumPy .npy file";
  if (!head.empty() && static_cast<unsigned char>(head[0]) == 0x80) return "a Python pickle without torch.save's header";
  if (head.size() >= 9 && head[8] == '{') return "a safetensors file";
  if (head.empty()) return "an empty file";
  return "neither a zip archive nor PyTorch's legacy format";
}

namespace {

PtStateDict state_dict_of(const std::shared_ptr<const PtFile>& file) {
  PtStateDict result;
  PyPtr weights = nullptr;
  if (is_tensor_dict(file->root())) {
    weights = file->root();
  } else {
    for (const char* key : {"model_state_dict", "state_dict", "model"}) {
      PyPtr v = dict_get(file->root(), key);
      if (v != nullptr && is_tensor_dict(v)) {
        weights = v;
        result.location = key;
        break;
      }
    }
    if (PyPtr epoch = dict_get(file->root(), "epoch"); epoch != nullptr) {
      if (epoch->kind == PyValue::Kind::kInt)
        result.epoch = epoch->integer;
      else
        result.epoch_kind = epoch->kind_name();
    }
  }
  if (weights == nullptr)
    throw StorageError(file->path() + ": holds a " + file->root()->kind_name() +
                       " without model weights (expected a state dict, or a dict with 'model_state_dict')");
  for (const auto& [key, value] : weights->dict) {
    const TensorRef& ref = value->tensor;
    const std::string name = key->text;
    result.tensors.push_back({name, file->checked_shape(ref, name), [file, ref, name] { return file->tensor(ref, name); }});
  }
  return result;
}

}  // namespace

PtStateDict read_pt_state_dict(const std::string& path) { return state_dict_of(std::make_shared<const PtFile>(path)); }

PtCheckpoint read_pt_checkpoint(const std::string& path) {
  PtCheckpoint checkpoint;
  checkpoint.file = std::make_shared<const PtFile>(path);
  checkpoint.weights = state_dict_of(checkpoint.file);
  for (const char* key : {"optimizer_state_dict", "optimizer"})
    if (PyPtr v = dict_get(checkpoint.file->root(), key); v != nullptr && v->kind == PyValue::Kind::kDict) {
      checkpoint.optimizer = v;
      break;
    }
  return checkpoint;
}

bool looks_like_pt_file(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) return false;  // a FIFO would block
  const std::string head = first_bytes(path, kLegacyMagic.size());
  return head.compare(0, 4, "PK\x03\x04", 4) == 0 || head == kLegacyMagic;
}

void inspect_pt(const std::string& path, std::ostream& out) {
  PtFile file(path);
  out << "torch.save file " << path << " (a " << file.root()->kind_name() << ", " << file.format() << " format)\n";
  Walk walk;
  describe(file.root(), "", 0, out, walk);
  out << "  total: " << walk.tensors << " tensors, " << walk.bytes << " bytes of tensor data\n" << std::flush;
}

}  // namespace trainer::storage
