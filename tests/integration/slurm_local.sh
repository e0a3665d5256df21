#!/usr/bin/env bash
# tools/slurm/photon.sbatch on a real Slurm (docs/CLUSTERS.md): a
# single-node cluster of Debian's slurmctld and slurmd, with its own munged,
# configuration, ports and state in a temp dir, started and stopped here.
#  1. A tiny experiment (configs/tiny.ini, 2 rounds) with 2 actors and a
#     run key of our own (PHOTON_KEY_FILE): the job exits 0, summary.json says completed, both actors ran
#     as tasks of an srun step (labelled 0: and 1:), each did tasks, and
#     their counts add up to tasks_done.
#  2. An experiment the supervisor refuses: the job exits 2 (its status).
#  3. TERM to the batch script in the middle of a long run (what the time
#     limit's warning, --signal=B:TERM@120, sends): the script stops the
#     supervisor, which stops the actors (each says so) and writes
#     summary.json with status interrupted; no photon-sim is left.
# Afterwards no job is queued and nothing this test started is running.
# Skips (77) when not root or without slurmctld, slurmd, sbatch and munged
# (Debian packages slurmctld slurmd slurm-client munge), or when the daemons
# do not come up; PHOTON_SLURM_REQUIRED=1 makes those a failure instead.
source "$(dirname "$0")/runtime_common.bash"
skip() {
    if [ "${PHOTON_SLURM_REQUIRED:-0}" = 1 ]; then fail "$1 (PHOTON_SLURM_REQUIRED=1)"; fi
    echo "skip: $1"
    exit 77
}
[ "$(id -u)" = 0 ] || skip "not root (slurmd and munged run as root here)"
for c in slurmctld slurmd sbatch squeue scancel srun scontrol munged; do
    command -v "$c" > /dev/null || skip "no $c (Debian packages slurmctld slurmd slurm-client munge)"
done
sbatch=$PHOTON_SOURCE_DIR/tools/slurm/photon.sbatch
# munged wants every directory above its socket searchable by all.
chmod 711 "$tmp"
mkdir -p "$tmp/munge" "$tmp/msock" "$tmp/state" "$tmp/spool" "$tmp/jobs"
chmod 700 "$tmp/munge"
chmod 755 "$tmp/msock"
pids=()
# running PID: alive and not a zombie (an exited child not yet waited for)
running() { [ -r "/proc/$1/stat" ] && ! grep -q '^[0-9]* (.*) Z ' "/proc/$1/stat"; }
stop_all() {   # on any exit: jobs, then the daemons, munged last (the others talk through it)
    set +e
    if [ "${#pids[@]}" = 3 ]; then
        jobs=$(squeue -h -o %i 2>/dev/null)
        # shellcheck disable=SC2086  # a list of job ids
        [ -n "$jobs" ] && scancel $jobs 2>/dev/null
        for _ in $(seq 100); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.1; done
    fi
    stop_daemons
    for p in "${pids[@]}" $(pgrep -f -- "$tmp/"); do kill -KILL "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
stop_daemons() {   # TERM to slurmd and slurmctld, then to munged; up to 10 s each
    local group p
    for group in "${pids[*]:1}" "${pids[0]:-}"; do
        [ -n "$group" ] || continue
        # shellcheck disable=SC2086  # a list of pids
        kill -TERM $group 2>/dev/null
        for p in $group; do
            for _ in $(seq 100); do running "$p" || break; sleep 0.1; done
        done
    done
}
trap stop_all EXIT

# munged with a fresh key, on a socket of its own.
dd if=/dev/urandom of="$tmp/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$tmp/munge/munge.key"
munged -F --key-file="$tmp/munge/munge.key" --socket="$tmp/msock/socket" --pid-file="$tmp/munge/pid" \
    --log-file="$tmp/munge/log" --seed-file="$tmp/munge/seed" > "$tmp/munge/out" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -S "$tmp/msock/socket" ] && break; sleep 0.1; done
[ -S "$tmp/msock/socket" ] || skip "munged did not start: $(tail -n 2 "$tmp/munge/log" "$tmp/munge/out" 2>/dev/null | tr '\n' ' ')"

