#include "trainer/eval_run.h"

#include "common/error.h"
#include "data/registry.h"
#include "models/state_dict.h"
#include "storage/tensor_file.h"
#include "trainer/evaluation.h"
#include "trainer/saved_model.h"
#include "trainer/weights.h"

#include <torch/nn/functional/loss.h>
#include <torch/utils.h>

#include <cstdio>

namespace trainer {
namespace {

namespace F = torch::nn::functional;

// Names for the report: the checkpoint's, else the data's, else the label numbers.
std::vector<std::string> class_names(const WeightSource& source, const data::Dataset& test, std::int64_t classes) {
  const std::vector<std::string> data_names = test.class_names();
  if (!source.class_names.empty() && !data_names.empty() && source.class_names != data_names)
    throw CheckpointError("eval: " + source.path + " was trained on " + std::to_string(source.class_names.size()) +
                          " classes named otherwise than the data's (" + source.class_names.front() + ", ... against " +
                          data_names.front() + ", ...)");
  std::vector<std::string> names = !source.class_names.empty() ? source.class_names : data_names;
  if (static_cast<std::int64_t>(names.size()) != classes) {
    names.clear();
    for (std::int64_t c = 0; c < classes; ++c) names.push_back(std::to_string(c));
  }
  return names;
}

void print_report(const EvalResult& r, const std::vector<std::string>& names, std::ostream& log) {
  char line[160];
  std::snprintf(line, sizeof line, "test: %lld samples, loss %.4f, accuracy %.4f\n", static_cast<long long>(r.samples),
                r.loss, r.accuracy);
  log << line << "per-class accuracy:";
  const std::int64_t k = r.confusion.size(0);
  for (std::int64_t c = 0; c < k; ++c) {
    const double total = static_cast<double>(r.confusion[c].sum().item<std::int64_t>());
    std::snprintf(line, sizeof line, ":%.3f", total > 0 ? r.confusion[c][c].item<std::int64_t>() / total : 0.0);
    log << " " << names[static_cast<std::size_t>(c)] << line;
  }
  log << "\nconfusion matrix (rows: true class, columns: predicted";
  if (names.front() != "0")
    for (std::int64_t c = 0; c < k; ++c) log << (c ? ", " : "; ") << c << " = " << names[static_cast<std::size_t>(c)];
  log << "):\n";
  for (std::int64_t i = 0; i < k; ++i) {
    for (std::int64_t j = 0; j < k; ++j) {
      std::snprintf(line, sizeof line, "%6lld", static_cast<long long>(r.confusion[i][j].item<std::int64_t>()));
      log << line;
    }
    log << "\n";
  }
  log << std::flush;
}

}  // namespace

EvalResult run_evaluation(const TrainConfig& config, const std::string& checkpoint, const std::string& predictions_out,
                          const torch::Device& device, std::ostream& log) {
  torch::set_num_threads(config.threads);
  const WeightSource source = read_weights(checkpoint);
  const std::shared_ptr<const data::Dataset> test = data::make_dataset(config.data, data::Split::kTest);
  if (!test || test->size() == 0) throw DataError("eval: the data set has no test split (--test-data FILE for hdf5)");
  const std::vector<std::int64_t> shape = test->sample_shape();

  // Model and class count: what the checkpoint says, else the options, else the
  // weights' head. An option given explicitly that the checkpoint contradicts
  // is an error, not silently overridden.
  const std::optional<std::string> explicit_model =
      config.explicit_options.count("model") ? std::optional<std::string>(config.model) : std::nullopt;
  if (source.num_classes && config.explicit_options.count("num-classes") && config.num_classes > 0 &&
      *source.num_classes != config.num_classes)
    throw CheckpointError("eval --num-classes " + std::to_string(config.num_classes) + ": " + source.path + " has " +
                          std::to_string(*source.num_classes) + " classes");
  auto rebuild = [&](std::int64_t classes) {
    return rebuild_model("eval", source.path, source.model, explicit_model, config.model, {shape[0], classes});
  };
  std::int64_t num_classes = source.num_classes.value_or(config.num_classes);
  if (num_classes <= 0)
    num_classes = head_classes(models::state_dict(*rebuild(10)), source).value_or(test->num_classes());
  auto model = rebuild(num_classes);
  const std::string model_name = explicit_model.value_or(source.model.name.value_or(config.model));
  const std::string sha256 = model->file_sha256();
  model->check_input_shape(shape[0], shape[1], shape[2]);
  const models::StateDict state = models::state_dict(*model);
  load_weights(state, source, /*strict=*/true);
  model->to(device);
  log << "eval " << source.kind << " " << source.path << ": " << (sha256.empty() ? "model " : "")
      << describe_model(model_name, sha256) << ", " << num_classes << " classes"
      << (source.epoch ? ", epoch " + std::to_string(*source.epoch) : std::string())
      << (source.stripped_prefix.empty() ? "" : ", names normalized (stripped '" + source.stripped_prefix + "')")
      << ", device " << device.str() << std::endl;
  data::check_labels_fit(*test, num_classes, "test", "");

  std::vector<torch::Tensor> all_logits, all_labels;
  double loss_sum = 0;
  for_each_batch(
      *model, *test, 0, test->size(), config.test_batch_size, device,
      [&](const torch::Tensor& batch_logits, const torch::Tensor& batch_labels) {
        const torch::Tensor logits = batch_logits.to(torch::kCPU), labels = batch_labels.to(torch::kCPU);
        loss_sum +=
            F::cross_entropy(logits, labels, F::CrossEntropyFuncOptions().reduction(torch::kSum)).item<double>();
        all_logits.push_back(logits);
        all_labels.push_back(labels);
      });
  const torch::Tensor logits = torch::cat(all_logits);
  const torch::Tensor labels = torch::cat(all_labels);
  const torch::Tensor predictions = logits.argmax(1);

  EvalResult result;
  result.samples = test->size();
  result.loss = loss_sum / static_cast<double>(result.samples);
  result.accuracy = predictions.eq(labels).sum().item<double>() / static_cast<double>(result.samples);
  result.confusion = torch::bincount(labels * num_classes + predictions, {}, num_classes * num_classes)
                         .view({num_classes, num_classes});
  const std::vector<std::string> names = class_names(source, *test, num_classes);
  print_report(result, names, log);

  if (!predictions_out.empty()) {
    storage::write_tensors(predictions_out, "", {{"logits", logits}, {"predictions", predictions}, {"labels", labels}},
                           {{"checkpoint", source.path}, {"accuracy", result.accuracy}, {"class_names", names}});
    log << "predictions written to " << predictions_out << std::endl;
  }
  return result;
}

}  // namespace trainer
