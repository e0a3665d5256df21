#!/usr/bin/env bash
# photon-sim sweep (supervisor/cmd/cmd_sweep.c): a 2x2 grid of tiny points
# completes, each in its own run directory with its own configuration and
# the shared prepared data; a second call skips them all; more seeds add
# points; a changed experiment is refused; a failing point is reported and
# the sweep goes on (exit 1), and is retried by the next call; bad grids are
# usage errors before anything runs; Ctrl-C interrupts the running point
# cleanly (no process or shm segment left) and the next call continues it
# with --resume.
source "$(dirname "$0")/runtime_common.bash"
trap 'rc=$?; if [ $rc != 0 ]; then for f in "$tmp"/*.txt; do echo "== $f"; tail -n 8 "$f"; done; fi; cleanup' EXIT
write_tiny_ini "$tmp/x.ini"
sw=$tmp/sw
base=(--set run.out_dir="$sw" --set data.prepared_dir= --set run.rounds=2 --set checkpoint.every=0)
jq_() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

# 1. 2 learning rates x 2 seeds.
"$PHOTON_SIM" sweep "$tmp/x.ini" "${base[@]}" --grid clients.lr=1e-3,3e-3 --seeds 2 > "$tmp/s1.txt" 2>&1 ||
    fail "the sweep failed"
