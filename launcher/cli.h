#pragma once
// The command line: sub-commands, options (Boost.Program_options), --config INI files, and the
// validation of every value. Parsing never exits: it throws ConfigError, and main() decides.

#include "trainer/config.h"

#include <string>
#include <vector>

namespace trainer::launcher {

enum class Action { kTrain, kEval, kInspect, kExport, kInfo, kHelp, kVersion, kPrintConfig };

struct InspectConfig {
  std::string path;  // a checkpoint directory, or a checkpoint root (its LATEST)
  bool verify = false;
  std::string model;  // --model: check that the weights fit this network; empty: no check
};

struct EvalConfig {
  std::string checkpoint;       // checkpoint directory, checkpoint root (LATEST) or FILE.pt
  std::string predictions_out;  // HDF5 file with every sample's logits and label; empty: none
  std::int64_t top_k = 5;       // top-k accuracy is reported when there are more classes than this
  std::vector<std::string> unused_options;  // training options given to eval: noted, not used
};

struct ExportConfig {
  std::string path;        // our checkpoint (directory or root)
  std::string to;          // FILE.pt
  std::string add_prefix;  // e.g. "module." for users who load into a wrapped model
  bool with_optimizer = false;  // a tutorial-style dict {model_state_dict, optimizer_state_dict, epoch}
  std::string model;            // --model: where the TorchScript file is now; empty: the recorded model
};

struct Command {
  Action action = Action::kTrain;
  std::string subcommand = "train";
  std::string help_text;  // for kHelp, and the INI text for kPrintConfig
  TrainConfig train;
  InspectConfig inspect;
  EvalConfig eval;   // with `train` for the model, data and device options
  ExportConfig exporting;
};

// argv[0] is the program name. Throws ConfigError naming the offending option or value.
Command parse_command_line(const std::vector<std::string>& args);

// "trainer 0.1.0 (LibTorch x, HDF5 y)"
std::string version_text();

// "features.=0.001,momentum=0.5": a --lr-group. Throws ConfigError naming the problem.
optim::LrGroup parse_lr_group(const std::string& spec);

// Helpers for list-valued options, exposed for unit tests.
std::vector<std::int64_t> parse_int_list(const std::string& text, const std::string& option);
std::vector<double> parse_double_list(const std::string& text, const std::string& option);

}  // namespace trainer::launcher
