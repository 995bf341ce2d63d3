#include "storage/pt_export.h"

#include "common/error.h"
#include "storage/checkpoint.h"
#include "storage/fs.h"

#include <torch/serialize.h>

#include <fstream>
#include <map>

namespace trainer::storage {
namespace {

c10::IValue attribute_value(const AttributeValue& value) {
  if (const auto* i = std::get_if<std::int64_t>(&value)) return *i;
  if (const auto* d = std::get_if<double>(&value)) return *d;
  if (const auto* s = std::get_if<std::string>(&value)) return *s;
  return c10::IValue();
}

// PyTorch's optimizer.state_dict(): state keyed by the parameter's index over all groups, and
// param_groups whose "params" are those indices.
c10::IValue optimizer_state(const CheckpointReader& reader) {
  c10::impl::GenericDict state(c10::IntType::get(), c10::AnyType::get());
  c10::impl::GenericList groups(c10::AnyType::get());
  std::int64_t next_index = 0;
  for (const auto& group_name : reader.index().list("/optimizer/param_groups")) {
    const std::string group = "/optimizer/param_groups/" + group_name;
    c10::impl::GenericDict options(c10::StringType::get(), c10::AnyType::get());
    const std::string optimizer = reader.index().string_attribute(group, "optimizer");
    for (const char* key : {"lr", "momentum", "dampening", "weight_decay", "eps"})
      if (reader.index().has_attribute(group, key))
        options.insert(key, attribute_value(reader.index().attribute(group, key)));
    for (const char* key : {"nesterov", "amsgrad"})
      if (reader.index().has_attribute(group, key)) options.insert(key, reader.index().int_attribute(group, key) != 0);
    if (optimizer == "adam")
      options.insert("betas", c10::ivalue::Tuple::create({reader.index().double_attribute(group, "beta1"),
                                                          reader.index().double_attribute(group, "beta2")}));
    c10::List<std::int64_t> params;
    for (const auto& name : reader.index().strings_attribute(group, "params")) {
      const std::int64_t index = next_index++;
      params.push_back(index);
      const std::string prefix = "/optimizer/state/" + name;
      if (!reader.has(prefix)) continue;
      c10::impl::GenericDict entry(c10::StringType::get(), c10::AnyType::get());
      for (const auto& key : reader.index().list(prefix)) {
        torch::Tensor t = reader.read(prefix + "/" + key);
        // PyTorch 1.13's Adam keeps `step` as a float tensor.
        if (key == "step") entry.insert(key, t.to(torch::kFloat32));
        else entry.insert(key, t);
      }
      state.insert(index, entry);
    }
    options.insert("params", params);
    groups.push_back(options);
  }
  c10::impl::GenericDict result(c10::StringType::get(), c10::AnyType::get());
  result.insert("state", state);
  result.insert("param_groups", groups);
  return result;
}

}  // namespace

ExportReport export_to_pt(const std::string& checkpoint, const std::string& to, const std::string& add_prefix,
                          bool with_optimizer) {
  const CheckpointReader reader(resolve_checkpoint_path(checkpoint));
  c10::Dict<std::string, torch::Tensor> model;
  ExportReport report;
  for (const auto& name : reader.tensors("/model")) {
    model.insert(add_prefix + name.substr(7), reader.read(name));
    ++report.tensors;
  }
  c10::IValue root = model;
  if (with_optimizer) {
    c10::impl::GenericDict dict(c10::StringType::get(), c10::AnyType::get());
    dict.insert("model_state_dict", model);
    dict.insert("optimizer_state_dict", optimizer_state(reader));
    dict.insert("epoch", reader.index().int_attribute("/epoch", "completed_epochs"));
    root = dict;
  }
  const std::vector<char> bytes = torch::pickle_save(root);
  const std::string temporary = to + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) throw StorageError(to + ": cannot write");
  }
  fs::rename_path(temporary, to);
  report.bytes = bytes.size();
  return report;
}

}  // namespace trainer::storage
