#!/usr/bin/env bash
# Remote actors on real network paths: the supervisor and two actors each in
# a network namespace of their own, with added latency and loss.  Two ways
# to build the network, and the output says which one ran:
#   netem: veth pairs (10.77.1.0/24, 10.77.2.0/24) with tc netem delay and
#          loss on the supervisor's ends (where the kernel has sch_netem);
#   tun:   otherwise, a TUN device wan0 in each namespace (10.77.0.0/24)
#          joined by photon-wan-delay (tools/wan_delay.c), which forwards
#          every packet after both hosts' one-way latencies and drops it at
#          random with their loss rates (seeded).
# Actor 1: 5 ms one-way, 0.5% loss; actor 2: 20 ms, 1% loss.
#  1. By default the supervisor listens on loopback only: from an actor's
#     namespace its port cannot be reached.
#  2. Listening on 0.0.0.0 (asked for), the run goes over the shaped links;
#     actor 1's link is cut in the middle of round 1 and restored: its task
#     times out and is requeued to actor 2 (the only task lost), actor 1
#     notices the dead connection once the link is back, reconnects, and
#     serves tasks again (actor 2 is paused meanwhile, so the remaining work
#     waits for actor 1).  metrics.jsonl must show it: one lost task, actor
#     1's second actor_connect and then an accepted task on the slot it
#     took.  The run completes bitwise identical to the shm run.
# Needs root (ip netns); skips (77) with the reason where namespaces (or,
# without netem, TUN devices) cannot be made.
source "$(dirname "$0")/runtime_common.bash"
command -v ip > /dev/null || { echo "skip: no ip command (iproute2)"; exit 77; }
ns=ph$$
S=${ns}s A1=${ns}a A2=${ns}b
if ! ip netns add "$S" 2> "$tmp/netns.err"; then
    echo "skip: cannot create network namespaces: $(cat "$tmp/netns.err")"
    exit 77
fi
bg=()
teardown() {
    kill -CONT "${bg[@]}" 2>/dev/null || true
    kill -9 "${bg[@]}" 2>/dev/null || true
    for n in "$S" "$A1" "$A2"; do ip netns del "$n" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap teardown EXIT
ip netns add "$A1" && ip netns add "$A2" || fail "ip netns add"
for n in "$S" "$A1" "$A2"; do ip -n "$n" link set lo up; done

if ip netns exec "$S" tc qdisc add dev lo root netem delay 1ms 2>/dev/null; then
    ip netns exec "$S" tc qdisc del dev lo root
    mech=netem
    for i in 1 2; do
        a=$([ $i = 1 ] && echo "$A1" || echo "$A2")
        if ! ip link add "${ns}v$i" netns "$S" type veth peer name "${ns}w$i" netns "$a" 2> "$tmp/veth.err"; then
            echo "skip: cannot create veth pairs: $(cat "$tmp/veth.err")"
            exit 77
        fi
        ip -n "$S" addr add "10.77.$i.1/24" dev "${ns}v$i"
        ip -n "$a" addr add "10.77.$i.2/24" dev "${ns}w$i"
        ip -n "$S" link set "${ns}v$i" up
        ip -n "$a" link set "${ns}w$i" up
    done
    ip netns exec "$S" tc qdisc add dev "${ns}v1" root netem delay 5ms loss 0.5% || fail "tc netem on ${ns}v1"
    ip netns exec "$S" tc qdisc add dev "${ns}v2" root netem delay 20ms loss 1% || fail "tc netem on ${ns}v2"
    sup1=10.77.1.1 sup2=10.77.2.1 a1ip=10.77.1.2 a2ip=10.77.2.2 cut=("${ns}w1")
else
    mech=tun
    delay_bin=$(dirname "$PHOTON_SIM")/photon-wan-delay
    [ -x "$delay_bin" ] || { echo "skip: no netem in this kernel and no $delay_bin"; exit 77; }
    [ -c /dev/net/tun ] || { echo "skip: no netem in this kernel and no /dev/net/tun"; exit 77; }
    i=1
    for n in "$S" "$A1" "$A2"; do
        if ! ip -n "$n" tuntap add dev wan0 mode tun 2> "$tmp/tun.err"; then
            echo "skip: no netem in this kernel, and cannot create TUN devices: $(cat "$tmp/tun.err")"
            exit 77
        fi
        ip -n "$n" link set wan0 mtu 1500 up
        ip -n "$n" addr add "10.77.0.$i/24" dev wan0
        i=$((i + 1))
    done
    PHOTON_WAN_SEED=7 "$delay_bin" "$S=10.77.0.1=0" "$A1=10.77.0.2=5=0.5" "$A2=10.77.0.3=20=1" > "$tmp/delay.txt" 2>&1 &
    delay_pid=$!
    bg+=($delay_pid)
    for _ in $(seq 100); do grep -q ready "$tmp/delay.txt" && break; sleep 0.05; done
    grep -q ready "$tmp/delay.txt" || { cat "$tmp/delay.txt"; fail "photon-wan-delay did not start"; }
    sup1=10.77.0.1 sup2=10.77.0.1 a1ip=10.77.0.2 a2ip=10.77.0.3 cut=(wan0)
fi
case $mech in
    netem) echo "network: veth pairs shaped by tc netem (actor 1: 5 ms, 0.5% loss; actor 2: 20 ms, 1% loss)" ;;
    tun) echo "network: tc netem is not available in this kernel; TUN devices joined by photon-wan-delay" \
              "(actor 1: 5 ms one-way, 0.5% loss; actor 2: 20 ms, 1% loss)" ;;
