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

# min_clients not met: the attempt fails (model unchanged) and is retried.
# Only the committed attempt counts (tokens, tasks_done), the discarded work is
# reported apart, each round event names the attempt that ran, and the retry
# starts every client from the same data position: with K = N (the retry has
# the same sample) and no kept optimizer state the run ends bitwise as one
# without the fault.
run retry-base 0 --set aggregator.min_clients=4 --set clients.optimizer_state=reset
run retry 0 --set aggregator.min_clients=4 --set clients.optimizer_state=reset --set faults.kill_round=2 --set faults.kill_client=1
rounds=$(grep '"event":"round"' "$m")
echo "$rounds" | grep '"round":2,"attempt":0,"committed":false' | grep '"accepted":3' |
    grep '"tasks_discarded":3' | grep -q '"tokens_discarded":' || { echo "$rounds"; fail "retry: no failed attempt 0 of round 2 with 3 discarded tasks"; }
echo "$rounds" | grep -q '"round":2,"attempt":1,"committed":true' || { echo "$rounds"; fail "retry: round 2's commit should say attempt 1"; }
[ "$(echo "$rounds" | grep -c '"attempt":0,"committed":true')" = 2 ] || fail "retry: rounds 1 and 3 commit at attempt 0"
s=$tmp/retry/summary.json; b=$tmp/retry-base/summary.json
field() { grep "\"$1\":" "$2" | tr -dc '0-9.'; }
[ "$(field tokens "$s")" = "$(field tokens "$b")" ] || fail "retry: summary tokens $(field tokens "$s"), expected $(field tokens "$b") (committed work only)"
[ "$(field tasks_done "$s")" = 12 ] || fail "retry: tasks_done $(field tasks_done "$s"), expected 12"
[ "$(field tasks_discarded "$s")" = 3 ] || fail "retry: tasks_discarded $(field tasks_discarded "$s"), expected 3"
[ "$(field tokens_discarded "$s")" = "$(echo "$rounds" | grep '"committed":false' | sed 's/.*"tokens_discarded":\([0-9]*\).*/\1/')" ] ||
    fail "retry: summary tokens_discarded differs from the failed attempt's"
[ "$(field tokens_discarded "$s")" -gt 0 ] || fail "retry: tokens_discarded is 0"
[ "$(grep model_hash "$s")" = "$(grep model_hash "$b")" ] || fail "retry: the retried run's model differs from the fault-free one's"
echo "ok ($n runs)"
