#!/usr/bin/env bash
# [network] (docs/NETWORK.md): the simulated clock in a real run.
# * Without [network] no event has a sim_ field; with it (measured compute,
#   no round_timeout) the model is bitwise the same, every round event has
#   the sim_ fields, sim_seconds >= each client's bytes over its link plus
#   its latencies, the totals add up, and summary.json has them.
# * compute = model with a round_timeout and a straggler: the straggler is
#   "late" in every round and never aggregated; the run is the same for 1
#   and 2 actors, and a run killed and resumed ends identical, sim clock
#   included; the same with streaming fragments and overlap (timed phase by
#   phase, each client's timeline checkpointed), faster than without overlap.
# * compute = measured with a round_timeout: a client 1000x slower than
#   measured misses every round.
# * plan: the 7B preset with 64 clients, as text and JSON, in well under a second.
source "$(dirname "$0")/runtime_common.bash"
trap 'rc=$?; if [ $rc != 0 ]; then for f in "$tmp"/*.txt; do echo "== $f"; tail -n 20 "$f"; done; fi; cleanup' EXIT
write_tiny_ini "$tmp/x.ini"
py=python3

"$PHOTON_SIM" "$tmp/x.ini" --set run.out_dir="$tmp/plain" > "$tmp/plain.txt" 2>&1 || fail "run without [network]"
! grep -q '"sim_' "$tmp/plain/metrics.jsonl" || fail "sim_ fields without [network]"
! grep -q '"sim_' "$tmp/plain/summary.json" || fail "sim_ fields in summary.json without [network]"
"$PHOTON_SIM" "$tmp/x.ini" --set run.out_dir="$tmp/net" --set network.bandwidth_mbps=20,10,5,40 \
    --set network.latency_ms=lognormal:30,0.5 --set network.server_bandwidth_mbps=30 > "$tmp/net.txt" 2>&1 \
    || fail "run with [network]"
[ "$(grep model_hash "$tmp/plain/summary.json")" = "$(grep model_hash "$tmp/net/summary.json")" ] \
    || fail "the model changed the trained bits"
grep -q '^\[network\]' "$tmp/net/config.ini" || fail "resolved config.ini lacks [network]"
! grep -q '^\[network\]' "$tmp/plain/config.ini" || fail "resolved config.ini has [network] though the run had none"
$py - "$tmp/net" <<'PY' || fail "sim fields"
import json, math, sys
d = sys.argv[1]
ev = [json.loads(l) for l in open(d + "/metrics.jsonl")]
rounds = [e for e in ev if e["event"] == "round"]
assert len(rounds) == 3, len(rounds)
bw = [20e6 / 8, 10e6 / 8, 5e6 / 8, 40e6 / 8]
total = 0
for e in rounds:
    for k in ("sim_seconds", "sim_allreduce_seconds", "sim_download_seconds", "sim_compute_seconds",
              "sim_upload_seconds", "sim_aggregation_seconds", "sim_wall_seconds", "sim_allreduce_wall_seconds"):
        assert k in e and e[k] is not None and e[k] >= 0, (k, e)
    model = e["bytes_moved"] / (2 * e["clients"])          # every client downloads and uploads the model
    floor = max(2 * model / b for b in bw)                 # the slowest client's own link, both ways
    assert e["sim_seconds"] >= floor, (e["sim_seconds"], floor)
    # the server link (30 Mbit/s) carries every download, then every upload
    assert e["sim_seconds"] >= 2 * 4 * model / (30e6 / 8), e
    assert e["sim_late"] == 0
    total += e["sim_seconds"]
    assert abs(e["sim_wall_seconds"] - total) <= 1e-9 * total, (e["sim_wall_seconds"], total)
s = json.load(open(d + "/summary.json"))
assert abs(s["sim_wall_seconds"] - total) <= 1e-9 * total, (s["sim_wall_seconds"], total)
assert s["sim_allreduce_wall_seconds"] > 0 and s["tasks_late"] == 0
evals = [e for e in ev if e["event"] == "eval"]
assert evals[-1]["sim_wall_seconds"] == s["sim_wall_seconds"], evals[-1]
PY

# compute = model, a straggler (client 2, 1000x slower: 25.6 s of compute) and round_timeout: reproducible and resumable.
model=(--set network.compute=model --set network.tokens_per_s=20000 --set network.compute_scale=1,1,0.001,1
       --set aggregator.round_timeout=20 --set network.bandwidth_mbps=50 --set run.rounds=6 --set checkpoint.every=1)
