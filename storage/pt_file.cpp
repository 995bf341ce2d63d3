#include "storage/pt_file.h"

#include "common/error.h"
#include "storage/tensor_types.h"

#include <sys/stat.h>

#include <fstream>
#include <iomanip>

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

PyPtr lookup(PyPtr dict, const std::string& key) {
  if (dict->kind != PyValue::Kind::kDict) return nullptr;
  for (const auto& [k, v] : dict->dict)
    if (k->kind == PyValue::Kind::kString && k->text == key) return v;
  return nullptr;
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

PtFile::PtFile(const std::string& path) : path_(path), zip_(ZipReader::open(path)) {
  std::string pickle_entry;
  for (const auto& name : zip_.names()) {
    const auto slash = name.find('/');
    if (slash != std::string::npos && name.substr(slash) == "/data.pkl") {
      if (!pickle_entry.empty()) throw StorageError(path + ": more than one data.pkl in the archive");
      pickle_entry = name;
      prefix_ = name.substr(0, slash + 1);
    }
  }
  if (pickle_entry.empty()) throw StorageError(path + ": not a torch.save file (no data.pkl in the archive)");
  if (zip_.has(prefix_ + "byteorder")) {
    const std::vector<std::uint8_t> order = zip_.read(prefix_ + "byteorder", 16);
    if (std::string(order.begin(), order.end()) != "little")
      throw StorageError(path + ": big-endian tensors are not supported");
  }
  const std::vector<std::uint8_t> pickle = zip_.read(pickle_entry, kMaxPickleBytes);
  pickle_ = unpickle(pickle.data(), pickle.size(), path);
}

std::vector<std::int64_t> PtFile::checked_shape(const TensorRef& ref, const std::string& name) const {
  const std::string what = path_ + ": tensor " + name;
  const std::string entry = prefix_ + "data/" + ref.storage.key;
  if (!zip_.has(entry)) throw StorageError(what + " refers to a missing storage " + entry);
  const auto element = static_cast<std::int64_t>(storage_element_size(ref.storage.type));
  if (element == 0) throw StorageError(what + ": unknown storage type " + ref.storage.type);
  if (checked_product(ref.storage.numel, element, what) > static_cast<std::int64_t>(zip_.size(entry)))
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
  const std::string entry = prefix_ + "data/" + ref.storage.key;
  torch::Tensor storage = torch::empty({ref.storage.numel}, dtype_of(ref.storage.type));
  zip_.read(entry, 0, static_cast<std::uint64_t>(storage.numel()) * storage.element_size(), storage.data_ptr());
  return storage.as_strided(ref.size, ref.stride, ref.offset).clone();
}

PtStateDict read_pt_state_dict(const std::string& path) {
  const auto file = std::make_shared<const PtFile>(path);
  PtStateDict result;
  PyPtr weights = nullptr;
  if (is_tensor_dict(file->root())) {
    weights = file->root();
  } else {
    for (const char* key : {"model_state_dict", "state_dict", "model"}) {
      PyPtr v = lookup(file->root(), key);
      if (v != nullptr && is_tensor_dict(v)) {
        weights = v;
        result.location = key;
        break;
      }
    }
    if (PyPtr epoch = lookup(file->root(), "epoch"); epoch != nullptr && epoch->kind == PyValue::Kind::kInt)
      result.epoch = epoch->integer;
  }
  if (weights == nullptr)
    throw StorageError(path + ": holds a " + file->root()->kind_name() +
                       " without model weights (expected a state dict, or a dict with 'model_state_dict')");
  for (const auto& [key, value] : weights->dict) {
    const TensorRef& ref = value->tensor;
    const std::string name = key->text;
    result.tensors.push_back({name, file->checked_shape(ref, name), [file, ref, name] { return file->tensor(ref, name); }});
  }
  return result;
}

bool looks_like_pt_file(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) return false;  // a FIFO would block
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && magic[0] == 'P' && magic[1] == 'K' && magic[2] == 3 && magic[3] == 4;
}

void inspect_pt(const std::string& path, std::ostream& out) {
  PtFile file(path);
  out << "torch.save file " << path << " (a " << file.root()->kind_name() << ")\n";
  Walk walk;
  describe(file.root(), "", 0, out, walk);
  out << "  total: " << walk.tensors << " tensors, " << walk.bytes << " bytes of tensor data\n" << std::flush;
}

}  // namespace trainer::storage
