#include "trainer/eval_run.h"

#include "common/as_written.h"
#include "common/error.h"
#include "data/registry.h"
#include "models/state_dict.h"
#include "storage/fs.h"
#include "checkpoint/output_path.h"
#include "storage/tensor_file.h"
#include "trainer/evaluation.h"
#include "trainer/saved_model.h"
#include "trainer/weights.h"

#include <torch/nn/functional/loss.h>
#include <torch/utils.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <sstream>

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
  char line[256];
  std::snprintf(line, sizeof line, "test: %lld samples, loss %.4f, accuracy %.4f", static_cast<long long>(r.samples),
                r.loss, r.accuracy);
  log << line;
  if (r.top_k > 0) {
    std::snprintf(line, sizeof line, ", top-%lld accuracy %.4f", static_cast<long long>(r.top_k), r.top_k_accuracy);
    log << line;
  }
  log << "\nper-class accuracy:";
  const std::int64_t k = r.confusion.size(0);
  const torch::Tensor confusion = r.confusion.to(torch::kFloat64);
  const torch::Tensor correct = confusion.diagonal(), support = confusion.sum(1), predicted = confusion.sum(0);
  const torch::Tensor recall = correct / support.clamp_min(1), precision = correct / predicted.clamp_min(1);
  const torch::Tensor f1 = 2 * precision * recall / (precision + recall).clamp_min(1e-12);
  for (std::int64_t c = 0; c < k; ++c) {
    std::snprintf(line, sizeof line, ":%.3f", recall[c].item<double>());
    log << " " << names[static_cast<std::size_t>(c)] << line;
  }
  std::size_t width = 12;
  for (const auto& name : names) width = std::max(width, name.size() + 2);
  std::snprintf(line, sizeof line, "\n%-*s %9s %9s %9s %9s\n", static_cast<int>(width), "class", "precision", "recall",
                "f1-score", "support");
  log << line;
  for (std::int64_t c = 0; c < k; ++c) {
    std::snprintf(line, sizeof line, "%-*s %9.4f %9.4f %9.4f %9lld\n", static_cast<int>(width),
                  names[static_cast<std::size_t>(c)].c_str(), precision[c].item<double>(), recall[c].item<double>(),
                  f1[c].item<double>(), static_cast<long long>(support[c].item<double>()));
    log << line;
  }
  std::snprintf(line, sizeof line, "%-*s %9.4f %9.4f %9.4f %9lld\n", static_cast<int>(width), "macro avg",
                precision.mean().item<double>(), recall.mean().item<double>(), f1.mean().item<double>(),
                static_cast<long long>(r.samples));
  log << line;
  log << "confusion matrix (rows: true class, columns: predicted";
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

// The recorded value of one data option: taken where the option is not given; where it is given
// and differs, a transform is refused (the model would be measured on inputs unlike its
// training's) and anything else is noted.
template <typename T>
void remember(const nlohmann::json& recorded, const char* key, const std::string& option, T& field,
              const TrainConfig& given, const std::string& where, std::vector<std::string>& notes, bool transform) {
  if (!recorded.contains(key) || recorded[key].is_null()) return;
  T value;
  try {
    value = recorded[key].get<T>();
  } catch (const nlohmann::json::exception&) {
    return;  // a record of another version: the options decide
  }
  if (!given.explicitly(option)) {
    field = value;
  } else if (!(field == value)) {
    if (transform)
      throw CheckpointError("eval --" + option + " " + as_written(field) + ": " + where + " was trained with --" +
                            option + " " + as_written(value) +
                            "; its accuracy on inputs made otherwise would not be the model's (leave --" + option +
                            " out: the recorded value is used)");
    notes.push_back("--" + option + " " + as_written(field) + " (trained with " + as_written(value) + ")");
  }
}

