#include "launcher/stop_signals.h"

#include "common/error.h"

#include <pthread.h>

#include <csignal>
#include <map>
#include <sstream>

namespace trainer::launcher {
namespace {

// The one piece of process-wide state a signal handler may touch.
volatile std::sig_atomic_t stop_flag = 0;

extern "C" void on_stop_signal(int) { stop_flag = 1; }

}  // namespace

std::vector<int> parse_stop_signals(const std::string& names) {
  static const std::map<std::string, int> known = {
      {"TERM", SIGTERM}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"INT", SIGINT}, {"HUP", SIGHUP}};
  std::vector<int> signals;
  if (names == "none") return signals;
  std::stringstream stream(names);
  std::string name;
  while (std::getline(stream, name, ',')) {
    if (name.rfind("SIG", 0) == 0) name = name.substr(3);
    const auto it = known.find(name);
    if (it == known.end()) throw ConfigError("--stop-signals: unknown signal '" + name + "' (TERM, USR1, USR2, INT, HUP)");
    signals.push_back(it->second);
  }
  if (signals.empty()) throw ConfigError("--stop-signals: name at least one signal, or none");
  return signals;
}

namespace {

sigset_t holdable() {
  sigset_t set;
  sigemptyset(&set);
  for (int signal : {SIGTERM, SIGUSR1, SIGUSR2, SIGINT, SIGHUP}) sigaddset(&set, signal);
  return set;
}

}  // namespace

void hold_stop_signals() {
  const sigset_t set = holdable();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // threads started later (MPI's) inherit it
}

void install_stop_handlers(const std::vector<int>& signals) {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (int signal : signals) sigaction(signal, &action, nullptr);
  release_stop_signals();
}

void release_stop_signals() {
  const sigset_t set = holdable();
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

bool stop_signal_received() { return stop_flag != 0; }

}  // namespace trainer::launcher
