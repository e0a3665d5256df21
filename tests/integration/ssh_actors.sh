#!/usr/bin/env bash
# tools/ssh-actors.sh (docs/CLUSTERS.md) with a fake ssh (fake_ssh.py, first
# on PATH: runs the command here under sh -c and hangs up like a real
# session).  1. Two "hosts", two actors each, serve a tcp run to completion:
# every actor did tasks (their counts add up to summary.json's tasks_done),
# the key reached each host byte for byte in a 0700 directory with mode 0600
# and never on a command line, the script exits 0 once the supervisor stops
# the actors, and the key directories are gone.  2. Ctrl-C (SIGINT to the
# script alone) while actors retry a dead port: the actors stop, the key
# directories go, the script exits 130, nothing is left running.
source "$(dirname "$0")/runtime_common.bash"
script=$PHOTON_SOURCE_DIR/tools/ssh-actors.sh
mkdir -p "$tmp/bin" "$tmp/remote"
cp "$PHOTON_SOURCE_DIR/tests/integration/fake_ssh.py" "$tmp/bin/ssh"
chmod +x "$tmp/bin/ssh"
export PATH=$tmp/bin:$PATH FAKE_SSH_LOG=$tmp/ssh.log
bg=()
# On failure too: everything started with this test's paths in its command line.
stop_bg() {
    local p
    for p in "${bg[@]}" $(pgrep -f -- "$tmp/" || true); do [ "$p" = $$ ] || kill -9 "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap stop_bg EXIT
# leftovers: processes still running with this test's remote dir in their command line
leftovers() { pgrep -f -- "$tmp/remote" || true; }
wait_gone() {   # wait_gone WHAT: up to 10 s for leftovers to exit
    for _ in $(seq 100); do [ -z "$(leftovers)" ] && return 0; sleep 0.1; done
    ps -o pid,args -p "$(leftovers | paste -sd,)" >&2 || true
    fail "$1: processes left running"
}

write_tiny_ini "$tmp/x.ini"
run=$tmp/run
"$PHOTON_SIM" "$tmp/x.ini" --set aggregator.link=tcp --set clients.actors=4 --set aggregator.min_actors=4 \
    > "$tmp/sup.txt" 2>&1 &
sup=$!
bg+=("$sup")
for _ in $(seq 300); do [ -s "$run/listen.addr" ] && break; kill -0 $sup 2>/dev/null || break; sleep 0.1; done
[ -s "$run/listen.addr" ] || { cat "$tmp/sup.txt"; fail "no listen.addr"; }
addr=$(cat "$run/listen.addr")

TMPDIR=$tmp/remote "$script" --connect "$addr" --key-file "$run/run.key" --per-host 2 --photon-sim "$PHOTON_SIM" \
    hostA hostB -- --threads 1 > "$tmp/ssh-actors.txt" 2>&1 &
sa=$!
bg+=("$sa")
# While the run waits for its 4 actors or trains: the key copies.
for _ in $(seq 100); do [ "$(find "$tmp/remote" -name run.key | wc -l)" = 2 ] && break; sleep 0.05; done
copies=$(find "$tmp/remote" -name run.key)
[ "$(echo "$copies" | wc -l)" = 2 ] || fail "expected 2 key copies, found: $copies"
for k in $copies; do
    cmp -s "$k" "$run/run.key" || fail "the key copy $k differs from the run key"
    [ "$(stat -c %a "$k")" = 600 ] && [ "$(stat -c %a "$(dirname "$k")")" = 700 ] \
        || fail "key copy modes: $(stat -c %a "$k") in $(stat -c %a "$(dirname "$k")")"
done

rc=0; wait $sup || rc=$?
[ $rc = 0 ] || { cat "$tmp/sup.txt"; fail "the run exited with $rc"; }
rc=0; wait $sa || rc=$?
[ $rc = 0 ] || { cat "$tmp/ssh-actors.txt"; fail "ssh-actors.sh exited with $rc after the run"; }
cat "$tmp/ssh-actors.txt"
grep -q '"status":"completed"' "$run/summary.json" || fail "status: $(cat "$run/summary.json")"
[ "$(grep -c 'remote actor 127.0.0.1:[0-9]* connected' "$tmp/sup.txt")" -ge 4 ] || { cat "$tmp/sup.txt"; fail "not 4 remote actors"; }
total=0
for h in hostA hostB; do
    n=$(grep -c "^\[$h\] photon-sim actor [0-9]*: stopped by the supervisor after [1-9][0-9]* tasks" "$tmp/ssh-actors.txt" || true)
    [ "$n" = 2 ] || fail "$h: $n actors stopped after doing tasks, expected 2"
done
for t in $(sed -n 's/.*stopped by the supervisor after \([0-9]*\) tasks.*/\1/p' "$tmp/ssh-actors.txt"); do
    total=$((total + t))
done
done_=$(sed -n 's/.*"tasks_done":\([0-9]*\).*/\1/p' "$run/summary.json")
[ "$total" = "$done_" ] || fail "actors report $total tasks, summary.json tasks_done $done_"
[ "$(cut -f1 "$tmp/ssh.log" | sort | uniq -c | awk '{print $1}' | paste -sd' ')" = "2 2" ] \
    || fail "expected two ssh sessions per host: $(cut -f1 "$tmp/ssh.log")"
key=$(cat "$run/run.key")
! grep -qF "$key" "$tmp/ssh.log" || fail "the run key appeared on an ssh command line"
[ -z "$(ls -A "$tmp/remote")" ] || fail "left on the hosts: $(ls -A "$tmp/remote")"
wait_gone "after the run"
no_leftovers $sup

# 2: Ctrl-C.  Nothing listens on the port, so the actors keep retrying.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# A background job of this script ignores SIGINT; restore it as a terminal would have it.
TMPDIR=$tmp/remote python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])' \
    "$script" --connect "127.0.0.1:$port" --key-file "$run/run.key" --per-host 2 --photon-sim "$PHOTON_SIM" \
    hostA hostB > "$tmp/int.txt" 2>&1 &
