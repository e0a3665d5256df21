#!/usr/bin/env bash
# tools/wan.sh: ground truth for the network model (docs/NETWORK.md).
#
# Runs an experiment for real across emulated hosts on this machine and
# compares the measured times with the model's:
#   * federated: the supervisor and one remote actor per client (`photon-sim
#     actor --connect HOST:PORT --key-file FILE`, link = tcp), each in its own
#     network namespace, each client's link shaped to its [network] values
#     (htb rate on its TUN device and on an ifb for what it receives;
#     latency added by photon-wan-delay, which forwards every packet between
#     the namespaces after both ends' one-way latencies), the aggregator's
#     link shaped to server_bandwidth_mbps with one htb class per client (so
#     its flows share it fairly), each actor throttled to its compute_scale
#     (< 1) by a cgroup CPU quota of that fraction of one CPU (threads = 1).
#     Measured: the supervisor's round times (`seconds`); model: the same
#     run's `sim_seconds`, from the tasks' measured compute (the throttle is
#     physical, so the run's own compute_scale is set to 1).
#   * per-step all-reduce: photon-ring-bench ranks in the clients'
#     namespaces run steps of (the slowest client's measured per-step
#     compute, slept) + a ring all-reduce of the model's bytes over TCP;
#     model: `photon-sim plan --json`'s all-reduce step over the same links.
# Round 1 is a warm-up (TCP slow start on fresh connections) and is not
# timed; the namespaces set tcp_slow_start_after_idle = 0, as long-lived
# training connections would.
#
# usage: tools/wan.sh [--build DIR] [--grid BW,BW,...:LAT,LAT,...] [--mode federated|allreduce|both]
#                     [--ring-steps N] [--json FILE] [--max-error PCT] [--out DIR]
#                     EXPERIMENT.ini [--set section.key=value ...]
#   --grid     one run per (bandwidth_mbps, latency_ms) point, every client alike
#              (default: the experiment's own [network])
#   --json     also write one JSON object per measurement to FILE
#   --max-error  exit 1 if any |model - measured| / measured exceeds PCT percent
#   --out      where the runs go (default: a temporary directory, removed)
# Needs root (network namespaces, tc, TUN, ifb, cgroups); exit status 77 when
# this machine does not allow them, 2 for usage errors, 1 for failures.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
build=$src/build
grid= mode=both ring_steps=8 ring_warmup=3 json= max_error= out= cc=cubic
exp= sets=()
usage() { echo "usage: tools/wan.sh [--build DIR] [--grid BWS:LATS] [--mode federated|allreduce|both] [--ring-steps N] [--json FILE] [--max-error PCT] [--out DIR] EXPERIMENT.ini [--set section.key=value ...]" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case $1 in
        --build) build=$2; shift 2 ;;
        --grid) grid=$2; shift 2 ;;
        --mode) mode=$2; shift 2 ;;
        --ring-steps) ring_steps=$2; shift 2 ;;
        --ring-warmup) ring_warmup=$2; shift 2 ;;
        --json) json=$2; shift 2 ;;
        --max-error) max_error=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --cc) cc=$2; shift 2 ;;
        --set) sets+=(--set "$2"); shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) echo "wan.sh: unknown option $1" >&2; usage ;;
        *) [ -z "$exp" ] || usage; exp=$1; shift ;;
    esac
done
[ -n "$exp" ] || usage
case $mode in federated|allreduce|both) ;; *) usage ;; esac
sim=$build/photon-sim delay=$build/photon-wan-delay ring=$build/photon-ring-bench
for b in "$sim" "$delay" "$ring"; do [ -x "$b" ] || { echo "wan.sh: $b not built (cmake --build $build)" >&2; exit 1; }; done

skip() { echo "wan.sh: cannot emulate the WAN here: $*" >&2; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, tc, cgroups)"
command -v ip > /dev/null && command -v tc > /dev/null || skip "ip and tc (iproute2) are not installed"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"

