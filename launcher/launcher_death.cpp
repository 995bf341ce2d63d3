#include "launcher/launcher_death.h"

#include <csignal>
#include <unistd.h>

#ifdef __linux__
#include <sys/prctl.h>
#endif

namespace trainer::launcher {

void die_with_launcher(int launcher) {
#ifdef __linux__
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != launcher) raise(SIGKILL);
#else
  (void)launcher;
#endif
}

}  // namespace trainer::launcher