sa=$!
bg+=("$sa")
for _ in $(seq 100); do [ "$(pgrep -c -f -- "actor --connect 127.0.0.1:$port --key-file $tmp/remote")" = 4 ] && break; sleep 0.05; done
[ "$(pgrep -c -f -- "actor --connect 127.0.0.1:$port --key-file $tmp/remote")" = 4 ] || { cat "$tmp/int.txt"; fail "4 actors did not start"; }
sleep 0.5
kill -INT $sa
rc=0
for _ in $(seq 100); do kill -0 $sa 2>/dev/null || break; sleep 0.1; done
kill -0 $sa 2>/dev/null && fail "ssh-actors.sh still running 10 s after SIGINT"
wait $sa || rc=$?
cat "$tmp/int.txt"
[ $rc = 130 ] || fail "ssh-actors.sh exited with $rc after SIGINT, expected 130"
grep -q "interrupted: stopping the actors" "$tmp/int.txt" || fail "no interruption message"
wait_gone "after SIGINT"
[ -z "$(ls -A "$tmp/remote")" ] || fail "left on the hosts after SIGINT: $(ls -A "$tmp/remote")"

# Usage errors are one line and exit 2.
rc=0; "$script" --connect nohost --key-file "$run/run.key" h > "$tmp/u.txt" 2>&1 || rc=$?
[ $rc = 2 ] && grep -q "is not HOST:PORT" "$tmp/u.txt" || fail "bad --connect: exit $rc: $(cat "$tmp/u.txt")"
rc=0; "$script" --connect h:1 --key-file "$tmp/none" h > "$tmp/u.txt" 2>&1 || rc=$?
[ $rc = 2 ] && grep -q "cannot read the key file" "$tmp/u.txt" || fail "missing key: exit $rc: $(cat "$tmp/u.txt")"
echo ok