tag=pw$$
# The emulated network (photon-wan-delay) and the all-reduce ranks, which
# mostly wait, run at real-time priority when allowed, so that other work on
# this machine does not count as network time.  (Actors, which compute, do not.)
rt=()
chrt -f 10 true 2> /dev/null && rt=(chrt -f 10)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/photon-wan.XXXXXX")
[ -n "$out" ] || out=$tmp/runs
mkdir -p "$out"
pids=() nss=() cgs=()
teardown() {
    local p
    for p in "${pids[@]}"; do kill -9 "$p" 2> /dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2> /dev/null || true; done
    pids=()
    for p in "${nss[@]}"; do ip netns del "$p" 2> /dev/null || true; done
    nss=()
    for p in "${cgs[@]}"; do rmdir "$p" 2> /dev/null || true; done
    cgs=()
}
trap 'teardown; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# The experiment's clients: one line each, "id bandwidth_mbps latency_ms compute_scale".
"$sim" plan "$exp" "${sets[@]}" --clients > "$tmp/clients.txt" || exit 2
k=$(($(wc -l < "$tmp/clients.txt") - 1))
"$sim" plan "$exp" "${sets[@]}" --json | grep -q '"mode": "federated"' \
    || { echo "wan.sh: the experiment must be federated ([run] mode)" >&2; exit 2; }
[ "$k" -ge 2 ] && [ "$k" -le 60 ] || { echo "wan.sh: needs 2 to 60 clients ([clients] count = $k)" >&2; exit 2; }

ns() { echo "${tag}h$1"; }           # host 0: the aggregator; host i+1: client i
ipof() { echo "10.77.0.$(($1 + 1))"; }
inns() { local n=$1; shift; ip netns exec "$(ns "$n")" "$@"; }

# htb on DEV in host n: one class at RATE Mbit/s, or, with CLIENT_MATCH
# ("dst" / "src"), a parent at RATE with one fair-share class per client.
shape() {
    local n=$1 dev=$2 rate=$3 match=${4:-}
    # a token bucket of 1 ms of the rate (at least two packets): a link that
    # was idle does not send its first bytes faster than its rate
    local burst
    burst=$(awk -v r="$rate" 'BEGIN { b = r * 1e6 / 8 / 1000; printf "%d", b < 3000 ? 3000 : b }')
    inns "$n" tc qdisc add dev "$dev" root handle 1: htb default 1 r2q 100
    inns "$n" tc class add dev "$dev" parent 1: classid 1:1 htb rate "${rate}mbit" ceil "${rate}mbit" quantum 30000 \
        burst "$burst" cburst "$burst"
    if [ -z "$match" ]; then
        inns "$n" tc qdisc add dev "$dev" parent 1:1 handle 10: pfifo limit 2000
        return
    fi
    local i share
    share=$(awk -v r="$rate" -v k="$k" 'BEGIN { printf "%.6f", r / k }')
    for ((i = 0; i < k; i++)); do
        inns "$n" tc class add dev "$dev" parent 1:1 classid "1:$((i + 10))" htb rate "${share}mbit" ceil "${rate}mbit" \
            quantum 30000 burst "$burst" cburst "$burst"
        inns "$n" tc qdisc add dev "$dev" parent "1:$((i + 10))" pfifo limit 2000
        inns "$n" tc filter add dev "$dev" parent 1: protocol ip prio 1 u32 match ip "$match" "$(ipof $((i + 1)))/32" \
            flowid "1:$((i + 10))"
    done
}

# Hosts 0..k with TUN links through photon-wan-delay, shaped to the clients'
# values (arrays bw, lat, scale) and the server's rate.
net_up() {
    local n spec=()
    for ((n = 0; n <= k; n++)); do
        ip netns add "$(ns $n)" || skip "cannot create network namespaces"
        nss+=("$(ns $n)")
        inns $n ip link set lo up
        inns $n ip tuntap add dev wan0 mode tun || skip "cannot create TUN devices in a namespace"
        inns $n ip link set wan0 mtu 1500 up
        inns $n ip addr add "$(ipof $n)/24" dev wan0
        inns $n sysctl -qw net.ipv4.tcp_slow_start_after_idle=0 "net.ipv4.tcp_rmem=4096 131072 33554432" \
            "net.ipv4.tcp_wmem=4096 16384 33554432"
        # the congestion control of the emulated links' route (a per-route
        # setting: the namespace-wide default may be restricted)
        inns $n ip route replace 10.77.0.0/24 dev wan0 proto kernel scope link src "$(ipof $n)" congctl "$cc" \
            || skip "cannot use TCP congestion control '$cc'"
        inns $n ip link add ifb0 type ifb || skip "no ifb devices (CONFIG_IFB)"
        inns $n ip link set ifb0 up
        inns $n tc qdisc add dev wan0 handle ffff: ingress || skip "no ingress qdisc"
        inns $n tc filter add dev wan0 parent ffff: protocol ip u32 match u32 0 0 action mirred egress redirect dev ifb0 \
            || skip "no u32 filter / mirred action"
        if [ $n = 0 ]; then
            spec+=("$(ns 0)=$(ipof 0)=0")
            if [ "$server_bw" != 0 ]; then
                shape 0 wan0 "$server_bw" dst || skip "no htb qdisc"
                shape 0 ifb0 "$server_bw" src
            fi
        else
            spec+=("$(ns $n)=$(ipof $n)=${lat[$((n - 1))]}")
            shape $n wan0 "${bw[$((n - 1))]}" || skip "no htb qdisc"
            shape $n ifb0 "${bw[$((n - 1))]}"
        fi
    done
    "${rt[@]}" "$delay" "${spec[@]}" > "$tmp/delay.txt" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do grep -q ready "$tmp/delay.txt" && return; sleep 0.05; done
    cat "$tmp/delay.txt" >&2
    echo "wan.sh: photon-wan-delay did not start" >&2
    exit 1
}

