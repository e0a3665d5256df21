#!/usr/bin/env bash
# Claim 1 (DESIGN §1, §6): federated training with Photon's recipe reaches
# equal or lower validation perplexity than centralized training on the same
# tokens.  Both arms get an LR sweep (1e-3, 3e-3, 1e-2) at seed 1 and their
# best LR over 3 seeds: federated = base.ini (8 clients x batch 8, 16 local
# steps, FedAvg); centralized = the same tokens as one model with the global
# batch of 64 sequences per step (clients.batch_size x per_round), its own
# tuned LR ([centralized] lr).  Then how the gap moves with tokens (both
# arms' best LR at 20 and 80 rounds; base.ini has 30) and with model size
# (d_model 128, ~0.9 M parameters, at the same LRs), one seed each.
#   experiments/paper/claim1.sh        (then: python3 experiments/paper/paper.py claim1 runs/paper)
. "$(dirname "$0")/lib.sh"
central=(--set run.mode=centralized)
tuned claim1/fed clients.lr
tuned claim1/central centralized.lr "${central[@]}"
fed_lr=$(best claim1/fed-lr clients.lr)
cen_lr=$(best claim1/central-lr centralized.lr)
arm claim1/fed-tokens --grid run.rounds="$rounds_grid" --set clients.lr="$fed_lr"
arm claim1/central-tokens --grid run.rounds="$rounds_grid" --set centralized.lr="$cen_lr" "${central[@]}"
read -r -a big <<< "$bigger"
arm claim1/fed-bigger "${big[@]}" --set clients.lr="$fed_lr" --seeds 1
arm claim1/central-bigger "${big[@]}" --set centralized.lr="$cen_lr" "${central[@]}" --seeds 1