node=$(hostname -s)
read -r ctld_port d_port < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
export SLURM_CONF=$tmp/slurm.conf
cat > "$SLURM_CONF" <<EOF
# A one-node cluster for tests/integration/slurm_local.sh: no cgroups, no
# accounting, every path and port its own.  linuxproc and a short KillWait
# end jobs in about a second (pgid polling and the default 30 s cost several).
ClusterName=photontest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$tmp/msock/socket
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
KillWait=2
SchedulerType=sched/builtin
NodeName=$node NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=photon Nodes=$node Default=YES MaxTime=10 State=UP
EOF
slurmctld -D -f "$SLURM_CONF" > "$tmp/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -N "$node" -f "$SLURM_CONF" > "$tmp/slurmd.out" 2>&1 &
pids+=($!)
state=''
for _ in $(seq 150); do
    state=$(sinfo -h -n "$node" -o %t 2>/dev/null || true)
    [ "$state" = idle ] && break
    running "${pids[1]}" && running "${pids[2]}" || break   # one of them exited
    sleep 0.2
done
if [ "$state" != idle ]; then
    # The last lines of the one that exited, else of both.
    logs=(slurmctld slurmd)
    running "${pids[1]}" || logs=(slurmctld)
    running "${pids[2]}" || logs=(slurmd)
    why=$(for f in "${logs[@]}"; do tail -q -n 2 "$tmp/$f.out" "$tmp/$f.log" 2>/dev/null; done | tr '\n' ' ' || true)
    skip "the Slurm daemons did not come up (node state '$state'): $why"
fi

# The experiment: configs/tiny.ini, 2 rounds, 4 clients, on the C4 sample.
cat > "$tmp/x.ini" <<INI
include = $PHOTON_SOURCE_DIR/configs/tiny.ini
[run]
name = slurm-tiny
rounds = 2
backend = cpu
threads = 1
seed = 5
[data]
sources = $PHOTON_SOURCE_DIR/data/c4/c4-sample-train.json.gz
validation = $PHOTON_SOURCE_DIR/data/c4/c4-sample-validation.json.gz
max_docs = 200
[clients]
count = 4
per_round = 4
local_steps = 4
batch_size = 4
[eval]
every = 1
batches = 2
[checkpoint]
every = 0
INI
export PHOTON_SIM
# Actors connect to this host's name, as on a cluster, when it resolves.
getent hosts "$(hostname)" > /dev/null || export PHOTON_HEAD_ADDR=127.0.0.1
submit() {   # submit NAME [sbatch options...] -- photon-sim arguments...: prints the job id
    local name=$1; shift
    local opts=()
    while [ "$1" != -- ]; do opts+=("$1"); shift; done
    shift
    PHOTON_RUN_DIR=$tmp/$name sbatch --parsable -D "$tmp/jobs" -J "$name" -o "$tmp/$name.out" \
        -N 1 --ntasks-per-node=2 --cpus-per-task=1 "${opts[@]}" "$sbatch" "$@"
}
# job_wait JOB: waits (up to 60 s) until the job has left the queue and
# prints its exit status (sbatch --wait would poll only every few seconds).
job_wait() {
    local st=''
    for _ in $(seq 600); do
        st=$(scontrol -o show job "$1" 2>/dev/null | grep -o ' JobState=[A-Z_]* ' || true)
        case $st in *=PENDING*|*=RUNNING*|*=COMPLETING*|*=CONFIGURING*|'') sleep 0.1 ;; *) break ;; esac
    done
    case $st in *=PENDING*|*=RUNNING*|*=COMPLETING*|*=CONFIGURING*|'') fail "job $1 still in the queue after 60 s ($st)" ;; esac
    scontrol -o show job "$1" | sed -n 's/.* ExitCode=\([0-9]*\):.*/\1/p'
}

