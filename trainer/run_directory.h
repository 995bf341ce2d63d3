#pragma once
// Where a training run's outputs go. A run directory holds one run: config.ini (the resolved
// options), checkpoints/, metrics.jsonl and weights.h5, each unless named elsewhere by its option.
// It is --run-dir DIR, or runs/NAME with --name NAME, or by default the run under runs/ whose
// configuration matches this one (--resume auto continues it) or else a new runs/version_N (in
// the manner of Lightning's version directories): two experiments never share checkpoints.
// A directory that holds another run is refused, naming what would work: a new directory, or
// --overwrite, which removes that run's outputs first as one decision. A --checkpoint-dir given
// without --run-dir or --name keeps its meaning from before run directories (no run directory).

#include "comm/communicator.h"
#include "trainer/config.h"

#include <map>
#include <ostream>
#include <string>
#include <vector>

namespace trainer {

// The options that make a run what it is, from an INI text (config.ini, --print-config): every
// option but those that only say where outputs go, how long to train or how to run it.
using RunIdentity = std::map<std::string, std::vector<std::string>>;
RunIdentity run_identity(const std::string& ini_text);
// "--lr 0.05 (this run) against 0.02 (DIR/config.ini)"-style text of the first difference; "" if none.
std::string identity_difference(const RunIdentity& ours, const RunIdentity& theirs, const std::string& where);

// Collective: rank 0 chooses the run directory, writes its config.ini, creates the folder of every
// output file (or throws naming it), and every rank gets the same paths in `config`. Throws
// CheckpointError for a directory that holds another run.
void place_run(TrainConfig& config, comm::Communicator& comm, std::ostream& log);

// The folder of every file the run will write, created; a ConfigError names the option whose
// folder cannot be (rank 0; also used by legacy --checkpoint-dir runs).
void create_output_folders(const TrainConfig& config);

}  // namespace trainer
