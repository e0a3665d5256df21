#!/usr/bin/env bash
# Compression, error feedback and streaming fragments with overlap (issue
# 16; docs/ROUNDS.md), every option on at once (int8 updates with error
# feedback, bf16 broadcast, 2 fragments with overlap, nesterov, kept
# optimizer state, 3 of 4 clients per round):
#   1. P = 1 and 3 actors end bitwise identical (summary.json model_hash);
#   2. a supervisor SIGKILLed as round 3 starts and resumed ends bitwise
#      identical, every checkpoint dataset included (local models, residuals,
#      phase counter, per-fragment norm references), metrics.jsonl the same;
#   3. over TCP (remote actors, compressed blobs on the stream) the same bits;
#   4. the bytes: compressed updates and fragments move fewer bytes and
#      smaller peaks than the fp32 run;
#   5. an update one byte short, or labelled with another encoding
#      (PHOTON_FAULT_UPDATE), is refused against the plan: the task is
#      "unreadable", the run goes on and completes;
#   6. bytes_moved is what really crosses the link: over TCP with one actor
#      per client, the model parts the supervisor sent plus the updates it
#      received (counted by the link layer) equal bytes_moved exactly, with
#      fragments (a phase sends only the fragment that changed) and without.
source "$(dirname "$0")/runtime_common.bash"
trap 'rc=$?; if [ $rc != 0 ]; then for f in "$tmp"/*.txt; do echo "== $f"; tail -n 15 "$f"; done; fi; [ ${#pids[@]} = 0 ] || kill -9 "${pids[@]}" 2>/dev/null || true; cleanup' EXIT
pids=()
write_tiny_ini "$tmp/x.ini" "[aggregator]" "strategy = nesterov" "server_lr = 0.7" "momentum = 0.7" \
    "compression = int8" "error_feedback = true" "broadcast_compression = bf16" "fragments = 2" "overlap = true" \
    "[clients]" "optimizer_state = keep"
sed -i 's/^n_layer = 1/n_layer = 2/' "$tmp/x.ini"
sets=(--set run.rounds=5 --set checkpoint.every=1 --set checkpoint.keep=2 --set clients.per_round=3)
hash_of() { grep -o '"model_hash":"[0-9a-f]*"' "$1/summary.json"; }

# 1. The reference (3 actors), then 1 (the resumed and TCP runs below have 2).
"$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" --set clients.actors=3 --set run.out_dir="$tmp/full" > "$tmp/full.txt" 2>&1 \
    || fail "reference run"
want=$(hash_of "$tmp/full")
"$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" --set clients.actors=1 --set run.out_dir="$tmp/p1" > "$tmp/p1.txt" 2>&1 \
    || fail "run with 1 actor"
[ "$(hash_of "$tmp/p1")" = "$want" ] || fail "1 actor: $(hash_of "$tmp/p1"), 3 actors: $want"

# 2. SIGKILL as round 3 starts, then --resume.
"$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" --set faults.kill_supervisor_round=3 > "$tmp/k1.txt" 2>&1 &
rc=0; { wait $!; } 2>/dev/null || rc=$?   # (no "Killed" job notice)
[ $rc = 137 ] || fail "the run was to kill itself (137), exited with $rc"
"$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" --resume > "$tmp/k2.txt" 2>&1 || fail "resumed run"
grep -q "resuming after round 2 " "$tmp/k2.txt" || fail "did not resume after round 2"
[ "$(hash_of "$tmp/run")" = "$want" ] || fail "resumed: $(hash_of "$tmp/run"), uninterrupted: $want"
final=checkpoints/ckpt-00000005.h5
hashes() { "$PHOTON_SIM" inspect "$1" --hash --verify > "$2" || fail "inspect $1"; sed -n '/^contents/,$p' "$2" | grep -v metrics_offset; }
diff <(hashes "$tmp/full/$final" "$tmp/i_full.txt") <(hashes "$tmp/run/$final" "$tmp/i_run.txt") > "$tmp/ckdiff.txt" \
    || { head "$tmp/ckdiff.txt"; fail "final checkpoints differ"; }
for d in local_model residual adam_m phase_counter fragment_reference; do
    grep -q "$d" "$tmp/i_run.txt" || fail "no $d in the checkpoint"
done
strip() { metrics_untimed "$1" | grep -v actor_exit; }
diff <(strip "$tmp/full/metrics.jsonl") <(strip "$tmp/run/metrics.jsonl") > "$tmp/mdiff.txt" || { head "$tmp/mdiff.txt"; fail "metrics.jsonl differs"; }