for p in "lr=1e-3,seed=7" "lr=1e-3,seed=8" "lr=3e-3,seed=7" "lr=3e-3,seed=8"; do
    grep -q '"status":"completed"' "$sw/$p/summary.json" || fail "$p did not complete"
    lr=${p#lr=}; lr=${lr%%,*}; seed=${p##*seed=}
    python3 -c "import configparser,sys; c=configparser.ConfigParser(); c.read(sys.argv[1]); assert float(c['clients']['lr'])==float(sys.argv[2])" \
        "$sw/$p/config.ini" "$lr" || fail "$p: config.ini's lr is not $lr"
    grep -qx "seed = $seed" "$sw/$p/config.ini" || fail "$p: seed is not $seed: $(grep '^seed' "$sw/$p/config.ini")"
    [ ! -e "$sw/$p/data" ] || fail "$p prepared its own data instead of sharing $sw/data"
done
[ -s "$sw/data/manifest.json" ] || fail "no shared prepared data in $sw/data"
[ "$(grep -c 'sweep \[./4\] .*: started' "$tmp/s1.txt")" = 4 ] || fail "expected 4 'started' lines"
[ "$(grep -c 'sweep \[./4\] .*: completed in .* s, perplexity' "$tmp/s1.txt")" = 4 ] || fail "expected 4 'completed' lines"
python3 - "$sw" <<'PY' || fail "sweep.json does not match the runs"
import json, os, sys
sw = sys.argv[1]
d = json.load(open(os.path.join(sw, "sweep.json")))
assert d["format"] == "photon-sim-sweep" and d["version"] == 1 and d["seeds"] == 2, d
assert [a["key"] for a in d["grid"]] == ["clients.lr"] and d["grid"][0]["values"] == ["1e-3", "3e-3"]
assert d["shared_data"] == os.path.join(sw, "data"), d["shared_data"]
names = [p["name"] for p in d["points"]]
assert names == ["lr=1e-3,seed=7", "lr=1e-3,seed=8", "lr=3e-3,seed=7", "lr=3e-3,seed=8"], names
for p in d["points"]:
    s = json.load(open(os.path.join(sw, p["dir"], "summary.json")))
    assert p["state"] == "completed" and p["exit_status"] == 0 and p["attempts"] == 1, p
    assert p["final_perplexity"] == s["final_perplexity"], (p, s["final_perplexity"])
    assert p["overrides"][-1] == "run.seed=%d" % p["seed"], p
# different lr and seed really gave different runs
assert len({json.load(open(os.path.join(sw, p["dir"], "summary.json")))["model_hash"] for p in d["points"]}) == 4
PY
sum_before=$(cat "$sw"/*/summary.json | sha256sum)

# 2. Again: every point skipped, nothing rerun.
"$PHOTON_SIM" sweep "$tmp/x.ini" "${base[@]}" --grid clients.lr=1e-3,3e-3 --seeds 2 > "$tmp/s2.txt" 2>&1 || fail "second call"
[ "$(grep -c 'completed earlier, skipped' "$tmp/s2.txt")" = 4 ] || fail "second call did not skip all 4"
grep -q ': started' "$tmp/s2.txt" && fail "second call started a point"
[ "$(cat "$sw"/*/summary.json | sha256sum)" = "$sum_before" ] || fail "second call changed a summary"

# 3. A third seed: two new points, the old four skipped.
"$PHOTON_SIM" sweep "$tmp/x.ini" "${base[@]}" --grid clients.lr=1e-3,3e-3 --seeds 3 > "$tmp/s3.txt" 2>&1 || fail "--seeds 3"
[ "$(grep -c ': started' "$tmp/s3.txt")" = 2 ] && [ "$(grep -c 'completed earlier, skipped' "$tmp/s3.txt")" = 4 ] || fail "--seeds 3 ran the wrong points"
[ -s "$sw/lr=3e-3,seed=9/summary.json" ] || fail "no seed 9 point"

# 4. The experiment changed: refused, manifest untouched.
cp "$sw/sweep.json" "$tmp/manifest.before"
rc=0; "$PHOTON_SIM" sweep "$tmp/x.ini" "${base[@]}" --set run.rounds=3 --grid clients.lr=1e-3 > "$tmp/s4.txt" 2>&1 || rc=$?
[ $rc = 2 ] && grep -q "made from another configuration of the experiment" "$tmp/s4.txt" || fail "changed config: exit $rc"
cmp -s "$sw/sweep.json" "$tmp/manifest.before" || fail "the refused sweep changed sweep.json"

# 5. Usage errors, before anything runs.
for args in "--grid clients.lr" "--grid clients.lr=" "--grid lr=1,2" "--seeds 0" "--grid clients.lr=1,1" \
            "--grid run.out_dir=a,b" "--grid run.seed=1,2 --seeds 2" ""; do
    rc=0; "$PHOTON_SIM" sweep "$tmp/x.ini" --set run.out_dir="$tmp/bad" $args > /dev/null 2> "$tmp/err.txt" || rc=$?
    [ $rc = 2 ] && [ "$(wc -l < "$tmp/err.txt")" = 1 ] || fail "sweep $args: exit $rc, $(cat "$tmp/err.txt")"
done
rc=0; "$PHOTON_SIM" sweep "$tmp/x.ini" --set run.out_dir="$tmp/bad" --grid clients.lr=1e-3,abc > /dev/null 2> "$tmp/err.txt" || rc=$?
[ $rc = 2 ] && grep -q "point lr=abc,seed=7: .*lr" "$tmp/err.txt" || fail "invalid grid value: exit $rc, $(cat "$tmp/err.txt")"
[ ! -e "$tmp/bad" ] || fail "a refused sweep created $tmp/bad"

# 6. A failing point (its final checkpoint write fails): reported, the sweep goes on, exit 1; retried next time.
sw2=(--set run.out_dir="$tmp/sw2" --set run.rounds=2 --set checkpoint.every=0 --grid faults.ckpt_fail_write=1,0)
rc=0; "$PHOTON_SIM" sweep "$tmp/x.ini" "${sw2[@]}" > "$tmp/s6.txt" 2>&1 || rc=$?
[ $rc = 1 ] || fail "a sweep with a failed point exited $rc"
grep -q "ckpt_fail_write=1,seed=7: failed (exit 1)" "$tmp/s6.txt" || fail "no failure line"
grep -q "ckpt_fail_write=0,seed=7: completed" "$tmp/s6.txt" || fail "the sweep did not go on past the failed point"
grep -q "sweep: failed: ckpt_fail_write=1,seed=7 (exit 1): .*injected" "$tmp/s6.txt" || fail "no failure report at the end"
jq_ "$tmp/sw2/sweep.json" "[p['state'] for p in d['points']]" | grep -q "\['failed', 'completed'\]" || fail "states in sweep.json"
rc=0; "$PHOTON_SIM" sweep "$tmp/x.ini" "${sw2[@]}" > "$tmp/s6b.txt" 2>&1 || rc=$?
[ $rc = 1 ] && grep -q "started (retry of a failed point)" "$tmp/s6b.txt" && grep -q "completed earlier, skipped" "$tmp/s6b.txt" ||
    fail "second call: exit $rc, the failed point not retried or the completed one rerun"
[ "$(jq_ "$tmp/sw2/sweep.json" "d['points'][0]['attempts']")" = 2 ] || fail "attempts not counted"

# 7. Ctrl-C (SIGINT to the sweep): the running point stops cleanly, marked
# interrupted; the next call continues it from its checkpoint.
sw3=(--set run.out_dir="$tmp/sw3" --set run.rounds=300 --set checkpoint.every=5 --set eval.every=50 --grid clients.lr=2e-3)
"$PHOTON_SIM" sweep "$tmp/x.ini" "${sw3[@]}" > "$tmp/s7.txt" 2>&1 &
swp=$!
pt=$tmp/sw3/lr=2e-3,seed=7
for _ in $(seq 1 200); do [ -s "$pt/checkpoints/ckpt-00000005.h5" ] && break; sleep 0.05; done
[ -s "$pt/checkpoints/ckpt-00000005.h5" ] || fail "the point never checkpointed"
sup=$(pgrep -P $swp | head -1)
[ -n "$sup" ] || fail "no run process under the sweep"
kill -INT $swp
rc=0; wait $swp || rc=$?
[ $rc = 1 ] || fail "interrupted sweep exited $rc"
grep -q "lr=2e-3,seed=7: interrupted" "$tmp/s7.txt" || fail "no interrupted line"
[ "$(jq_ "$tmp/sw3/sweep.json" "d['points'][0]['state']")" = interrupted ] || fail "point not marked interrupted"
grep -q '"status":"interrupted"' "$pt/summary.json" || fail "the run did not stop cleanly: $(cat "$pt/summary.json")"
kill -0 $sup 2>/dev/null && fail "the run process $sup is still alive"
pgrep -f -- "run.out_dir=$pt" > /dev/null && fail "processes of the point are left: $(pgrep -af -- "run.out_dir=$pt")"
if ls /dev/shm 2>/dev/null | grep -q "^photon-$sup-"; then fail "shm segments of $sup left"; fi
"$PHOTON_SIM" sweep "$tmp/x.ini" "${sw3[@]}" > "$tmp/s7b.txt" 2>&1 || fail "continuing the interrupted sweep"
grep -q "started (continuing)" "$tmp/s7b.txt" && grep -q "resuming after round" "$pt/run.log" || fail "the point was not resumed"
grep -q '"status":"completed"' "$pt/summary.json" || fail "the resumed point did not complete"
echo ok