"$PHOTON_SIM" "$tmp/x.ini" "${model[@]}" --set run.out_dir="$tmp/m1" --set clients.actors=1 > "$tmp/m1.txt" 2>&1 || fail "model run, 1 actor"
"$PHOTON_SIM" "$tmp/x.ini" "${model[@]}" --set run.out_dir="$tmp/m2" > "$tmp/m2.txt" 2>&1 || fail "model run, 2 actors"
"$PHOTON_SIM" "$tmp/x.ini" "${model[@]}" --set faults.kill_supervisor_round=4 > "$tmp/k1.txt" 2>&1 && fail "the run was to kill itself"
"$PHOTON_SIM" "$tmp/x.ini" "${model[@]}" --resume > "$tmp/k2.txt" 2>&1 || fail "resumed model run"
grep -q "resuming after round 3" "$tmp/k2.txt" || fail "did not resume after round 3"
$py - "$tmp/m1" "$tmp/m2" "$tmp/run" <<'PY' || fail "model runs"
import json, re, sys
def load(d):
    ev = [json.loads(l) for l in open(d + "/metrics.jsonl")]
    return ev, json.load(open(d + "/summary.json"))
def strip(ev):
    # wall-clock values and who ran what differ; everything else is reproducible
    drop = {"time", "seconds", "overhead_seconds", "actor", "pid", "dir", "actor_tokens_per_s"}
    return [{k: v for k, v in e.items() if k not in drop} for e in ev if e["event"] not in ("actor_exit",)]
(e1, s1), (e2, s2), (e3, s3) = load(sys.argv[1]), load(sys.argv[2]), load(sys.argv[3])
late = [e for e in e1 if e["event"] == "task" and e["verdict"] == "late"]
assert [e["client"] for e in late] == [2] * 6, late
assert "after round_timeout = 20 s" in late[0]["cause"], late[0]
assert all(e["client"] != 2 for e in e1 if e["event"] == "task" and e["verdict"] == "accepted")
assert all(e["sim_late"] == 1 and e["accepted"] == 3 for e in e1 if e["event"] == "round")
assert all(abs(e["sim_seconds"] - 20) < 0.01 for e in e1 if e["event"] == "round"), "waits for the deadline"
assert s1["tasks_late"] == 6
for s, e in ((s2, e2), (s3, e3)):
    assert s["model_hash"] == s1["model_hash"], (s["model_hash"], s1["model_hash"])
    assert s["sim_wall_seconds"] == s1["sim_wall_seconds"], (s["sim_wall_seconds"], s1["sim_wall_seconds"])
    assert s["sim_allreduce_wall_seconds"] == s1["sim_allreduce_wall_seconds"]
    a, b = strip(e1), strip(e)
    assert a == b, next((x, y) for x, y in zip(a, b) if x != y)
PY

# Streaming (2 fragments with overlap) on that clock: timed phase by phase, each client's timeline
# carried across rounds and checkpoints (/run/sim_carry): 1 and 2 actors and a kill + resume agree,
# the straggler is late in every round without holding the others' phases back, and overlap is faster.
stream=("${model[@]}" --set aggregator.fragments=2 --set aggregator.overlap=true)
rm -rf "$tmp/run"
"$PHOTON_SIM" "$tmp/x.ini" "${stream[@]}" --set run.out_dir="$tmp/s1" --set clients.actors=1 > "$tmp/s1.txt" 2>&1 || fail "streaming run, 1 actor"
"$PHOTON_SIM" "$tmp/x.ini" "${stream[@]}" --set run.out_dir="$tmp/s2" > "$tmp/s2.txt" 2>&1 || fail "streaming run, 2 actors"
"$PHOTON_SIM" "$tmp/x.ini" "${stream[@]}" --set aggregator.overlap=false --set run.out_dir="$tmp/s0" > "$tmp/s0.txt" 2>&1 \
    || fail "streaming run without overlap"
"$PHOTON_SIM" "$tmp/x.ini" "${stream[@]}" --set faults.kill_supervisor_round=4 > "$tmp/sk1.txt" 2>&1 && fail "the run was to kill itself"
"$PHOTON_SIM" "$tmp/x.ini" "${stream[@]}" --resume > "$tmp/sk2.txt" 2>&1 || fail "resumed streaming run"
grep -q "resuming after round 3" "$tmp/sk2.txt" || fail "streaming: did not resume after round 3"
"$PHOTON_SIM" inspect "$tmp/run/checkpoints/ckpt-00000006.h5" > "$tmp/si.txt" 2>&1 || fail "inspect"
grep -q "sim_carry" "$tmp/si.txt" || fail "no /run/sim_carry in the checkpoint"
$py - "$tmp/s1" "$tmp/s2" "$tmp/run" "$tmp/s0" <<'PY' || fail "streaming runs"
import json, sys
def load(d):
    return [json.loads(l) for l in open(d + "/metrics.jsonl")], json.load(open(d + "/summary.json"))
