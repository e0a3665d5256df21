#!/usr/bin/env bash
# Fault-tolerance soak (issue 6; outside the ctest suite): hundreds of
# injected faults over repeated federated runs of a tiny model, checking that
# nothing is lost or leaked.
#
#   tools/soak.sh [--minutes M] [--seed S] [--rounds R] [--kill-prob P] [--keep]
#
# Until M minutes (default 5) are nearly used, it runs "epochs".  Each epoch
# is one R-round run (default 30; a long one, e.g. --rounds 200, soaks one
# run longer) with a fraction P (default 0.4) of the client tasks killed (the
# signal changes every epoch: KILL, SEGV, ABRT, abnormal exit), some updates
# corrupted (NaN, rejected) and some tasks stalled past round_timeout; odd
# epochs checkpoint every round (keep 3), even ones every 2 rounds (keep 2),
# so supervisor kills land both between and across checkpoints — once uninterrupted,
# as the reference, and once while the supervisor itself is killed from
# outside at random moments (mostly SIGKILL, sometimes SIGTERM or SIGINT)
# and restarted with --resume until it completes; some of those restarts
# die inside their config.ini or a checkpoint write instead (the write fault
# seam with PHOTON_FAULT_KILL), leaving temp files the next start must
# sweep.  After each epoch:
#   - the interrupted run completed all its rounds;
#   - every round 1..R is in metrics.jsonl exactly once as a committed round
#     event, and every evaluation 0..R exactly once (nothing lost or repeated);
#   - its final model is bitwise the reference's (summary.json model_hash: the
#     injected faults are a pure function of the seed, so the kills and
#     resumes must not change anything);
#   - the final checkpoint verifies (photon-sim inspect --verify);
#   - no process of the runs, no /dev/shm/photon-<pid>-* segment of any of
#     their supervisors and no *.tmp.* file remains.
# Prints one line per epoch and a last line "soak: PASS ..." or
# "soak: FAIL ..." (exit status 0 or 1).  PHOTON_SIM names the binary
# (default build/photon-sim of this tree).  (This replaced
# tests/soak/runtime_soak.sh, whose checks it covers.)  The last recorded
# 15-minute run (issue 12): 37 epochs, 5480 actor kills, 164 supervisor
# kills from outside and 68 inside config/checkpoint writes, PASS
# (docs/RUNTIME.md, "Soak").
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
sim=${PHOTON_SIM:-$src/build/photon-sim}
minutes=5 seed=1 keep=0 rounds=30 kill_prob=0.4
while [ $# -gt 0 ]; do
    case $1 in
        --minutes) minutes=$2; shift 2 ;;
        --seed) seed=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --kill-prob) kill_prob=$2; shift 2 ;;
        --keep) keep=1; shift ;;
        -h|--help) sed -n '2,36p' "$0"; exit 0 ;;
        *) echo "soak.sh: unknown argument '$1' (expected --minutes M, --seed S, --rounds R, --kill-prob P, --keep)" >&2; exit 2 ;;
    esac
