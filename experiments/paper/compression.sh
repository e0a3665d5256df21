#!/usr/bin/env bash
# The compression and streaming-fragment grid of experiments/RESULTS.md
# (issue 16): runs experiments/paper/compression.ini for every point below
# and every seed, each into its own run directory, then prints one Markdown
# table row per point (mean and spread over the seeds).
#
#   experiments/paper/compression.sh [--out DIR] [--seeds N] [--points LIST] [--table] [--set k=v ...]
#
# Points (--points takes a comma list of these names; default all):
#   fp32                      compression none, F = 1 (the baseline)
#   bf16 int8 fp4             compressed updates, no error feedback
#   bf16-ef int8-ef fp4-ef    ... with error feedback
#   f2 f4                     F = 2, 4 streaming fragments (fp32), no overlap
#   f1-ov f2-ov f4-ov         F = 1, 2, 4 with overlap (mix 0.5)
# Seeds are run.seed = 1 .. N (default 3).  A run that completed is not run
# again; --table only prints the table of the runs there are.  Extra --set options go to every
# run (e.g. a quick look: --seeds 1 --set run.rounds=8 --set data.max_docs=300).
# When this photon-sim has the network model ([network], DESIGN §8), every
# run also gets --set network.bandwidth_mbps=100 --set network.compute=model
# (compute from FLOPs, so the simulated time does not depend on how busy the
# machine is) and the table its simulated wall time; otherwise "–".
# PHOTON_SIM names the binary (default: photon-sim on PATH, else ./build/photon-sim).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=runs/compression
seeds=3
points=fp32,bf16,bf16-ef,int8,int8-ef,fp4,fp4-ef,f2,f4,f1-ov,f2-ov,f4-ov
sets=()
table=0
while [ $# -gt 0 ]; do
    case $1 in
        --out) out=$2; shift 2 ;;
        --seeds) seeds=$2; shift 2 ;;
        --points) points=$2; shift 2 ;;
        --table) table=1; shift ;;
        --set) sets+=(--set "$2"); shift 2 ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *) echo "compression.sh: unknown argument '$1' (expected --out DIR, --seeds N, --points LIST, --set k=v)" >&2; exit 2 ;;
    esac
done
sim=${PHOTON_SIM:-$(command -v photon-sim || echo "$here/../../build/photon-sim")}
[ -x "$sim" ] || { echo "compression.sh: no photon-sim binary at '$sim' (set PHOTON_SIM)" >&2; exit 2; }
command -v python3 > /dev/null || { echo "compression.sh: python3 is needed to read the results" >&2; exit 2; }
[[ $seeds =~ ^[1-9][0-9]*$ ]] || { echo "compression.sh: --seeds expects a positive integer (got '$seeds')" >&2; exit 2; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
net=()
# (not `config-reference | grep -q`: grep's early exit fails the pipeline under pipefail)
[[ $("$sim" config-reference) == *bandwidth_mbps* ]] && net=(--set network.bandwidth_mbps=100 --set network.compute=model)

# point NAME -> the --set options that make it
point() {
    local a=aggregator
    case $1 in
        fp32) echo "" ;;
        bf16|int8|fp4) echo "--set $a.compression=$1" ;;
        bf16-ef|int8-ef|fp4-ef) echo "--set $a.compression=${1%-ef} --set $a.error_feedback=true" ;;
        f2|f4) echo "--set $a.fragments=${1#f}" ;;
        f1-ov|f2-ov|f4-ov) local f=${1%-ov}; echo "--set $a.fragments=${f#f} --set $a.overlap=true" ;;
        *) return 1 ;;
    esac
}

IFS=, read -r -a plist <<< "$points"
for p in "${plist[@]}"; do point "$p" > /dev/null || { echo "compression.sh: unknown point '$p'" >&2; exit 2; }; done
for p in "${plist[@]}"; do
    for s in $(seq 1 "$seeds"); do
        dir="$out/$p/seed-$s"
        [ "$table" = 1 ] && continue
        grep -qs '"status":"completed"' "$dir/summary.json" && continue
        rm -rf "$dir"
        mkdir -p "$out/$p"
        echo "compression.sh: $p seed $s -> $dir" >&2
        # shellcheck disable=SC2046 # the point's options are words
        "$sim" "$here/compression.ini" --set run.out_dir="$dir" --set data.prepared_dir="$out/data" \
            --set run.seed="$s" $(point "$p") "${net[@]}" "${sets[@]}" > "$dir.log" 2>&1 ||
            echo "compression.sh: $p seed $s exited with status $? (see $dir.log)" >&2
    done
done

python3 - "$out" "$seeds" "${plist[@]}" <<'PY'
import json, os, statistics, sys
out, seeds, points = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def runs(p):
    for s in range(1, seeds + 1):
        d = os.path.join(out, p, f"seed-{s}")
        try:
            summary = json.load(open(os.path.join(d, "summary.json")))
        except OSError:
            continue
        # the steady state: the last committed round's largest exchange (round 1
        # sends every client the whole model, whatever the fragments)
        last = None
        for line in open(os.path.join(d, "metrics.jsonl")):
            e = json.loads(line)
            if e["event"] == "round" and e["committed"]:
                last = e
        summary["last_peak"] = last["peak_task_bytes"] if last else None
        yield summary
def fmt(v, spec):
    return "–" if v is None else format(v, spec)
def mean_sd(xs):
    if not xs:
        return None, None
    return statistics.mean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)
base = [s["final_perplexity"] for s in runs("fp32") if s["status"] == "completed"]
base_ppl = statistics.mean(base) if base else None
print("| point | runs | final val. perplexity (mean ± sd) | vs fp32 | update bytes / round | bytes moved / round "
      "| peak bytes of one exchange (last round) | update bytes vs fp32 | sim. wall @100 Mbit/s (s) |")
print("|---|---|---|---|---|---|---|---|---|")
fp32_upd = None
rows = []
for p in points:
    rs = [s for s in runs(p) if s["status"] == "completed"]
    ppl, sd = mean_sd([s["final_perplexity"] for s in rs])
    rounds = rs[0]["rounds"] if rs else 0
    upd = statistics.mean(s["update_bytes"] / s["rounds"] for s in rs) if rs else None
    mov = statistics.mean(s["bytes_moved"] / s["rounds"] for s in rs) if rs else None
    peak = max(s["last_peak"] for s in rs) if rs and all(s["last_peak"] for s in rs) else None
    # the simulated time (compute = model) is the same for every seed of a point
    sims = [s["sim_wall_seconds"] for s in rs if "sim_wall_seconds" in s]
    sim = statistics.mean(sims) if sims else None
    if p == "fp32":
        fp32_upd = upd
    rows.append((p, len(rs), ppl, sd, upd, mov, peak, sim))
for p, n, ppl, sd, upd, mov, peak, sim in rows:
    rel = None if ppl is None or base_ppl is None else (ppl / base_ppl - 1) * 100
    red = None if upd is None or not fp32_upd else fp32_upd / upd
    print(f"| {p} | {n}/{seeds} | {fmt(ppl, '.2f')} ± {fmt(sd, '.2f')} | {fmt(rel, '+.2f')}% | {fmt(upd, ',.0f')} "
          f"| {fmt(mov, ',.0f')} | {fmt(peak, ',.0f')} | {fmt(red, '.2f')}× | {fmt(sim, '.1f')} |")
PY
