#!/usr/bin/env bash
# Evaluation over the whole validation set, on the supervisor or as a task
# on an actor ([eval] on; docs/RUNTIME.md, "Evaluation"), with two
# validation sources and a token budget:
#  - every eval event has perplexity_by_source for both sources, scores
#    budget / seq_len windows (eval_tokens within the budget), and its
#    overall perplexity lies between the sources';
#  - on = actor gives eval events bitwise equal to on = supervisor (CPU
#    backend; with the default batch, the actor's training model instance,
#    and with another, a second one), and neither changes training: the
#    model equals a run without evaluation;
#  - an actor killed during an eval task: the evaluation is retried on the
#    other actor (PHOTON_FAULT_EVAL_KILL=1), or done by the supervisor when
#    both die (=2), logged as eval_lost events, with the same figures; the
#    same over link = tcp with remote actors, one of which dies for good;
#  - a run with on = actor killed (SIGKILL) and resumed ends with the model
#    and metrics of one that never stopped.
source "$(dirname "$0")/runtime_common.bash"
trap 'rc=$?; if [ $rc != 0 ]; then for f in "$tmp"/*.txt; do echo "== $f"; tail -n 15 "$f"; done; fi; [ ${#pids[@]} = 0 ] || kill -9 "${pids[@]}" 2>/dev/null || true; cleanup' EXIT
pids=()
write_tiny_ini "$tmp/x.ini"
D=$PHOTON_SOURCE_DIR/data
sets=(--set "data.validation=wiki=$D/wikipedia/wiki-validation.json.gz,c4=$D/c4/c4-sample-validation.json.gz"
      --set eval.tokens=4000 --set run.rounds=4 --set checkpoint.every=1 --set run.threads=0)
run() { local name=$1; shift; "$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" --set run.out_dir="$tmp/$name" "$@" > "$tmp/$name.txt" 2>&1 ||
            fail "run $name exited with $?"; }
hash_of() { grep -o '"model_hash":"[0-9a-f]*"' "$tmp/$1/summary.json"; }
evals() { grep '"event":"eval"' "$tmp/$1/metrics.jsonl" | sed -E 's/"(time|seconds)":[^,}]*//g; s/"on":"[a-z]*"//'; }
same_evals() { diff <(evals "$1") <(evals "$2") > "$tmp/diff.txt" || { head -4 "$tmp/diff.txt"; fail "eval events of $2 differ from $1's"; }; }

run sup --set eval.on=supervisor
run act --set eval.on=actor
run none --set eval.batches=0
python3 - "$tmp/sup/metrics.jsonl" "$tmp/sup/summary.json" <<'PY' || fail "eval events"
import json, math, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if '"event":"eval"' in l]
assert len(ev) == 5, f"{len(ev)} eval events, expected 5 (start + 4 rounds)"
for e in ev:
    by = e["perplexity_by_source"]
    assert sorted(by) == ["c4", "wiki"], by
    assert e["windows"] == 4000 // 32 and e["eval_tokens"] == 4000, e
    assert all(math.isfinite(v) and v > 1 for v in by.values()), by
    assert min(by.values()) <= e["perplexity"] <= max(by.values()), e
    assert abs(math.log(e["perplexity"]) - e["loss"]) < 1e-9, e
    assert e["on"] == "supervisor", e
assert ev[-1]["perplexity"] < ev[0]["perplexity"], "training lowers the perplexity"
s = json.load(open(sys.argv[2]))
assert s["final_perplexity_by_source"] == ev[-1]["perplexity_by_source"], s
assert s["eval_tokens"] == 4000
PY
grep -q '"on":"supervisor"' "$tmp/act/metrics.jsonl" && fail "on = actor evaluated in the supervisor"
[ "$(grep -c '"event":"eval".*"on":"actor"' "$tmp/act/metrics.jsonl")" = 5 ] || fail "not every evaluation ran on an actor"
same_evals sup act
[ "$(hash_of sup)" = "$(hash_of act)" ] && [ "$(hash_of sup)" = "$(hash_of none)" ] ||
    fail "evaluation changed training: $(hash_of none) $(hash_of sup) $(hash_of act)"