# A cgroup (v1 cpu or v2) holding pid to scale of one CPU; prints nothing.
throttle() {
    local pid=$1 scale=$2 g
    awk -v s="$scale" 'BEGIN { exit !(s < 1) }' || return 0
    local quota
    quota=$(awk -v s="$scale" 'BEGIN { printf "%d", s * 100000 }')
    if [ -d /sys/fs/cgroup/cpu ] && [ -w /sys/fs/cgroup/cpu ]; then
        g=/sys/fs/cgroup/cpu/photon-$tag-$pid
        mkdir "$g" && cgs+=("$g")
        echo 100000 > "$g/cpu.cfs_period_us"
        echo "$quota" > "$g/cpu.cfs_quota_us"
        echo "$pid" > "$g/cgroup.procs"
    elif [ -w /sys/fs/cgroup/cgroup.subtree_control ]; then
        g=/sys/fs/cgroup/photon-$tag-$pid
        mkdir "$g" && cgs+=("$g")
        echo "$quota 100000" > "$g/cpu.max"
        echo "$pid" > "$g/cgroup.procs"
    else
        echo "wan.sh: warning: no writable cgroup cpu controller: client compute is not throttled" >&2
    fi
}

# Relative error of the model against the measurement, in percent.
err_pct() { awk -v m="$1" -v r="$2" 'BEGIN { printf "%+.1f", 100 * (m - r) / r }'; }

results=()
record() {   # mode bw lat measured model
    local e
    e=$(err_pct "$5" "$4")
    results+=("$(printf '| %-10s | %9s | %7s | %9.3f | %9.3f | %6s%% |' "$1" "$2" "$3" "$4" "$5" "$e")")
    [ -z "$json" ] || printf '{"mode": "%s", "bandwidth_mbps": "%s", "latency_ms": "%s", "measured_seconds": %s, "model_seconds": %s, "error_pct": %s}\n' \
        "$1" "$2" "$3" "$4" "$5" "$e" >> "$json"
    if [ -n "$max_error" ] && awk -v e="$e" -v m="$max_error" 'BEGIN { exit !(e > m || -e > m) }'; then
        bad+=("$1 $2 Mbit/s $3 ms: $e%")
    fi
}

