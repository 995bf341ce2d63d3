#include "storage/pickle_reader.h"

#include "common/error.h"

#include <cstring>
#include <map>

namespace trainer::storage {
namespace {

constexpr std::size_t kMaxDepth = 100000;      // stack entries
constexpr std::size_t kMaxDimensions = 64;

// The globals a state dict needs; anything else would mean running code from the file.
const std::map<std::string, std::size_t>& storage_types() {
  static const std::map<std::string, std::size_t> types = {
      {"FloatStorage", 4}, {"DoubleStorage", 8}, {"HalfStorage", 2}, {"BFloat16Storage", 2},
      {"LongStorage", 8},  {"IntStorage", 4},    {"ShortStorage", 2}, {"CharStorage", 1},
      {"ByteStorage", 1},  {"BoolStorage", 1}};
  return types;
}

bool allowed_global(const std::string& global) {
  if (global == "collections.OrderedDict" || global == "torch._utils._rebuild_tensor_v2" ||
      global == "torch._utils._rebuild_parameter")
    return true;
  return global.rfind("torch.", 0) == 0 && storage_types().count(global.substr(6)) > 0;
}

class Unpickler {
 public:
  Unpickler(const std::uint8_t* data, std::size_t size, const std::string& name, Pickle& out, bool any_object)
      : data_(data), size_(size), name_(name), out_(out), any_object_(any_object) {}

  PyPtr run() {
    for (;;) {
      const std::uint8_t op = byte();
      switch (op) {
        case 0x80: byte(); break;                     // PROTO
        case 0x95: skip(8); break;                    // FRAME
        case '.': return stop();                      // STOP
        case '(': marks_.push_back(stack_.size()); break;  // MARK
        case '}': push(make(PyValue::Kind::kDict)); break;
        case ']': push(make(PyValue::Kind::kList)); break;
        case ')': push(make(PyValue::Kind::kTuple)); break;
        case 'N': push(make(PyValue::Kind::kNone)); break;
        case 0x88: push_bool(true); break;
        case 0x89: push_bool(false); break;
        case 'J': push_int(static_cast<std::int32_t>(le(4))); break;  // BININT
        case 'K': push_int(static_cast<std::int64_t>(le(1))); break;  // BININT1
        case 'M': push_int(static_cast<std::int64_t>(le(2))); break;  // BININT2
        case 0x8a: push_long(le(1)); break;                           // LONG1
        case 'G': push_float(); break;                                // BINFLOAT
        case 'X': push_string(le(4)); break;                          // BINUNICODE
        case 0x8c: push_string(le(1)); break;                         // SHORT_BINUNICODE
        case 0x8d: push_string(le(8)); break;                         // BINUNICODE8
        case 'c': push_global(); break;                               // GLOBAL
        case 0x93: stack_global(); break;                             // STACK_GLOBAL
        case 'q': memo_put(le(1)); break;                             // BINPUT
        case 'r': memo_put(le(4)); break;                             // LONG_BINPUT
        case 0x94: memo_put(memo_.size()); break;                     // MEMOIZE
        case 'h': memo_get(le(1)); break;                             // BINGET
        case 'j': memo_get(le(4)); break;                             // LONG_BINGET
        case 't': tuple_from_mark(); break;                           // TUPLE
        case 0x85: tuple_of(1); break;
        case 0x86: tuple_of(2); break;
        case 0x87: tuple_of(3); break;
        case 'l': list_from_mark(); break;                            // LIST
        case 'd': dict_from_mark(); break;                            // DICT
        case 'a': append(); break;                                    // APPEND
        case 'e': appends(); break;                                   // APPENDS
        case 's': setitem(); break;                                   // SETITEM
        case 'u': setitems(); break;                                  // SETITEMS
        case 'Q': persistent_id(); break;                             // BINPERSID
        case 'R': reduce(); break;                                    // REDUCE
        case 'b': build(); break;                                     // BUILD
        case 0x81: new_object(); break;                               // NEWOBJ
        case 'B': push_string(le(4)); break;                          // BINBYTES
        case 'C': push_string(le(1)); break;                          // SHORT_BINBYTES
        default: {
          char hex[8];
          std::snprintf(hex, sizeof hex, "0x%02x", op);
          fail(std::string("pickle opcode ") + hex + " is outside what a state dict uses");
        }
      }
    }
  }

