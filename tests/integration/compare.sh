#!/usr/bin/env bash
# photon-sim compare (supervisor/cmd/cmd_compare.c) on metrics made here,
# with figures worked out by hand: final perplexity overall and per source
# (perplexity_by_source; a run without it is an older run), tokens, rounds
# and training time to the default target (the worst final perplexity) and
# to --target values, bytes moved, communication reduction; truncated and
# odd lines skipped with a message naming file:line; a sweep directory's
# points grouped over seeds as mean ± standard deviation; then two real
# tiny runs; then errors.
source "$(dirname "$0")/runtime_common.bash"
trap 'rc=$?; if [ $rc != 0 ]; then for f in "$tmp"/*.txt; do echo "== $f"; cat "$f"; done; fi; cleanup' EXIT
mk() {   # mk DIR: a run directory from the lines on stdin (metrics.jsonl)
    mkdir -p "$1" && cat > "$1/metrics.jsonl"
}
# A: three evaluations with per-source figures; an odd line and a truncated last line.
mk "$tmp/A" <<'EOF2'
{"event":"eval","time":1,"round":0,"tokens":0,"loss":4.6,"perplexity":100,"perplexity_by_source":{"c4":110,"wiki":90}}
{"event":"round","time":2,"round":1,"committed":true,"tokens":1000,"seconds":2,"bytes_moved":10,"allreduce_bytes":100}
{"event":"task","time":2,"round":1,"client":0}
this is not json
{"event":"eval","time":3,"round":1,"tokens":1000,"perplexity":50,"perplexity_by_source":{"c4":60,"wiki":40}}
{"event":"round","time":4,"round":2,"committed":false,"tokens":1000,"seconds":1,"bytes_moved":4,"allreduce_bytes":0}
{"event":"round","time":5,"round":2,"committed":true,"tokens":2000,"seconds":3,"bytes_moved":10,"allreduce_bytes":100}
{"event":"eval","time":6,"round":2,"tokens":2000,"perplexity":30,"perplexity_by_source":{"c4":35,"wiki":25}}
EOF2
printf '{"event":"checkpoint","rou' >> "$tmp/A/metrics.jsonl"   # cut off mid-line, no newline
printf '{"name":"A","mode":"federated","status":"completed","final_perplexity":30}\n' > "$tmp/A/summary.json"
# B: an older run, no per-source figures, no summary (still running).
mk "$tmp/B" <<'EOF2'
{"event":"eval","round":0,"tokens":0,"perplexity":100}
{"event":"round","round":1,"committed":true,"tokens":1500,"seconds":1,"bytes_moved":1,"allreduce_bytes":1}
{"event":"eval","round":1,"tokens":1500,"perplexity":60}
{"event":"round","round":2,"committed":true,"tokens":3000,"seconds":1,"bytes_moved":1,"allreduce_bytes":1}
{"event":"eval","round":2,"tokens":3000,"perplexity":40}
EOF2

"$PHOTON_SIM" compare "$tmp/A" "$tmp/B" > "$tmp/table.txt" 2> "$tmp/warn.txt" || fail "compare exited $?"
grep -q "A/metrics.jsonl:4: not a JSON object: line skipped" "$tmp/warn.txt" || fail "no warning for the odd line"
grep -q "A/metrics.jsonl:9: truncated last line: line skipped" "$tmp/warn.txt" || fail "no warning for the truncated line"
grep -q "^target perplexity 40.00 (default" "$tmp/table.txt" || fail "default target is not the worst final perplexity (40)"
grep -q "ppl c4" "$tmp/table.txt" && grep -q "ppl wiki" "$tmp/table.txt" || fail "no per-source columns"
"$PHOTON_SIM" compare "$tmp/A" "$tmp/B" --json > "$tmp/j40.json" 2>/dev/null || fail "--json"
"$PHOTON_SIM" compare "$tmp/A" "$tmp/B" --json --target 55 > "$tmp/j55.json" 2>/dev/null || fail "--target 55"
"$PHOTON_SIM" compare "$tmp/A" "$tmp/B" --json --target 20 > "$tmp/j20.json" 2>/dev/null || fail "--target 20"
"$PHOTON_SIM" compare "$tmp/A" "$tmp/B" --target 20 > "$tmp/t20.txt" 2>/dev/null || fail "--target 20 table"
[ "$(grep -c "not reached" "$tmp/t20.txt")" -ge 2 ] || fail "'not reached' missing"
python3 - "$tmp" <<'PY' || fail "compare's figures are wrong"
import json, sys
t = sys.argv[1]
j = lambda n: json.load(open(f"{t}/{n}"))
d = j("j40.json")
assert d["target"] == 40 and d["target_is_default"] is True, d
A, B = d["rows"]
assert A["final_perplexity"] == 30 and A["perplexity_by_source"] == {"c4": 35, "wiki": 25}, A
assert A["rounds"] == 2 and A["tokens"] == 2000 and A["status"] == "completed" and A["mode"] == "federated", A
assert (A["tokens_to_target"], A["rounds_to_target"], A["seconds_to_target"]) == (2000, 2, 6), A  # 2 + 1 (failed attempt) + 3 s
assert A["bytes_moved"] == 24 and abs(A["communication_reduction"] - 200 / 24) < 1e-12, A
assert B["final_perplexity"] == 40 and B["perplexity_by_source"] == {}, B
assert (B["tokens_to_target"], B["rounds_to_target"], B["seconds_to_target"]) == (3000, 2, 2), B
A, B = j("j55.json")["rows"]
assert (A["tokens_to_target"], A["seconds_to_target"], B["tokens_to_target"], B["rounds_to_target"]) == (1000, 2, 3000, 2)
A, B = j("j20.json")["rows"]
assert A["reached"] == 0 and A["tokens_to_target"] is None and B["reached"] == 0, (A, B)
PY

