#!/bin/bash
# The MPI library's own collectives on one gradient bucket (24 MiB of floats), blocking and
# non-blocking, medians of ROUNDS: what chose the MPI backend's reduce-scatter (an MPI_Ialltoall and
# a local sum instead of MPI_Ireduce_scatter_block, comm/mpi_communicator.cpp) and --virtual-ranks'
# exchange (MPI_Ialltoall, then MPI_Iallgather). Plain C against MPI alone, no trainer.
#   bash bench/mpi_collectives.sh [RANKS] [ROUNDS]
set -euo pipefail
source "$(dirname "$0")/common.sh"
ranks=${1:-2}
rounds=${2:-7}
cat >"$work/collectives.c" <<'C'
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
static int compare(const void* a, const void* b) { double x = *(const double*)a, y = *(const double*)b; return (x > y) - (x < y); }
int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank, size, rounds = atoi(argv[1]);
  if (rounds < 1 || rounds > 64) rounds = 7;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const int count = 6 * 1024 * 1024 / size * size;
  float *a = malloc(count * sizeof(float)), *b = malloc(count * sizeof(float));
  for (int i = 0; i < count; ++i) a[i] = (float)(i % 1000);
  const char* names[] = {"MPI_Allreduce", "MPI_Iallreduce", "MPI_Reduce_scatter_block", "MPI_Ireduce_scatter_block",
                         "MPI_Ialltoall", "MPI_Iallgather"};
  double times[6][64];
  for (int r = 0; r < rounds; ++r)
    for (int c = 0; c < 6; ++c) {
      MPI_Request request = MPI_REQUEST_NULL;
      MPI_Barrier(MPI_COMM_WORLD);
      const double start = MPI_Wtime();
      switch (c) {
        case 0: MPI_Allreduce(MPI_IN_PLACE, a, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD); break;
        case 1: MPI_Iallreduce(MPI_IN_PLACE, a, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &request); break;
        case 2: MPI_Reduce_scatter_block(a, b, count / size, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD); break;
        case 3: MPI_Ireduce_scatter_block(a, b, count / size, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &request); break;
        case 4: MPI_Ialltoall(a, count / size, MPI_FLOAT, b, count / size, MPI_FLOAT, MPI_COMM_WORLD, &request); break;
        case 5: MPI_Iallgather(a, count / size, MPI_FLOAT, b, count / size, MPI_FLOAT, MPI_COMM_WORLD, &request); break;
      }
      MPI_Wait(&request, MPI_STATUS_IGNORE);
      double mine = MPI_Wtime() - start, slowest;
      MPI_Allreduce(&mine, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
      times[c][r] = slowest;
      for (int i = 0; i < count; ++i) a[i] = (float)(i % 1000);  // keep the sums finite
    }
  if (rank == 0)
    for (int c = 0; c < 6; ++c) {
      qsort(times[c], rounds, sizeof(double), compare);
      printf("%-28s %8.1f ms  (%d ranks, %d MiB)\n", names[c], 1e3 * times[c][rounds / 2], size, (int)(count * 4 >> 20));
    }
  MPI_Finalize();
  return 0;
}
C
mpicc -O2 "$work/collectives.c" -o "$work/collectives"
mpirun -np "$ranks" --oversubscribe --bind-to none "$work/collectives" "$rounds"
