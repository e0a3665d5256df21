#!/usr/bin/env bash
# The TCP link under attack (docs/RUNTIME.md, "Remote actors", threat model).
#  1. An on-path attacker (tests/integration/tcp_proxy.py) between an actor
#     and the supervisor flips a bit in, replays, reorders, drops or
#     truncates one TLS record of the update (actor -> supervisor) or of the
#     model (supervisor -> actor; the offset assumes a setup message under
#     100 KB, about 40 KB now): the receiver detects it, the connection
#     drops, the task is lost and requeued, the actor reconnects, and the run
#     ends bitwise identical to the same run over shared memory.
#  2. What the attacker captured holds no plaintext: neither the run's name
#     (in the setup message) nor the initial model's LayerNorm weights (runs
#     of 1.0f) appear in it.
#  3. A fake supervisor without the key gets a TLS ClientHello and nothing
#     else; the actor refuses it, says why and does not retry (a plain TCP
#     server, and a TLS server with a certificate).
#  4. 24 silent connections and 8 stuck half-way through a handshake do not
#     keep the real actors out (pending connections are evicted per address).
source "$(dirname "$0")/runtime_common.bash"
command -v openssl > /dev/null || { echo "skip: no openssl command"; exit 77; }
marker=plaintextmarker7f3a9c
write_tiny_ini "$tmp/x.ini"
sed -i "s/^name = tiny/name = $marker/" "$tmp/x.ini"
sets=(--set aggregator.requeue=true --set run.rounds=2 --set checkpoint.every=0 --set eval.every=0)
proxy=$PHOTON_SOURCE_DIR/tests/integration/tcp_proxy.py
bg=()
stop_all() { kill -9 "${bg[@]}" 2>/dev/null || true; rm -rf "$tmp"; }
trap stop_all EXIT

"$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" --set run.out_dir="$tmp/shm" > "$tmp/shm.txt" 2>&1 \
    || { cat "$tmp/shm.txt"; fail "shm run exited with $?"; }
h_shm=$(grep -o '"model_hash":"[0-9a-f]*"' "$tmp/shm/summary.json")

wait_file() { for _ in $(seq 300); do [ -s "$1" ] && return 0; sleep 0.05; done; return 1; }

# tcp_run NAME [proxy args...]: a link = tcp run whose only actor connects
# through the proxy, so the run can only complete if that actor reconnects
# after an attack and takes the requeued task; leaves $tmp/NAME.txt
# (supervisor), $tmp/NAME.a0.txt (actor), $tmp/NAME.proxy.txt.  Run in a
# subshell (several at once): it kills what it started on the way out.
tcp_run() {
    local name=$1; shift
    bg=()
    trap 'kill -9 "${bg[@]}" 2>/dev/null || true' EXIT
    local run=$tmp/$name
    "$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" --set run.out_dir="$run" --set aggregator.link=tcp \
        --set aggregator.connect_timeout=60 > "$tmp/$name.txt" 2>&1 &
    local sup=$!
    bg+=($sup)
    wait_file "$run/listen.addr" || { cat "$tmp/$name.txt"; fail "$name: no listen.addr"; }
    local addr; addr=$(cat "$run/listen.addr")
    python3 "$proxy" "$addr" --port-file "$tmp/$name.port" "$@" 2> "$tmp/$name.proxy.txt" &
    local px=$!
    bg+=($px)
    wait_file "$tmp/$name.port" || fail "$name: the proxy did not start"
    "$PHOTON_SIM" actor --connect "127.0.0.1:$(cat "$tmp/$name.port")" --key-file "$run/run.key" --retries 3 \
        > "$tmp/$name.a0.txt" 2>&1 &
    local a0=$!
    bg+=($a0)
    local rc=0
    wait $sup || rc=$?
    [ $rc = 0 ] || { cat "$tmp/$name.txt" "$tmp/$name.proxy.txt" "$tmp/$name.a0.txt"; fail "$name: run exited with $rc"; }
    rc=0; wait $a0 || rc=$?
    [ $rc = 0 ] || { cat "$tmp/$name.a0.txt"; fail "$name: proxied actor exited with $rc"; }
    kill $px 2>/dev/null || true
    wait $px 2>/dev/null || true
    local h; h=$(grep -o '"model_hash":"[0-9a-f]*"' "$run/summary.json")
    [ -n "$h_shm" ] && [ "$h" = "$h_shm" ] || { cat "$tmp/$name.txt"; fail "$name: model $h differs from the shm run's $h_shm"; }
}

