#pragma once
// MPI's lifetime as an RAII object, Horovod-style: initialize once with the thread level checked,
// finalize only if we initialized and only on the success path. On the error path main() calls
// abort_job() instead, so no rank is left waiting in a collective.

namespace trainer::comm {

// Whether an MPI launcher started this process (mpirun/mpiexec of Open MPI or MPICH, srun with PMI
// or PMIx): its environment says so. A process started by hand is a world of one, and needs MPI
// only to train (the singleton's start-up costs about 0.4 s, which --help, inspect, eval and every
// rejected option need not pay).
bool started_by_mpi_launcher();

class MpiEnvironment {
 public:
  // Initializes MPI unless someone already did. Throws CommError if the library cannot provide
  // MPI_THREAD_FUNNELED (only the main thread makes MPI calls).
  MpiEnvironment(int* argc, char*** argv);
  ~MpiEnvironment();  // MPI_Finalize if we initialized, unless abort_job ran
  MpiEnvironment(const MpiEnvironment&) = delete;
  MpiEnvironment& operator=(const MpiEnvironment&) = delete;

  int world_rank() const;
  int world_size() const;

  // Ends every process of the job with this status (MPI_Abort on MPI_COMM_WORLD).
  [[noreturn]] static void abort_job(int status);

 private:
  bool initialized_here_ = false;
};

}  // namespace trainer::comm
