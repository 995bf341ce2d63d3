#!/bin/bash
# Several hosts for real: three "hosts" in network namespaces of their own, each with its own
# address and hostname, joined by veth links to a bridge; a 3-rank job across them with Open MPI
# over TCP, mpirun on the first host and orted started on the others through `ip netns exec`, as
# ssh would. One host's link is cut in the middle of training: the ranks must end within
# --comm-timeout with a line naming the rank that went silent, and mpirun once TCP gives up on the
# lost host (Open MPI has no timeout of its own there: keepalives find an idle connection lost, and
# a connection with data in flight is given up after net.ipv4.tcp_retries2 retransmissions, about
# 15 minutes by default; the first host's namespace is set to 5, about 6 seconds). Once the link is
# back, --resume auto continues and ends bit-identical to a run that was never cut.
# Needs root (namespaces); exits 77 (skipped) without it.
source "$(dirname "$0")/common.sh"
tools="$PYTHON $(dirname "$0")/checkpoint_tools.py"
if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null || ! ip netns list >/dev/null 2>&1; then
  echo "SKIP: network namespaces need root and iproute2"
  exit 77
fi

id=$$
bridge=trbr$id
hosts=(trh$id-a trh$id-b trh$id-c)
addresses=(10.231.7.11 10.231.7.12 10.231.7.13)
cleanup() {
  for h in "${hosts[@]}"; do
    for pid in $(ip netns pids "$h" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns delete "$h" 2>/dev/null || true
  done
  ip link delete "$bridge" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

ip link add "$bridge" type bridge
ip addr add 10.231.7.1/24 dev "$bridge"
ip link set "$bridge" up
for i in 0 1 2; do
  h=${hosts[$i]}
  ip netns add "$h"
  ip link add "v$id$i" type veth peer name eth0 netns "$h"
  ip link set "v$id$i" master "$bridge" up
  ip -n "$h" addr add "${addresses[$i]}/24" dev eth0
  ip -n "$h" link set eth0 up
  ip -n "$h" link set lo up
done
ip netns exec "${hosts[0]}" sysctl -qw net.ipv4.tcp_retries2=5

# The remote shell Open MPI starts its daemons with: the host's address names its namespace, and
# each host gets its own hostname (a UTS namespace), as separate machines have.
agent=$WORK/netns-rsh
cat >"$agent" <<EOF
#!/bin/bash
host=\$1; shift
case \$host in
  ${addresses[0]}) ns=${hosts[0]} ;; ${addresses[1]}) ns=${hosts[1]} ;; ${addresses[2]}) ns=${hosts[2]} ;;
  *) echo "netns-rsh: unknown host \$host" >&2; exit 255 ;;
esac
exec ip netns exec "\$ns" unshare --uts /bin/bash -c "hostname \$ns; \$*"
EOF
chmod +x "$agent"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_plm_rsh_agent=$agent
export OMPI_MCA_btl=tcp,self
export OMPI_MCA_btl_tcp_if_include=10.231.7.0/24 OMPI_MCA_oob_tcp_if_include=10.231.7.0/24
# Open MPI notices a lost daemon through TCP keepalives: every second after 2 idle seconds, 3 tries.
export OMPI_MCA_oob_tcp_keepalive_time=2 OMPI_MCA_oob_tcp_keepalive_intvl=1 OMPI_MCA_oob_tcp_keepalive_probes=3
across() {  # mpirun on the first host, as a batch script runs it on a job's first node
  ip netns exec "${hosts[0]}" unshare --uts /bin/bash -c "hostname ${hosts[0]}; exec \"\$@\"" - \
    mpirun -np 3 --host "${addresses[0]}:1,${addresses[1]}:1,${addresses[2]}:1" --bind-to none "$@"
}
run=(--limit-train 6000 --limit-test 200 --batch-size 32 --progress-seconds 0 --seed 7 --epochs 2
     --checkpoint-every-steps 5 --keep-last 0 --comm-timeout 5)

across "$TRAINER" "${run[@]}" --checkpoint-dir "$WORK/straight" >straight.log 2>&1 || fail "straight run: $(tail -5 straight.log)"
grep -q "3 rank(s), mpi" straight.log || fail "not 3 ranks: $(head -3 straight.log)"

started=$(date +%s)
across "$TRAINER" "${run[@]}" --checkpoint-dir "$WORK/cut" >cut.log 2>&1 &
job=$!
while [ ! -e cut/LATEST ] && kill -0 "$job" 2>/dev/null; do sleep 0.1; done
sleep 1
ip link set "v${id}2" down  # host c's cable pulled
cut_at=$(date +%s)
status=0
timeout 120 tail --pid="$job" -f /dev/null || fail "the job still runs 120 s after the cut: $(tail -5 cut.log)"
wait "$job" || status=$?
ended=$(($(date +%s) - cut_at))
[ "$status" -ne 0 ] || fail "the job ended well although a host was cut off: $(tail -5 cut.log)"
grep -q "has waited 5 s for the other ranks" cut.log || fail "no collective timed out: $(tail -8 cut.log)"
grep -q "no heartbeat from rank 2 silent for" cut.log || fail "the silent rank is not named: $(grep -m3 error cut.log)"
echo "cut: the job ended $ended s after host c's link went down (status $status): $(grep -m1 'no heartbeat' cut.log | sed 's/.*: error: //')"
[ "$ended" -le 60 ] || fail "the job took $ended s to end after the cut"

for pid in $(ip netns pids "${hosts[2]}"); do kill -9 "$pid" 2>/dev/null || true; done  # what the cut host left
ip link set "v${id}2" up
# Back when the bridge forwards on the port again (state 3) and both ends report a carrier.
for _ in $(seq 100); do
  [ "$(cat "/sys/class/net/v${id}2/brport/state" 2>/dev/null)" = 3 ] &&
    ip -n "${hosts[2]}" link show eth0 | grep -q LOWER_UP && break
  sleep 0.1
done
sleep 1
latest=$(cat cut/LATEST)
across "$TRAINER" "${run[@]}" --checkpoint-dir "$WORK/cut" >resumed.log 2>&1 || fail "resume: $(tail -5 resumed.log)"
grep -q "resumed from $WORK/cut/$latest" resumed.log || fail "did not resume from $latest: $(grep -m1 resum resumed.log)"
$tools same straight/epoch-0002 cut/epoch-0002 || fail "the resumed run differs from the one never cut"
echo "network cut: resumed from $latest once the link was back, bit-identical to the uncut run ($(($(date +%s) - started)) s in all)"
