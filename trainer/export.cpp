#include "trainer/export.h"

#include "optim/registry.h"
#include "storage/checkpoint.h"
#include "storage/pt_export.h"

#include <map>

namespace trainer {
namespace {

// PyTorch's optimizer.state_dict(): state keyed by the parameter's index over all groups, and
// param_groups whose "params" are those indices.
c10::IValue optimizer_state_dict(const storage::CheckpointReader& reader) {
  std::map<std::string, std::vector<std::pair<std::string, torch::Tensor>>> saved;
  for (const auto& entry : reader.optimizer_state()) {
    const auto slash = entry.name.find('/');
    saved[entry.name.substr(0, slash)].emplace_back(entry.name.substr(slash + 1), entry.read());
  }
  c10::impl::GenericDict state(c10::IntType::get(), c10::AnyType::get());
  c10::impl::GenericList groups(c10::AnyType::get());
  std::int64_t next_index = 0;
  for (const auto& group : reader.param_groups()) {
    const optim::OptimizerAdapter& adapter = optim::optimizer_adapter(group.optimizer);
    c10::impl::GenericDict options = adapter.python_options(group.options);
    c10::List<std::int64_t> params;
    for (const auto& name : group.params) {
      const std::int64_t index = next_index++;
      params.push_back(index);
      const auto found = saved.find(name);
      if (found == saved.end()) continue;
      c10::impl::GenericDict entry(c10::StringType::get(), c10::AnyType::get());
      for (const auto& [key, tensor] : found->second) entry.insert(key, adapter.python_state(key, tensor));
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
  ExportReport report;
  c10::IValue root;
  storage::with_checkpoint(checkpoint, [&](const storage::CheckpointReader& reader) {
    c10::Dict<std::string, torch::Tensor> model;
    report.tensors = 0;
    for (const auto& [name, tensor] : storage::read_all(reader.model())) {
      model.insert(add_prefix + name, tensor);
      ++report.tensors;
    }
    root = model;
    if (with_optimizer) {
      c10::impl::GenericDict dict(c10::StringType::get(), c10::AnyType::get());
      dict.insert("model_state_dict", model);
      dict.insert("optimizer_state_dict", optimizer_state_dict(reader));
      dict.insert("epoch", reader.epoch().progress.completed_epochs);
      root = dict;
    }
  });
  report.bytes = storage::write_pt_file(to, root);
  return report;
}

}  // namespace trainer
