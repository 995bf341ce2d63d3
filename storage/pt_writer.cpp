#include "storage/pt_writer.h"

#include "common/error.h"
#include "storage/fs.h"

#include <caffe2/serialize/inline_container.h>
#include <c10/util/Exception.h>

#include <cstring>

namespace trainer::storage {

PtValue PtValue::boolean(bool value) {
  PtValue v(Kind::kBool);
  v.boolean_ = value;
  return v;
}

PtValue PtValue::integer(std::int64_t value) {
  PtValue v(Kind::kInt);
  v.integer_ = value;
  return v;
}

PtValue PtValue::real(double value) {
  PtValue v(Kind::kFloat);
  v.real_ = value;
  return v;
}

PtValue PtValue::text(std::string value) {
  PtValue v(Kind::kString);
  v.text_ = std::move(value);
  return v;
}

PtValue PtValue::tuple(std::vector<PtValue> items) {
  PtValue v(Kind::kTuple);
  v.items_ = std::move(items);
  return v;
}

PtValue PtValue::list(std::vector<PtValue> items) {
  PtValue v(Kind::kList);
  v.items_ = std::move(items);
  return v;
}

PtValue PtValue::dict(std::vector<std::pair<PtValue, PtValue>> items) {
  PtValue v(Kind::kDict);
  v.entries_ = std::move(items);
  return v;
}

PtValue PtValue::ordered_dict(std::vector<std::pair<PtValue, PtValue>> items) {
  PtValue v(Kind::kOrderedDict);
  v.entries_ = std::move(items);
  return v;
}

PtValue PtValue::tensor(torch::Tensor value) {
  PtValue v(Kind::kTensor);
  v.tensor_ = value.detach().to(torch::kCPU).contiguous();
  return v;
}

// Pickle protocol 2 with the opcodes Python's pickler uses for these values; no memo (nothing is
// shared), so no BINPUT/BINGET.
class PickleWriter {
 public:
  std::vector<std::uint8_t> bytes;
  std::vector<torch::Tensor> storages;  // storage i is record data/<i>

  void write(const PtValue& v) {
    switch (v.kind_) {
      case PtValue::Kind::kNone: op('N'); return;
      case PtValue::Kind::kBool: op(v.boolean_ ? 0x88 : 0x89); return;
      case PtValue::Kind::kInt: integer(v.integer_); return;
      case PtValue::Kind::kFloat: real(v.real_); return;
      case PtValue::Kind::kString: text(v.text_); return;
      case PtValue::Kind::kTuple:
        op('(');
        for (const auto& item : v.items_) write(item);
        op('t');
        return;
      case PtValue::Kind::kList:
        op(']');
        if (v.items_.empty()) return;
        op('(');
        for (const auto& item : v.items_) write(item);
        op('e');
        return;
      case PtValue::Kind::kDict:
        op('}');
        items(v.entries_);
        return;
      case PtValue::Kind::kOrderedDict:
        global("collections", "OrderedDict");
        op(')');
        op('R');
        items(v.entries_);
        return;
      case PtValue::Kind::kTensor: tensor(v.tensor_); return;
    }
  }

 private:
  void op(int code) { bytes.push_back(static_cast<std::uint8_t>(code)); }
  void little(std::uint64_t value, int width) {
    for (int i = 0; i < width; ++i) bytes.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
  }
  void integer(std::int64_t value) {
    if (value >= 0 && value < 256) {
      op('K');  // BININT1
      little(static_cast<std::uint64_t>(value), 1);
    } else if (value >= 0 && value < 65536) {
      op('M');  // BININT2
      little(static_cast<std::uint64_t>(value), 2);
    } else if (value >= INT32_MIN && value <= INT32_MAX) {
      op('J');  // BININT
      little(static_cast<std::uint32_t>(static_cast<std::int32_t>(value)), 4);
    } else {
      op(0x8a);  // LONG1: 8 bytes of two's complement
      op(8);
      little(static_cast<std::uint64_t>(value), 8);
    }
  }
  void real(double value) {
    op('G');  // BINFLOAT, big-endian
    std::uint64_t bits = 0;
    std::memcpy(&bits, &value, sizeof bits);
    for (int i = 7; i >= 0; --i) bytes.push_back(static_cast<std::uint8_t>(bits >> (8 * i)));
  }
  void text(const std::string& value) {
    op('X');  // BINUNICODE
    little(value.size(), 4);
    bytes.insert(bytes.end(), value.begin(), value.end());
  }
  void global(const std::string& module, const std::string& name) {
    op('c');
    for (const std::string& part : {module, name}) {
      bytes.insert(bytes.end(), part.begin(), part.end());
      op('\n');
    }
  }
  void items(const std::vector<std::pair<PtValue, PtValue>>& entries) {
    // SETITEMS in batches of 1000, as Python's pickler does.
    for (std::size_t begin = 0; begin < entries.size(); begin += 1000) {
      op('(');
      for (std::size_t i = begin; i < std::min(entries.size(), begin + 1000); ++i) {
        write(entries[i].first);
        write(entries[i].second);
      }
      op('u');
    }
  }
  static const char* storage_type(torch::ScalarType dtype) {
    switch (dtype) {
      case torch::kFloat32: return "FloatStorage";
      case torch::kFloat64: return "DoubleStorage";
      case torch::kFloat16: return "HalfStorage";
      case torch::kBFloat16: return "BFloat16Storage";
      case torch::kInt64: return "LongStorage";
      case torch::kInt32: return "IntStorage";
      case torch::kInt16: return "ShortStorage";
      case torch::kInt8: return "CharStorage";
      case torch::kUInt8: return "ByteStorage";
      case torch::kBool: return "BoolStorage";
      default: throw Error(std::string("a tensor of dtype ") + c10::toString(dtype) + " cannot be written to a .pt file");
    }
  }
  void tensor(const torch::Tensor& t) {
    // torch._utils._rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())
    global("torch._utils", "_rebuild_tensor_v2");
    op('(');
    op('(');  // the persistent id: ('storage', torch.XStorage, key, 'cpu', numel)
    text("storage");
    global("torch", storage_type(t.scalar_type()));
    text(std::to_string(storages.size()));
    text("cpu");
    integer(t.numel());
    op('t');
    op('Q');  // BINPERSID
    storages.push_back(t);
    integer(0);
    op('(');
    for (const auto d : t.sizes()) integer(d);
    op('t');
    op('(');
    for (const auto s : t.strides()) integer(s);
    op('t');
    op(0x89);
    global("collections", "OrderedDict");
    op(')');
    op('R');
    op('t');
    op('R');
  }
};

std::uint64_t write_pt_file(const std::string& path, const PtValue& root) {
  PickleWriter pickle;
  pickle.bytes = {0x80, 0x02};  // PROTO 2
  pickle.write(root);
  pickle.bytes.push_back('.');  // STOP
  fs::write_atomically(path, [&](const std::string& temporary) {
    try {
      caffe2::serialize::PyTorchStreamWriter writer(temporary);
      writer.writeRecord("data.pkl", pickle.bytes.data(), pickle.bytes.size());
      writer.writeRecord("byteorder", "little", 6);
      for (std::size_t i = 0; i < pickle.storages.size(); ++i) {
        const torch::Tensor& t = pickle.storages[i];
        writer.writeRecord("data/" + std::to_string(i), t.data_ptr(), static_cast<std::size_t>(t.numel()) * t.element_size());
      }
      writer.writeEndOfFile();
    } catch (const c10::Error& e) {
      throw StorageError(path + ": cannot write: " + e.what_without_backtrace());
    }
  });
  return fs::file_size(path);
}

}  // namespace trainer::storage
