// trainer's entry point: MPI start-up and shutdown, device choice, and the only place that turns
// exceptions into messages and exit statuses:
//   0  success
//   1  internal failure (a bug, a library error, a failed collective)
//   2  bad input: option, value, data or model file, a path that cannot be used, a size that does
//      not fit in memory; one line on stderr names it
//  75  stopped by a stop signal after saving a checkpoint (resume with --resume auto)
// In a job of several ranks a failing rank ends the whole job with MPI_Abort, so that no rank is
// left waiting in a collective; MPI_Finalize is called on the success path only.

#include "comm/backends.h"
#include "comm/mpi_environment.h"
#include "common/error.h"
#include "launcher/cli.h"
#include "launcher/device_selection.h"
#include "launcher/gpu_probe.h"
#include "launcher/info.h"
#include "launcher/launcher_death.h"
#include "launcher/rank_log.h"
#include "launcher/stop_signals.h"
#include "checkpoint/checkpoint.h"
#include "checkpoint/directory.h"
#include "storage/fs.h"
#include "checkpoint/inspect.h"
#include "storage/pt_file.h"
#include "storage/tensor_file.h"
#include "trainer/eval_run.h"
#include "trainer/export.h"
#include "trainer/run_directory.h"
#include "trainer/saved_model.h"
#include "trainer/train.h"

#include <c10/util/Exception.h>
#include <torch/cuda.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <new>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

namespace {

namespace launcher = trainer::launcher;
namespace comm = trainer::comm;

constexpr int kExitInternal = 1;
constexpr int kExitBadInput = 2;

// The GPUs LibTorch can use, in the order local ranks take them (none with a CPU-only LibTorch).
std::vector<int> usable_gpus(launcher::GpuOrder order) {
  if (!torch::cuda::is_available()) return {};
  const int count = static_cast<int>(torch::cuda::device_count());
  std::vector<launcher::GpuInfo> gpus = launcher::probe_gpus(order == launcher::GpuOrder::kFreeMemory);
  if (static_cast<int>(gpus.size()) != count) {
    gpus.clear();
    for (int i = 0; i < count; ++i) gpus.push_back({i, 0});
  }
  return launcher::order_gpus(gpus, order);
}

int train(trainer::TrainConfig config) {
  const auto timeout = std::chrono::milliseconds(static_cast<std::int64_t>(config.comm_timeout * 1000));
  const std::unique_ptr<comm::Communicator> world =
      comm::make_control_communicator(timeout, launcher::local_rank_from_environment(std::getenv).value_or(-1));
  launcher::RankLog log(std::cout, world->rank(), config.verbose);
  const launcher::DeviceChoice choice =
      launcher::choose_device(config.device, world->local_rank(), world->local_size(),
                              usable_gpus(launcher::parse_gpu_order(config.gpu_order)));
  const torch::Device device(choice.device);
  const std::unique_ptr<comm::Communicator> on_device = comm::make_device_communicator(*world, device, timeout);
  trainer::place_run(config, *world, log.stream());
  launcher::install_stop_handlers(launcher::parse_stop_signals(config.stop_signals));
  trainer::run_training(config, trainer::RunContext{on_device ? *on_device : *world, *world, device, log.stream(),
                                                    launcher::stop_signal_received});
  return 0;
}

int inspect(const launcher::InspectConfig& config, int rank) {
  launcher::release_stop_signals();
  if (rank != 0) return 0;
  const bool file = trainer::storage::fs::exists(config.path) && !trainer::storage::fs::is_directory(config.path);
  if (file && trainer::storage::looks_like_pt_file(config.path)) {
    trainer::storage::inspect_pt(config.path, std::cout);
  } else if (file && trainer::storage::is_hdf5_file(config.path)) {
    trainer::checkpoint::inspect_weights_file(config.path, config.verify, std::cout);
  } else {
    // Into a buffer first: should retention remove the checkpoint meanwhile, the next one is read
    // and printed instead, never half of each.
    std::ostringstream text;
    trainer::checkpoint::with_checkpoint(config.path, [&](const trainer::checkpoint::CheckpointReader& reader) {
      text.str("");
      trainer::checkpoint::inspect_checkpoint(reader, config.verify, text);
    });
    std::cout << text.str() << std::flush;
  }
  if (!config.model.empty()) trainer::check_weights_fit(config.path, config.model, std::cout);
  return 0;
}

// eval runs in one process; under mpirun rank 0 does the work and the others wait.
int evaluate(const trainer::TrainConfig& config, const launcher::EvalConfig& eval, int rank) {
  launcher::release_stop_signals();
  if (rank != 0) return 0;
  if (!eval.unused_options.empty()) {
    std::cout << "note: eval does not use";
    for (const auto& option : eval.unused_options) std::cout << " " << option;
    std::cout << " (training options)" << std::endl;
  }
  const launcher::DeviceChoice choice =
      launcher::choose_device(config.device, 0, 1, usable_gpus(launcher::parse_gpu_order(config.gpu_order)));
  trainer::run_evaluation(config, eval.checkpoint, eval.predictions_out, torch::Device(choice.device), std::cout,
                          eval.top_k);
  return 0;
}

int export_checkpoint(const launcher::ExportConfig& config, int rank) {
  launcher::release_stop_signals();
  if (rank != 0) return 0;
  const auto report = trainer::export_to_pt(config.path, config.model, config.to, config.add_prefix, config.with_optimizer);
  std::cout << "exported " << report.tensors << " model tensors" << (config.with_optimizer ? " with optimizer state" : "")
            << " to " << config.to << " (" << report.bytes << " bytes)" << std::endl;
  return 0;
}

// `start_mpi` initializes MPI where the launcher has not already: only training needs it.
int run(const std::vector<std::string>& args, int rank, const std::function<void()>& start_mpi) {
  const launcher::Command command = launcher::parse_command_line(args);
  switch (command.action) {
    case launcher::Action::kVersion:
      launcher::release_stop_signals();
      if (rank == 0) std::cout << launcher::version_text() << std::endl;
      return 0;
    case launcher::Action::kHelp:
    case launcher::Action::kPrintConfig:
      launcher::release_stop_signals();
      if (rank == 0) std::cout << command.help_text;
      return 0;
    case launcher::Action::kTrain:
      start_mpi();
      return train(command.train);
    case launcher::Action::kInspect:
      return inspect(command.inspect, rank);
    case launcher::Action::kEval:
      return evaluate(command.train, command.eval, rank);
    case launcher::Action::kExport:
      return export_checkpoint(command.exporting, rank);
    case launcher::Action::kInfo:
      launcher::release_stop_signals();
      if (rank == 0) launcher::print_info(std::cout);
      return 0;
  }
  return kExitInternal;
}

// A message fit for a terminal and a log: one line, control characters (a newline or an escape
// sequence in a file name) shown escaped, and not longer than a screen or two.
std::string printable(const std::string& message) {
  constexpr std::size_t kMostCharacters = 2000;
  std::string text;
  for (const unsigned char c : message) {
    if (text.size() >= kMostCharacters) return text + "...";
    if (c == '\n') text += "\\n";
    else if (c < 0x20 || c == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
      text += escaped;
    } else text += static_cast<char>(c);
  }
  return text;
}

// What the sizes a user chose ask of the machine, not a bug: exit 2 like any other bad input.
constexpr const char* kOutOfMemory =
    "out of memory: the batch, the model or the loader's queue does not fit (a smaller --batch-size, --workers or "
    "--prefetch)";

// Prints the one line and, in a job of several ranks, ends the job.
int fail(int status, const std::string& message, int rank, int size, bool input_error) {
  if (size > 1 && rank != 0 && input_error) {
    // Bad input usually fails every rank alike (a full disk, a bad file): give rank 0 the time to
    // end the job with the one line, also on a loaded machine, and speak only if this rank alone is
    // failing.
    std::this_thread::sleep_for(std::chrono::seconds(8));
  }
  std::cerr << "trainer: error: "
            << (size > 1 ? "rank " + std::to_string(rank) + "/" + std::to_string(size) + ": " : "")
            << printable(message) << std::endl;
  if (size > 1) comm::MpiEnvironment::abort_job(status);
  return status;
}

}  // namespace

