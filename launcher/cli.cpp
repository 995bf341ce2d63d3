#include "launcher/cli.h"

#include "common/error.h"
#include "common/as_written.h"
#include "common/suggest.h"
#include "checkpoint/backend.h"
#include "data/registry.h"
#include "launcher/device_selection.h"
#include "launcher/stop_signals.h"
#include "models/registry.h"
#include "optim/registry.h"
#include "optim/schedule.h"
#include "storage/tensor_file.h"

#include <boost/program_options.hpp>
#include <sys/stat.h>
#include <torch/version.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <fstream>
#include <sstream>

namespace po = boost::program_options;

namespace trainer::launcher {
namespace {

const char* const kUsage =
    "usage: trainer [train] [options]\n"
    "       trainer eval PATH|FILE.pt|WEIGHTS.h5 [--device cpu|cuda|cuda:N] [options]\n"
    "       trainer inspect PATH [--verify]\n"
    "       trainer export PATH --to FILE.pt [--add-prefix module.] [--with-optimizer]\n"
    "       trainer info    (versions, visible GPUs, what this build supports)\n"
    "       trainer SUBCOMMAND --help | trainer --version\n\n"
    "Trains a network on one process, or data-parallel under mpirun. Options may also be given in\n"
    "an INI file (--config FILE) with the same names; the command line overrides the file.\n"
    "Each run's outputs go to one run directory: --run-dir DIR, or runs/NAME with --name NAME, or by\n"
    "default the run under runs/ whose configuration matches (resumed) or a new runs/version_N.\n"
    "PATH (eval, inspect, export) is a run directory, a checkpoint directory or a checkpoint root.\n";

// Values that need parsing or checks beyond their type; copied into TrainConfig after notify().
struct RawValues {
  std::vector<std::string> lr_groups;
  std::string checkpoint_async = "off";
  std::string overlap = "on";
  std::string config_file;
  std::string classes;
  std::string normalize;
  std::string crop_scale = "0.08,1", crop_ratio = "0.75,1.3333333333333333";
  std::string mean = "0.485,0.456,0.406", std = "0.229,0.224,0.225";
  std::string synthetic_shape = "1,32,32";
  std::string lr_milestones;
  std::string betas = "0.9,0.999";
  std::int64_t seed = 0;
  std::int64_t synthetic_size = data::DataConfig{}.synthetic_train_size;
  std::int64_t synthetic_test_size = data::DataConfig{}.synthetic_test_size;
};

// An option whose default is the field's current value, shown as written.
template <typename T>
po::typed_value<T>* with_default(T* field) {
  return po::value(field)->default_value(*field, as_written(*field));
}

// The option groups, each a function, so that `eval` can take only those it uses.
struct OptionGroups {
  std::vector<po::options_description> groups;
  po::options_description all() const {
    po::options_description options;
    for (const auto& group : groups) options.add(group);
    return options;
  }
};

po::options_description general_options(TrainConfig& c, RawValues& raw, bool for_eval) {
  po::options_description general("General");
  general.add_options()
      ("help,h", "show this help and exit")
      ("config", po::value(&raw.config_file)->value_name("FILE"), "read options from an INI file")
      ("print-config", "print the resolved options as an INI file that --config reads, and exit")
      ("device", with_default(&c.device),
       "auto | cpu | cuda | cuda:N; under mpirun each rank takes GPU <local rank>")
      ("gpu-order", with_default(&c.gpu_order),
       "index | free-memory: the order in which local ranks take the visible GPUs")
      ("verbose", po::bool_switch(&c.verbose), "every rank logs, not only rank 0")
      ("stop-signals", with_default(&c.stop_signals),
       "signals that make every rank checkpoint at the next step and exit with status 75; none")
      ("signal-lead", with_default(&c.signal_lead)->value_name("SECONDS"),
       "time a stop signal leaves before the kill (Slurm: --signal=B:USR1@SECONDS); a save that "
       "would not fit in it is warned about; 0: unknown")
      ("comm-timeout", with_default(&c.comm_timeout)->value_name("SECONDS"),
       "a collective that waits longer for the other ranks (one is dead or stuck) ends the job "
       "with a message; 0: wait forever")
      ("threads", with_default(&c.threads), "intra-op threads per process");
  if (for_eval) return general;
  general.add_options()
      ("seed", with_default(&raw.seed), "seed of initialization and sampling")
      ("deterministic", po::bool_switch(&c.deterministic),
       "only deterministic algorithms (an operation without one is an error); on CUDA also cuDNN's deterministic "
       "kernels, no cuDNN benchmarking, and cuBLAS's fixed workspace")
      ("metrics-file", po::value(&c.metrics_file)->value_name("FILE"),
       "write one JSON object per epoch to FILE")
      ("tensorboard", po::value(&c.tensorboard_dir)->value_name("DIR"),
       "write TensorBoard event files to DIR (rank 0): per step and per epoch scalars")
      ("timeline", po::value(&c.timeline_file)->value_name("FILE"),
       "write a Chrome trace of every step's phases on every rank to FILE (Perfetto, chrome://tracing)")
      ("save-weights", po::value(&c.save_weights)->value_name("FILE"),
       "write the final weights to an HDF5 file, one dataset per state-dict key under /model (default: "
       "RUN_DIR/weights.h5); eval, inspect, export and --init-from read it");
  return general;
}

po::options_description run_options(TrainConfig& c) {
  po::options_description runs("Runs");
  runs.add_options()
      ("run-dir", po::value(&c.run_dir)->value_name("DIR"),
       "the run directory: config.ini, checkpoints/, metrics.jsonl, weights.h5 (default: runs/NAME with "
       "--name, else the run under runs/ whose configuration matches, else a new runs/version_N)")
      ("name", po::value(&c.run_name)->value_name("NAME"), "the run directory runs/NAME")
      ("overwrite", po::bool_switch(&c.overwrite),
       "start afresh in a run directory (or --checkpoint-dir) that holds another run: its checkpoints, "
       "metrics and weights are removed first");
  return runs;
}

po::options_description finetune_options(TrainConfig& c, RawValues& raw) {
  po::options_description finetune("Fine-tuning");
  finetune.add_options()
      ("init-from", po::value(&c.init_from)->value_name("PATH|FILE.pt"),
       "start from these weights (a checkpoint or a torch.save file); tensors of another shape are "
       "re-initialized")
      ("init-non-strict", po::bool_switch(&c.init_non_strict), "allow weights missing from --init-from")
      ("freeze", po::value(&c.freeze)->composing()->value_name("PREFIX"),
       "do not train parameters whose name starts with PREFIX (repeatable)")
      ("train-only", po::value(&c.train_only)->composing()->value_name("PREFIX"),
       "train only parameters whose name starts with PREFIX, freeze the rest (repeatable; the tutorial's "
       "feature extractor: --train-only fc)")
      ("lr-group", po::value(&raw.lr_groups)->composing()->value_name("PREFIX=LR[,momentum=M][,weight_decay=W]"),
       "a parameter group with its own learning rate (repeatable; LR 0 keeps it fixed)");
  return finetune;
}

po::options_description checkpoint_options(TrainConfig& c, RawValues& raw) {
  po::options_description checkpoints("Checkpoints");
  checkpoints.add_options()
      ("checkpoint-dir", po::value(&c.checkpoint_dir)->value_name("DIR"),
       "where checkpoints go (default: RUN_DIR/checkpoints); 'none' disables them")
      ("checkpoint-every", with_default(&c.checkpoint_every),
       "epochs between checkpoints; 0: only the final one")
      ("checkpoint-every-steps", with_default(&c.checkpoint_every_steps),
       "optimizer steps between mid-epoch checkpoints; 0: none")
      ("keep-last", with_default(&c.keep_last),
       "committed checkpoints to keep; 0: all")
      ("keep-best", with_default(&c.keep_best),
       "also keep the K best checkpoints by --monitor (checkpoints at an epoch's end with a test set)")
      ("monitor", with_default(&c.monitor)->value_name("test_accuracy|test_loss"),
       "the metric of --keep-best and --resume best")
      ("checkpoint-async", with_default(&raw.checkpoint_async)->value_name("on|off"),
       "write checkpoints in the background while training goes on; the commit follows at a later step")
      ("checkpoint-backend", with_default(&c.checkpoint_backend)->value_name("posix|staged:DIR"),
       ("where checkpoint files are written before their commit: " + checkpoint::backend_help()).c_str())
      ("resume", with_default(&c.resume),
       "auto (newest usable checkpoint of this run) | best (the best there by --monitor) | none | PATH (a checkpoint or a checkpoint dir) | FILE.pt (a Python checkpoint dict: weights, optimizer state, epoch)")
      ("progress-seconds", with_default(&c.progress_seconds),
       "seconds between progress lines; 0 disables them");
  return checkpoints;
}

po::options_description model_options(TrainConfig& c) {
  std::string models;
  for (const auto& name : models::model_names()) models += (models.empty() ? "" : " | ") + name;
  models += " | FILE (a TorchScript module: torch.jit.script(model).save(FILE))";
  po::options_description model("Model");
  model.add_options()
      ("model", with_default(&c.model), models.c_str())
      ("num-classes", with_default(&c.num_classes),
       "output classes; 0 takes the data set's count");
  return model;
}

// `eval` reads the data settings the checkpoint recorded; it takes only the options of test data.
po::options_description data_options(TrainConfig& c, RawValues& raw, bool for_eval) {
  std::string datasets;
  for (const auto& d : data::dataset_names()) datasets += (datasets.empty() ? "" : "\n") + d.name + ": " + d.help;
  po::options_description data(for_eval ? "Data (default: what the checkpoint was trained on)" : "Data");
  data.add_options()
      ("dataset", with_default(&c.data.dataset), datasets.c_str())
      ("data-dir", with_default(&c.data.data_dir),
       "fashion-mnist: the IDX files (gzipped or not); image-folder: the folder holding train/ and val/")
      ("data", po::value(&c.data.data_file)->value_name("FILE"),
       "hdf5: training file with /images (N[xC]xHxW) and /labels")
      ("test-data", po::value(&c.data.test_data_file)->value_name("FILE"), "hdf5: test file")
      ("classes", po::value(&raw.classes)->value_name("A,B,..."),
       "keep these classes only, relabeled 0..k-1 in this order")
      ("limit-test", with_default(&c.data.limit_test), "use the first N test samples; 0: all")
      ("test-batch-size", with_default(&c.test_batch_size), "samples per evaluation batch")
      ("normalize", po::value(&raw.normalize)->value_name("MEAN,STD"),
       "subtract MEAN and divide by STD (Fashion-MNIST default: 0.2860,0.3530)")
      ("synthetic-shape", with_default(&raw.synthetic_shape), "synthetic: image shape C,H,W")
      ("synthetic-test-size", with_default(&raw.synthetic_test_size), "synthetic: test samples")
      ("synthetic-classes", with_default(&c.data.synthetic_classes), "synthetic: number of classes");
  if (!for_eval)
    data.add_options()
        ("limit-train", with_default(&c.data.limit_train), "use the first N training samples; 0: all")
        ("synthetic-size", with_default(&raw.synthetic_size), "synthetic: training samples")
        ("workers", with_default(&c.data.workers),
         "threads per rank that make batches (decode, transform) ahead of the step; 0: in the step")
        ("prefetch", with_default(&c.data.prefetch),
         "batches made ahead at most, all workers together (memory: this many batches)");

  data::ImagePipeline& images = c.data.images;
  po::options_description image_folder("Image folders (--dataset image-folder; torchvision's transforms)");
  if (!for_eval)
    image_folder.add_options()
        ("train-dir", po::value(&c.data.train_dir)->value_name("DIR"), "training images DIR/<class>/* (default: --data-dir/train)");
  image_folder.add_options()
      ("val-dir", po::value(&c.data.val_dir)->value_name("DIR"), "validation images DIR/<class>/* (default: --data-dir/val, if present)")
      ("image-size", with_default(&images.image_size),
       "RandomResizedCrop's size (training) and CenterCrop's (evaluation)")
      ("resize", with_default(&images.resize),
       "evaluation: Resize's shorter side before the center crop; 0: none")
      ("mean", with_default(&raw.mean), "Normalize's mean R,G,B")
      ("std", with_default(&raw.std), "Normalize's std R,G,B")
      ("skip-bad-images", po::bool_switch(&c.data.skip_bad_images),
       "decode every image once at start and leave out those that fail, with a count in the log "
       "(default: a bad file is an error naming it)");
  if (!for_eval)
    image_folder.add_options()
        ("crop-scale", with_default(&raw.crop_scale), "RandomResizedCrop's scale MIN,MAX")
        ("crop-ratio", with_default(&raw.crop_ratio), "RandomResizedCrop's aspect ratio MIN,MAX")
        ("hflip", with_default(&images.hflip), "RandomHorizontalFlip's probability; 0: off");
  data.add(image_folder);
  return data;
}

po::options_description optimization_options(TrainConfig& c, RawValues& raw) {
  std::string optimizers, schedules;
  for (const auto& name : optim::optimizer_names()) optimizers += (optimizers.empty() ? "" : " | ") + name;
  for (const auto& s : optim::schedule_names()) schedules += (schedules.empty() ? "" : "\n") + s.name + ": " + s.help;
  po::options_description optim("Optimization");
  optim.add_options()
      ("epochs", with_default(&c.epochs), "epochs to train")
      ("batch-size", with_default(&c.batch_size),
       "samples per micro-batch per rank")
      ("accumulate-steps", with_default(&c.accumulate_steps),
       "micro-batches per optimizer step; gradients are exchanged once per step")
      ("virtual-ranks", with_default(&c.virtual_ranks)->value_name("V"),
       "train as V ranks of --batch-size each on any process count that divides V: the same samples, random draws "
       "and gradients summed in virtual-rank order, so the weights are bit-identical on 1, 2, ... or V processes and across a "
       "resume on another count (each process runs its V/N ranks one after another); 0: off")
      ("overlap", with_default(&raw.overlap)->value_name("on|off"),
       "start each gradient bucket's allreduce during backward, as soon as its gradients are ready")
      ("shard-optimizer", po::bool_switch(&c.shard_optimizer),
       "ZeRO-1: each rank keeps and steps the optimizer state of 1/N of the parameters; gradient buckets are "
       "reduce-scattered (during backward with --overlap on), parameters allgathered after the step; "
       "checkpoints are those of an unsharded run")
      ("clip-grad-norm", with_default(&c.clip_grad_norm)->value_name("MAX"),
       "scale the averaged gradients down to a total L2 norm of MAX (clip_grad_norm_); the norm is logged; 0: off")
      ("clip-grad-value", with_default(&c.clip_grad_value)->value_name("MAX"),
       "clamp each averaged gradient element to [-MAX, MAX] (clip_grad_value_); 0: off")
      ("label-smoothing", with_default(&c.label_smoothing),
       "of the training loss, as cross_entropy(label_smoothing=...); the test loss stays plain")
      ("precision", with_default(&c.precision)->value_name("fp32|bf16|fp16"),
       "bf16: the training forward under autocast (torch.autocast(dtype=torch.bfloat16)); the loss, the "
       "weights, the optimizer and checkpoints stay fp32. fp16 (CUDA only): the same with float16 and a "
       "dynamic loss scaler (torch.amp.GradScaler); steps with inf/nan gradients are skipped")
      ("optimizer", with_default(&c.optimizer.name), optimizers.c_str())
      ("lr", with_default(&c.optimizer.lr), "learning rate")
      ("momentum", with_default(&c.optimizer.momentum),
       "sgd, rmsprop: momentum (rmsprop's default is 0, PyTorch's)")
      ("nesterov", po::bool_switch(&c.optimizer.nesterov), "sgd: Nesterov momentum")
      ("weight-decay", with_default(&c.optimizer.weight_decay),
       "L2 penalty; adamw: decoupled weight decay, default 0.01 (PyTorch's)")
      ("betas", with_default(&raw.betas)->value_name("B1,B2"),
       "adam, adamw: the decay rates of the gradient's moving averages")
      ("eps", with_default(&c.optimizer.eps),
       "adam, adamw, rmsprop: added to the denominator")
      ("alpha", with_default(&c.optimizer.alpha),
       "rmsprop: smoothing constant of the squared gradients' average")
      ("centered", po::bool_switch(&c.optimizer.centered), "rmsprop: centered (normalized by the gradient's variance)")
      ("lr-schedule", with_default(&c.schedule.name), schedules.c_str())
      ("lr-step", with_default(&c.schedule.step),
       "step: multiply the LR by --lr-gamma every N epochs; 0: constant")
      ("lr-gamma", with_default(&c.schedule.gamma),
       "step, multistep, exponential: LR decay factor")
      ("lr-milestones", po::value(&raw.lr_milestones)->value_name("E1,E2,..."),
       "multistep: the epochs at which the LR is multiplied by --lr-gamma")
      ("lr-min", with_default(&c.schedule.lr_min),
       "cosine: the LR at the end of the run (eta_min)")
      ("pct-start", with_default(&c.schedule.pct_start),
       "onecycle: the share of the run spent rising to the LR")
      ("div-factor", with_default(&c.schedule.div_factor),
       "onecycle: the first LR is the LR / div-factor")
      ("final-div-factor", with_default(&c.schedule.final_div_factor),
       "onecycle: the last LR is the first / final-div-factor")
      ("warmup-steps", with_default(&c.schedule.warmup_steps),
       "linear warmup over the first N optimizer steps, before any schedule but onecycle (LinearLR)")
      ("warmup-epochs", with_default(&c.schedule.warmup_epochs),
       "linear warmup over the steps of the first N epochs (stepped per optimizer step)")
      ("warmup-start-factor",
       with_default(&c.schedule.warmup_start_factor),
       "the warmup starts at this fraction of each group's LR");
  return optim;
}

OptionGroups train_options(TrainConfig& c, RawValues& raw) {
  return {{general_options(c, raw, false), run_options(c), model_options(c), data_options(c, raw, false),
           optimization_options(c, raw), finetune_options(c, raw), checkpoint_options(c, raw)}};
}

OptionGroups eval_options(TrainConfig& c, RawValues& raw, EvalConfig& eval) {
  po::options_description evaluation("Evaluation");
  evaluation.add_options()
      ("checkpoint", po::value(&eval.checkpoint)->value_name("PATH"),
       "the weights: a run directory, a checkpoint directory, a --checkpoint-dir (its LATEST), a --save-weights "
       "file or a torch.save FILE.pt; also the first positional argument")
      ("predictions-out", po::value(&eval.predictions_out)->value_name("FILE.h5"),
       "write every test sample's logits, prediction and label")
      ("top-k", with_default(&eval.top_k)->value_name("K"), "also report top-K accuracy (when there are more than K classes)");
  return {{evaluation, general_options(c, raw, true), model_options(c), data_options(c, raw, true)}};
}

// The training options eval does not list: accepted (a user's option list serves both commands),
// bound to values nobody reads, and named in a note when given.
po::options_description training_only_options(const po::options_description& eval, TrainConfig& unused,
                                              RawValues& unused_raw) {
  po::options_description hidden;
  for (const auto& group : train_options(unused, unused_raw).groups)
    for (const auto& option : group.options())
      if (!eval.find_nothrow(option->long_name(), false)) hidden.add(option);
  return hidden;
}

void require(bool ok, const std::string& message) {
  if (!ok) throw ConfigError(message);
}

// Turns the raw strings into values (format errors name the option), then checks every value
// once (trainer::validate) and the launcher's own options.
void validate_and_finish(TrainConfig& c, const RawValues& raw) {
  require(raw.seed >= 0, "--seed must not be negative");
  c.seed = static_cast<std::uint64_t>(raw.seed);
  c.data.seed = c.seed;
  parse_stop_signals(c.stop_signals);  // throws for an unknown name
  parse_gpu_order(c.gpu_order);        // likewise
  require(raw.overlap == "on" || raw.overlap == "off", "--overlap " + raw.overlap + ": expected on or off");
  c.overlap = raw.overlap == "on";
  require(raw.checkpoint_async == "on" || raw.checkpoint_async == "off",
          "--checkpoint-async " + raw.checkpoint_async + ": expected on or off");
  c.checkpoint_async = raw.checkpoint_async == "on";
  checkpoint::check_backend_spec(c.checkpoint_backend);
  for (const auto& spec : raw.lr_groups) c.lr_groups.push_back(parse_lr_group(spec));
  if (!raw.classes.empty()) c.data.classes = parse_int_list(raw.classes, "--classes");
  if (!raw.normalize.empty()) {
    std::vector<double> values = parse_double_list(raw.normalize, "--normalize");
    require(values.size() == 2, "--normalize expects MEAN,STD");
    c.data.normalize = std::make_pair(values[0], values[1]);
  }
  auto pair = [](const std::string& text, const std::string& option) {
    const std::vector<double> values = parse_double_list(text, option);
    require(values.size() == 2, option + " expects MIN,MAX");
    return std::make_pair(values[0], values[1]);
  };
  c.data.images.crop_scale = pair(raw.crop_scale, "--crop-scale");
  c.data.images.crop_ratio = pair(raw.crop_ratio, "--crop-ratio");
  c.data.images.mean = parse_double_list(raw.mean, "--mean");
  c.data.images.std = parse_double_list(raw.std, "--std");
  c.data.synthetic_shape = parse_int_list(raw.synthetic_shape, "--synthetic-shape");
  const std::vector<double> betas = parse_double_list(raw.betas, "--betas");
  require(betas.size() == 2, "--betas expects B1,B2");
  c.optimizer.beta1 = betas[0];
  c.optimizer.beta2 = betas[1];
  // PyTorch's defaults where they differ from the options' shared ones.
  if (c.optimizer.name == "rmsprop" && !c.explicit_options.count("momentum")) c.optimizer.momentum = 0;
  if (c.optimizer.name == "adamw" && !c.explicit_options.count("weight-decay")) c.optimizer.weight_decay = 0.01;
  if (!raw.lr_milestones.empty()) c.schedule.milestones = parse_int_list(raw.lr_milestones, "--lr-milestones");
  c.data.synthetic_train_size = raw.synthetic_size;
  c.data.synthetic_test_size = raw.synthetic_test_size;
  validate(c);
}

}  // namespace

optim::LrGroup parse_lr_group(const std::string& spec) {
  const auto equals = spec.find('=');
  if (equals == std::string::npos || equals == 0)
    throw ConfigError("--lr-group " + spec + ": expected PREFIX=LR[,momentum=M][,weight_decay=W]");
  optim::LrGroup group;
  group.prefix = spec.substr(0, equals);
  std::stringstream rest(spec.substr(equals + 1));
  std::string item;
  bool first = true;
  while (std::getline(rest, item, ',')) {
    std::string key = "lr", value = item;
    if (!first || item.find('=') != std::string::npos) {
      const auto eq = item.find('=');
      if (eq == std::string::npos) throw ConfigError("--lr-group " + spec + ": '" + item + "' is not KEY=VALUE");
      key = item.substr(0, eq);
      value = item.substr(eq + 1);
    }
    first = false;
    const std::vector<double> number = parse_double_list(value, "--lr-group " + spec);
    if (number.size() != 1 || !std::isfinite(number[0]) || number[0] < 0)
      throw ConfigError("--lr-group " + spec + ": " + key + " must be a non-negative number");
    if (key == "lr") group.lr = number[0];
    else if (key == "momentum" && number[0] < 1) group.momentum = number[0];
    else if (key == "weight_decay") group.weight_decay = number[0];
    else throw ConfigError("--lr-group " + spec + ": unknown or out-of-range key '" + key + "'");
  }
  if (first) throw ConfigError("--lr-group " + spec + ": the learning rate is missing");
  return group;
}

namespace {

std::string help_text(const OptionGroups& groups) {
  std::ostringstream out;
  out << kUsage;
  for (const auto& group : groups.groups) out << '\n' << group;
  return out.str();
}

template <typename T>
std::vector<T> parse_list(const std::string& text, const std::string& option, const char* what) {
  std::vector<T> values;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    std::istringstream parse(item);
    T value{};
    if (!(parse >> value) || !(parse >> std::ws).eof())
      throw ConfigError(option + " " + text + ": '" + item + "' is not " + what);
    values.push_back(value);
  }
  if (values.empty()) throw ConfigError(option + ": empty list");
  return values;
}

// The long names of `options`, for "did you mean".
std::vector<std::string> option_names(const po::options_description& options) {
  std::vector<std::string> names;
  for (const auto& option : options.options()) names.push_back(option->long_name());
  return names;
}

// Boost's message, with the nearest known option when the unknown one looks like a typo.
ConfigError unknown_option_error(const po::unknown_option& e, const po::options_description& options,
                                 const std::string& where) {
  std::string name = e.get_option_name();
  const bool dashed = name.rfind("--", 0) == 0;
  if (dashed) name = name.substr(2);
  name = name.substr(0, name.find('='));
  return ConfigError(where + e.what() + did_you_mean(name, option_names(options), dashed ? "--" : ""));
}

// A sub-command that takes one checkpoint PATH (positional or --checkpoint) and a few options of
// its own (inspect, export).
Command parse_path_command(const std::vector<std::string>& args, Command& command, const std::string& usage,
                           po::options_description& options, std::string& path) {
  options.add_options()
      ("checkpoint", po::value(&path)->value_name("PATH"), "the checkpoint, as the positional PATH")
      ("help,h", "show this help and exit");
  po::positional_options_description positional;
  positional.add("checkpoint", 1);
  po::variables_map values;
  try {
    po::store(po::command_line_parser(args).options(options).positional(positional).run(), values);
    po::notify(values);
  } catch (const po::unknown_option& e) {
    throw unknown_option_error(e, options, command.subcommand + ": ");
  } catch (const po::error& e) {
    throw ConfigError(command.subcommand + ": " + std::string(e.what()));
  }
  if (values.count("help")) {
    std::ostringstream out;
    out << "usage: " << usage << "\n\n" << options;
    command.action = Action::kHelp;
    command.help_text = out.str();
    return command;
  }
  if (path.empty()) throw ConfigError(command.subcommand + ": name a checkpoint (" + usage + ")");
  return command;
}

Command parse_inspect(const std::vector<std::string>& args, Command& command) {
  command.action = Action::kInspect;
  po::options_description options(
      "PATH is a checkpoint directory, a --checkpoint-dir (its LATEST) or a torch.save file");
  options.add_options()
      ("verify", po::bool_switch(&command.inspect.verify), "read every tensor through its checksum")
      ("model", po::value(&command.inspect.model)->value_name("NAME|FILE"),
       "check that the weights are this model's state dict (a built-in name or a TorchScript file: the one the "
       "checkpoint was trained with)");
  return parse_path_command(args, command, "trainer inspect PATH [--verify] [--model NAME|FILE]", options,
                            command.inspect.path);
}

Command parse_export(const std::vector<std::string>& args, Command& command) {
  command.action = Action::kExport;
  ExportConfig& e = command.exporting;
  po::options_description options("PATH is a checkpoint directory or a --checkpoint-dir (its LATEST)");
  options.add_options()
      ("to", po::value(&e.to)->value_name("FILE.pt"), "the file to write (required)")
      ("add-prefix", po::value(&e.add_prefix)->value_name("PREFIX"),
       "prefix every key, e.g. module. for a DataParallel/DDP model")
      ("with-optimizer", po::bool_switch(&e.with_optimizer),
       "write {model_state_dict, optimizer_state_dict, epoch} as the PyTorch tutorials do")
      ("model", po::value(&e.model)->value_name("NAME|FILE"),
       "the model the checkpoint was trained with, when its TorchScript file has moved (default: the recorded one)");
  parse_path_command(args, command,
                     "trainer export PATH --to FILE.pt [--add-prefix P] [--with-optimizer] [--model FILE]", options,
                     e.path);
  if (command.action == Action::kExport && e.to.empty()) throw ConfigError("export: --to FILE.pt is required");
  return command;
}

Command parse_info(const std::vector<std::string>& args, Command& command) {
  command.action = Action::kInfo;
  if (args.size() == 1 && (args[0] == "--help" || args[0] == "-h")) {
    command.action = Action::kHelp;
    command.help_text =
        "usage: trainer info\n\nPrints trainer's version, LibTorch's, CUDA's (runtime and driver), cuDNN's, NCCL's, MPI's\n"
        "and HDF5's, the GPUs visible to this process with their memory (CUDA_VISIBLE_DEVICES applies), and\n"
        "what this build supports: communicators, devices and precisions.\n";
  } else if (!args.empty()) {
    throw ConfigError("info: takes no options or arguments (got '" + args[0] + "')");
  }
  return command;
}

}  // namespace