 private:
  PyValue* make(PyValue::Kind kind) {
    if (out_.values.size() >= kMaxDepth * 10) fail("too many values");
    out_.values.push_back(std::make_unique<PyValue>());
    out_.values.back()->kind = kind;
    return out_.values.back().get();
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw StorageError(name_ + ": " + what + " (at byte " + std::to_string(at_) + ")");
  }
  std::uint8_t byte() {
    if (at_ >= size_) throw PickleTruncated(name_ + ": pickle data ends without STOP (truncated file?)");
    return data_[at_++];
  }
  void skip(std::size_t n) {
    if (size_ - at_ < n) throw PickleTruncated(name_ + ": pickle data is truncated (at byte " + std::to_string(at_) + ")");
    at_ += n;
  }
  std::uint64_t le(int width) {
    if (size_ - at_ < static_cast<std::size_t>(width)) throw PickleTruncated(name_ + ": pickle data is truncated (at byte " + std::to_string(at_) + ")");
    std::uint64_t v = 0;
    for (int i = 0; i < width; ++i) v |= static_cast<std::uint64_t>(data_[at_ + i]) << (8 * i);
    at_ += static_cast<std::size_t>(width);
    return v;
  }
  std::string line() {
    std::string text;
    for (;;) {
      const char c = static_cast<char>(byte());
      if (c == '\n') return text;
      if (text.size() > 256) fail("GLOBAL name too long");
      text += c;
    }
  }
  void push(PyValue* v) {
    if (stack_.size() >= kMaxDepth) fail("pickle stack too deep");
    stack_.push_back(std::move(v));
  }
  PyValue* pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) fail("pickle stack underflow");
    PyValue* v = stack_.back();
    stack_.pop_back();
    return v;
  }
  PyValue* top() {
    if (stack_.empty()) fail("pickle stack underflow");
    return stack_.back();
  }
  std::vector<PyPtr> pop_to_mark() {
    if (marks_.empty()) fail("pickle MARK missing");
    const std::size_t mark = marks_.back();
    marks_.pop_back();
    if (mark > stack_.size()) fail("pickle MARK is past the stack");
    std::vector<PyPtr> items(stack_.begin() + static_cast<std::ptrdiff_t>(mark), stack_.end());
    stack_.resize(mark);
    return items;
  }
  void push_bool(bool b) {
    auto v = make(PyValue::Kind::kBool);
    v->boolean = b;
    push(v);
  }
  void push_int(std::int64_t i) {
    auto v = make(PyValue::Kind::kInt);
    v->integer = i;
    push(v);
  }
  void push_long(std::uint64_t length) {
    if (length > 8) fail("integer wider than 64 bits");
    const std::uint64_t raw = le(static_cast<int>(length));
    std::int64_t value = static_cast<std::int64_t>(raw);
    if (length > 0 && length < 8 && (raw >> (8 * length - 1)) & 1) value -= static_cast<std::int64_t>(std::uint64_t{1} << (8 * length));
    push_int(value);
  }
  void push_float() {
    std::uint64_t bits = 0;
    for (int i = 0; i < 8; ++i) bits = (bits << 8) | byte();  // big-endian
    double d;
    std::memcpy(&d, &bits, sizeof d);
    auto v = make(PyValue::Kind::kFloat);
    v->number = d;
    push(v);
  }
  void push_string(std::uint64_t length) {
    if (length > size_ - at_) throw PickleTruncated(name_ + ": a string runs past the end of the pickle data");
    auto v = make(PyValue::Kind::kString);
    v->text.assign(reinterpret_cast<const char*>(data_ + at_), static_cast<std::size_t>(length));
    at_ += static_cast<std::size_t>(length);
    push(v);
  }
  void global(const std::string& module, const std::string& name) {
    const std::string full = module + "." + name;
    if (!allowed_global(full) && !any_object_)
      fail("refusing to load " + full + ": a state dict holds only tensors, containers, numbers and strings, "
           "and trainer never runs code from a file" +
           (module.rfind("torch", 0) == 0 || module == "collections"
                ? std::string()
                : std::string(" (a whole model saved with torch.save(model)? save model.state_dict())")));
    auto v = make(PyValue::Kind::kGlobal);
    v->text = full;
    push(v);
  }
  void push_global() {
    const std::string module = line();
    global(module, line());
  }
  void stack_global() {
    PyValue* name = pop();
    PyValue* module = pop();
    if (module->kind != PyValue::Kind::kString || name->kind != PyValue::Kind::kString) fail("STACK_GLOBAL needs strings");
    global(module->text, name->text);
  }
  void memo_put(std::uint64_t index) {
    if (index > kMaxDepth) fail("memo index too large");
    if (memo_.size() <= index) memo_.resize(static_cast<std::size_t>(index) + 1);
    memo_[static_cast<std::size_t>(index)] = top();
  }
  void memo_get(std::uint64_t index) {
    if (index >= memo_.size() || memo_[static_cast<std::size_t>(index)] == nullptr) fail("memo entry " + std::to_string(index) + " missing");
    push(memo_[static_cast<std::size_t>(index)]);
  }
  void tuple_from_mark() {
    auto v = make(PyValue::Kind::kTuple);
    v->items = pop_to_mark();
    push(v);
  }
  void tuple_of(int n) {
    auto v = make(PyValue::Kind::kTuple);
    v->items.resize(static_cast<std::size_t>(n));
    for (int i = n - 1; i >= 0; --i) v->items[static_cast<std::size_t>(i)] = pop();
    push(v);
  }
  void list_from_mark() {
    auto v = make(PyValue::Kind::kList);
    v->items = pop_to_mark();
    push(v);
  }
  void dict_from_mark() {
    std::vector<PyPtr> items = pop_to_mark();
    if (items.size() % 2) fail("DICT with an odd number of items");
    auto v = make(PyValue::Kind::kDict);
    for (std::size_t i = 0; i < items.size(); i += 2) v->dict.emplace_back(items[i], items[i + 1]);
    push(v);
  }
  PyValue& expect(PyValue::Kind kind, const char* op) {
    PyValue* v = top();
    if (v->kind != kind) fail(std::string(op) + " applied to a " + v->kind_name());
    return *v;
  }
  void append() {
    PyValue* item = pop();
    expect(PyValue::Kind::kList, "APPEND").items.push_back(item);
  }
  void appends() {
    std::vector<PyPtr> items = pop_to_mark();
    auto& list = expect(PyValue::Kind::kList, "APPENDS");
    list.items.insert(list.items.end(), items.begin(), items.end());
  }
  void setitem() {
    PyValue* value = pop();
    PyValue* key = pop();
    expect(PyValue::Kind::kDict, "SETITEM").dict.emplace_back(key, value);
  }
  void setitems() {
    std::vector<PyPtr> items = pop_to_mark();
    if (items.size() % 2) fail("SETITEMS with an odd number of items");
    auto& dict = expect(PyValue::Kind::kDict, "SETITEMS");
    for (std::size_t i = 0; i < items.size(); i += 2) dict.dict.emplace_back(items[i], items[i + 1]);
  }
  std::int64_t integer(const PyPtr& v, const char* what) {
    if (v->kind != PyValue::Kind::kInt) fail(std::string(what) + " is not an integer");
    return v->integer;
  }
  std::vector<std::int64_t> integers(const PyPtr& v, const char* what) {
    if (v->kind != PyValue::Kind::kTuple || v->items.size() > kMaxDimensions) fail(std::string(what) + " is not a tuple of integers");
    std::vector<std::int64_t> out;
    for (const auto& item : v->items) out.push_back(integer(item, what));
    return out;
  }
  void persistent_id() {
    PyValue* pid = pop();
    // ('storage', <torch.XStorage>, key, location, numel), and in PyTorch's legacy format a sixth
    // item, the view of a storage (None: the whole storage; views are refused).
    if (pid->kind == PyValue::Kind::kTuple && pid->items.size() == 6) {
      if (pid->items[5]->kind != PyValue::Kind::kNone) fail("legacy storage views are not supported");
      pid->items.pop_back();
    }
    if (pid->kind != PyValue::Kind::kTuple || pid->items.size() != 5 || pid->items[0]->kind != PyValue::Kind::kString ||
        pid->items[0]->text != "storage" || pid->items[1]->kind != PyValue::Kind::kGlobal ||
        pid->items[2]->kind != PyValue::Kind::kString || pid->items[3]->kind != PyValue::Kind::kString)
      fail("persistent id is not a torch storage reference");
    auto v = make(PyValue::Kind::kStorage);
    v->storage.type = pid->items[1]->text.substr(6);
    if (!storage_types().count(v->storage.type)) fail("unknown storage type " + pid->items[1]->text);
    v->storage.key = pid->items[2]->text;
    v->storage.location = pid->items[3]->text;
    v->storage.numel = integer(pid->items[4], "storage size");
    if (v->storage.numel < 0) fail("negative storage size");
    push(v);
  }
  void reduce() {
    PyValue* args = pop();
    PyValue* callable = pop();
    if (callable->kind != PyValue::Kind::kGlobal || args->kind != PyValue::Kind::kTuple) fail("REDUCE needs a global and a tuple");
    if (callable->text == "collections.OrderedDict") {
      if (!args->items.empty()) fail("OrderedDict with arguments");
      push(make(PyValue::Kind::kDict));
    } else if (callable->text == "torch._utils._rebuild_tensor_v2") {
      // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
      if (args->items.size() < 4 || args->items[0]->kind != PyValue::Kind::kStorage) fail("malformed tensor");
      auto v = make(PyValue::Kind::kTensor);
      v->tensor.storage = args->items[0]->storage;
      v->tensor.offset = integer(args->items[1], "storage offset");
      v->tensor.size = integers(args->items[2], "tensor size");
      v->tensor.stride = integers(args->items[3], "tensor stride");
      check_bounds(v->tensor);
      push(v);
    } else if (callable->text == "torch._utils._rebuild_parameter") {
      if (args->items.empty() || args->items[0]->kind != PyValue::Kind::kTensor) fail("malformed parameter");
      push(const_cast<PyValue*>(args->items[0]));
    } else if (any_object_) {
      push(make(PyValue::Kind::kNone));  // an object of a TorchScript archive: only its tensors matter here
    } else {
      fail("cannot call " + callable->text);
    }
  }
  void new_object() {
    PyValue* args = pop();
    PyValue* type = pop();
    if (!any_object_ || type->kind != PyValue::Kind::kGlobal || args->kind != PyValue::Kind::kTuple)
      fail("NEWOBJ is outside what a state dict uses");
    push(make(PyValue::Kind::kDict));
  }
  // Every element the view can address must lie inside its storage.
  void check_bounds(const TensorRef& t) {
    if (t.size.size() != t.stride.size()) fail("tensor size and stride differ in rank");
    if (t.offset < 0) fail("negative storage offset");
    std::int64_t last = t.offset;
    for (std::size_t i = 0; i < t.size.size(); ++i) {
      if (t.size[i] < 0 || t.stride[i] < 0 || t.size[i] > (std::int64_t{1} << 40) || t.stride[i] > (std::int64_t{1} << 40))
        fail("tensor size or stride out of range");
      if (t.size[i] == 0) return;  // an empty tensor addresses nothing
      last += (t.size[i] - 1) * t.stride[i];
    }
    if (last >= t.storage.numel) fail("tensor reaches past the end of its storage");
  }
  void build() {
    PyValue* state = pop();
    (void)state;  // OrderedDict's _metadata and similar attributes: not part of the tensors
    top();
  }
  PyPtr stop() {
    if (stack_.size() != 1) fail("pickle ends with " + std::to_string(stack_.size()) + " values on the stack");
    return stack_.back();
  }

