#include "storage/pt_file.h"

#include "common/error.h"
#include "storage/tensor_types.h"

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
      std::int64_t n = 1;
      for (auto d : v->tensor.size) n *= d;
      const std::uint64_t b = static_cast<std::uint64_t>(n) * storage_element_size(v->tensor.storage.type);
      walk.bytes += b;
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
    const auto [data, size] = zip_.entry(prefix_ + "byteorder");
    if (std::string(reinterpret_cast<const char*>(data), size) != "little")
      throw StorageError(path + ": big-endian tensors are not supported");
  }
  const auto [data, size] = zip_.entry(pickle_entry);
  pickle_ = unpickle(data, size, path);
}

torch::Tensor PtFile::tensor(const TensorRef& ref, const std::string& name) const {
  const std::string entry = prefix_ + "data/" + ref.storage.key;
  if (!zip_.has(entry)) throw StorageError(path_ + ": tensor " + name + " refers to a missing storage " + entry);
  const auto [data, size] = zip_.entry(entry);
  const std::size_t element = storage_element_size(ref.storage.type);
  if (size < static_cast<std::size_t>(ref.storage.numel) * element)
    throw StorageError(path_ + ": storage of tensor " + name + " is shorter than its " +
                       std::to_string(ref.storage.numel) + " elements");
  torch::Tensor storage = torch::from_blob(const_cast<std::uint8_t*>(data), {ref.storage.numel}, dtype_of(ref.storage.type));
  return storage.as_strided(ref.size, ref.stride, ref.offset).clone();
}

PtStateDict read_pt_state_dict(const std::string& path) {
  PtFile file(path);
  PtStateDict result;
  PyPtr weights = nullptr;
  if (is_tensor_dict(file.root())) {
    weights = file.root();
  } else {
    for (const char* key : {"model_state_dict", "state_dict", "model"}) {
      PyPtr v = lookup(file.root(), key);
      if (v != nullptr && is_tensor_dict(v)) {
        weights = v;
        result.location = key;
        break;
      }
    }
    if (PyPtr epoch = lookup(file.root(), "epoch"); epoch != nullptr && epoch->kind == PyValue::Kind::kInt)
      result.epoch = epoch->integer;
  }
  if (weights == nullptr)
    throw StorageError(path + ": holds a " + file.root()->kind_name() +
                       " without model weights (expected a state dict, or a dict with 'model_state_dict')");
  for (const auto& [key, value] : weights->dict) result.tensors.emplace_back(key->text, file.tensor(value->tensor, key->text));
  return result;
}

bool looks_like_pt_file(const std::string& path) {
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
