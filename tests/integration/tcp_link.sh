#!/usr/bin/env bash
# link = tcp (docs/RUNTIME.md, "Remote actors"): a tiny run whose actors
# connect over 127.0.0.1 ends bitwise identical to the same run over shared
# memory (summary.json model_hash), with kept optimizer state travelling on
# the stream too.  On the way: an actor with the wrong key is rejected with
# a log line; garbage, a TLS client without the key, and a peer that holds
# the key (openssl s_client with the pre-shared key derived here, in Python,
# independently of photon-sim) but sends malformed or unexpected frames are
# all dropped without harm; nothing is left behind (listen.addr removed,
# actors exited, run.key mode 0600).
source "$(dirname "$0")/runtime_common.bash"
command -v openssl > /dev/null || { echo "skip: no openssl command (Debian package openssl)"; exit 77; }
write_tiny_ini "$tmp/x.ini"
sets=(--set clients.optimizer_state=keep)

"$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" --set run.out_dir="$tmp/shm" > "$tmp/shm.txt" 2>&1 \
    || { cat "$tmp/shm.txt"; fail "shm run exited with $?"; }

run=$tmp/run
# min_actors must not exceed the actors the run has
rc=0; "$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" --set aggregator.link=tcp --set aggregator.min_actors=3 \
    > "$tmp/min.txt" 2>&1 || rc=$?
[ $rc = 2 ] && grep -q "min_actors = 3 is more than \[clients\] actors = 2" "$tmp/min.txt" \
    || { cat "$tmp/min.txt"; fail "min_actors above clients.actors: exit $rc"; }
# min_actors = 2: round 1 waits for both actors, so neither can find the run already over
"$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" --set aggregator.link=tcp --set aggregator.min_actors=2 > "$tmp/tcp.txt" 2>&1 &
sup=$!
pids=()
stop_all() { kill -9 "$sup" "${pids[@]}" 2>/dev/null || true; rm -rf "$tmp"; }
trap stop_all EXIT
for _ in $(seq 300); do [ -s "$run/listen.addr" ] && break; kill -0 $sup 2>/dev/null || break; sleep 0.1; done
[ -s "$run/listen.addr" ] || { cat "$tmp/tcp.txt"; fail "no $run/listen.addr"; }
addr=$(cat "$run/listen.addr")
port=${addr##*:}
[ "${addr%:*}" = 127.0.0.1 ] || fail "default listen address is not loopback: $addr"
[ "$(stat -c %a "$run/run.key")" = 600 ] || fail "run.key mode is $(stat -c %a "$run/run.key"), expected 600"
grep -q "listening for remote actors on $addr" "$tmp/tcp.txt" || fail "no log line with the bound address"

# Garbage and a TLS client without the key, before any handshake.
python3 - "$port" <<'PY' || fail "could not send garbage"
import socket, ssl, struct, sys, time
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port)); s.sendall(b"GET / HTTP/1.0\r\n\r\n" + bytes(range(256)) * 4); time.sleep(0.1); s.close()
s = socket.create_connection(("127.0.0.1", port)); s.sendall(struct.pack("<IHHI", 0x4d534850, 1, 9, 0xffffffff)); time.sleep(0.1); s.close()
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
try:
    ctx.wrap_socket(socket.create_connection(("127.0.0.1", port))).close()
    sys.exit("a TLS client without the key completed a handshake")
except ssl.SSLError:
    pass
PY
kill -0 $sup 2>/dev/null || { cat "$tmp/tcp.txt"; fail "the supervisor died of garbage"; }

