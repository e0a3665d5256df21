#!/usr/bin/env bash
# Issue 6 item 4, the strong form: one run is SIGKILLed (supervisor and, with
# it, its actors) at several different points and resumed with --resume after
# each, and it still ends bitwise identical to a run that never stopped:
#   1. during the very first checkpoint write, before any checkpoint exists
#      (the resume starts afresh);
#   2. in a checkpoint write whose temp file is complete but not yet fsynced
#      and renamed (PHOTON_FAULT_FSYNC=N with PHOTON_FAULT_KILL: the process
#      SIGKILLs itself at its Nth fsync, an exact point with no race);
#   3. in a checkpoint write whose temp file is half written (HDF5 not yet
#      closed: PHOTON_FAULT_WRITE=N with PHOTON_FAULT_KILL), in a resumed run;
#   4. with `kill -9` from outside just after a round is logged (in the
#      evaluation, the checkpoint or the next round: wherever it lands);
#   5. then the newest checkpoint is damaged, and --resume must fall back to
#      the previous one (its checksums fail) and still end identical.
# Compared with the uninterrupted run: every numeric dataset of the final
# checkpoint (/model, /outer_optimizer momentum, /clients/* kept AdamW state
# and data positions, /sampler, /run; `inspect --hash`) except
# /run/metrics_offset (a byte offset into metrics.jsonl, whose time fields
# differ in length), summary.json's model_hash, and metrics.jsonl apart from
# time fields (and which actor ran each task).  Afterwards no process, shm
# segment or temp file is left.
source "$(dirname "$0")/runtime_common.bash"
trap 'rc=$?; if [ $rc != 0 ]; then for f in "$tmp"/*.txt; do echo "== $f"; tail -n 15 "$f"; done; fi; cleanup' EXIT

write_tiny_ini "$tmp/x.ini" "[aggregator]" "strategy = nesterov" "server_lr = 0.7" "momentum = 0.7" \
    "[clients]" "optimizer_state = keep"
# per_round 3 of 4 clients: the sampler's state matters too.
sets=(--set run.rounds=12 --set checkpoint.every=1 --set checkpoint.keep=3
      --set clients.per_round=3 --set clients.local_steps=16 --set clients.batch_size=16)
# start OUT [args...]: a run in the background, its pid in $pid (the
# photon-sim process itself, not a subshell, so that kill -9 hits it).
start() { local out=$1; shift; "$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" "$@" > "$out" 2>&1 & pid=$!; }

# The reference; it also prepares the data that every later run reuses, so
# the fault seams below count only the runs' own writes (config.ini is the
# first of a fresh run, then one per checkpoint).
"$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" --set run.out_dir="$tmp/full" > "$tmp/full.txt" 2>&1 || fail "uninterrupted run"
ckdir=$tmp/run/checkpoints
pids=()

# killed_at NAME PID: the run PID ended by SIGKILL.
killed_at() {
    local rc=0
    { wait "$2"; } 2>/dev/null || rc=$?   # (no "Killed" job notice)
    [ $rc = 137 ] || fail "$1: the run was to die by SIGKILL (137), exited with $rc"
    pids+=("$2")
}
tmpfile() { find "$ckdir" -name '*.tmp.*' 2>/dev/null | head -n 1; }
resumed() { grep -q "resuming after round" "$1" || fail "$1: did not resume from a checkpoint"; }

# 1. The first checkpoint write (fsync seam call 2; call 1 is config.ini).
PHOTON_FAULT_FSYNC=2 PHOTON_FAULT_KILL=1 start "$tmp/k1.txt"
killed_at "kill 1" $pid
[ -n "$(tmpfile)" ] || fail "kill 1: no checkpoint temp file: not killed inside the write"
ls "$ckdir"/ckpt-*.h5 > /dev/null 2>&1 && fail "kill 1: a checkpoint exists already"

# 2. A complete temp file not yet renamed: checkpoint of round 3 (fsync 4) of
# the restarted run (--resume with no usable checkpoint starts afresh).
PHOTON_FAULT_FSYNC=4 PHOTON_FAULT_KILL=1 start "$tmp/k2.txt" --resume
killed_at "kill 2" $pid
t=$(tmpfile)
case $t in *ckpt-00000003.h5.tmp.*) ;; *) fail "kill 2: expected ckpt-00000003's temp file, found '$t'" ;; esac
[ -s "$ckdir/ckpt-00000002.h5" ] || fail "kill 2: no checkpoint of round 2"