std::vector<std::int64_t> parse_int_list(const std::string& text, const std::string& option) {
  return parse_list<std::int64_t>(text, option, "an integer");
}

std::vector<double> parse_double_list(const std::string& text, const std::string& option) {
  return parse_list<double>(text, option, "a number");
}

std::string version_text() {
  std::ostringstream out;
  out << "trainer " << TRAINER_VERSION << " (LibTorch " << TORCH_VERSION << ", HDF5 " << storage::hdf5_version() << ")";
  return out.str();
}

namespace {

// Stores an INI file's options under those of the command line (stored first, so they win). A
// file cannot name another: `config =` in it is an error.
void read_config_file(const std::string& path, const po::options_description& options, po::variables_map& values) {
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0 && !S_ISREG(info.st_mode))
    throw ConfigError("--config " + path + ": not a regular file");
  std::ifstream file(path);
  if (!file) throw ConfigError("--config " + path + ": cannot open the file");
  try {
    const po::parsed_options parsed = po::parse_config_file(file, options);
    for (const auto& option : parsed.options)
      if (option.string_key == "config" || option.string_key == "print-config")
        throw ConfigError("--config " + path + ": '" + option.string_key +
                          " =' cannot be set in a configuration file (it is a command-line option)");
    po::store(parsed, values);
  } catch (const po::unknown_option& e) {
    throw unknown_option_error(e, options, "--config " + path + ": ");
  } catch (const po::error& e) {
    throw ConfigError("--config " + path + ": " + e.what());
  }
}