# Peers that hold the key but break the protocol after the handshake.  The
# pre-shared key and identity, derived as docs/RUNTIME.md says (HKDF-SHA256;
# the protocol version from proto/protocol.h and io/proc.h).
read -r psk ident < <(python3 - "$run/run.key" "$PHOTON_SOURCE_DIR" <<'PY'
import hashlib, hmac, re, sys
key = open(sys.argv[1], "rb").read().rstrip()
src = sys.argv[2]
proc = int(re.search(r"#define PROC_VERSION (\d+)", open(src + "/io/proc.h").read()).group(1))
tcp = int(re.search(r"#define TCP_PROTOCOL_VERSION \(\(uint32_t\)PROC_VERSION << 16 \| (\d+)u\)",
                    open(src + "/proto/protocol.h").read()).group(1))
prk = hmac.new(b"photon-sim run key", key, hashlib.sha256).digest()
hk = lambda info, n: hmac.new(prk, info + b"\x01", hashlib.sha256).digest()[:n]
print(hk(b"photon-sim tls13 psk", 32).hex(), f"photon-sim_v{proc << 16 | tcp:08x}_" + hk(b"photon-sim key id", 8).hex())
PY
)
ident=${ident//_/ }
hostile() {   # hostile PYTHON-EXPR-OF-BYTES: sends them after the handshake
    # (-quiet implies -ign_eof: s_client stays until the supervisor hangs up)
    python3 -c "import struct, sys; F=lambda t, p: struct.pack('<IHHI', 0x4d534850, 1, t, len(p)) + p
sys.stdout.buffer.write($1)" \
        | timeout 10 openssl s_client -connect "$addr" -tls1_3 -psk "$psk" -psk_identity "$ident" -nocommands -quiet \
        > "$tmp/hostile.out" 2> /dev/null || true
    [ "$(stat -c %s "$tmp/hostile.out")" -gt 1000 ] || fail "the key holder got no setup message: $1"
}
hostile "struct.pack('<IHHI', 0x12345678, 1, 1, 0)"                 # bad magic
hostile "struct.pack('<IHHI', 0x4d534850, 7, 1, 0)"                 # another frame version
hostile "struct.pack('<IHHI', 0x4d534850, 1, 7, 0xffffffff)"        # a length over the limit
hostile "F(99, b'abcd')"                                            # an unknown message type
hostile "F(3, bytes(200))"                                          # a result with no task
hostile "F(7, struct.pack('<IiQQQQII', 1, 0, 1, 4, 0, 0, 0, 0) + bytes(4))" # a blob with no task (link_blob_hdr + 4 bytes)
hostile "F(1, bytes(8)) + F(1, bytes(8))"                           # hello twice
kill -0 $sup 2>/dev/null || { cat "$tmp/tcp.txt"; fail "the supervisor died of a hostile key holder"; }

# The wrong key is refused, and that actor exits non-zero.
printf '%064d\n' 0 > "$tmp/wrong.key"
rc=0; "$PHOTON_SIM" actor --connect "$addr" --key-file "$tmp/wrong.key" > "$tmp/wrong.txt" 2>&1 || rc=$?
[ $rc != 0 ] || fail "an actor with the wrong key exited 0"
grep -q "rejected actor connection from 127.0.0.1:[0-9]*: wrong key" "$tmp/tcp.txt" || { cat "$tmp/tcp.txt"; fail "no rejection line for the wrong key"; }

# The right ones serve the run.
for i in 0 1; do
    "$PHOTON_SIM" actor --connect "$addr" --key-file "$run/run.key" > "$tmp/actor$i.txt" 2>&1 &
    pids+=($!)
done
rc=0; wait $sup || rc=$?
[ $rc = 0 ] || { cat "$tmp/tcp.txt"; fail "tcp run exited with $rc"; }
for i in 0 1; do
    rc=0; wait "${pids[$i]}" || rc=$?
    [ $rc = 0 ] || { cat "$tmp/actor$i.txt"; fail "actor $i exited with $rc"; }
done
pids=()
cat "$tmp/tcp.txt"
grep -q "waiting for 2 remote actors before the first round" "$tmp/tcp.txt" || fail "no wait for min_actors"
for what in "rejected actor connection from 127.0.0.1:[0-9]*: .*TLS: " "magic 0x12345678" "protocol version 7" \
    "length 4294967295 over the limit" "protocol violation: unknown message type 99" \
    "protocol violation: unexpected result message" "lost: bad blob: unexpected blob" "protocol violation: a second hello"; do
    grep -q "$what" "$tmp/tcp.txt" || fail "no log line for: $what"
done
h_shm=$(grep -o '"model_hash":"[0-9a-f]*"' "$tmp/shm/summary.json")
h_tcp=$(grep -o '"model_hash":"[0-9a-f]*"' "$run/summary.json")
[ -n "$h_shm" ] && [ "$h_shm" = "$h_tcp" ] || fail "tcp model $h_tcp differs from shm model $h_shm"
grep -q '"status":"completed"' "$run/summary.json" || fail "status: $(cat "$run/summary.json")"
[ ! -e "$run/listen.addr" ] || fail "listen.addr left behind"
no_leftovers $sup

# A remote actor that dies mid-task is a lost connection: its task is lost,
# the round goes on with the others (min_clients), the run completes.  This
# run uses a key file of its own and the actors' overrides.
rm -rf "$run"
printf 'a shared secret of the team\n' > "$tmp/my.key"
"$PHOTON_SIM" "$tmp/x.ini" --set aggregator.link=tcp --set faults.kill_round=2 --set faults.kill_client=1 \
    --set aggregator.key_file="$tmp/my.key" > "$tmp/kill.txt" 2>&1 &
sup=$!
for _ in $(seq 300); do [ -s "$run/listen.addr" ] && break; kill -0 $sup 2>/dev/null || break; sleep 0.1; done
addr=$(cat "$run/listen.addr") || fail "no listen.addr in the fault run"
for i in 0 1; do
    "$PHOTON_SIM" actor --connect "$addr" --key-file "$tmp/my.key" --threads 1 --backend cpu --data-dir "$tmp/data" \
        > "$tmp/kactor$i.txt" 2>&1 &
    pids+=($!)
done
rc=0; wait $sup || rc=$?
[ $rc = 0 ] || { cat "$tmp/kill.txt"; fail "fault run exited with $rc"; }
for p in "${pids[@]}"; do { wait "$p"; } 2>/dev/null || true; done
pids=()
grep -q "(remote 127.0.0.1:[0-9]*) lost:" "$tmp/kill.txt" || { cat "$tmp/kill.txt"; fail "no log line for the lost remote actor"; }
grep -q '"failed":1' "$run/metrics.jsonl" || fail "no round with the lost task"
grep -q '"status":"completed"' "$run/summary.json" || fail "fault run status: $(cat "$run/summary.json")"
[ ! -e "$run/run.key" ] || fail "run.key generated although key_file is set"
no_leftovers $sup

# No actor ever connects: the run fails after connect_timeout, cleanly.
rm -rf "$run"
rc=0; "$PHOTON_SIM" "$tmp/x.ini" --set aggregator.link=tcp --set aggregator.connect_timeout=1 \
    > "$tmp/lonely.txt" 2>&1 || rc=$?
[ $rc = 1 ] || { cat "$tmp/lonely.txt"; fail "a run with no actors exited with $rc, expected 1"; }
grep -q "no remote actor connected for 1s" "$tmp/lonely.txt" || { cat "$tmp/lonely.txt"; fail "no connect_timeout message"; }
grep -q '"status":"failed"' "$run/summary.json" || fail "lonely run status: $(cat "$run/summary.json")"
[ ! -e "$run/listen.addr" ] || fail "listen.addr left behind by the failed run"
echo ok