// `trainer eval` measures the model on the data it was trained on, made into tensors as in training
// (the checkpoint's or weights file's recorded options), unless options say otherwise: another
// data set is allowed and named in the report; other transforms are refused.
TrainConfig with_training_data(const TrainConfig& given, const WeightSource& source, std::ostream& log) {
  TrainConfig config = given;
  if (source.config.empty()) return config;
  const nlohmann::json recorded = nlohmann::json::parse(source.config, nullptr, /*allow_exceptions=*/false);
  if (!recorded.is_object()) return config;
  std::vector<std::string> notes;
  data::DataConfig& d = config.data;
  const std::string& where = source.path;
  remember(recorded, "dataset", "dataset", d.dataset, given, where, notes, false);
  remember(recorded, "data_dir", "data-dir", d.data_dir, given, where, notes, false);
  remember(recorded, "val_dir", "val-dir", d.val_dir, given, where, notes, false);
  remember(recorded, "train_dir", "train-dir", d.train_dir, given, where, notes, false);
  remember(recorded, "data", "data", d.data_file, given, where, notes, false);
  remember(recorded, "test_data", "test-data", d.test_data_file, given, where, notes, false);
  if (d.dataset == "hdf5" && d.test_data_file.empty()) d.test_data_file = d.data_file;
  remember(recorded, "synthetic_shape", "synthetic-shape", d.synthetic_shape, given, where, notes, false);
  remember(recorded, "synthetic_test_size", "synthetic-test-size", d.synthetic_test_size, given, where, notes, false);
  remember(recorded, "synthetic_classes", "synthetic-classes", d.synthetic_classes, given, where, notes, false);
  remember(recorded, "seed", "seed", d.seed, given, where, notes, false);
  remember(recorded, "limit_test", "limit-test", d.limit_test, given, where, notes, false);
  remember(recorded, "skip_bad_images", "skip-bad-images", d.skip_bad_images, given, where, notes, false);
  remember(recorded, "classes", "classes", d.classes, given, where, notes, true);
  const bool images = d.dataset == "image-folder";  // the image options shape no other data set's tensors
  remember(recorded, "image_size", "image-size", d.images.image_size, given, where, notes, images);
  remember(recorded, "resize", "resize", d.images.resize, given, where, notes, images);
  remember(recorded, "mean", "mean", d.images.mean, given, where, notes, images);
  remember(recorded, "std", "std", d.images.std, given, where, notes, images);
  if (recorded.contains("normalize")) {
    std::optional<std::pair<double, double>> normalize;
    if (recorded["normalize"].is_array() && recorded["normalize"].size() == 2)
      normalize = std::make_pair(recorded["normalize"][0].get<double>(), recorded["normalize"][1].get<double>());
    if (!given.explicitly("normalize")) d.normalize = normalize;
    else if (d.normalize != normalize)
      throw CheckpointError("eval --normalize: " + where + " was trained with " +
                            (normalize ? "--normalize " + as_written(normalize->first) + "," + as_written(normalize->second)
                                       : std::string("the data set's default normalization")) +
                            "; its accuracy on inputs made otherwise would not be the model's (leave --normalize out)");
  }
  log << "data: " << d.dataset << " as recorded in " << where;
  for (const auto& note : notes) log << (&note == &notes.front() ? "; evaluating on other data than the training's: " : ", ") << note;
  log << std::endl;
  return config;
}

}  // namespace

EvalResult run_evaluation(const TrainConfig& given, const std::string& checkpoint, const std::string& predictions_out,
                          const torch::Device& device, std::ostream& log, std::int64_t top_k) {
  torch::set_num_threads(given.threads);
  checkpoint::check_output_path("predictions-out", predictions_out, checkpoint::OutputKind::kFile,
                             {storage::fs::is_directory(checkpoint) ? checkpoint : ""});
  const WeightSource source = read_weights(checkpoint);
  const TrainConfig config = with_training_data(given, source, log);
  std::shared_ptr<const data::Dataset> test;
  try {
    test = data::make_dataset(config.data, data::Split::kTest);
  } catch (const DataError& e) {
    if (source.config.empty()) throw;
    throw DataError(std::string(e.what()) + " (the data " + source.path +
                    " was trained on, as it recorded it; name the data to evaluate on with --data-dir, --val-dir or --test-data)");
  }
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
  if (top_k > 0 && num_classes > top_k) {
    result.top_k = top_k;
    result.top_k_accuracy = std::get<1>(logits.topk(top_k, 1)).eq(labels.unsqueeze(1)).any(1).sum().item<double>() /
                            static_cast<double>(result.samples);
  }
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
