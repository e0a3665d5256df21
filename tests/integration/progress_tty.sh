#!/usr/bin/env bash
# The live progress line on a terminal (issue: a warning printed while it is
# shown landed after it, on the same line).  Runs the tiny experiment under a
# pseudo-terminal (script(1)) with a task killed in round 2, whose warning
# comes after round 1's progress line: every log line must start on a clean
# line, i.e. the progress line ("... ETA 3s") is followed by "\r\033[K" (clear)
# before anything else is written.
source "$(dirname "$0")/runtime_common.bash"
command -v script > /dev/null || { echo "script(1) not found: skipped"; exit 77; }
write_tiny_ini "$tmp/x.ini"
# script's -c takes one shell command line: quote every word.
cmd=$(printf '%q ' "$PHOTON_SIM" "$tmp/x.ini" --set faults.kill_round=2 --set faults.kill_client=1 \
    --set supervision.backoff=0.01)
rc=0
script -qefc "$cmd" /dev/null < /dev/null > "$tmp/tty.out" 2>&1 || rc=$?
[ $rc = 0 ] || { cat -v "$tmp/tty.out"; fail "the run exited $rc"; }
grep -q 'ETA' "$tmp/tty.out" || { cat -v "$tmp/tty.out"; fail "no progress line was drawn on the terminal"; }
grep -q 'warning: .*task lost' "$tmp/tty.out" || { cat -v "$tmp/tty.out"; fail "no 'task lost' warning"; }
bad=$(LC_ALL=C grep -a -c $'ETA [0-9hms?]*[^0-9hms?\r]' "$tmp/tty.out" || true)
[ "$bad" = 0 ] || { cat -v "$tmp/tty.out"; fail "a log line was written right after the progress line, without clearing it"; }
echo ok
