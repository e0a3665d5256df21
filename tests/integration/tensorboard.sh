#!/usr/bin/env bash
# TensorBoard event files (io/tfevents.c, supervisor/tb_log.c), read with
# TensorBoard's own EventAccumulator (tools/requirements-test.txt): the
# scalars are metrics.jsonl's figures at step = tokens; every record's CRCs
# check with TensorBoard's masked_crc32c; and a run killed after its last
# checkpoint and resumed shows the same curves as one that never stopped
# (the resumed run's SessionLog START drops the killed run's points after
# the checkpoint), with the killed run's file kept; the cumulative
# comm/bytes_moved continues from the checkpoint's total after the resume
# (metrics.jsonl's running sum), and so do summary.json's byte totals.
source "$(dirname "$0")/runtime_common.bash"
py=${PHOTON_VENV_PYTHON:-$(bash "$PHOTON_SOURCE_DIR/tools/pyenv.sh" --no-install)} || { echo "skip: no test venv"; exit 77; }
"$py" -c "import tensorboard" 2>/dev/null || { echo "skip: tensorboard not installed in $py"; exit 77; }
trap 'rc=$?; if [ $rc != 0 ]; then for f in "$tmp"/*.txt; do echo "== $f"; tail -n 5 "$f"; done; fi; cleanup' EXIT
write_tiny_ini "$tmp/x.ini"
sets=(--set run.rounds=6 --set checkpoint.every=2 --set clients.grad_clip=1.0 --set clients.warmup=2)
"$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" --set run.out_dir="$tmp/full" > "$tmp/full.txt" 2>&1 || fail "uninterrupted run"
# Killed as round 4 starts: the checkpoint is after round 2, round 3's points come after it.
rc=0
"$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" --set faults.kill_supervisor_round=4 > "$tmp/kill.txt" 2>&1 || rc=$?
[ $rc = 137 ] || fail "the run was to kill itself (137), exited $rc"
"$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" --resume > "$tmp/resume.txt" 2>&1 || fail "resumed run"
[ "$(ls "$tmp/run/tb" | wc -l)" = 2 ] || fail "expected two event files in the resumed run's tb/: $(ls "$tmp/run/tb")"

"$py" - "$tmp/full" "$tmp/run" <<'PY' || fail "TensorBoard's view differs"
import glob, json, math, os, struct, sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

full, resumed = sys.argv[1], sys.argv[2]
f32 = lambda x: struct.unpack("f", struct.pack("f", x))[0]

def check_crcs(path):
    data = open(path, "rb").read()
    off = n = 0
    while off < len(data):
        length, = struct.unpack_from("<Q", data, off)
        hcrc, = struct.unpack_from("<I", data, off + 8)
        assert hcrc == masked_crc32c(data[off:off + 8]), (path, off, "header crc")
        body = data[off + 12:off + 12 + length]
        dcrc, = struct.unpack_from("<I", data, off + 12 + length)
        assert dcrc == masked_crc32c(body), (path, off, "data crc")
        off += 16 + length
        n += 1
    assert off == len(data) and n >= 2, (path, off, len(data), n)

for d in (full, resumed):
    for f in glob.glob(os.path.join(d, "tb", "events.out.tfevents.*")):
        check_crcs(f)

def load(d, purge=True):
    ea = EventAccumulator(os.path.join(d, "tb"), size_guidance={"scalars": 0}, purge_orphaned_data=purge)
    ea.Reload()
    return ea

def series(ea, tag):
    return [(e.step, e.value) for e in ea.Scalars(tag)]

ea = load(full)
tags = ea.Tags()["scalars"]
for t in ("eval/perplexity", "eval/loss", "train/loss", "train/lr", "train/grad_norm", "train/update_norm",
          "train/tokens_per_s", "round/round", "round/seconds", "comm/bytes_moved"):
    assert t in tags, (t, tags)

