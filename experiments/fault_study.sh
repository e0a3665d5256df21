#!/usr/bin/env bash
# The fault study of experiments/FAULT_STUDY.md: runs experiments/fault-study.ini
# with 0%, 10%, 25% and 50% of the client tasks killed (faults.kill_prob; the
# kills are seeded by faults.seed, so a re-run kills the same tasks at the
# same steps), each into its own run directory, then prints one Markdown table
# row per run from its summary.json and metrics.jsonl.
#
#   experiments/fault_study.sh [--out DIR] [--rates "0 0.1 0.25 0.5"] [--set k=v ...]
#
# PHOTON_SIM names the binary (default: photon-sim on PATH, else ./build/photon-sim).
# Extra --set options go to every run (e.g. --set faults.kill_signal=SEGV).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=runs/fault-study
rates="0 0.1 0.25 0.5"
sets=()
while [ $# -gt 0 ]; do
    case $1 in
        --out) out=$2; shift 2 ;;
        --rates) rates=$2; shift 2 ;;
        --set) sets+=(--set "$2"); shift 2 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "fault_study.sh: unknown argument '$1' (expected --out DIR, --rates LIST, --set k=v)" >&2; exit 2 ;;
    esac
done
sim=${PHOTON_SIM:-$(command -v photon-sim || echo "$here/../build/photon-sim")}
[ -x "$sim" ] || { echo "fault_study.sh: no photon-sim binary at '$sim' (set PHOTON_SIM)" >&2; exit 2; }
command -v python3 > /dev/null || { echo "fault_study.sh: python3 is needed to read the results" >&2; exit 2; }
mkdir -p "$out"
out=$(cd "$out" && pwd)

for rate in $rates; do
    dir="$out/kill-$rate"
    echo "fault_study.sh: kill_prob $rate -> $dir" >&2
    # A run that fails (e.g. max_retries exhausted) still gets its row: its
    # summary.json says "failed" and how far it got.
    # CPU time (user + system, the supervisor and every actor it reaped) is
    # the cost figure to compare on a shared machine; wall time is noisy.
    timer=()
    [ -x /usr/bin/time ] && timer=(/usr/bin/time -f "%U %S" -o "$dir.cpu")
    # --replace: a study run again starts each row over (the guard would
    # refuse to run into a directory that holds an earlier run's results).
    "${timer[@]}" "$sim" "$here/fault-study.ini" --replace --set run.out_dir="$dir" --set data.prepared_dir="$out/data" \
        --set faults.kill_prob="$rate" "${sets[@]}" > "$dir.log" 2>&1 ||
        echo "fault_study.sh: run with kill_prob $rate exited with status $? (see $dir.log)" >&2
done

python3 - "$out" $rates <<'PY'
import json, sys, os
out, rates = sys.argv[1], sys.argv[2:]
print("| tasks killed (kill_prob) | final val. perplexity | rounds completed (retried) | tasks killed / tasks run | updates aggregated | actor restarts | CPU time (s) | wall time (s) | status |")
print("|---|---|---|---|---|---|---|---|---|")
for rate in rates:
    d = os.path.join(out, "kill-" + rate)
    try:
        s = json.load(open(os.path.join(d, "summary.json")))
    except OSError:
        print(f"| {float(rate):.0%} | – | – | – | – | – | – | – | no summary.json |")
        continue
    kills = retried = tasks = acc = 0
    for line in open(os.path.join(d, "metrics.jsonl")):
        e = json.loads(line)
        if e["event"] == "fault" and e.get("type") == "kill":
            kills += 1
        elif e["event"] == "round":
            retried += not e["committed"]
            tasks += e["clients"]
            acc += e["accepted"] if e["committed"] else 0
    try:
        cpu = f"{sum(map(float, open(d + '.cpu').read().split()[-2:])):.1f}"
    except (OSError, ValueError):
        cpu = "–"
    print(f"| {float(rate):.0%} | {s['final_perplexity']:.2f} | {s['rounds']}/{s['rounds_planned']} ({retried}) "
          f"| {kills} of {tasks} ({kills / max(tasks, 1):.0%}) | {acc} | {s['actor_restarts']} "
          f"| {cpu} | {s['wall_seconds']:.1f} | {s['status']} |")
PY
