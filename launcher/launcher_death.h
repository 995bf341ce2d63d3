#pragma once
// A rank must not outlive the process that launched it (mpirun, orted, slurmstepd): when the
// launcher is killed, orphaned ranks would otherwise go on training and writing checkpoints into
// the directory that the next, resumed job is using.

namespace trainer::launcher {

// Asks the kernel to SIGKILL this process when its parent dies (Linux; a no-op elsewhere), and
// dies at once if the parent is no longer `launcher`, the parent process id read first thing in
// main() (the launcher may die during MPI start-up, before this call). Call it only under a
// launcher: a single process started from a shell may outlive that shell (nohup).
void die_with_launcher(int launcher);

}  // namespace trainer::launcher
