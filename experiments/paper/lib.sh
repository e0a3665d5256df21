# Sourced by the claim scripts of experiments/paper/ (claim1.sh ... claim6.sh):
# where the binary and the runs are, and the two steps every comparison
# uses: an LR sweep of an arm at one seed, then its best LR over 3 seeds.
#   PHOTON_SIM   the binary (default: photon-sim on PATH, else build-portable/ or build/)
#   PAPER_OUT    where the runs go (default runs/paper)
#   PAPER_SEEDS  seeds per final point (default 3)
#   PAPER_SET    "--set k=v" words for every run, before the claim's own
#                (a quick look: PAPER_SET="--set run.rounds=4 --set data.max_docs=200")
#   PAPER_SCALE  cpu (default: base.ini, ~270 k parameters, minutes on 2 cores)
#                or 125m (base-125m.ini, the paper's 125M recipe, for GPUs);
#                it also picks the scale's LR grid and the claims' variants
#   PAPER_LRS    the LR grid of every sweep (default per scale); PAPER_T_LOCAL,
#                PAPER_BATCHES, PAPER_ROUNDS_GRID: claims 2, 6 and 1's variants
#                (claim 1 also runs a bigger model: d_model 128 on the CPU,
#                the 350M shape at 125m)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
case ${PAPER_SCALE:-cpu} in
    # t_local: T_local:rounds pairs of claim 2 at the base's total local steps;
    # batches: batch:local_steps:warmup triples of claim 6 at its tokens per round
    cpu)  base=$here/base.ini; lrs=${PAPER_LRS:-1e-3,3e-3,1e-2}
          t_local=${PAPER_T_LOCAL:-48:10 96:5 480:1}; batches=${PAPER_BATCHES:-32:4:8}
          lrs6=${PAPER_LRS:-3e-4,1e-3,3e-3,1e-2,3e-2}
          rounds_grid=${PAPER_ROUNDS_GRID:-20,80}; bigger="--set model.d_model=128" ;;
    125m) base=$here/base-125m.ini; lrs=${PAPER_LRS:-3e-4,6e-4,1.2e-3,2.4e-3}
          t_local=${PAPER_T_LOCAL:-512:10 1024:5 2560:2}; batches=${PAPER_BATCHES:-128:32:200 256:16:100}
          lrs6=${PAPER_LRS:-6e-4,1.2e-3,2.4e-3,4.8e-3}
          rounds_grid=${PAPER_ROUNDS_GRID:-20,80}
          bigger="--set model.n_layer=24 --set model.n_head=16 --set model.d_model=1024" ;;
    *) echo "paper: PAPER_SCALE is cpu or 125m (got '$PAPER_SCALE')" >&2; exit 2 ;;
esac
if [ -z "${PHOTON_SIM:-}" ]; then
    PHOTON_SIM=$(command -v photon-sim || true)
    for b in "$root/build-portable/photon-sim" "$root/build/photon-sim"; do
        [ -n "$PHOTON_SIM" ] || { [ -x "$b" ] && PHOTON_SIM=$b; }
    done
fi
sim=$PHOTON_SIM
# Debian's python3 has matplotlib (tools/setup.sh installs python3-matplotlib)
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3)
[ -x "$sim" ] || { echo "paper: no photon-sim binary (set PHOTON_SIM or build one)" >&2; exit 2; }
out=${PAPER_OUT:-runs/paper}
mkdir -p "$out"
out=$(cd "$out" && pwd)
seeds=${PAPER_SEEDS:-3}
read -r -a extra <<< "${PAPER_SET:-}"

say() { echo "paper: $*" >&2; }

# arm DIR [sweep options...]: one sweep of base.ini into $out/DIR, sharing the
# IID data; PAPER_SET comes first so that the arm's own options win (a later
# --set wins; a --grid wins over any --set of its key).  A point that fails
# is reported by the sweep and skipped by the tables.
arm() {
    local dir=$1; shift
    say "$dir"
    "$sim" sweep "$base" --set run.out_dir="$out/$dir" --set data.prepared_dir="$out/data-iid" \
        ${extra[@]+"${extra[@]}"} "$@" || say "$dir: the sweep failed (see above and $out/$dir/sweep.json)"
}

# best DIR KEY: the value of KEY (section.key) at the point of the sweep in
# $out/DIR with the lowest final perplexity (mean over its seeds).
best() { "$py" "$here/paper.py" best "$out/$1" "$2"; }

# tuned DIR KEY [sweep options...]: sweep KEY over $lrs at seed 1 into DIR-lr,
# then the best value at seeds 2 .. $seeds into DIR (paper.py counts the
# sweep's seed-1 point with them).
tuned() {
    local dir=$1 key=$2; shift 2
    arm "$dir-lr" --grid "$key=$lrs" "$@"
    local v
    v=$(best "$dir-lr" "$key")
    say "$dir: best $key = $v"
    [ "$seeds" -gt 1 ] && arm "$dir" --set "$key=$v" --set run.seed=2 --seeds $((seeds - 1)) "$@"
    return 0
}
