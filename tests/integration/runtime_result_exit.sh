#!/usr/bin/env bash
# An actor that sends its RESULT and then dies (issue 12, defect 12): the
# task it completed counts as completed, not lost, whichever the supervisor
# hears of first, the death (SIGCHLD) or the result frame.
#  - late: the actor exits first and the frame is written 100 ms later by a
#    helper holding its channel (test seam PHOTON_FAULT_RESULT_EXIT), so the
#    death is always seen first: the supervisor must read the channel to its
#    end before giving the task up;
#  - exit: the frame is written, then the actor exits (the ordinary case;
#    the supervisor may hand the dead actor its next task before it hears
#    of the death: that task is lost and, with requeue, runs elsewhere).
# Either way client 1's task in round 2 is accepted (never lost), round 2
# gets all 4 updates, the actor is restarted, and the final model is
# bitwise that of a run without the fault.
source "$(dirname "$0")/runtime_common.bash"
write_tiny_ini "$tmp/x.ini"
sets=(--set eval.every=0 --set checkpoint.every=0 --set supervision.backoff=0.01)
"$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" --set run.out_dir="$tmp/ref" > "$tmp/ref.txt" 2>&1 \
    || { cat "$tmp/ref.txt"; fail "reference run exited with $?"; }
h_ref=$(grep -o '"model_hash":"[0-9a-f]*"' "$tmp/ref/summary.json")
for mode in late exit; do
    rc=0 extra=()
    [ $mode = exit ] && extra=(--set aggregator.requeue=true)
    PHOTON_FAULT_RESULT_EXIT=$mode,1,2 "$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" "${extra[@]}" --set run.out_dir="$tmp/$mode" \
        > "$tmp/$mode.txt" 2>&1 &
    pid=$!
    wait $pid || rc=$?
    [ $rc = 0 ] || { cat "$tmp/$mode.txt"; fail "$mode: exit status $rc"; }
    m=$tmp/$mode/metrics.jsonl
    grep -q '"event":"actor_exit".*"restarting":true' "$m" || { cat "$tmp/$mode.txt"; fail "$mode: no actor died and restarted"; }
    lost='"verdict":"lost"'
    [ $mode = exit ] && lost='"round":2,"attempt":0,"client":1,.*"verdict":"lost"'
    if grep -q "$lost" "$m"; then
        cat "$tmp/$mode.txt"; fail "$mode: a completed task counted as lost: $(grep '"verdict":"lost"' "$m")"
    fi
    grep '"event":"task"' "$m" | grep '"round":2' | grep '"client":1' | grep -q '"verdict":"accepted"' \
        || { grep '"event":"task"' "$m"; fail "$mode: client 1's task in round 2 is not accepted"; }
    grep '"event":"round"' "$m" | grep '"round":2' | grep -q '"accepted":4' \
        || fail "$mode: round 2 should get all 4 updates: $(grep '"event":"round"' "$m" | grep '"round":2')"
    h=$(grep -o '"model_hash":"[0-9a-f]*"' "$tmp/$mode/summary.json")
    [ -n "$h_ref" ] && [ "$h" = "$h_ref" ] || fail "$mode: model $h differs from the fault-free run's $h_ref"
    if ls /dev/shm | grep -q "^photon-$pid-"; then fail "$mode: shm segments left"; fi
    echo "ok $mode: $(grep -c '"verdict":"accepted"' "$m") tasks accepted, $(grep -c '"verdict":"lost"' "$m") lost"
done
