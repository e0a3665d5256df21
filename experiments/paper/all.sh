#!/usr/bin/env bash
# Every claim of experiments/RESULTS.md in order (claims 2-6 use claim 1's
# tuned LRs), then the tables and plots.  About an hour on 2 idle cores;
# run again, it skips every completed run.
#   experiments/paper/all.sh [FIG_DIR]    (default experiments/paper/figures)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
for c in 1 2 3 4 5 6; do "$here/claim$c.sh"; done
out=${PAPER_OUT:-runs/paper}
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3)
for c in 1 2 3 4 5 6; do "$py" "$here/paper.py" "claim$c" "$out" -o "${1:-$here/figures}"; done