# A batch other than the training micro-batch (the actor's second model instance).
run sup3 --set eval.on=supervisor --set eval.batch_size=3
run act3 --set eval.on=actor --set eval.batch_size=3
same_evals sup3 act3

# An actor dies in the first eval task: the other one does it.
PHOTON_FAULT_EVAL_KILL=1 run kill1 --set eval.on=actor
grep -q '"event":"eval_lost".*"next":"actor"' "$tmp/kill1/metrics.jsonl" || fail "kill1: no eval_lost event"
grep -q '"event":"actor_exit"' "$tmp/kill1/metrics.jsonl" || fail "kill1: no actor died"
[ "$(grep -c '"event":"eval".*"on":"actor"' "$tmp/kill1/metrics.jsonl")" = 5 ] || fail "kill1: not every evaluation ran on an actor"
same_evals sup kill1
[ "$(hash_of kill1)" = "$(hash_of sup)" ] || fail "kill1: the model differs"
# Both die: the supervisor does it.
PHOTON_FAULT_EVAL_KILL=2 run kill2 --set eval.on=actor
grep -q '"event":"eval_lost".*"next":"supervisor"' "$tmp/kill2/metrics.jsonl" || fail "kill2: no fallback to the supervisor"
grep '"event":"eval"' "$tmp/kill2/metrics.jsonl" | head -n 1 | grep -q '"on":"supervisor"' || fail "kill2: first eval not in the supervisor"
grep -q "evaluating in the supervisor" "$tmp/kill2.txt" || fail "kill2: the fallback was not logged"
same_evals sup kill2
[ "$(hash_of kill2)" = "$(hash_of sup)" ] || fail "kill2: the model differs"

# link = tcp: remote actors; the one that takes the first eval task dies for good.
PHOTON_FAULT_EVAL_KILL=1 "$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" --set run.out_dir="$tmp/tcp" --set eval.on=actor \
    --set aggregator.link=tcp > "$tmp/tcp.txt" 2>&1 &
sup=$!
for _ in $(seq 300); do [ -s "$tmp/tcp/listen.addr" ] && break; kill -0 $sup 2>/dev/null || break; sleep 0.1; done
[ -s "$tmp/tcp/listen.addr" ] || fail "no listen.addr"
for i in 0 1; do
    "$PHOTON_SIM" actor --connect "$(cat "$tmp/tcp/listen.addr")" --key-file "$tmp/tcp/run.key" > "$tmp/actor$i.txt" 2>&1 &
    pids+=($!)
done
rc=0; wait $sup || rc=$?
[ $rc = 0 ] || fail "tcp run exited with $rc"
codes=""
for p in "${pids[@]}"; do rc=0; { wait "$p"; } 2>/dev/null || rc=$?; codes="$codes $rc"; done
pids=()
[ "$(echo $codes | tr ' ' '\n' | sort | tr '\n' ' ')" = "0 137 " ] || fail "remote actors exited with$codes (expected one 0, one killed)"
grep -q '"event":"eval_lost".*"next":"actor"' "$tmp/tcp/metrics.jsonl" || fail "tcp: no eval_lost event"
same_evals sup tcp
[ "$(hash_of tcp)" = "$(hash_of sup)" ] || fail "tcp: the model differs"

# Killed after round 2 (supervisor SIGKILL as round 3 starts), resumed: as if never stopped.
rc=0; { "$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" --set run.out_dir="$tmp/res" --set eval.on=actor \
    --set faults.kill_supervisor_round=3 > "$tmp/res1.txt" 2>&1; } 2>/dev/null || rc=$?
[ $rc = 137 ] || fail "the run was to kill itself (137), exited with $rc"
"$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" --set run.out_dir="$tmp/res" --set eval.on=actor --resume > "$tmp/res2.txt" 2>&1 ||
    fail "resumed run failed"
grep -q "resuming after round 2" "$tmp/res2.txt" || fail "did not resume after round 2"
[ "$(hash_of res)" = "$(hash_of act)" ] || fail "resumed model differs"
strip() { metrics_untimed "$1" | grep -v actor_exit; }
diff <(strip "$tmp/act/metrics.jsonl") <(strip "$tmp/res/metrics.jsonl") > "$tmp/mdiff.txt" ||
    { head "$tmp/mdiff.txt"; fail "resumed metrics differ"; }
echo ok
