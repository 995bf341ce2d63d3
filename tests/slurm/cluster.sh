#!/bin/bash
# A one-node Slurm cluster for tests, run as root without systemd: munged, slurmctld and slurmd are
# started in the background with every file (config, key, sockets, state, logs, pids) under one
# directory, and stopped by their process ids.
#
#   tests/slurm/cluster.sh start DIR   # prints the line to eval: export SLURM_CONF=DIR/slurm.conf
#   tests/slurm/cluster.sh stop DIR    # cancels the jobs, stops the daemons; safe to repeat
#
# Settings that keep a test short: a requeued job runs again after ~7 s (cred_expire=5 plus a 2 s
# scheduler pass) instead of ~3 min; the node advertises CPUS (default 4) even on 2 cores.
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
action=$1
dir=$(realpath -m "$2")

start() {
  [ "$(id -u)" -eq 0 ] || { echo "cluster.sh: must run as root (slurmd and munged)" >&2; exit 1; }
  for tool in munged slurmctld slurmd sbatch scontrol; do
    command -v "$tool" >/dev/null || { echo "cluster.sh: $tool not found (apt-get install slurm-wlm munge)" >&2; exit 1; }
  done
  mkdir -p "$dir"/{munge,state,spool,log}
  chmod 700 "$dir/munge"
  local host cpus memory ctld_port slurmd_port
  host=$(hostname -s)
  cpus=${CPUS:-4}
  memory=1024
  # Ports derived from the directory so that two clusters on one machine do not collide.
  ctld_port=$((20000 + $(cksum <<<"$dir" | cut -d' ' -f1) % 20000))
  slurmd_port=$((ctld_port + 1))

  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$dir/munge/munge.key"
  cat >"$dir/slurm.conf" <<EOF
ClusterName=trainer-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket,cred_expire=5
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters=sched_interval=2,bf_interval=2
SlurmdParameters=config_overrides
MpiDefault=none
ReturnToService=2
KillWait=10
MinJobAge=600
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF

  munged --force --socket="$dir/munge/munge.socket" --key-file="$dir/munge/munge.key" \
    --pid-file="$dir/munge/munged.pid" --log-file="$dir/log/munged.log" \
    --seed-file="$dir/munge/munged.seed"
  export SLURM_CONF="$dir/slurm.conf"
  slurmctld -c -f "$SLURM_CONF"
  slurmd -f "$SLURM_CONF"

  # Ready when the node is idle.
  local state=""
  for _ in $(seq 100); do
    state=$(sinfo -h -N -o %T 2>/dev/null || true)
    [ "$state" = idle ] && break
    sleep 0.2
  done
  if [ "$state" != idle ]; then
    echo "cluster.sh: the node did not become idle (state '$state'); logs in $dir/log" >&2
    tail -n 20 "$dir"/log/*.log >&2 || true
    stop
    exit 1
  fi
  echo "export SLURM_CONF=$SLURM_CONF"
}

stop_pid_file() {
  local file=$1 pid
  [ -s "$file" ] || return 0
  pid=$(cat "$file")
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
}

stop() {
  export SLURM_CONF="$dir/slurm.conf"
  # slurmstepd outlives slurmd: cancel the jobs first and give their steps a moment to end.
  if [ -f "$SLURM_CONF" ] && [ -s "$dir/slurmctld.pid" ]; then
    scancel --full --state=RUNNING,PENDING,SUSPENDED --partition=test 2>/dev/null || true
    for _ in $(seq 50); do
      [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
      sleep 0.2
    done
  fi
  stop_pid_file "$dir/slurmd.pid"
  stop_pid_file "$dir/slurmctld.pid"
  stop_pid_file "$dir/munge/munged.pid"
  # Whatever a killed job left behind under this cluster's spool directory.
  pkill -9 -f "slurmstepd.*$dir" 2>/dev/null || true
}

case "$action" in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
