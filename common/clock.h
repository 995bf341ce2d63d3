#pragma once
// The one clock every duration in logs, reports and benchmarks is measured with.

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

namespace trainer {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Seconds since this process started (exec by mpirun, srun or a shell), to 1/100 s: Linux's
// /proc/self/stat start time against /proc/uptime. Empty where the kernel does not say.
inline std::optional<double> seconds_since_process_start() {
  std::ifstream stat_file("/proc/self/stat"), uptime_file("/proc/uptime");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  double uptime = 0;
  const auto name_end = stat.rfind(')');
  if (!(uptime_file >> uptime) || name_end == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(name_end + 2));  // from field 3, the state
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i)
    if (i == 22) return uptime - std::stod(field) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  return std::nullopt;
}

}  // namespace trainer
