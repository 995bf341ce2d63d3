#include "trainer/saved_model.h"

#include "common/error.h"
#include "models/registry.h"
#include "models/state_dict.h"
#include "storage/fs.h"
#include "trainer/weights.h"

namespace trainer {

std::string describe_model(const std::string& model, const std::string& sha256) {
  return sha256.empty() ? model : "model file " + model + " (sha256 " + sha256.substr(0, 16) + "...)";
}

std::shared_ptr<models::Network> rebuild_model(const std::string& command, const std::string& weights,
                                               const SavedModel& saved,
                                               const std::optional<std::string>& explicit_model,
                                               const std::string& fallback, const models::ModelOptions& options) {
  const bool recorded_file = !saved.sha256.empty();
  const std::string recorded = saved.name ? describe_model(*saved.name, saved.sha256) : "";
  if (explicit_model && saved.name) {
    if (recorded_file && !models::is_model_file(*explicit_model))
      throw CheckpointError(command + " --model " + *explicit_model + ": " + weights + " was trained with " + recorded);
    if (!recorded_file && *explicit_model != *saved.name)
      throw CheckpointError(command + " --model " + *explicit_model + ": " + weights + " holds a " + *saved.name +
                            " model");
  }
  const std::string model = explicit_model ? *explicit_model : saved.name.value_or(fallback);
  if (recorded_file && !explicit_model && !storage::fs::exists(model))
    throw CheckpointError(weights + " was trained with " + recorded + ", which is no longer there; " + command +
                          " --model FILE names where it is now");
  std::shared_ptr<models::Network> network = models::make_model(model, options);
  if (recorded_file && network->file_sha256() != saved.sha256)
    throw CheckpointError(command + ": " + describe_model(model, network->file_sha256()) + " is not the file " +
                          weights + " was trained with, " + recorded +
                          (explicit_model ? "" : " (the file changed since)"));
  return network;
}

void check_weights_fit(const std::string& path, const std::string& model, std::ostream& out) {
  const WeightSource source = read_weights(path);
  auto rebuild = [&](std::int64_t channels, std::int64_t classes) {
    return rebuild_model("inspect", source.path, source.model, model, model, {channels, classes});
  };
  const models::StateDict reference = models::state_dict(*rebuild(1, 10));
  const std::int64_t channels = source.in_channels.value_or(input_channels(reference, source).value_or(1));
  const std::int64_t classes = source.num_classes.value_or(head_classes(reference, source).value_or(10));
  const std::shared_ptr<models::Network> network = rebuild(channels, classes);
  const WeightsReport report = load_weights(models::state_dict(*network), source, /*strict=*/true);
  const std::string sha256 = network->file_sha256();
  out << "--model " << model << ": the weights fit, " << report.loaded << " tensors, " << classes << " classes"
      << (sha256.empty() ? "" : ", sha256 " + sha256) << std::endl;
}

}  // namespace trainer
