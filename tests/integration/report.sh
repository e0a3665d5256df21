#!/usr/bin/env bash
# tools/report.py writes its PNG figures (valid PNG signature, not trivially
# small, and of the size matplotlib was asked for) and report.md, which
# references every one of them, for a sweep directory (mean ± std over
# seeds) next to a plain run, with per-source perplexities and per-round
# training figures; an odd metrics line is skipped with a warning.
source "$(dirname "$0")/runtime_common.bash"
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3)
"$py" -c "import matplotlib" 2>/dev/null || { echo "skip: no matplotlib for $py (apt-get install python3-matplotlib)"; exit 77; }
trap 'rc=$?; if [ $rc != 0 ]; then for f in "$tmp"/*.txt; do echo "== $f"; cat "$f"; done; fi; cleanup' EXIT
"$py" - "$tmp" <<'PY'
import json, os, sys
t = sys.argv[1]
def run(d, final, junk=False):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "metrics.jsonl"), "w") as f:
        ppl = 100.0
        for r in range(0, 6):
            if r:
                f.write(json.dumps({"event": "round", "round": r, "committed": True, "tokens": 512 * r, "seconds": 0.5,
                                    "lr_first": 1e-3, "lr_last": 1e-3 * (1 - r / 10), "grad_norm_mean": 1.0 / r,
                                    "update_norm_mean": 0.5 / r, "bytes_moved": 10, "allreduce_bytes": 40}) + "\n")
            ppl = 100 - (100 - final) * r / 5
            f.write(json.dumps({"event": "eval", "round": r, "tokens": 512 * r, "perplexity": ppl,
                                "perplexity_by_source": {"c4": ppl * 1.1, "wiki": ppl * 0.9}}) + "\n")
            if junk and r == 2:
                f.write("garbage\n")
    json.dump({"status": "completed", "final_perplexity": final, "bytes_moved": 50, "communication_reduction": 4.0},
              open(os.path.join(d, "summary.json"), "w"))
pts = []
for lr, finals in (("1e-3", (40, 44)), ("3e-3", (30, 36))):
    for seed, fin in zip((1, 2), finals):
        name = f"lr={lr},seed={seed}"
        run(os.path.join(t, "S", name), fin, junk=(seed == 2))
        pts.append({"name": name, "dir": name, "overrides": [f"clients.lr={lr}", f"run.seed={seed}"], "state": "completed"})
json.dump({"format": "photon-sim-sweep", "version": 1, "points": pts}, open(os.path.join(t, "S", "sweep.json"), "w"))
run(os.path.join(t, "R"), 50)
PY
"$py" "$PHOTON_SOURCE_DIR/tools/report.py" "$tmp/S" "$tmp/R" -o "$tmp/out" --title "test report" > "$tmp/out.txt" 2> "$tmp/err.txt" ||
    fail "report.py exited $?"
grep -q "lr=3e-3,seed=2/metrics.jsonl:6: unreadable line skipped" "$tmp/err.txt" || fail "no warning for the odd line"
"$py" - "$tmp/out" <<'PY' || fail "figures or report.md are wrong"
import os, re, struct, sys
out = sys.argv[1]
want = ["perplexity_tokens.png", "perplexity_rounds.png", "perplexity_time.png", "perplexity_sources.png", "training.png"]
md = open(os.path.join(out, "report.md")).read()
for name in want:
    data = open(os.path.join(out, name), "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", name
    assert data[12:16] == b"IHDR", name
    w, h = struct.unpack(">II", data[16:24])
    assert w >= 400 and h >= 300, (name, w, h)
    assert len(data) > 10000, (name, len(data))
    assert f"]({name})" in md, name
assert md.startswith("# test report"), md[:40]
assert re.search(r"\| S: lr=1e-3 \| 2 \| 42\.00 ± 2\.83 \|", md), md
assert re.search(r"\| S: lr=3e-3 \| 2 \| 33\.00 ± 4\.24 \|", md), md
assert re.search(r"\| R \| 1 \| 50\.00 \|", md), md
PY
# Errors: one line, non-zero.
rc=0; "$py" "$PHOTON_SOURCE_DIR/tools/report.py" "$tmp/nothere" -o "$tmp/o2" > /dev/null 2> "$tmp/e.txt" || rc=$?
[ $rc != 0 ] && [ "$(wc -l < "$tmp/e.txt")" = 1 ] && grep -q "nothere: no such directory" "$tmp/e.txt" || fail "missing dir: exit $rc"
echo ok