# The figures are metrics.jsonl's, at step = tokens.
events = [json.loads(l) for l in open(os.path.join(full, "metrics.jsonl"))]
evals = [(e["tokens"], f32(e["perplexity"])) for e in events if e["event"] == "eval"]
rounds = [e for e in events if e["event"] == "round" and e["committed"]]
assert series(ea, "eval/perplexity") == evals, (series(ea, "eval/perplexity"), evals)
assert series(ea, "train/lr") == [(e["tokens"], f32(e["lr_last"])) for e in rounds]
assert series(ea, "train/grad_norm") == [(e["tokens"], f32(e["grad_norm_mean"])) for e in rounds]
assert series(ea, "round/round") == [(e["tokens"], float(e["round"])) for e in rounds]
assert len(rounds) == 6 and len(evals) == 7, (len(rounds), len(evals))

# The round events' informational figures (supervisor/round_stats.c): the
# learning rate is the schedule's (warmup 2, cosine to 0.1x over 6 x 4
# steps, computed here), the norms and rates agree with the task events.
def lr_at(step, lr=3e-3, warmup=2, total=24, lo=0.1):
    if step < warmup:
        return lr * (step + 1) / warmup
    r = min(1.0, (step - warmup) / (total - warmup))
    return lo * lr + 0.5 * (1 + math.cos(math.pi * r)) * (lr - lo * lr)
tasks = [e for e in events if e["event"] == "task"]
close = lambda a, b: abs(a - b) <= 1e-9 * max(1.0, abs(b))
for e in rounds:
    r = e["round"]
    assert e["lr_first"] == f32(lr_at(4 * (r - 1))) and e["lr_last"] == f32(lr_at(4 * (r - 1) + 3)), (e, lr_at(4 * (r - 1)))
    ts = [t for t in tasks if t["round"] == r]
    assert len(ts) == 4 and all(t["lr_first"] == e["lr_first"] for t in ts), ts
    un = [t["update_norm"] for t in ts]
    assert close(e["update_norm_mean"], sum(un) / 4) and e["update_norm_min"] == min(un) and e["update_norm_max"] == max(un), e
    assert close(e["grad_norm_mean"], sum(t["grad_norm"] for t in ts) / 4) and e["grad_norm_max"] >= max(t["grad_norm"] for t in ts) > 0, e
    rates = e["actor_tokens_per_s"]
    assert len(rates) == 2, rates
    for a in range(2):
        mine = [t for t in ts if t["actor"] == a]
        want = sum(t["tokens"] for t in mine) / sum(t["seconds"] for t in mine) if mine else None
        assert (rates[a] is None and want is None) or close(rates[a], want), (a, rates, want)

# Resumed == uninterrupted, for every deterministic tag.
er = load(resumed)
for t in ("eval/perplexity", "eval/loss", "train/loss", "train/lr", "train/grad_norm", "train/update_norm", "round/round"):
    a, b = series(ea, t), series(er, t)
    assert a == b, (t, a, b)
# Cumulative scalars continue across the resume: at every committed round,
# comm/bytes_moved is the running sum of the round events' bytes_moved
# (failed attempts included) in the resumed run's metrics.jsonl.
revents = [json.loads(l) for l in open(os.path.join(resumed, "metrics.jsonl"))]
want, total = [], 0.0
for e in revents:
    if e["event"] == "round":
        total += e["bytes_moved"]
        if e["committed"]:
            want.append((e["tokens"], f32(total)))
got = series(er, "comm/bytes_moved")
assert len(got) == 6 and all(b[1] >= a[1] for a, b in zip(got, got[1:])), ("bytes_moved not cumulative", got)
assert got == want, ("comm/bytes_moved differs from metrics.jsonl's running sum", got, want)
assert got == series(ea, "comm/bytes_moved"), (got, series(ea, "comm/bytes_moved"))
sf, sr = (json.load(open(os.path.join(d, "summary.json"))) for d in (full, resumed))
for k in ("bytes_moved", "update_bytes", "peak_task_bytes", "allreduce_bytes", "communication_reduction"):
    assert sf[k] == sr[k], ("summary.json after the resume", k, sf[k], sr[k])
assert sr["bytes_moved"] == total, (sr["bytes_moved"], total)
# ... because of the purge: without it the killed run's round 3 shows twice.
raw = series(load(resumed, purge=False), "round/round")
assert len(raw) == 7 and [v for _, v in raw].count(3.0) == 2, raw
print("ok: tags", len(tags), "rounds", len(rounds))
PY
echo ok
