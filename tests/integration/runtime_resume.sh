#!/usr/bin/env bash
# A run killed with SIGKILL (supervisor and, through PR_SET_PDEATHSIG, its
# actors) and started again with --resume ends bitwise identical to a run
# that never stopped (summary.json's model_hash is a hash of the final
# global model's bits), with nesterov momentum and kept client optimizer
# state in the run state; the restarted run removes the dead run's shm
# segments; and metrics.jsonl is cut back to the checkpoint's offset, so it
# holds the same events.
source "$(dirname "$0")/runtime_common.bash"
# On failure, show what the runs said.
trap 'rc=$?; if [ $rc != 0 ]; then for f in "$tmp"/*.txt; do echo "== $f"; tail -n 20 "$f"; done; fi; cleanup' EXIT
write_tiny_ini "$tmp/x.ini" "[aggregator]" "strategy = nesterov" "server_lr = 0.7" "momentum = 0.7"
sets=(--set run.rounds=10 --set checkpoint.every=1 --set clients.per_round=3 --set clients.local_steps=6)
"$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" --set run.out_dir="$tmp/full" > "$tmp/full.txt" 2>&1 || { cat "$tmp/full.txt"; fail "uninterrupted run"; }
want=$(grep model_hash "$tmp/full/summary.json")

"$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" > "$tmp/out1.txt" 2>&1 &
sup=$!
for _ in $(seq 1 600); do
    [ -s "$tmp/run/checkpoints/ckpt-00000002.h5" ] && break
    kill -0 $sup 2>/dev/null || break
    sleep 0.05
done
kill -9 $sup 2>/dev/null || fail "run ended before it could be killed"
wait $sup 2>/dev/null || true
ls /dev/shm | grep -q "^photon-$sup-" || echo "note: no segments left to clean (killed late)"
"$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" --resume > "$tmp/out2.txt" 2>&1 &
sup2=$!
wait $sup2 || { cat "$tmp/out2.txt"; fail "resumed run failed"; }
grep -q "resuming after round" "$tmp/out2.txt" || { cat "$tmp/out2.txt"; fail "did not resume"; }
got=$(grep model_hash "$tmp/run/summary.json")
[ "$got" = "$want" ] || fail "resumed model differs: $got vs $want"
strip() { sed -E 's/"(time|seconds|overhead_seconds)":[^,}]*//g; s/"actor":[0-9]+//; s/"pid":[0-9]+//' "$1" | grep -v actor_exit; }
diff <(strip "$tmp/full/metrics.jsonl" | grep -v '"dir"') <(strip "$tmp/run/metrics.jsonl" | grep -v '"dir"') > "$tmp/diff.txt" || { head "$tmp/diff.txt"; fail "metrics differ"; }
ls /dev/shm | grep -q "^photon-$sup-" && fail "the killed run's shm segments were not removed"
no_leftovers $sup2
echo ok
