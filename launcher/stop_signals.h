#pragma once
// Stop signals (SIGTERM and SIGUSR1 by default, --stop-signals): the handler only sets a flag; the
// training loop polls it at step boundaries, the ranks agree with a collective, save a checkpoint
// and exit with kExitStopped. Nothing is written from inside a signal handler, and a second
// signal during that save changes nothing.

#include <string>
#include <vector>

namespace trainer::launcher {

// Exit status of a run stopped by a signal after saving its state: EX_TEMPFAIL, "try again later",
// which batch scripts turn into a requeue.
constexpr int kExitStopped = 75;

// The default of --stop-signals: Slurm's warning and kill signals, Ctrl-C and a closed terminal.
inline constexpr const char* kDefaultStopSignals = "TERM,USR1,INT,HUP";

// "TERM,USR1" -> signal numbers; throws ConfigError for an unknown name. "none": no signals.
std::vector<int> parse_stop_signals(const std::string& names);

// Called first thing in main(): every signal --stop-signals may name is held back (blocked), so
// that one arriving during start-up waits for the handlers instead of killing the process.
void hold_stop_signals();
// Installs the flag-setting handler for these signals, then lets every held signal through: one
// that arrived meanwhile now sets the flag (these) or takes its default action (the others).
void install_stop_handlers(const std::vector<int>& signals);
// Lets held signals through with their default actions (sub-commands other than train).
void release_stop_signals();

// Whether one of them has arrived. Async-signal-safe to set, cheap to read.
bool stop_signal_received();

}  // namespace trainer::launcher