# 1: a run to completion.
# With a key of our own (PHOTON_KEY_FILE); runs 2 and 3 use the generated run.key.
(umask 077; openssl rand -hex 32 > "$tmp/team.key" 2>/dev/null || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$tmp/team.key")
job=$(PHOTON_KEY_FILE=$tmp/team.key submit ok -- "$tmp/x.ini") || fail "sbatch: $job"
rc=$(job_wait "$job")
cat "$tmp/ok.out" 2>/dev/null || true
[ "$rc" = 0 ] || fail "job $job exited with '$rc'"
grep -q '"status":"completed"' "$tmp/ok/summary.json" || fail "status: $(cat "$tmp/ok/summary.json")"
grep -q '"actors":2,' "$tmp/ok/summary.json" || fail "summary.json: not 2 actors"
grep -q "photon.sbatch: job [0-9]*: supervisor on .*, 2 actor(s) on 1 node(s)" "$tmp/ok.out" || fail "no job line"
[ "$(grep -c 'remote actor .* connected' "$tmp/ok.out")" = 2 ] || fail "not 2 remote actors connected"
total=0
for task in 0 1; do
    n=$(sed -n "s/^$task: photon-sim actor [0-9]*: stopped by the supervisor after \([0-9]*\) tasks.*/\1/p" "$tmp/ok.out")
    [ -n "$n" ] && [ "$n" -gt 0 ] || fail "srun task $task: no actor that did tasks"
    total=$((total + n))
done
done_=$(sed -n 's/.*"tasks_done":\([0-9]*\).*/\1/p' "$tmp/ok/summary.json")
[ "$total" = "$done_" ] || fail "the actors report $total tasks, summary.json tasks_done $done_"
grep -q "photon.sbatch: the supervisor exited with status 0" "$tmp/ok.out" || fail "no exit line"
! grep -q "ending the step" "$tmp/ok.out" || fail "actors did not exit by themselves after the run"
[ ! -e "$tmp/ok/listen.addr" ] || fail "listen.addr left behind"
[ ! -e "$tmp/ok/run.key" ] || fail "a run key was generated although PHOTON_KEY_FILE was set"
grep -q "actors connect to .* with $tmp/team.key" "$tmp/ok.out" || fail "the actors did not get PHOTON_KEY_FILE"

# 2: the supervisor's status is the job's.
job=$(submit bad -- "$tmp/x.ini" --set clients.lr=-1) || fail "sbatch: $job"
rc=$(job_wait "$job")
[ "$rc" = 2 ] || { cat "$tmp/bad.out"; fail "a refused experiment: job $job exited with '$rc', expected 2"; }
grep -q "photon.sbatch: the supervisor exited (2) before listening" "$tmp/bad.out" || { cat "$tmp/bad.out"; fail "no early-exit line"; }

# 3: TERM to the batch shell only, during a long run.
job=$(submit long --parsable -- "$tmp/x.ini" --set run.rounds=100000 --set eval.every=0) || fail "sbatch: $job"
for _ in $(seq 300); do grep -q "round 2/" "$tmp/long.out" 2>/dev/null && break; sleep 0.1; done
grep -q "round 2/" "$tmp/long.out" || { cat "$tmp/long.out"; fail "the long run did not get to round 2"; }
scancel --batch --signal=TERM "$job"
job_wait "$job" > /dev/null
grep -v "round [0-9]*/" "$tmp/long.out"
grep -q '"status":"interrupted"' "$tmp/long/summary.json" || fail "status after TERM: $(cat "$tmp/long/summary.json")"
grep -q "photon.sbatch: signalled: stopping the run" "$tmp/long.out" || fail "the script did not see the TERM"
for task in 0 1; do
    grep -q "^$task: photon-sim actor [0-9]*: stopped by the supervisor" "$tmp/long.out" || fail "srun task $task was not stopped by the supervisor"
done
! grep -q "ending the step" "$tmp/long.out" || fail "actors did not exit by themselves after TERM"
for _ in $(seq 50); do [ -z "$(pgrep -f -- "$PHOTON_SIM .*$tmp/" || true)" ] && break; sleep 0.1; done
[ -z "$(pgrep -f -- "$PHOTON_SIM .*$tmp/" || true)" ] || fail "photon-sim processes left after TERM: $(pgrep -af -- "$tmp/")"

# The daemons stop on TERM; nothing of this test stays.
stop_daemons
for p in "${pids[@]}"; do running "$p" && fail "daemon $p did not stop on TERM"; done
pids=()
[ -z "$(pgrep -f -- "$tmp/" || true)" ] || fail "left running: $(pgrep -af -- "$tmp/")"
echo ok