// The executable's .preinit_array runs before any shared library's constructors (LibTorch's,
// Open MPI's: about half a second on a cold start): from here on a stop signal waits for the
// handlers. What remains before it is the dynamic linker mapping and relocating the libraries.
extern "C" void trainer_hold_signals_early(int, char**, char**) { launcher::hold_stop_signals(); }
__attribute__((section(".preinit_array"), used)) void (*const trainer_preinit)(int, char**, char**) =
    trainer_hold_signals_early;

int main(int argc, char** argv) {
  launcher::hold_stop_signals();  // again (see trainer_preinit): harmless, and clear to the reader
  const int launcher = static_cast<int>(getppid());
  const std::vector<std::string> args(argv, argv + argc);
  std::unique_ptr<comm::MpiEnvironment> mpi;
  int rank = 0, size = 1;
  const auto start_mpi = [&] {
    if (!mpi) mpi = std::make_unique<comm::MpiEnvironment>(&argc, &argv);
  };
  try {
    if (comm::started_by_mpi_launcher()) {  // every rank must know its rank before anything can fail
      start_mpi();
      rank = mpi->world_rank();
      size = mpi->world_size();
      if (size > 1) launcher::die_with_launcher(launcher);
    }
    return run(args, rank, start_mpi);
  } catch (const trainer::StopRequested&) {
    return launcher::kExitStopped;  // every rank stopped at the same step: finalize normally
  } catch (const trainer::InputError& e) {
    return fail(kExitBadInput, e.what(), rank, size, true);
  } catch (const trainer::Error& e) {
    return fail(kExitInternal, e.what(), rank, size, false);
  } catch (const std::filesystem::filesystem_error& e) {  // a path the user named that cannot be used
    return fail(kExitBadInput, e.path1().string() + ": " + e.code().message(), rank, size, true);
  } catch (const std::bad_alloc&) {
    return fail(kExitBadInput, kOutOfMemory, rank, size, true);
  } catch (const c10::Error& e) {
    const std::string what = trainer::first_line(e.what_without_backtrace());
    if (what.find("can't allocate memory") != std::string::npos || what.find("out of memory") != std::string::npos)
      return fail(kExitBadInput, std::string(kOutOfMemory) + " (" + what + ")", rank, size, true);
    return fail(kExitInternal, what, rank, size, false);
  } catch (const std::exception& e) {
    return fail(kExitInternal, e.what(), rank, size, false);
  }
}
