#!/usr/bin/env bash
# SIGINT in the middle of a run: the supervisor stops its actors, exits with
# status 1 and a summary saying "interrupted", and leaves no actor process,
# no /dev/shm segment and no temp file behind.
source "$(dirname "$0")/runtime_common.bash"
write_tiny_ini "$tmp/x.ini"
"$PHOTON_SIM" "$tmp/x.ini" --set run.rounds=1000 > "$tmp/out.txt" 2>&1 &
sup=$!
# Wait for the second round to finish, so actors are running tasks.
for _ in $(seq 1 600); do
    n=$(grep -c '"event":"round"' "$tmp/run/metrics.jsonl" 2>/dev/null) || n=0
    [ "$n" -ge 2 ] && break
    kill -0 $sup 2>/dev/null || { cat "$tmp/out.txt"; fail "run ended early"; }
    sleep 0.1
done
actors=$(pgrep -P $sup || true)
[ -n "$actors" ] || fail "no actor processes found under $sup"
ls /dev/shm | grep -q "^photon-$sup-" || fail "no shm segments while running"
kill -INT $sup
rc=0
wait $sup || rc=$?
[ $rc = 1 ] || { cat "$tmp/out.txt"; fail "exit status $rc, expected 1"; }
grep -q "interrupted" "$tmp/out.txt" || fail "no interrupted message"
grep -q '"status":"interrupted"' "$tmp/run/summary.json" || fail "summary status"
for a in $actors; do
    if kill -0 "$a" 2>/dev/null && [ "$(ps -o ppid= -p "$a" | tr -d ' ')" = 1 ] ; then fail "actor $a still alive"; fi
    if ps -o args= -p "$a" 2>/dev/null | grep -q "photon-sim actor"; then fail "actor $a still alive"; fi
done
no_leftovers $sup
echo ok