// One option's value as INI lines ("name = value", or "# name = value" for a default, so that the
// file read back leaves defaults defaults); nothing for an empty text or an unset switch.
void write_ini_value(const std::string& name, const po::variable_value& variable, std::ostream& out) {
  const boost::any& value = variable.value();
  const std::string line = (variable.defaulted() ? "# " : "") + name + " = ";
  if (const auto* text = boost::any_cast<std::string>(&value)) {
    if (!text->empty()) out << line << *text << "\n";
  } else if (const auto* flag = boost::any_cast<bool>(&value)) {
    if (*flag) out << line << "true\n";
  } else if (const auto* number = boost::any_cast<double>(&value)) {
    out << line << as_written(*number) << "\n";
  } else if (const auto* integer = boost::any_cast<std::int64_t>(&value)) {
    out << line << *integer << "\n";
  } else if (const auto* small = boost::any_cast<int>(&value)) {
    out << line << *small << "\n";
  } else if (const auto* list = boost::any_cast<std::vector<std::string>>(&value)) {
    for (const auto& item : *list) out << line << item << "\n";
  }
}

// The resolved options as an INI file that --config reads back, in the order of --help: the options
// given (on the command line or in --config) as settings, the defaults as comments.
std::string ini_text(const po::options_description& options, const po::variables_map& values) {
  static const std::set<std::string> kNotConfiguration = {"help", "config", "print-config", "checkpoint"};
  std::ostringstream out;
  out << "# trainer " << TRAINER_VERSION << ": the resolved options; defaults are commented out\n";
  for (const auto& option : options.options()) {
    const std::string& name = option->long_name();
    if (kNotConfiguration.count(name) || !values.count(name)) continue;
    write_ini_value(name, values[name], out);
  }
  return out.str();
}

