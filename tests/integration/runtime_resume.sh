#!/usr/bin/env bash
# A run killed with SIGKILL (the supervisor, through faults.kill_supervisor_round,
# and with it its actors) and started again with --resume ends bitwise identical to a run
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

# The supervisor SIGKILLs itself as round 5 starts (faults.kill_supervisor_round:
# no race with a fast machine); its actors die with it (PR_SET_PDEATHSIG).
"$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" --set faults.kill_supervisor_round=5 > "$tmp/out1.txt" 2>&1 &
sup=$!
rc=0
wait $sup || rc=$?
[ $rc = 137 ] || fail "the run was to kill itself with SIGKILL (137), exited with $rc"
ls /dev/shm | grep -q "^photon-$sup-" || fail "a SIGKILLed supervisor leaves its segments: none found for $sup"
[ -s "$tmp/run/checkpoints/ckpt-00000004.h5" ] || fail "no checkpoint after round 4"
"$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" --resume > "$tmp/out2.txt" 2>&1 &
sup2=$!
wait $sup2 || { cat "$tmp/out2.txt"; fail "resumed run failed"; }
grep -q "resuming after round" "$tmp/out2.txt" || { cat "$tmp/out2.txt"; fail "did not resume"; }
got=$(grep model_hash "$tmp/run/summary.json")
[ "$got" = "$want" ] || fail "resumed model differs: $got vs $want"
strip() { metrics_untimed "$1" | grep -v actor_exit; }
diff <(strip "$tmp/full/metrics.jsonl" | grep -v '"dir"') <(strip "$tmp/run/metrics.jsonl" | grep -v '"dir"') > "$tmp/diff.txt" || { head "$tmp/diff.txt"; fail "metrics differ"; }
ls /dev/shm | grep -q "^photon-$sup-" && fail "the killed run's shm segments were not removed"
no_leftovers $sup2
echo ok
