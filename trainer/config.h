#pragma once
// The one configuration struct of a training run. launcher/ builds the command line and the INI
// configuration file from it; nothing else reads options or environment variables on its own.

#include "trainer/dataset.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace trainer {

struct OptimizerConfig {
  std::string name = "sgd";  // sgd | adam
  double lr = 0.02;
  double momentum = 0.9;     // sgd only
  double weight_decay = 0.0;
  std::int64_t lr_step = 5;  // epochs between LR decays; 0: constant LR
  double lr_gamma = 0.2;     // factor applied every lr_step epochs
};

// --lr-group PREFIX=LR[,momentum=M][,weight_decay=W]: parameters whose name starts with PREFIX
// form a parameter group of their own.
struct LrGroup {
  std::string prefix;
  double lr = 0;
  std::optional<double> momentum;
  std::optional<double> weight_decay;
};

struct TrainConfig {
  std::string model = "lenet";
  std::int64_t num_classes = 0;  // 0: the data set's class count
  DataConfig data;
  OptimizerConfig optimizer;
  std::int64_t epochs = 10;
  std::int64_t batch_size = 64;        // per rank
  std::int64_t accumulate_steps = 1;   // micro-batches per optimizer step (gradients reduced once)
  bool overlap = true;                 // gradient allreduces start during backward
  std::int64_t test_batch_size = 1000;
  std::uint64_t seed = 0;
  std::string device = "auto";         // auto | cpu | cuda | cuda:N (the launcher resolves it)
  std::string gpu_order = "index";     // index | free-memory
  bool verbose = false;                // every rank logs, not only rank 0
  std::string stop_signals = "TERM,USR1";  // signals that stop the run after a checkpoint
  double signal_lead = 0;              // seconds between the stop signal and the kill; 0: unknown
  double comm_timeout = 600;           // seconds a collective may wait for its peers; 0: forever
  int threads = 1;                     // intra-op threads per process
  std::string metrics_file;            // JSON lines, one per epoch; empty: none
  std::string save_weights;            // HDF5 file for the final weights; empty: none
  // Fine-tuning.
  std::string init_from;              // weights to start from (checkpoint or .pt); empty: none
  bool init_non_strict = false;       // tolerate weights missing from the file
  std::vector<std::string> freeze;    // parameter-name prefixes that do not train
  std::vector<LrGroup> lr_groups;     // parameter groups with their own hyper-parameters
  // Checkpoints (format v1, see storage/checkpoint.h).
  std::string checkpoint_dir = "checkpoints";  // "none" or empty: no checkpoints
  std::int64_t checkpoint_every = 1;           // epochs between checkpoints; 0: only the final one
  std::int64_t checkpoint_every_steps = 0;     // optimizer steps between mid-epoch checkpoints; 0: none
  std::int64_t keep_last = 3;                  // committed checkpoints kept; 0: all
  bool checkpoint_async = false;               // write shards on a background thread
  std::string resume = "auto";                 // auto | none | PATH

  bool checkpointing() const { return !checkpoint_dir.empty() && checkpoint_dir != "none"; }
  double progress_seconds = 10.0;      // interval of progress lines in logs; 0: none
};

}  // namespace trainer