# 3. TCP: two remote actors on this machine.
# tcp_run NAME [--set ...]: a run in $tmp/NAME with two remote actors.
tcp_run() {
    local name=$1; shift
    rm -rf "$tmp/$name"
    "$PHOTON_SIM" "$tmp/x.ini" "$@" --set aggregator.link=tcp --set aggregator.min_actors=2 \
        --set run.out_dir="$tmp/$name" > "$tmp/$name.txt" 2>&1 &
    sup=$!   # (global: no_leftovers below)
    pids+=($sup)
    for _ in $(seq 300); do [ -s "$tmp/$name/listen.addr" ] && break; kill -0 $sup 2>/dev/null || break; sleep 0.1; done
    local addr
    addr=$(cat "$tmp/$name/listen.addr") || fail "$name: no listen.addr"
    for i in 0 1; do
        "$PHOTON_SIM" actor --connect "$addr" --key-file "$tmp/$name/run.key" > "$tmp/${name}_actor$i.txt" 2>&1 &
        pids+=($!)
    done
    wait $sup || fail "tcp run $name"
}
tcp_run run "${sets[@]}"
[ "$(hash_of "$tmp/run")" = "$want" ] || fail "tcp: $(hash_of "$tmp/run"), shm: $want"

# 4. Bytes: the same run in fp32 without fragments moves more, with larger peaks.
"$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" --set aggregator.compression=none --set aggregator.broadcast_compression=none \
    --set aggregator.fragments=1 --set aggregator.overlap=false --set run.out_dir="$tmp/fp32" > "$tmp/fp32.txt" 2>&1 || fail "fp32 run"
num() { grep -o "\"$2\":[0-9.e+]*" "$1/summary.json" | cut -d: -f2; }
python3 - "$(num "$tmp/full" bytes_moved)" "$(num "$tmp/fp32" bytes_moved)" "$(num "$tmp/full" peak_task_bytes)" \
    "$(num "$tmp/fp32" peak_task_bytes)" <<'PY' || fail "bytes: compressed/streaming vs fp32"
import sys
b, b32, p, p32 = map(float, sys.argv[1:])
print(f"bytes_moved {b:.0f} vs fp32 {b32:.0f} ({b32 / b:.2f}x); peak_task_bytes {p:.0f} vs {p32:.0f}")
assert 0 < b < b32 / 2.2 and 0 < p < p32 / 2.5, "expected > 2.2x fewer bytes and > 2.5x smaller peaks"
PY

# 5. Broken updates are refused against the plan, the run goes on.
for mode in short encoding; do
    rm -rf "$tmp/bad"
    PHOTON_FAULT_UPDATE=$mode,1 "$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" --set run.rounds=2 --set run.out_dir="$tmp/bad" \
        > "$tmp/bad_$mode.txt" 2>&1 || fail "run with $mode updates of client 1"
    grep -q '"verdict":"unreadable"' "$tmp/bad/metrics.jsonl" || fail "$mode: no unreadable task"
    grep -q "update of client 1 unreadable: update \(of [0-9]* bytes, expected\|encoded fp4 (3), the run sends int8\)" \
        "$tmp/bad_$mode.txt" || fail "$mode: no clear reason logged"
    grep -q '"status":"completed"' "$tmp/bad/summary.json" || fail "$mode: run did not complete"
done
# 6. The link's own count of what it carried equals bytes_moved: 2 clients,
# both every round, 2 remote actors (so each client's tasks land on the
# same actor and a phase finds there everything but the fragment synced
# last), streaming with every option on, then plain fp32.
one=(--set run.rounds=3 --set clients.count=2 --set clients.per_round=2 --set clients.actors=2)
tcp_run bytes_f2 "${one[@]}"
tcp_run bytes_f1 "${one[@]}" --set aggregator.compression=none --set aggregator.broadcast_compression=none \
    --set aggregator.fragments=1 --set aggregator.overlap=false --set aggregator.error_feedback=false
for name in bytes_f2 bytes_f1; do
    python3 - "$tmp/$name/summary.json" "$name" <<'PY' || fail "$name: link bytes vs bytes_moved"
import json, sys
s = json.load(open(sys.argv[1]))
link = s["link_model_bytes"] + s["link_update_bytes"]
print(f"{sys.argv[2]}: link model {s['link_model_bytes']:.0f} + updates {s['link_update_bytes']:.0f} = {link:.0f}, "
      f"bytes_moved {s['bytes_moved']:.0f}, update_bytes {s['update_bytes']:.0f}, states {s['link_state_bytes']:.0f}")
assert s["bytes_moved"] > 0 and link == s["bytes_moved"], "the link carried other bytes than bytes_moved counts"
assert s["link_update_bytes"] == s["update_bytes"]
PY
done
# and streaming sends less than a whole model per phase: 2 actors x 3 rounds x 2 phases of it before
python3 - "$tmp/bytes_f2/summary.json" "$tmp/bytes_f1/summary.json" <<'PY' || fail "fragments: model bytes sent"
import json, sys
f2, f1 = (json.load(open(p)) for p in sys.argv[1:])
per_model_bf16 = f1["link_model_bytes"] / 2 / 3 / 2     # fp32, whole model to 2 actors in 3 rounds; bf16 halves it
whole_each_phase = 2 * 3 * 2 * per_model_bf16
print(f"fragments: model sent {f2['link_model_bytes']:.0f} bytes, whole model every phase would be {whole_each_phase:.0f}")
assert f2["link_model_bytes"] < 0.7 * whole_each_phase
PY

sleep 0.2
for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && fail "process $p left running"; done
pids=()
no_leftovers $sup
echo ok
