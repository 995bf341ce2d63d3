#pragma once
// The one configuration struct of a training run. launcher/ builds the command line and the INI
// configuration file from it; nothing else reads options or environment variables on its own.
// validate() holds every rule on the values, so that the components below need not repeat them.

#include "data/config.h"
#include "optim/config.h"

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace trainer {

struct TrainConfig {
  std::string model = "lenet";
  std::int64_t num_classes = 0;  // 0: the data set's class count
  data::DataConfig data;
  optim::OptimizerConfig optimizer;
  optim::ScheduleConfig schedule;
  std::int64_t epochs = 10;
  std::int64_t batch_size = 64;        // per rank
  std::int64_t accumulate_steps = 1;   // micro-batches per optimizer step (gradients reduced once)
  bool overlap = true;                 // gradient allreduces start during backward
  bool shard_optimizer = false;        // ZeRO-1 (trainer/optimizer_shards.h)
  double clip_grad_norm = 0;           // the largest total gradient norm after averaging; 0: none
  double clip_grad_value = 0;          // the largest absolute gradient element; 0: none
  double label_smoothing = 0;          // of the training loss (cross_entropy's label_smoothing)
  std::string precision = "fp32";      // fp32 | bf16 | fp16 (autocast of the training forward; fp16: CUDA, loss scaler)
  std::int64_t test_batch_size = 1000;
  std::uint64_t seed = 0;
  bool deterministic = false;          // deterministic algorithms only (and cuDNN's, on CUDA)
  std::string device = "auto";         // auto | cpu | cuda | cuda:N (the launcher resolves it)
  std::string gpu_order = "index";     // index | free-memory
  bool verbose = false;                // every rank logs, not only rank 0
  std::string stop_signals = "TERM,USR1,INT,HUP";  // signals that stop the run after a checkpoint
  double signal_lead = 0;              // seconds between the stop signal and the kill; 0: unknown
  double comm_timeout = 600;           // seconds a collective may wait for its peers; 0: forever
  int threads = 1;                     // intra-op threads per process
  std::string metrics_file;            // JSON lines, one per epoch; empty: none
  std::string tensorboard_dir;         // TensorBoard event files (rank 0); empty: none
  std::string timeline_file;           // the step timeline, a Chrome trace; empty: none
  std::string save_weights;            // HDF5 file for the final weights; empty: none
  double progress_seconds = 10.0;      // interval of progress lines in logs; 0: none
  // Fine-tuning.
  std::string init_from;              // weights to start from (checkpoint or .pt); empty: none
  bool init_non_strict = false;       // tolerate weights missing from the file
  std::vector<std::string> freeze;    // parameter-name prefixes that do not train
  std::vector<std::string> train_only;  // the only parameter-name prefixes that train (the rest freeze)
  std::vector<optim::LrGroup> lr_groups;  // parameter groups with their own hyper-parameters
  // Checkpoints (format v1, docs/checkpoint-format.md).
  // Runs (trainer/run_directory.h): a run directory holds one run's outputs. Given neither, the
  // run directory is chosen under runs/ (the run whose configuration matches, or a new version_N).
  std::string run_dir;                         // --run-dir DIR
  std::string run_name;                        // --name NAME: runs/NAME
  bool overwrite = false;                      // start fresh where another run's checkpoints are
  std::string resolved_ini;                    // the options as an INI file (--print-config, config.ini)
  std::string checkpoint_dir = "checkpoints";  // "none": no checkpoints; set from the run directory unless given
  std::int64_t checkpoint_every = 1;           // epochs between checkpoints; 0: only the final one
  std::int64_t checkpoint_every_steps = 0;     // optimizer steps between mid-epoch checkpoints; 0: none
  std::int64_t keep_last = 3;                  // committed checkpoints kept; 0: all
  std::int64_t keep_best = 0;                  // also kept: the best by `monitor`; 0: none
  std::string monitor = "test_accuracy";       // test_accuracy (higher is better) | test_loss
  bool checkpoint_async = false;               // write shards on a background thread
  std::string checkpoint_backend = "posix";    // where checkpoint files go (checkpoint/backend.h)
  std::int64_t virtual_ranks = 0;              // --virtual-ranks V: the run as V ranks on any N dividing V; 0: off
  std::string resume = "auto";                 // auto | best | none | PATH

  // The options given on the command line or in --config, by name without dashes (the others
  // hold their defaults): what a checkpoint may be told apart from.
  std::set<std::string> explicit_options;

  bool checkpointing() const { return !checkpoint_dir.empty() && checkpoint_dir != "none"; }
  // The ranks the data is cut for and the gradients averaged over: --virtual-ranks, else the processes.
  std::int64_t sample_ranks(int world_size) const { return virtual_ranks > 0 ? virtual_ranks : world_size; }
  bool explicitly(const std::string& option) const { return explicit_options.count(option) > 0; }
};

// Throws ConfigError naming the option whose value is out of range or unknown to its registry
// (model, data set, optimizer, LR schedule). What needs the data, the files or the GPUs to judge is
// checked where those are at hand.
void validate(const TrainConfig& config);

// The run's options as JSON, stored in checkpoints (informational).
std::string config_json(const TrainConfig& config);

}  // namespace trainer
