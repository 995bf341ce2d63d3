# Sourced, not run: the Open MPI settings for jobs on this one machine, shared by the main job,
# the tests and the benchmarks. As root, Open MPI wants to be told that is intended; and the
# processes talk over loopback only, so that a machine's other interfaces (docker bridges, VPNs)
# never slow down or break a local job. A caller that sets the interfaces keeps its choice.
# Left at Open MPI's defaults on purpose: mpi_yield_when_idle (the trainer's waits sleep on their
# own; yielding inside transfers made it slower under load) and the binding of ranks to cores
# (docs/architecture.md, "Waiting leaves the CPU to others").
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export OMPI_MCA_btl_tcp_if_include=${OMPI_MCA_btl_tcp_if_include:-lo}
export OMPI_MCA_oob_tcp_if_include=${OMPI_MCA_oob_tcp_if_include:-lo}