esac
# A round trip that shows the added latency: TCP connects (SYN, SYN-ACK)
# from actor 1's host to a listener on the supervisor's; at least 2 x 5 ms.
ip netns exec "$S" python3 -c '
import socket, sys
s = socket.socket(); s.bind((sys.argv[1], 7777)); s.listen(16); print("up", flush=True)
for _ in range(5): s.accept()[0].close()' "$sup1" > "$tmp/lis.txt" 2>&1 &
bg+=($!)
for _ in $(seq 100); do grep -q up "$tmp/lis.txt" && break; sleep 0.05; done
rtt=$(ip netns exec "$A1" python3 -c '
import socket, sys, time
best = 1e9
for _ in range(5):
    t = time.monotonic(); c = socket.create_connection((sys.argv[1], 7777), timeout=5); best = min(best, time.monotonic() - t); c.close()
print("%.1f" % (best * 1e3))' "$sup1") || fail "no TCP connection from actor 1's host to the supervisor's ($sup1)"
awk -v r="$rtt" 'BEGIN { exit !(r >= 9) }' || fail "round trip $rtt ms on actor 1's link: the 5 ms latency is missing"
echo "actor 1's link: TCP connect round trip $rtt ms"

write_tiny_ini "$tmp/x.ini"
sets=(--set clients.local_steps=64 --set aggregator.requeue=true --set eval.every=0 --set checkpoint.every=0)
"$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" --set run.out_dir="$tmp/shm" > "$tmp/shm.txt" 2>&1 \
    || { cat "$tmp/shm.txt"; fail "shm run exited with $?"; }
wait_addr() { for _ in $(seq 300); do [ -s "$1" ] && return 0; sleep 0.05; done; return 1; }

# 1: the default listen address is loopback: not reachable from an actor host.
ip netns exec "$S" "$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" --set run.out_dir="$tmp/lo" --set aggregator.link=tcp \
    --set aggregator.connect_timeout=30 > "$tmp/lo.txt" 2>&1 &
sup=$!
bg+=($sup)
wait_addr "$tmp/lo/listen.addr" || { cat "$tmp/lo.txt"; fail "no listen.addr"; }
port=$(cut -d: -f2 "$tmp/lo/listen.addr")
grep -q "^127.0.0.1:" "$tmp/lo/listen.addr" || fail "default listen address: $(cat "$tmp/lo/listen.addr")"
if ip netns exec "$A1" timeout 5 bash -c "exec 3<>/dev/tcp/$sup1/$port" 2>/dev/null; then
    fail "a loopback listener was reachable from another host"
fi
kill $sup; wait $sup 2>/dev/null || true

# 2: listening on all interfaces, as asked.
run=$tmp/run
ip netns exec "$S" "$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" --set aggregator.link=tcp --set aggregator.listen=0.0.0.0:0 \
    --set aggregator.min_actors=2 --set aggregator.round_timeout=5 > "$tmp/tcp.txt" 2>&1 &
sup=$!
bg+=($sup)
wait_addr "$run/listen.addr" || { cat "$tmp/tcp.txt"; fail "no listen.addr"; }
port=$(cut -d: -f2 "$run/listen.addr")
grep -q "listening for remote actors on 0.0.0.0:$port (reachable from other hosts" "$tmp/tcp.txt" \
    || { cat "$tmp/tcp.txt"; fail "no log line saying the port is reachable from other hosts"; }
ip netns exec "$A1" "$PHOTON_SIM" actor --connect "$sup1:$port" --key-file "$run/run.key" > "$tmp/a1.txt" 2>&1 &
a1=$!
ip netns exec "$A2" "$PHOTON_SIM" actor --connect "$sup2:$port" --key-file "$run/run.key" > "$tmp/a2.txt" 2>&1 &
a2=$!
bg+=($a1 $a2)
# Round 1 begins once both actors are connected (min_actors): each gets a task.
for _ in $(seq 200); do [ "$(grep -c "remote actor 10.77" "$tmp/tcp.txt")" -ge 2 ] && break; sleep 0.02; done
ip -n "$A1" link set "${cut[@]}" down
for _ in $(seq 200); do grep -q "remote $a1ip:[0-9]*) lost: timed out" "$tmp/tcp.txt" && break; sleep 0.05; done
grep -q "remote $a1ip:[0-9]*) lost: timed out" "$tmp/tcp.txt" || { cat "$tmp/tcp.txt"; fail "the cut actor's task did not time out"; }
# Pause actor 2 (at most 2.5 s, well under round_timeout, so its task
# stays alive): the rest waits for actor 1.
kill -STOP "$a2"
ip -n "$A1" link set "${cut[@]}" up
[ $mech = tun ] && ip -n "$A1" addr replace 10.77.0.2/24 dev wan0
t_end=$(( $(date +%s%N) + 2500000000 ))
while [ "$(grep -c "remote actor $a1ip" "$tmp/tcp.txt")" -lt 2 ] && [ "$(date +%s%N)" -lt $t_end ]; do sleep 0.05; done
kill -CONT "$a2"
rc=0; wait $sup || rc=$?
[ $rc = 0 ] || { cat "$tmp/tcp.txt" "$tmp/a1.txt"; fail "the run exited with $rc"; }
for p in $a1 $a2; do rc=0; wait $p || rc=$?; [ $rc = 0 ] || { cat "$tmp/a1.txt" "$tmp/a2.txt"; fail "an actor exited with $rc"; }; done
cat "$tmp/tcp.txt" "$tmp/a1.txt"
m=$run/metrics.jsonl
[ "$(grep -c '"verdict":"lost"' "$m")" = 1 ] || fail "not exactly one task lost: $(grep '"lost"' "$m")"
grep -q "reconnecting in" "$tmp/a1.txt" || fail "actor 1 did not reconnect"
grep -q "stopped by the supervisor after [1-9][0-9]* task" "$tmp/a1.txt" || fail "actor 1 served no task after reconnecting"
# In metrics.jsonl: actor 1 connected twice, and after its second
# connection the slot it took has an accepted task.
python3 - "$m" "$a1ip" <<'PY' || fail "metrics.jsonl does not show the reconnected actor taking part again"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
conn = [i for i, e in enumerate(ev) if e["event"] == "actor_connect" and e["remote"].startswith(sys.argv[2] + ":")]
if len(conn) != 2:
    sys.exit(f"actor 1 ({sys.argv[2]}) connected {len(conn)} times, expected 2")
i = conn[1]
slot = ev[i]["actor"]
done = [e for e in ev[i:] if e["event"] == "task" and e["actor"] == slot and e["verdict"] == "accepted"]
if not done:
    sys.exit(f"no accepted task on slot {slot} after actor 1 reconnected (round {ev[i]['round']})")
print(f"metrics: actor 1 reconnected in round {ev[i]['round']} as slot {slot}; then {len(done)} accepted task(s)")
PY
h_shm=$(grep -o '"model_hash":"[0-9a-f]*"' "$tmp/shm/summary.json")
h_tcp=$(grep -o '"model_hash":"[0-9a-f]*"' "$run/summary.json")
[ -n "$h_shm" ] && [ "$h_shm" = "$h_tcp" ] || fail "tcp model $h_tcp differs from the shm model $h_shm"
if [ $mech = tun ]; then
    kill $delay_pid; wait $delay_pid 2>/dev/null || true
    grep "packets forwarded" "$tmp/delay.txt" || fail "photon-wan-delay printed no packet counts"
    grep -q "packets forwarded, [1-9][0-9]* lost at random" "$tmp/delay.txt" || fail "no packet was lost at random"
fi
echo "ok (network: $mech; latency and loss added)"
