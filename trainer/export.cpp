#include "trainer/export.h"

#include "common/error.h"
#include "models/state_dict.h"
#include "optim/registry.h"
#include "checkpoint/checkpoint.h"
#include "storage/fs.h"
#include "checkpoint/output_path.h"
#include "storage/tensor_file.h"
#include "storage/pt_writer.h"
#include "trainer/saved_model.h"

#include <map>
#include <optional>

namespace trainer {
namespace {

using storage::PtValue;

// The checkpoint's tensors in the model's state-dict order (PyTorch's module
// registration order), as model.state_dict() lists them in Python.
std::vector<std::pair<std::string, torch::Tensor>> in_module_order(const storage::StoredTensors& tensors,
                                                                   const checkpoint::RunRecord& run, const std::string& where,
                                                                   const std::string& explicit_model) {
  std::map<std::string, torch::Tensor> saved;
  for (auto& [name, tensor] : checkpoint::read_all(tensors)) saved[name] = tensor;
  const auto model = rebuild_model("export", where, {run.model, run.model_sha256},
                                   explicit_model.empty() ? std::nullopt : std::optional<std::string>(explicit_model),
                                   run.model, {run.in_channels > 0 ? run.in_channels : 1, run.num_classes});
  const std::string model_name = explicit_model.empty() ? run.model : explicit_model;
  std::vector<std::pair<std::string, torch::Tensor>> ordered;
  for (const auto& entry : models::state_dict(*model)) {
    const auto it = saved.find(entry.first);
    if (it == saved.end())
      throw CheckpointError(where + " lacks " + entry.first + " of model " + model_name);
    ordered.emplace_back(entry.first, it->second);
    saved.erase(it);
  }
  if (!saved.empty())
    throw CheckpointError(where + " holds " + saved.begin()->first + ", not a tensor of model " +
                          model_name);
  return ordered;
}

// The ordered state dict Python's load_state_dict takes; `count` is set to its tensors.
PtValue state_dict_value(const std::vector<std::pair<std::string, torch::Tensor>>& ordered, const std::string& prefix,
                         std::size_t& count) {
  std::vector<std::pair<PtValue, PtValue>> state_dict;
  for (const auto& [name, tensor] : ordered) state_dict.emplace_back(PtValue::text(prefix + name), PtValue::tensor(tensor));
  count = state_dict.size();
  return PtValue::ordered_dict(std::move(state_dict));
}

PtValue python_value(const optim::PythonOption& option) {
  if (const auto* number = std::get_if<double>(&option)) return PtValue::real(*number);
  if (const auto* flag = std::get_if<bool>(&option)) return PtValue::boolean(*flag);
  if (const auto* numbers = std::get_if<std::vector<double>>(&option)) {
    std::vector<PtValue> items;
    for (double number : *numbers) items.push_back(PtValue::real(number));
    return PtValue::tuple(std::move(items));
  }
  return PtValue::none();
}

// PyTorch's optimizer.state_dict(): state keyed by the parameter's index over
// all groups, and param_groups whose "params" are those indices.
PtValue optimizer_state_dict(const checkpoint::CheckpointReader& reader) {
  std::map<std::string, std::vector<std::pair<std::string, torch::Tensor>>> saved;
  for (const auto& entry : reader.optimizer_state()) {
    const auto slash = entry.name.find('/');
    saved[entry.name.substr(0, slash)].emplace_back(entry.name.substr(slash + 1), entry.read());
  }
  std::vector<std::pair<PtValue, PtValue>> state;
  std::vector<PtValue> groups;
  std::int64_t next_index = 0;
  for (const auto& group : reader.param_groups()) {
    const optim::OptimizerAdapter& adapter = optim::optimizer_adapter(group.optimizer);
    std::vector<std::pair<PtValue, PtValue>> options;
    for (const auto& [key, value] : adapter.python_options(group.options))
      options.emplace_back(PtValue::text(key), python_value(value));
    std::vector<PtValue> params;
    for (const auto& name : group.params) {
      const std::int64_t index = next_index++;
      params.push_back(PtValue::integer(index));
      const auto found = saved.find(name);
      if (found == saved.end()) continue;
      std::vector<std::pair<PtValue, PtValue>> entry;
      for (const auto& [key, tensor] : found->second)
        entry.emplace_back(PtValue::text(key), PtValue::tensor(adapter.python_state(key, tensor)));
      state.emplace_back(PtValue::integer(index), PtValue::dict(std::move(entry)));
    }
    options.emplace_back(PtValue::text("params"), PtValue::list(std::move(params)));
    groups.push_back(PtValue::dict(std::move(options)));
  }
  return PtValue::dict({{PtValue::text("state"), PtValue::dict(std::move(state))},
                        {PtValue::text("param_groups"), PtValue::list(std::move(groups))}});
}

}  // namespace

ExportReport export_to_pt(const std::string& checkpoint, const std::string& model, const std::string& to,
                          const std::string& add_prefix, bool with_optimizer) {
  // Resolved against the checkpoint read too: `export ck --to ck/LATEST` would replace what it reads.
  checkpoint::check_output_path("to", to, checkpoint::OutputKind::kFile, {storage::fs::is_directory(checkpoint) ? checkpoint : ""});
  ExportReport report;
  std::optional<PtValue> root;
  if (!storage::fs::is_directory(checkpoint) && storage::fs::exists(checkpoint) && storage::is_hdf5_file(checkpoint)) {
    // A --save-weights file: its weights and the run record on its root.
    if (with_optimizer)
      throw CheckpointError("export --with-optimizer: " + checkpoint + " is a weights file, without optimizer state");
    const Attributes attributes = storage::weights_file_attributes(checkpoint);
    const PtValue state_dict = state_dict_value(in_module_order(storage::stored_tensors(checkpoint, "/model"),
                                                                checkpoint::RunRecord::from_attributes(attributes, checkpoint),
                                                                checkpoint, model),
                                                add_prefix, report.tensors);
    report.bytes = storage::write_pt_file(to, state_dict);
    return report;
  }
  checkpoint::with_checkpoint(checkpoint, [&](const checkpoint::CheckpointReader& reader) {
    root = state_dict_value(in_module_order(reader.model(), reader.run(), reader.directory(), model), add_prefix,
                            report.tensors);
    if (with_optimizer)
      root = PtValue::dict({{PtValue::text("epoch"), PtValue::integer(reader.epoch().progress.completed_epochs)},
                            {PtValue::text("model_state_dict"), *root},
                            {PtValue::text("optimizer_state_dict"), optimizer_state_dict(reader)}});
  });
  report.bytes = storage::write_pt_file(to, *root);
  return report;
}

}  // namespace trainer