// `trainer eval --dataset hdf5` evaluates one file: --test-data if given, else --data.
void use_one_file_to_evaluate(data::DataConfig& data) {
  if (data.test_data_file.empty()) data.test_data_file = data.data_file;
  if (data.data_file.empty()) data.data_file = data.test_data_file;
}

}  // namespace

Command parse_command_line(const std::vector<std::string>& args) {
  Command command;
  std::vector<std::string> rest(args.begin() + (args.empty() ? 0 : 1), args.end());
  if (!rest.empty() && (rest[0] == "--version" || rest[0] == "-V")) {
    command.action = Action::kVersion;
    return command;
  }
  if (!rest.empty() && !rest[0].empty() && rest[0][0] != '-') {
    command.subcommand = rest[0];
    rest.erase(rest.begin());
    if (command.subcommand == "inspect") return parse_inspect(rest, command);
    if (command.subcommand == "export") return parse_export(rest, command);
    if (command.subcommand == "info") return parse_info(rest, command);
    if (command.subcommand != "train" && command.subcommand != "eval")
      throw ConfigError("unknown sub-command '" + command.subcommand +
                        "' (available: train, eval, inspect, export, info)");
  }

  RawValues raw;
  const bool eval = command.subcommand == "eval";
  const OptionGroups groups = eval ? eval_options(command.train, raw, command.eval) : train_options(command.train, raw);
  const po::options_description options = groups.all();
  TrainConfig unused;
  RawValues unused_raw;
  const po::options_description training_only =
      eval ? training_only_options(options, unused, unused_raw) : po::options_description();
  po::variables_map values;
  try {
    // Stray words are collected under a hidden name so that they can be reported by value.
    std::vector<std::string> stray;
    po::options_description with_stray;
    with_stray.add(options).add(training_only).add_options()("stray-argument", po::value(&stray));
    po::positional_options_description positional;
    if (eval) positional.add("checkpoint", 1);
    positional.add("stray-argument", -1);
    try {
      po::store(po::command_line_parser(rest).options(with_stray).positional(positional).run(), values);
    } catch (const po::unknown_option& e) {
      throw unknown_option_error(e, options, "");
    }
    if (values.count("help")) {
      command.action = Action::kHelp;
      command.help_text = help_text(groups);
      return command;
    }
    if (values.count("config")) {
      po::options_description file_options;
      file_options.add(options).add(training_only);
      read_config_file(values["config"].as<std::string>(), file_options, values);
    }
    po::notify(values);
    if (!stray.empty())
      throw ConfigError("unexpected positional argument '" + stray.front() + "'");
  } catch (const po::error& e) {
    throw ConfigError(e.what());
  }
  for (const auto& [name, value] : values) {
    if (value.defaulted()) continue;
    if (training_only.find_nothrow(name, false)) command.eval.unused_options.push_back("--" + name);
    else command.train.explicit_options.insert(name);
  }
  if (eval) use_one_file_to_evaluate(command.train.data);
  validate_and_finish(command.train, raw);
  command.train.resolved_ini = ini_text(options, values);
  if (values.count("print-config")) {
    command.action = Action::kPrintConfig;
    command.help_text = command.train.resolved_ini;
  } else if (eval) {
    if (command.eval.checkpoint.empty()) throw ConfigError("eval: --checkpoint PATH is required (or positional: trainer eval PATH)");
    command.action = Action::kEval;
  }
  return command;
}

}  // namespace trainer::launcher