# All at once: an undisturbed run through the proxy, recorded, and one run
# per attack.
IFS=, read -r -a specs <<< "${TCP_ATTACKS:-flip up,replay up,reorder up,drop up,truncate up,flip down,reorder down}"
(tcp_run clean --capture "$tmp/capture.bin") &
runs=($!)
for spec in "${specs[@]}"; do
    set -- $spec
    # up: inside the first update (120 KB); down: past the setup message
    # (40 KB) inside the first model (120 KB)
    after=$([ "$2" = up ] && echo 40000 || echo 100000)
    (tcp_run "$1-$2" --attack "$1" --direction "$2" --after "$after") &
    runs+=($!)
done
for r in "${runs[@]}"; do wait "$r" || fail "a run failed (above)"; done

# 2: no plaintext in the capture.
size=$(stat -c %s "$tmp/capture.bin")
[ "$size" -gt 200000 ] || fail "the capture holds only $size bytes"
python3 - "$tmp/capture.bin" "$marker" <<'PY' || fail "plaintext in the captured traffic"
import struct, sys
data = open(sys.argv[1], "rb").read()
ones = struct.pack("<f", 1.0) * 32          # LayerNorm weights of the initial model
for what, pat in (("run name", sys.argv[2].encode()), ("a run of 1.0f", ones), ("frame magic+version", b"PHSM\x01\x00")):
    if pat in data:
        print(f"FAIL: {what} found in the capture", file=sys.stderr); sys.exit(1)
PY

# 1: each attack is detected by the receiving end; the task is lost and
# requeued; the attacked actor reconnects; the model is the shm run's.
for spec in "${specs[@]}"; do
    set -- $spec
    name=$1-$2
    grep -q "proxy: .*: \(swapped\|$1\)" "$tmp/$name.proxy.txt" || { cat "$tmp/$name.proxy.txt"; fail "$name: the proxy did not attack"; }
    grep -q '"verdict":"lost"' "$tmp/$name/metrics.jsonl" || { cat "$tmp/$name.txt"; fail "$name: no task was lost"; }
    grep -q "reconnecting in" "$tmp/$name.a0.txt" || { cat "$tmp/$name.a0.txt"; fail "$name: the actor did not reconnect"; }
    [ "$(grep -c "remote actor 127.0.0.1:[0-9]* connected" "$tmp/$name.txt")" -ge 2 ] \
        || { cat "$tmp/$name.txt"; fail "$name: the attacked actor was not taken back"; }
    if [ "$2" = up ]; then
        # the supervisor's TLS layer refused the record (truncate: the stream ended mid-record)
        grep -q "lost: .*\(TLS: \|closed the connection\)" "$tmp/$name.txt" || { cat "$tmp/$name.txt"; fail "$name: no detection logged"; }
    else
        grep -q "connection lost: .*TLS: " "$tmp/$name.a0.txt" || { cat "$tmp/$name.a0.txt"; fail "$name: the actor did not detect it"; }
    fi
done

# 3: fake supervisors.  A plain TCP server records what the actor sends.
printf 'a shared secret of the team\n' > "$tmp/team.key"
chmod 600 "$tmp/team.key"
python3 - "$tmp/fake.port" "$tmp/fake.bin" <<'PY' &
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
open(sys.argv[1], "w").write(f"{s.getsockname()[1]}\n")
c, _ = s.accept(); c.settimeout(5)
got = b""
try:
    got = c.recv(65536)
    c.sendall(b"\x15\x03\x03\x00\x02\x02\x28")   # a TLS alert, as a server without the key might send
    while True:
        d = c.recv(65536)
        if not d: break
        got += d
except OSError:
    pass