# One measurement point: the runs over links set up from the extra --set arguments.
point() {
    local name=$1; shift
    local pset=("${sets[@]}" "$@")
    "$sim" plan "$exp" "${pset[@]}" --clients > "$tmp/clients.txt"
    "$sim" plan "$exp" "${pset[@]}" --json > "$tmp/plan.json"
    mapfile -t bw < <(awk 'NR > 1 { print $2 }' "$tmp/clients.txt")
    mapfile -t lat < <(awk 'NR > 1 { print $3 }' "$tmp/clients.txt")
    mapfile -t scale < <(awk 'NR > 1 { print $4 }' "$tmp/clients.txt")
    server_bw=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["server_bandwidth_mbps"])' "$tmp/plan.json")
    local label_bw label_lat
    # one value when every client has it, else the clients' values in order
    label_bw=$(printf '%s\n' "${bw[@]}" | awk '{ v[NR] = $1 } END { for (i = 2; i <= NR; i++) if (v[i] != v[1]) d = 1;
        if (!d) print v[1]; else { s = v[1]; for (i = 2; i <= NR; i++) s = s "," v[i]; print s } }')
    label_lat=$(printf '%s\n' "${lat[@]}" | awk '{ v[NR] = $1 } END { for (i = 2; i <= NR; i++) if (v[i] != v[1]) d = 1;
        if (!d) print v[1]; else { s = v[1]; for (i = 2; i <= NR; i++) s = s "," v[i]; print s } }')
    net_up
    local run=$out/$name step_compute= local_steps
    local_steps=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["local_steps"])' "$tmp/plan.json")
    # The federated run (always: its measured compute is also the all-reduce's).
    {
        head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$tmp/key"
        chmod 600 "$tmp/key"
        local port=7777
        inns 0 "$sim" "$exp" "${pset[@]}" --set run.out_dir="$run" --set aggregator.link=tcp \
            --set aggregator.listen="$(ipof 0):$port" --set aggregator.key_file="$tmp/key" \
            --set clients.actors="$k" --set clients.per_round=0 --set aggregator.min_actors="$k" \
            --set clients.optimizer_state=reset --set network.compute_scale=1 --set run.threads=1 \
            --set checkpoint.every=0 --set data.prepared_dir="$out/data" > "$tmp/sup.txt" 2>&1 &
        local sup=$!
        pids+=($sup)
        for _ in $(seq 600); do [ -s "$run/listen.addr" ] && break; kill -0 $sup 2> /dev/null || break; sleep 0.1; done
        [ -s "$run/listen.addr" ] || { cat "$tmp/sup.txt" >&2; echo "wan.sh: the supervisor did not start" >&2; exit 1; }
        # one actor at a time, so actor slot i (and with it client i, all clients
        # running every round) is the one on host i + 1
        local i
        for ((i = 0; i < k; i++)); do
            inns $((i + 1)) "$sim" actor --connect "$(ipof 0):$port" --key-file "$tmp/key" --threads 1 \
                > "$tmp/actor$i.txt" 2>&1 &
            pids+=($!)
            throttle $! "${scale[$i]}"
            for _ in $(seq 300); do grep -q "actor $i: remote actor" "$tmp/sup.txt" && break; sleep 0.05; done
        done
        wait $sup || { cat "$tmp/sup.txt" >&2; echo "wan.sh: the federated run failed" >&2; exit 1; }
        # rounds 2.. (round 1 warms the connections up): measured and simulated
        # seconds, and the slowest client's mean compute per local step
        read -r measured model step_compute < <(python3 - "$run" "$local_steps" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
rounds = [e for e in ev if e["event"] == "round" and e["round"] > 1]
per = {}
for t in ev:
    if t["event"] == "task" and t["round"] > 1 and "seconds" in t:
        per.setdefault(t["client"], []).append(t["seconds"])
step = max(sum(v) / len(v) for v in per.values()) / int(sys.argv[2])
print(sum(e["seconds"] for e in rounds), sum(e["sim_seconds"] for e in rounds), step)
PY
)
        [ "$mode" = allreduce ] || record federated "$label_bw" "$label_lat" "$measured" "$model"
    }
    if [ "$mode" != federated ]; then
        local hosts= bytes comm
        for ((i = 0; i < k; i++)); do hosts+="${hosts:+,}$(ipof $((i + 1))):$((7100 + i))"; done
        read -r bytes comm < <(python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); print(int(p["download_bytes"]), p["allreduce_step_comm_seconds"])' "$tmp/plan.json")
        for ((i = k - 1; i >= 0; i--)); do
            inns $((i + 1)) "${rt[@]}" "$ring" --rank $i --hosts "$hosts" --bytes "$bytes" --steps "$ring_steps" \
                --compute "$step_compute" --warmup "$ring_warmup" > "$tmp/ring$i.txt" 2>&1 &
            pids+=($!)
            [ $i = 0 ] && ring0=$!
        done
        wait "$ring0" || { cat "$tmp"/ring*.txt >&2; echo "wan.sh: the ring all-reduce failed" >&2; exit 1; }
        measured=$(python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).read()); assert r["ok"]; print(r["seconds"])' "$tmp/ring0.txt")
        model=$(awk -v s="$ring_steps" -v c="$step_compute" -v m="$comm" 'BEGIN { printf "%.6f", s * (c + m) }')
        record allreduce "$label_bw" "$label_lat" "$measured" "$model"
    fi
    teardown
}

bad=()
[ -z "$json" ] || : > "$json"
if [ -z "$grid" ]; then
    point own
else
    IFS=: read -r bws lats <<< "$grid"
    for b in ${bws//,/ }; do
        for l in ${lats//,/ }; do
            point "bw$b-lat$l" --set network.bandwidth_mbps="$b" --set network.latency_ms="$l"
        done
    done
fi
echo "| mode       | Mbit/s    | ms      | measured  | model     | error   |"
echo "|------------|-----------|---------|-----------|-----------|---------|"
printf '%s\n' "${results[@]}"
if [ ${#bad[@]} -gt 0 ]; then
    printf 'wan.sh: model off by more than %s%%: %s\n' "$max_error" "${bad[*]}" >&2
    exit 1
fi