def strip(ev):
    drop = {"time", "seconds", "overhead_seconds", "actor", "pid", "dir", "actor_tokens_per_s"}
    return [{k: v for k, v in e.items() if k not in drop} for e in ev if e["event"] not in ("actor_exit",)]
(e1, s1), (e2, s2), (e3, s3), (e0, s0) = (load(d) for d in sys.argv[1:])
rounds = [e for e in e1 if e["event"] == "round"]
assert all(e["sim_late"] == 1 and e["fragments_committed"] == 2 for e in rounds), rounds
assert [e["client"] for e in e1 if e["event"] == "task" and e["verdict"] == "late"] == [2] * 6
# the phases do not wait for the straggler: every round ends well before the 20 s deadline
assert all(e["sim_seconds"] < 15 for e in rounds), [e["sim_seconds"] for e in rounds]
for s, e in ((s2, e2), (s3, e3)):
    assert s["model_hash"] == s1["model_hash"] and s["sim_wall_seconds"] == s1["sim_wall_seconds"]
    a, b = strip(e1), strip(e)
    assert a == b, next((x, y) for x, y in zip(a, b) if x != y)
print(f"streaming: sim_wall_seconds {s1['sim_wall_seconds']:.3f} with overlap, {s0['sim_wall_seconds']:.3f} without")
assert s1["sim_wall_seconds"] < s0["sim_wall_seconds"]
PY

# compute = measured with round_timeout: needs an actor per client, and then the straggler is late.
rc=0; "$PHOTON_SIM" "$tmp/x.ini" --set aggregator.round_timeout=30 --set network.compute_scale=1,1,0.00001,1 \
    --set run.out_dir="$tmp/meas" > "$tmp/meas.txt" 2>&1 || rc=$?
[ $rc = 2 ] && grep -q "every sampled client needs an actor of its own" "$tmp/meas.txt" || fail "measured + timeout with 2 actors: exit $rc"
"$PHOTON_SIM" "$tmp/x.ini" --set aggregator.round_timeout=30 --set network.compute_scale=1,1,0.00001,1 \
    --set clients.actors=4 --set run.out_dir="$tmp/meas" > "$tmp/meas.txt" 2>&1 || fail "measured + timeout run"
[ "$(grep -c '"verdict":"late","cause":"its update would reach' "$tmp/meas/metrics.jsonl")" = 3 ] \
    || fail "the straggler was not late in each of 3 rounds"
grep -q "round 1: client 2 is late" "$tmp/meas.txt" || fail "no log line for the late client"

# plan: the 7B preset alone, 64 clients.
t0=$(date +%s%N)
"$PHOTON_SIM" plan "$PHOTON_SOURCE_DIR/configs/7b.ini" --set clients.count=64 > "$tmp/plan.txt" 2>&1 || fail "plan 7b"
"$PHOTON_SIM" plan "$PHOTON_SOURCE_DIR/configs/7b.ini" --set clients.count=64 --set clients.local_steps=128 \
    --set network.bandwidth_mbps=1000 --json > "$tmp/plan.json" 2> "$tmp/plan-err.txt" || fail "plan 7b --json"
t1=$(date +%s%N)
[ $(( (t1 - t0) / 1000000 )) -lt 2000 ] || fail "two plans took $(( (t1 - t0) / 1000000 )) ms"
grep -q "no \[network\] section: the defaults" "$tmp/plan.txt" || fail "plan does not say it assumed the defaults"
grep -q "Communication per round: Photon" "$tmp/plan.txt" || fail "plan has no communication line"
$py - "$tmp/plan.json" <<'PY' || fail "plan JSON"
import json, sys
p = json.load(open(sys.argv[1]))
assert p["network_section"] is True and p["clients_per_round"] == 64
assert 6.6e9 < p["parameters"] < 6.8e9, p["parameters"]
assert abs(p["communication_reduction"] - 128 * 63 / 64) < 1e-6, p["communication_reduction"]
# each client's 26.6 GB at 1 Gbit/s, both ways, is a floor; the 10 Gbit/s server carries 64 of them
assert p["round_seconds"] >= 2 * p["download_bytes"] / 125e6
assert p["round_seconds"] >= 2 * 64 * p["download_bytes"] / 1.25e9
assert p["allreduce_round_seconds"] > p["round_seconds"], p
PY
rc=0; "$PHOTON_SIM" plan "$tmp/none.ini" > "$tmp/p2.txt" 2>&1 || rc=$?
[ $rc = 2 ] || fail "plan of a missing file: exit $rc"
rc=0; "$PHOTON_SIM" plan "$PHOTON_SOURCE_DIR/configs/7b.ini" --set network.latency_ms=-1 > "$tmp/p3.txt" 2>&1 || rc=$?
[ $rc = 2 ] && grep -q "latency_ms" "$tmp/p3.txt" || fail "plan with a bad value: exit $rc"
echo ok
