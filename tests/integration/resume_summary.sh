#!/usr/bin/env bash
# A resumed run's summary.json has the figures of its past (issue 12): they
# are read back from metrics.jsonl (supervisor/history.c).
#  1. --resume of a run that had finished: exit 0, nothing trained, no
#     actor started or signalled, "perplexity nan" nowhere; summary.json
#     says what the finished run's said (final and initial perplexity, per
#     source, train loss); metrics.jsonl gains nothing.
#  2. A run killed at round 3 and resumed: its summary's initial
#     perplexity is the uninterrupted run's (the evaluation before round 1,
#     which the resumed process never ran).
source "$(dirname "$0")/runtime_common.bash"
write_tiny_ini "$tmp/x.ini"
sed -i "s/^rounds = 3$/rounds = 4/" "$tmp/x.ini"
figures() {   # the summary fields a resume must reproduce
    python3 - "$1" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
for k in ("status", "rounds", "final_train_loss", "final_eval_loss", "final_perplexity", "initial_perplexity",
          "final_perplexity_by_source", "final_eval_loss_by_source", "eval_tokens", "model_hash"):
    print(k, json.dumps(s.get(k)))
PY
}
"$PHOTON_SIM" "$tmp/x.ini" --set run.out_dir="$tmp/ref" > "$tmp/ref.txt" 2>&1 || { cat "$tmp/ref.txt"; fail "reference run"; }
figures "$tmp/ref/summary.json" > "$tmp/ref.fig"
grep -q 'final_perplexity [0-9]' "$tmp/ref.fig" && grep -q 'initial_perplexity [0-9]' "$tmp/ref.fig" \
    || { cat "$tmp/ref.fig"; fail "the reference summary has no perplexities"; }
cp "$tmp/ref/metrics.jsonl" "$tmp/ref.metrics"

# 1: resume a finished run.
rc=0
"$PHOTON_SIM" "$tmp/x.ini" --set run.out_dir="$tmp/ref" --resume > "$tmp/again.txt" 2>&1 || rc=$?
cat "$tmp/again.txt"
[ $rc = 0 ] || fail "resuming a finished run: exit $rc"
grep -qi "nan" "$tmp/again.txt" && fail "the resume of a finished run reports NaN"
grep -qE "TERM|actor [0-9]+ " "$tmp/again.txt" && fail "actors were started or signalled for a finished run"
grep -q "had already completed its 4 rounds" "$tmp/again.txt" || fail "no line saying the run was already complete"
grep -q "done: 4 rounds, validation perplexity [0-9]" "$tmp/again.txt" || fail "the done line has no perplexity"
figures "$tmp/ref/summary.json" > "$tmp/again.fig"
diff "$tmp/ref.fig" "$tmp/again.fig" || fail "the finished run's summary changed on --resume"
# metrics.jsonl is cut back to the final checkpoint (as every resume does:
# only the actors' exits came after it) and nothing is added
python3 - "$tmp/ref.metrics" "$tmp/ref/metrics.jsonl" <<'PY' || fail "metrics.jsonl changed on --resume of a finished run"
import sys
a, b = open(sys.argv[1]).read(), open(sys.argv[2]).read()
assert a.startswith(b), "not a prefix of the finished run's"
assert '"event":"checkpoint"' in b.splitlines()[-1], "does not end at the final checkpoint"
assert all('"event":"actor_exit"' in l for l in a[len(b):].splitlines()), "lost more than the actors' exits"
PY

# 2: killed at the start of round 3, resumed.
rc=0; "$PHOTON_SIM" "$tmp/x.ini" --set run.out_dir="$tmp/k" --set faults.kill_supervisor_round=3 > "$tmp/k1.txt" 2>&1 || rc=$?
[ $rc = 137 ] || { cat "$tmp/k1.txt"; fail "the supervisor was not killed at round 3 (exit $rc)"; }
"$PHOTON_SIM" "$tmp/x.ini" --set run.out_dir="$tmp/k" --set faults.kill_supervisor_round=3 --resume > "$tmp/k2.txt" 2>&1 \
    || { cat "$tmp/k2.txt"; fail "resume after the kill"; }
figures "$tmp/k/summary.json" > "$tmp/k.fig"
diff "$tmp/ref.fig" "$tmp/k.fig" || fail "the resumed run's summary differs from the uninterrupted run's"
echo "ok: summaries of resumed runs match the uninterrupted run's"