# 3. A half-written temp file, in a resumed run: its 3rd write seam call is
# its 2nd checkpoint (round 4) unless a resumed run writes no config.ini.
PHOTON_FAULT_WRITE=3 PHOTON_FAULT_KILL=1 start "$tmp/k3.txt" --resume
killed_at "kill 3" $pid
resumed "$tmp/k3.txt"
grep -q "resuming after round 2 " "$tmp/k3.txt" || fail "kill 3: did not resume after round 2"
[ -n "$(tmpfile)" ] || fail "kill 3: no checkpoint temp file: not killed inside the write"

# 4. kill -9 from outside, as soon as round 7 is logged.
start "$tmp/k4.txt" --resume
for _ in $(seq 3000); do
    grep -q '"event":"round","[^}]*"round":7,' "$tmp/run/metrics.jsonl" 2>/dev/null && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.01
done
kill -KILL $pid 2>/dev/null || fail "kill 4: the run ended before it could be killed"
killed_at "kill 4" $pid
resumed "$tmp/k4.txt"

# 5. Damage the newest checkpoint in several places: --resume must skip it.
newest=$(ls "$ckdir"/ckpt-*.h5 | tail -n 1)
[ "$(ls "$ckdir"/ckpt-*.h5 | wc -l)" -ge 2 ] || fail "kill 5: fewer than 2 checkpoints to fall back on"
size=$(stat -c %s "$newest")
for frac in 30 50 70 90; do
    printf '\xa5\x5a\xa5\x5a\xa5\x5a\xa5\x5a' | dd of="$newest" bs=1 seek=$((size * frac / 100)) conv=notrunc status=none
done
start "$tmp/final.txt" --resume
wait $pid || fail "the last resumed run failed"
pids+=("$pid")
grep -q "skipping checkpoint of round [0-9]*, it is unusable: .*$(basename "$newest")" "$tmp/final.txt" || fail "the damaged $(basename "$newest") was not skipped"
resumed "$tmp/final.txt"

# The final state, bit for bit.
want=$(grep model_hash "$tmp/full/summary.json")
got=$(grep model_hash "$tmp/run/summary.json")
[ "$got" = "$want" ] || fail "final model differs: $got vs $want"
final=$(basename "$(ls "$tmp/full/checkpoints"/ckpt-*.h5 | tail -n 1)")
[ "$final" = ckpt-00000012.h5 ] || fail "the uninterrupted run's last checkpoint is $final"
hashes() {
    "$PHOTON_SIM" inspect "$1" --hash --verify > "$2" || fail "inspect --verify $1"
    sed -n '/^contents/,$p' "$2" | grep -v metrics_offset
}
diff <(hashes "$tmp/full/checkpoints/$final" "$tmp/full_inspect.txt") \
     <(hashes "$ckdir/$final" "$tmp/run_inspect.txt") > "$tmp/ckdiff.txt" || fail "final checkpoints differ"
grep -q "outer_optimizer" "$tmp/run_inspect.txt" || fail "no /outer_optimizer in the checkpoint"
grep -q "adam_m" "$tmp/run_inspect.txt" || fail "no kept client optimizer state in the checkpoint"
for k in round global_step tokens_seen; do
    [ "$(grep "^$k " "$tmp/full_inspect.txt")" = "$(grep "^$k " "$tmp/run_inspect.txt")" ] || fail "checkpoint attribute $k differs"
done

# metrics.jsonl: the same events apart from wall-clock values, pids and
# which actor ran a task (whichever was idle first).
strip() { metrics_untimed "$1"; }
diff <(strip "$tmp/full/metrics.jsonl") <(strip "$tmp/run/metrics.jsonl") > "$tmp/mdiff.txt" ||
    { head "$tmp/mdiff.txt"; fail "metrics.jsonl differs"; }

# Nothing left: no process of these runs, no segment of any of the killed
# supervisors (the restarts removed them), no temp file.
sleep 0.2
pgrep -f "$tmp/x.ini" > /dev/null && fail "processes left: $(pgrep -af "$tmp/x.ini")"
for p in "${pids[@]}"; do no_leftovers "$p"; done
echo "ok: killed at 4 points, fell back past a damaged checkpoint, final state bitwise identical"
