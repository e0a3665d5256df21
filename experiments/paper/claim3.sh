#!/usr/bin/env bash
# Claim 3 (DESIGN §1, §6): with Photon's recipe (FedAvg, server LR 1, small
# client batches and a high client LR: claim 1's federated arm) federated
# training converges about 2x faster than DiLoCo (Nesterov outer optimizer,
# server LR 0.7, momentum 0.9).  DiLoCo gets the same client LR sweep
# (1e-3, 3e-3, 1e-2) and its best LR over 3 seeds; the comparison is rounds
# (= tokens) to a target perplexity, the worse of the two arms' final means.
#   experiments/paper/claim3.sh      (after claim1.sh)
. "$(dirname "$0")/lib.sh"
tuned claim3/diloco clients.lr --set aggregator.strategy=nesterov \
    --set aggregator.server_lr=0.7 --set aggregator.momentum=0.9
