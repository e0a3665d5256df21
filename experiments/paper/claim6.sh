#!/usr/bin/env bash
# Claim 6 (DESIGN §1, §6): small client batches with high learning rates are
# what make federated training work.  At equal tokens per round (each client
# 128 sequences a round), client batch 8 (16 local steps: claim 1's sweep),
# 32 (4 steps) and 64 (2 steps), each with the LR sweep 1e-3, 3e-3, 1e-2
# (warmup scaled with the steps), one seed; 3 seeds where the best points
# are close is left to claim 1's arm for batch 8.
#   experiments/paper/claim6.sh      (after claim1.sh)
. "$(dirname "$0")/lib.sh"
for b in $batches; do
    IFS=: read -r bs steps warm <<< "$b"
    arm "claim6/b$bs" --grid clients.lr="$lrs" --set clients.batch_size="$bs" \
        --set clients.local_steps="$steps" --set clients.warmup="$warm"
done
