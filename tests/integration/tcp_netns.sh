#!/usr/bin/env bash
# Remote actors on real network paths: the supervisor and two actors each in
# a network namespace of their own, joined by veth pairs (10.77.1.0/24 and
# 10.77.2.0/24), with latency and loss from tc netem where the kernel has it.
#  1. By default the supervisor listens on loopback only: from an actor's
#     namespace its port cannot be reached.
#  2. Listening on 0.0.0.0 (asked for), the run goes over the veths; actor
#     1's link is cut in the middle of round 1 and restored: its task times
#     out and is requeued to actor 2 (the only task lost), actor 1 notices
#     the dead connection once the link is back, reconnects, and serves tasks
#     again (actor 2 is paused meanwhile, so the remaining work waits for
#     actor 1); the run completes bitwise identical to the shm run.
# Needs root (ip netns); skips (77) where namespaces cannot be made.
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
    ip -n "$a" link set lo up
done
ip -n "$S" link set lo up
netem=no
if ip netns exec "$S" tc qdisc add dev "${ns}v1" root netem delay 5ms loss 0.5% 2>/dev/null; then
    ip netns exec "$S" tc qdisc add dev "${ns}v2" root netem delay 20ms 5ms loss 1%
    netem=yes
else
    echo "note: tc netem is not available in this kernel: no added latency or loss"
fi

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
if ip netns exec "$A1" timeout 5 bash -c "exec 3<>/dev/tcp/10.77.1.1/$port" 2>/dev/null; then
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
ip netns exec "$A1" "$PHOTON_SIM" actor --connect "10.77.1.1:$port" --key-file "$run/run.key" > "$tmp/a1.txt" 2>&1 &
a1=$!
ip netns exec "$A2" "$PHOTON_SIM" actor --connect "10.77.2.1:$port" --key-file "$run/run.key" > "$tmp/a2.txt" 2>&1 &
a2=$!
bg+=($a1 $a2)
# Round 1 begins once both actors are connected (min_actors): each gets a task.
for _ in $(seq 200); do [ "$(grep -c "remote actor 10.77" "$tmp/tcp.txt")" -ge 2 ] && break; sleep 0.02; done
ip -n "$A1" link set "${ns}w1" down
for _ in $(seq 200); do grep -q "remote 10.77.1.2:[0-9]*) lost: timed out" "$tmp/tcp.txt" && break; sleep 0.05; done
grep -q "remote 10.77.1.2:[0-9]*) lost: timed out" "$tmp/tcp.txt" || { cat "$tmp/tcp.txt"; fail "the cut actor's task did not time out"; }
# Pause actor 2 (at most 2.5 s, well under round_timeout, so its task
# stays alive): the rest waits for actor 1.
kill -STOP "$a2"
ip -n "$A1" link set "${ns}w1" up
t_end=$(( $(date +%s%N) + 2500000000 ))
while [ "$(grep -c "remote actor 10.77.1.2" "$tmp/tcp.txt")" -lt 2 ] && [ "$(date +%s%N)" -lt $t_end ]; do sleep 0.05; done
kill -CONT "$a2"
rc=0; wait $sup || rc=$?
[ $rc = 0 ] || { cat "$tmp/tcp.txt" "$tmp/a1.txt"; fail "the run exited with $rc"; }
for p in $a1 $a2; do rc=0; wait $p || rc=$?; [ $rc = 0 ] || { cat "$tmp/a1.txt" "$tmp/a2.txt"; fail "an actor exited with $rc"; }; done
cat "$tmp/tcp.txt" "$tmp/a1.txt"
[ "$(grep -c '"verdict":"lost"' "$run/metrics.jsonl")" = 1 ] || fail "not exactly one task lost: $(grep '"lost"' "$run/metrics.jsonl")"
grep -q "reconnecting in" "$tmp/a1.txt" || fail "actor 1 did not reconnect"
grep -q "stopped by the supervisor after [1-9][0-9]* task" "$tmp/a1.txt" || fail "actor 1 served no task after reconnecting"
h_shm=$(grep -o '"model_hash":"[0-9a-f]*"' "$tmp/shm/summary.json")
h_tcp=$(grep -o '"model_hash":"[0-9a-f]*"' "$run/summary.json")
[ -n "$h_shm" ] && [ "$h_shm" = "$h_tcp" ] || fail "tcp model $h_tcp differs from the shm model $h_shm"
echo "ok (netem: $netem)"
