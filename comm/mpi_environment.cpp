#include "comm/mpi_environment.h"

#include "common/error.h"

#include <mpi.h>

#include <cstdlib>
#include <string>

namespace trainer::comm {

bool started_by_mpi_launcher() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", "MV2_COMM_WORLD_SIZE"})
    if (std::getenv(name) != nullptr) return true;
  return false;
}

MpiEnvironment::MpiEnvironment(int* argc, char*** argv) {
  int already = 0;
  MPI_Initialized(&already);
  if (already) return;
  // A failing rank prints one line naming the problem and ends the job with MPI_Abort; Open MPI
  // would add a ten-line banner about MPI_ABORT from this process. Quiet unless the user says
  // otherwise (OMPI_MCA_orte_execute_quiet=0 brings Open MPI's help messages back).
  ::setenv("OMPI_MCA_orte_execute_quiet", "1", /*overwrite=*/0);
  int provided = MPI_THREAD_SINGLE;
  if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
    throw CommError("MPI_Init_thread failed");
  initialized_here_ = true;
  if (provided < MPI_THREAD_FUNNELED)
    throw CommError("the MPI library provides thread level " + std::to_string(provided) +
                    ", trainer needs MPI_THREAD_FUNNELED");
}

MpiEnvironment::~MpiEnvironment() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (initialized_here_ && !finalized) MPI_Finalize();
}

int MpiEnvironment::world_rank() const {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

int MpiEnvironment::world_size() const {
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

void MpiEnvironment::abort_job(int status) {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Abort(MPI_COMM_WORLD, status);
  std::_Exit(status);
}

}  // namespace trainer::comm