done
[[ $minutes =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "soak.sh: --minutes wants a number, got '$minutes'" >&2; exit 2; }
[[ $seed =~ ^[0-9]+$ ]] || { echo "soak.sh: --seed wants an integer, got '$seed'" >&2; exit 2; }
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "soak.sh: --rounds wants a positive integer, got '$rounds'" >&2; exit 2; }
[[ $kill_prob =~ ^(0([.][0-9]+)?|1([.]0+)?)$ ]] || { echo "soak.sh: --kill-prob wants a number in [0, 1], got '$kill_prob'" >&2; exit 2; }
[ -x "$sim" ] || { echo "soak.sh: no photon-sim binary at '$sim' (set PHOTON_SIM)" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/photon-soak.XXXXXX")
# Every photon-sim process of the soak (supervisors and the actors they
# spawn) has PHOTON_SOAK_TAG in its environment: that is how leftovers are
# found, and how the exit trap ends only the soak's own processes.  (Not
# exported to this script's own subshells.)
run_sim() { PHOTON_SOAK_TAG=$tmp "$sim" "$@"; }
ours() {
    local e p
    for e in /proc/[0-9]*/environ; do
        p=${e#/proc/}; p=${p%/environ}
        [ "$p" = $$ ] && continue
        { tr '\0' '\n' < "$e"; } 2>/dev/null | grep -qxF "PHOTON_SOAK_TAG=$tmp" && echo "$p"
    done
}
status=1
finish() {
    local p
    for p in $(ours); do kill -KILL "$p" 2>/dev/null; done
    if [ $keep = 1 ] || [ $status != 0 ]; then echo "soak: files kept in $tmp" >&2; else rm -rf "$tmp"; fi
}
trap finish EXIT
trap 'exit 1' INT TERM
RANDOM=$seed
t0=$(date +%s)
deadline=$(awk -v t="$t0" -v m="$minutes" 'BEGIN { printf "%d", t + m * 60 }')

write_ini() {   # FILE EPOCH SIGNAL
    cat > "$1" <<INI
[run]
name = soak
seed = $((seed * 1000 + $2))
rounds = $rounds
backend = cpu
threads = 1
[model]
n_layer = 1
n_head = 2
d_model = 32
seq_len = 32
[data]
sources = $src/data/c4/c4-sample-train.json.gz
validation = $src/data/c4/c4-sample-validation.json.gz
tokenizer = train
tokenizer_vocab = 512
max_docs = 200
prepared_dir = $tmp/data
[clients]
count = 8
per_round = 6
actors = 3
local_steps = 6
batch_size = 4
lr = 3e-3
optimizer_state = keep
[aggregator]
strategy = nesterov
server_lr = 0.7
momentum = 0.7
min_clients = 2
max_retries = 1000
round_timeout = 5
[supervision]
restarts = 1000000
window = 1
run_restarts = 1000000
backoff = 0.01
[eval]
every = 1
batches = 2
[checkpoint]
every = $((2 - $2 % 2))
keep = $((2 + $2 % 2))
[faults]
kill_prob = $kill_prob
kill_signal = $3
corrupt = nan
corrupt_prob = 0.05
stall_prob = 0.01
INI
}

fail() { echo "soak: FAIL: epoch $epoch: $*"; exit 1; }
sigs=(KILL SEGV ABRT exit)
epoch=0 total_kills=0 total_sup=0 total_inwrite=0 total_stalls=0 total_rejected=0 last=0
while :; do
    now=$(date +%s)
    [ $epoch -gt 0 ] && [ $((now + last)) -gt "$deadline" ] && break
    epoch=$((epoch + 1))
    te=$now
    d=$tmp/e$epoch
    mkdir -p "$d"
    sig=${sigs[$(((epoch - 1) % 4))]}
    write_ini "$d/x.ini" $epoch "$sig"
    run_sim "$d/x.ini" --set run.out_dir="$d/ref" > "$d/ref.log" 2>&1 || fail "the uninterrupted run failed: $(tail -n 1 "$d/ref.log")"
    want=$(grep '"model_hash"' "$d/ref/summary.json")

    # The same run, its supervisor killed from outside at random moments.
    pids=() sup=0 inwrite=0 done_=0 resume=()
    for seg in $(seq 1 40); do
        # A third of the first 8 segments die inside a write instead, at an
        # exact point: the Nth write seam call (1 = config.ini, later ones
        # checkpoints) SIGKILLs the supervisor there (PHOTON_FAULT_KILL).
        fault=()
        if [ $seg -le 8 ] && [ $((RANDOM % 3)) = 0 ]; then
            fault=(env PHOTON_FAULT_WRITE=$((1 + RANDOM % 3)) PHOTON_FAULT_KILL=1)
        fi
        PHOTON_SOAK_TAG=$tmp "${fault[@]}" "$sim" "$d/x.ini" --set run.out_dir="$d/run" "${resume[@]}" >> "$d/run.log" 2>&1 &
        pid=$!
        pids+=("$pid")
        resume=(--resume)
        if [ ${#fault[@]} -gt 0 ]; then
            rc=0
            { wait "$pid"; } 2>/dev/null || rc=$?
            if [ $rc = 0 ]; then done_=1; break; fi
            [ $rc = 137 ] || fail "segment $seg (killed in write ${fault[1]#*=}) exited with status $rc (see $d/run.log)"
            inwrite=$((inwrite + 1))
            continue
        fi
        # Up to 8 kills, then let it finish.
        if [ $seg -le 8 ]; then
            sleep "$((RANDOM % 20 / 10)).$((RANDOM % 10))"
            r=$((RANDOM % 20))
            if [ $r -lt 14 ]; then s=KILL; elif [ $r -lt 17 ]; then s=TERM; else s=INT; fi
            kill -s $s "$pid" 2>/dev/null && sup=$((sup + 1))
        fi
        rc=0
        { wait "$pid"; } 2>/dev/null || rc=$?   # (no "Killed" job notice)
        if [ $rc = 0 ]; then done_=1; break; fi
        case $rc in 137|143|130|1) ;; *) fail "segment $seg exited with status $rc (see $d/run.log)" ;; esac
    done
    [ $done_ = 1 ] || fail "the run did not complete in 40 segments"

    # Checks.
    grep -q '"status":"completed"' "$d/run/summary.json" || fail "summary.json does not say completed"
    got=$(grep '"model_hash"' "$d/run/summary.json")
    [ "$got" = "$want" ] || fail "final model differs from the uninterrupted run's: $got vs $want"
    want_rounds=$(seq -s ' ' 1 $rounds)
    have_rounds=$(grep '"event":"round"' "$d/run/metrics.jsonl" | grep '"committed":true' |
                  sed -E 's/.*"round":([0-9]+),.*/\1/' | tr '\n' ' ' | sed 's/ $//')
    [ "$have_rounds" = "$want_rounds" ] || fail "committed rounds in metrics.jsonl: '$have_rounds'"
    have_evals=$(grep '"event":"eval"' "$d/run/metrics.jsonl" | sed -E 's/.*"round":([0-9]+),.*/\1/' | tr '\n' ' ' | sed 's/ $//')
    [ "$have_evals" = "0 $want_rounds" ] || fail "evaluations in metrics.jsonl: '$have_evals'"
    ck=$(ls "$d/run/checkpoints"/ckpt-*.h5 | tail -n 1)
    case $ck in */ckpt-$(printf %08d $rounds).h5) ;; *) fail "last checkpoint is $ck" ;; esac
    "$sim" inspect "$ck" --verify > "$d/inspect.txt" 2>&1 || fail "inspect --verify $ck: $(tail -n 1 "$d/inspect.txt")"
    sleep 0.3
    left=$(ours)
    [ -z "$left" ] || fail "processes left: $(for p in $left; do tr '\0' ' ' < /proc/$p/cmdline; echo " (pid $p)"; done)"
    for p in "${pids[@]}"; do
        ! ls /dev/shm 2>/dev/null | grep -q "^photon-$p-" || fail "shm segments of supervisor $p left: $(ls /dev/shm | grep "^photon-$p-" | head -n 3)"
    done
    ! find "$d" -name '*.tmp.*' | grep -q . || fail "temp files left: $(find "$d" -name '*.tmp.*' | head -n 3)"

    # Faults that reached the run (both runs: the reference's and the
    # surviving events of the interrupted one, which equal them).
    kills=$(grep -c '"type":"kill"' "$d/ref/metrics.jsonl")
    stalls=$(grep -c '"type":"stall"' "$d/ref/metrics.jsonl")
    rej=$(grep -o '"updates_rejected":[0-9]*' "$d/ref/summary.json" | cut -d: -f2)
    total_kills=$((total_kills + 2 * kills)) total_sup=$((total_sup + sup))
    total_stalls=$((total_stalls + 2 * stalls)) total_rejected=$((total_rejected + 2 * rej))
    last=$(($(date +%s) - te))
    total_inwrite=$((total_inwrite + inwrite))
    echo "soak: epoch $epoch ok ($sig): $rounds rounds, $kills actor kills + $stalls stalls + $rej NaN updates per run," \
         "supervisor killed $sup times from outside and $inwrite times inside a config or checkpoint write, and resumed," \
         "identical to the uninterrupted run ($last s)"
done
status=0
echo "soak: PASS: $epoch epochs in $(($(date +%s) - t0)) s: $total_kills actor kills (KILL/SEGV/ABRT/exit)," \
     "$total_stalls stalls, $total_rejected NaN updates rejected, $total_sup supervisor kills/interrupts and" \
     "$total_inwrite kills inside config/checkpoint writes with --resume;" \
     "no round lost, no process, shm segment or temp file left, checkpoints verify"
