#!/usr/bin/env bash
# Key material is wiped from memory once used (issue 12): after start-up,
# the run key's bytes are nowhere in the memory of a link = tcp supervisor
# (a generated run.key, and a key_file) or of a remote actor (--key-file);
# only what TLS derived from it stays.  Read through /proc/PID/mem (needs
# ptrace rights over our own children: skips (77) where they are refused).
source "$(dirname "$0")/runtime_common.bash"
if ldd "$PHOTON_SIM" 2>/dev/null | grep -q 'lib[at]san'; then
    echo "skip: sanitizer build (its allocator and stacks are not the layout this searches)"; exit 77
fi
write_tiny_ini "$tmp/x.ini"
pids=()
stop_all() { kill -9 "${pids[@]}" 2>/dev/null || true; rm -rf "$tmp"; }
trap stop_all EXIT
# scan PID NEEDLE...: exit 0 if no needle is in the process's memory, 1 if one
# is (printed), 77 if its memory cannot be read.
scan() {
    python3 - "$@" <<'PY'
import re, sys
pid, needles = sys.argv[1], [n.encode() for n in sys.argv[2:]]
try:
    maps = open(f"/proc/{pid}/maps").read().splitlines()
    mem = open(f"/proc/{pid}/mem", "rb", buffering=0)
except OSError as e:
    print(f"skip: cannot read the memory of pid {pid}: {e}"); sys.exit(77)
read_any = False
for line in maps:
    f = line.split()
    if "r" not in f[1] or (len(f) > 5 and f[5] in ("[vvar]", "[vsyscall]", "[vvar_vclock]")):
        continue
    lo, hi = (int(x, 16) for x in f[0].split("-"))
    if hi - lo > 1 << 30:   # reserved address space (never the key's)
        continue
    try:
        mem.seek(lo); data = mem.read(hi - lo)
    except (OSError, OverflowError, ValueError):
        continue
    read_any = True
    for n in needles:
        i = data.find(n)
        if i >= 0:
            print(f"found {len(n)} key bytes at 0x{lo + i:x} in {line}"); sys.exit(1)
if not read_any:
    print(f"skip: no readable memory in pid {pid}"); sys.exit(77)
PY
}
check() {   # check WHAT PID NEEDLE...
    local rc=0
    scan "${@:2}" > "$tmp/scan.txt" || rc=$?
    [ $rc = 77 ] && { cat "$tmp/scan.txt"; exit 77; }
    [ $rc = 0 ] || fail "$1: the key is still in memory: $(cat "$tmp/scan.txt")"
    echo "ok: $1: no copy of the key in memory"
}
# start_sup NAME [--set ...]: a tcp supervisor waiting for its actors.
start_sup() {
    local name=$1; shift
    "$PHOTON_SIM" "$tmp/x.ini" --set run.out_dir="$tmp/$name" --set aggregator.link=tcp \
        --set aggregator.connect_timeout=60 "$@" > "$tmp/$name.txt" 2>&1 &
    sup=$!
    pids+=($sup)
    for _ in $(seq 300); do [ -s "$tmp/$name/listen.addr" ] && break; kill -0 $sup 2>/dev/null || break; sleep 0.05; done
    [ -s "$tmp/$name/listen.addr" ] || { cat "$tmp/$name.txt"; fail "$name: no listen.addr"; }
    sleep 0.3   # well into its loop
}
# 1. generated key: its 64 hex digits (and the half of them a partial copy would hold)
start_sup gen
key=$(tr -d '\n' < "$tmp/gen/run.key")
[ ${#key} = 64 ] || fail "run.key: '${key}'"
check "supervisor (generated run.key)" $sup "$key" "${key:0:32}" "${key:32:32}"
kill -9 $sup
# 2. a key file
python3 -c 'import secrets; print("photon-key-" + secrets.token_hex(24))' > "$tmp/team.key"
chmod 600 "$tmp/team.key"
team=$(tr -d '\n' < "$tmp/team.key")
start_sup file --set aggregator.key_file="$tmp/team.key"
check "supervisor (key_file)" $sup "$team" "${team:11:24}"
# 3. a remote actor, between attempts to reach a port where nothing listens
"$PHOTON_SIM" actor --connect 127.0.0.1:1 --key-file "$tmp/team.key" --retries 20 > "$tmp/actor.txt" 2>&1 &
a=$!
pids+=($a)
for _ in $(seq 100); do grep -q "reconnecting in" "$tmp/actor.txt" && break; sleep 0.05; done
grep -q "reconnecting in" "$tmp/actor.txt" || { cat "$tmp/actor.txt"; fail "the actor did not start retrying"; }
check "remote actor (--key-file)" $a "$team" "${team:11:24}"
# the check can fail: the key file's own bytes, read into a buffer we keep, are found
python3 -c 'import sys; b = open(sys.argv[1], "rb").read(); import time; print("ready", flush=True); time.sleep(30)' \
    "$tmp/team.key" > "$tmp/ctl.txt" &
ctl=$!
pids+=($ctl)
for _ in $(seq 100); do grep -q ready "$tmp/ctl.txt" && break; sleep 0.05; done
rc=0; scan $ctl "$team" > /dev/null || rc=$?
[ $rc = 1 ] || fail "the scan does not find a key a process holds (rc $rc)"
echo "ok: the scan finds a key a process still holds"