 public:
  std::size_t position() const { return at_; }

 private:

  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t at_ = 0;
  const std::string& name_;
  Pickle& out_;
  bool any_object_;
  std::vector<PyValue*> stack_;
  std::vector<std::size_t> marks_;
  std::vector<PyValue*> memo_;
};

}  // namespace

const char* PyValue::kind_name() const {
  switch (kind) {
    case Kind::kNone: return "None";
    case Kind::kBool: return "bool";
    case Kind::kInt: return "int";
    case Kind::kFloat: return "float";
    case Kind::kString: return "str";
    case Kind::kTuple: return "tuple";
    case Kind::kList: return "list";
    case Kind::kDict: return "dict";
    case Kind::kGlobal: return "global";
    case Kind::kStorage: return "storage";
    case Kind::kTensor: return "tensor";
  }
  return "?";
}

Pickle unpickle(const std::uint8_t* data, std::size_t size, const std::string& name, bool any_object) {
  Pickle pickle;
  Unpickler unpickler(data, size, name, pickle, any_object);
  pickle.root = unpickler.run();
  pickle.consumed = unpickler.position();
  return pickle;
}

PyPtr dict_get(PyPtr dict, const std::string& key) {
  if (dict == nullptr || dict->kind != PyValue::Kind::kDict) return nullptr;
  for (const auto& [k, v] : dict->dict)
    if (k->kind == PyValue::Kind::kString && k->text == key) return v;
  return nullptr;
}

std::size_t storage_element_size(const std::string& type) {
  const auto it = storage_types().find(type);
  return it == storage_types().end() ? 0 : it->second;
}

}  // namespace trainer::storage