open(sys.argv[2], "wb").write(got)
PY
fake=$!
bg+=($fake)
wait_file "$tmp/fake.port" || fail "the fake supervisor did not start"
rc=0; "$PHOTON_SIM" actor --connect "127.0.0.1:$(cat "$tmp/fake.port")" --key-file "$tmp/team.key" --retries 0 \
    > "$tmp/fake.txt" 2>&1 || rc=$?
wait $fake || true
[ $rc = 1 ] || { cat "$tmp/fake.txt"; fail "actor against a fake supervisor exited with $rc, expected 1"; }
grep -q "authentication with the supervisor failed.*not retrying" "$tmp/fake.txt" || { cat "$tmp/fake.txt"; fail "no refusal message"; }
grep -q "reconnecting" "$tmp/fake.txt" && fail "the actor retried a supervisor that failed to authenticate"
python3 - "$tmp/fake.bin" <<'PY' || fail "the fake supervisor got more than a ClientHello"
import sys
d = open(sys.argv[1], "rb").read()
# one handshake record (type 22) holding one ClientHello (type 1), nothing after it
ok = len(d) >= 9 and d[0] == 22 and d[5] == 1 and len(d) == 5 + int.from_bytes(d[3:5], "big")
sys.exit(0 if ok else 1)
PY
# A TLS server with a (self-signed) certificate but not the key.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=fake -days 1 \
    -keyout "$tmp/fake.pem" -out "$tmp/fake.crt" > /dev/null 2>&1 || fail "openssl req failed"
fport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# (its standard input stays open, on a FIFO: at end of input it would hang up)
mkfifo "$tmp/s_in"
openssl s_server -accept "127.0.0.1:$fport" -cert "$tmp/fake.crt" -key "$tmp/fake.pem" -tls1_3 -naccept 1 \
    < "$tmp/s_in" > "$tmp/s_server.txt" 2>&1 &
bg+=($!)
exec 4> "$tmp/s_in"
for _ in $(seq 200); do grep -q ACCEPT "$tmp/s_server.txt" && break; sleep 0.05; done
rc=0; "$PHOTON_SIM" actor --connect "127.0.0.1:$fport" --key-file "$tmp/team.key" --retries 0 > "$tmp/fake2.txt" 2>&1 || rc=$?
[ $rc = 1 ] && grep -q "authentication with the supervisor failed.*certificate verify failed" "$tmp/fake2.txt" \
    || { cat "$tmp/fake2.txt"; fail "actor against a TLS server with a certificate: exit $rc"; }
exec 4>&-

# 4: a flood of silent and half-open connections does not keep actors out.
run=$tmp/flood
"$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" --set run.out_dir="$run" --set aggregator.link=tcp \
    --set aggregator.min_actors=2 --set aggregator.connect_timeout=20 > "$tmp/flood.txt" 2>&1 &
sup=$!
bg+=($sup)
wait_file "$run/listen.addr" || fail "flood: no listen.addr"
addr=$(cat "$run/listen.addr")
python3 - "${addr##*:}" "$tmp/flood.ready" <<'PY' &
import socket, sys, time
port = int(sys.argv[1]); held = []
for i in range(32):
    s = socket.create_connection(("127.0.0.1", port))
    if i >= 24:   # the start of a ClientHello, never finished
        s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
    held.append(s)
open(sys.argv[2], "w").write("ready\n")
time.sleep(60)
PY
flood=$!
bg+=($flood)
wait_file "$tmp/flood.ready" || fail "flood: the connections were not made"
t0=$(date +%s)
for i in 0 1; do
    "$PHOTON_SIM" actor --connect "$addr" --key-file "$run/run.key" > "$tmp/flood.a$i.txt" 2>&1 &
    bg+=($!)
done
rc=0; wait $sup || rc=$?
t1=$(date +%s)
[ $rc = 0 ] || { cat "$tmp/flood.txt"; fail "flood: the run exited with $rc"; }
# the pending connections' deadline is 10 s: the actors got in before it freed anything
[ $((t1 - t0)) -lt 9 ] || { cat "$tmp/flood.txt"; fail "flood: the actors needed $((t1 - t0)) s to get in"; }
grep -q "evicted before authenticating" "$tmp/flood.txt" || { cat "$tmp/flood.txt"; fail "flood: no eviction logged"; }
kill $flood 2>/dev/null || true
echo ok