# A sweep directory: 2 groups x 2 seeds, grouped as mean ± std.
S=$tmp/S
for p in "lr=1,seed=1:20" "lr=1,seed=2:30" "lr=2,seed=1:50" "lr=2,seed=2:70"; do
    name=${p%%:*} ppl=${p##*:}
    mk "$S/$name" <<EOF2
{"event":"eval","round":0,"tokens":0,"perplexity":100,"perplexity_by_source":{"c4":$((ppl + 10))}}
{"event":"round","round":1,"committed":true,"tokens":500,"seconds":1,"bytes_moved":5,"allreduce_bytes":50}
{"event":"eval","round":1,"tokens":500,"perplexity":$ppl,"perplexity_by_source":{"c4":$((ppl + 10))}}
EOF2
done
python3 - "$S" <<'PY'
import json, sys
pts = []
for lr in (1, 2):
    for seed in (1, 2):
        n = f"lr={lr},seed={seed}"
        pts.append({"name": n, "dir": n, "overrides": [f"clients.lr={lr}", f"run.seed={seed}"], "state": "completed"})
json.dump({"format": "photon-sim-sweep", "version": 1, "points": pts}, open(sys.argv[1] + "/sweep.json", "w"))
PY
"$PHOTON_SIM" compare "$S" --json > "$tmp/sweep.json" 2> "$tmp/sweep.err" || fail "compare of a sweep: $(cat "$tmp/sweep.err")"
"$PHOTON_SIM" compare "$S" > "$tmp/sweep.txt" 2>&1 || fail "compare of a sweep (table)"
grep -q "$S: lr=1 .*25.00±7.07" "$tmp/sweep.txt" || fail "sweep row lr=1 is not 25.00±7.07"
python3 - "$tmp/sweep.json" <<'PY' || fail "sweep groups are wrong"
import json, math, sys
d = json.load(open(sys.argv[1]))
assert d["target"] == 70, d["target"]
g1, g2 = d["rows"]
assert g1["sweep_group"] and g1["n"] == 2 and g1["label"].endswith(": lr=1"), g1
assert g1["final_perplexity"] == 25 and abs(g1["final_perplexity_std"] - math.sqrt(50)) < 1e-9, g1
assert g2["final_perplexity"] == 60 and abs(g2["final_perplexity_std"] - math.sqrt(200)) < 1e-9, g2
assert g1["perplexity_by_source"] == {"c4": 35} and abs(g1["perplexity_by_source_std"]["c4"] - math.sqrt(50)) < 1e-9, g1
assert g1["reached"] == 2 and g1["tokens_to_target"] == 500 and g1["tokens_to_target_std"] == 0, g1
PY

# Two real tiny runs.
write_tiny_ini "$tmp/x.ini"
for lr in 1e-3 3e-3; do
    "$PHOTON_SIM" "$tmp/x.ini" --set run.rounds=2 --set clients.lr=$lr --set run.out_dir="$tmp/r$lr" > "$tmp/run$lr.txt" 2>&1 || fail "tiny run $lr"
done
"$PHOTON_SIM" compare "$tmp/r1e-3" "$tmp/r3e-3" > "$tmp/real.txt" 2> "$tmp/real.err" || fail "compare of two real runs"
[ ! -s "$tmp/real.err" ] || fail "warnings on real runs: $(cat "$tmp/real.err")"
for lr in 1e-3 3e-3; do
    want=$(python3 -c "import json,sys; print('%.2f' % json.load(open(sys.argv[1]))['final_perplexity'])" "$tmp/r$lr/summary.json")
    grep -q "r$lr .*completed .* $want " "$tmp/real.txt" || fail "row of r$lr lacks its final perplexity $want"
done

# Errors: one line each.
rc=0; "$PHOTON_SIM" compare "$tmp/nothere" > /dev/null 2> "$tmp/e.txt" || rc=$?
[ $rc = 1 ] && [ "$(wc -l < "$tmp/e.txt")" = 1 ] && grep -q "nothere: no readable metrics.jsonl" "$tmp/e.txt" || fail "missing dir: exit $rc"
rc=0; "$PHOTON_SIM" compare > /dev/null 2> "$tmp/e.txt" || rc=$?
[ $rc = 2 ] || fail "no arguments: exit $rc"
rc=0; "$PHOTON_SIM" compare "$tmp/A" --target -3 > /dev/null 2> "$tmp/e.txt" || rc=$?
[ $rc = 2 ] || fail "--target -3: exit $rc"
echo ok
