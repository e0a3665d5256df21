#!/usr/bin/env bash
# Claim 4 (DESIGN §1, §6): federated training is robust to heterogeneous
# client data.  Claim 1's federated arm (IID: every client a mix of the three
# sources) against the same recipe with each client holding one source only
# (partition = by_source: Wikipedia, C4 and Shakespeare dealt over the 8
# clients), 3 seeds, at the IID arm's tuned LR; with PAPER_DIRICHLET=1 also
# Dirichlet mixtures (alpha 0.1).  Validation stays the union of all sources.
#   experiments/paper/claim4.sh      (after claim1.sh)
. "$(dirname "$0")/lib.sh"
fed_lr=$(best claim1/fed-lr clients.lr)
arm claim4/by-source --set clients.lr="$fed_lr" --set data.partition=by_source \
    --set data.prepared_dir="$out/data-by-source" --seeds "$seeds"
[ "${PAPER_DIRICHLET:-0}" = 1 ] || exit 0
arm claim4/dirichlet --set clients.lr="$fed_lr" --set data.partition=dirichlet \
    --set data.alpha=0.1 --set data.prepared_dir="$out/data-dirichlet" --seeds "$seeds"
