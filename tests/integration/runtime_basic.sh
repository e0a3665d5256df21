#!/usr/bin/env bash
# A tiny federated run completes and leaves what DESIGN §5 promises:
# config.ini, metrics.jsonl (round, task, eval, checkpoint, actor_exit
# events), summary.json, checkpoints (every 2 rounds + final, keep 2), and
# nothing else: no shm segment, no temp file, no actor process.
source "$(dirname "$0")/runtime_common.bash"
write_tiny_ini "$tmp/x.ini"
"$PHOTON_SIM" "$tmp/x.ini" > "$tmp/out.txt" 2>&1 &
sup=$!
wait $sup || { cat "$tmp/out.txt"; fail "run exited with $?"; }
run=$tmp/run
for f in config.ini metrics.jsonl summary.json checkpoints/ckpt-00000002.h5 checkpoints/ckpt-00000003.h5; do
    [ -s "$run/$f" ] || fail "missing $f"
done
grep -q '^\[clients\]' "$run/config.ini" || fail "config.ini is not the resolved config"
m=$run/metrics.jsonl
[ "$(grep -c '"event":"round"' "$m")" = 3 ] || fail "expected 3 round events"
[ "$(grep -c '"event":"task"' "$m")" = 12 ] || fail "expected 12 task events"
[ "$(grep -c '"event":"eval"' "$m")" = 4 ] || fail "expected 4 eval events (start + 3 rounds)"
[ "$(grep -c '"event":"checkpoint"' "$m")" = 2 ] || fail "expected 2 checkpoint events"
grep -q '"bytes_moved"' "$m" && grep -q '"allreduce_bytes"' "$m" || fail "round events lack the byte counts"
grep -q '"status":"completed"' "$run/summary.json" || fail "summary status: $(cat "$run/summary.json")"
grep -q '"communication_reduction"' "$run/summary.json" || fail "summary lacks the communication comparison"
# Perplexity falls from the initial model to the final one.
python3 - "$run/summary.json" <<'PY' || fail "perplexity did not fall"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["final_perplexity"] < s["initial_perplexity"], s
PY
no_leftovers $sup
# 2 actors reaped: both actor_exit events say exit 0 or stopped by us.
[ "$(grep -c '"event":"actor_exit"' "$m")" = 2 ] || fail "expected 2 actor_exit events"
echo ok
