#!/usr/bin/env bash
# Each injected fault type on the tiny model (issue 6), through the real
# binary: the run goes on (or fails cleanly where it must), the fault and its
# consequence are in metrics.jsonl, and nothing is left behind.
#  - kill by SIGKILL / SIGSEGV / abnormal exit: the task is lost, the actor
#    restarted, the round completes with the others;
#  - requeue: the lost task runs again on another try and nothing is lost;
#  - stall past round_timeout: the actor is killed and restarted;
#  - corrupt (nan, scale): the update is rejected;
#  - checkpoint write failure: logged, the run goes on;
#  - a crash loop past the restart limit: the run fails with a clear reason.
source "$(dirname "$0")/runtime_common.bash"
write_tiny_ini "$tmp/x.ini"
n=0
# run NAME EXPECTED_STATUS --set ...: runs into $tmp/NAME, checks the status.
run() {
    local name=$1 want=$2; shift 2
    n=$((n + 1))
    local rc=0
    "$PHOTON_SIM" "$tmp/x.ini" --set run.out_dir="$tmp/$name" --set supervision.backoff=0.01 "$@" \
        > "$tmp/$name.txt" 2>&1 &
    local pid=$!
    wait $pid || rc=$?
    [ $rc = "$want" ] || { cat "$tmp/$name.txt"; fail "$name: exit status $rc, expected $want"; }
    if ls /dev/shm | grep -q "^photon-$pid-"; then fail "$name: shm segments left"; fi
    find "$tmp/$name" -name '*.tmp.*' | grep -q . && fail "$name: temp files left"
    m=$tmp/$name/metrics.jsonl
}
count() { grep -c "$1" "$m" || true; }

for sig in KILL SEGV exit; do
    run kill-$sig 0 --set faults.kill_round=2 --set faults.kill_client=1 --set faults.kill_signal=$sig
    [ "$(count '"type":"kill"')" = 1 ] || fail "kill-$sig: expected one kill fault event"
    [ "$(count '"verdict":"lost"')" = 1 ] || fail "kill-$sig: expected one lost task"
    grep -q '"restarting":true' "$m" || fail "kill-$sig: the actor was not restarted"
    grep '"event":"round"' "$m" | grep '"round":2' | grep -q '"accepted":3' || fail "kill-$sig: round 2 should complete with 3 updates"
    grep -q '"status":"completed"' "$tmp/kill-$sig/summary.json" || fail "kill-$sig: status"
done
grep -q 'signal SEGV' "$tmp/kill-SEGV.txt" || fail "the SEGV cause is not logged"
grep -q 'exit 70' "$tmp/kill-exit.txt" || fail "the abnormal exit's status is not logged"

run requeue 0 --set faults.kill_round=2 --set faults.kill_client=1 --set aggregator.requeue=true
grep '"event":"round"' "$m" | grep '"round":2' | grep -q '"accepted":4' || fail "requeue: round 2 should get all 4 updates"

run stall 0 --set faults.stall_round=2 --set faults.stall_client=0 --set aggregator.round_timeout=1
grep -q 'timed out after 1s' "$tmp/stall.txt" || fail "stall: no timeout logged"
[ "$(count '"verdict":"lost"')" = 1 ] || fail "stall: expected one lost task"

for c in nan scale; do
    run corrupt-$c 0 --set faults.corrupt=$c --set faults.corrupt_round=3 --set faults.corrupt_client=2
    [ "$(count '"verdict":"rejected_')" = 1 ] || fail "corrupt-$c: expected one rejected update"
done

run ckpt-fail 0 --set faults.ckpt_fail_write=1
[ "$(count '"event":"checkpoint_failed"')" = 1 ] || fail "ckpt-fail: expected a checkpoint_failed event"
[ -s "$tmp/ckpt-fail/checkpoints/ckpt-00000003.h5" ] || fail "ckpt-fail: the final checkpoint is missing"

run crashloop 1 --set faults.kill_prob=1 --set supervision.restarts=2 --set supervision.window=60
grep -Eq "error: actor [0-9]+ died .* more than 2 times within 60 s" "$tmp/crashloop.txt" || { cat "$tmp/crashloop.txt"; fail "crashloop: no clear reason"; }
grep -q '"status":"failed"' "$tmp/crashloop/summary.json" || fail "crashloop: summary status"
echo "ok ($n runs)"
