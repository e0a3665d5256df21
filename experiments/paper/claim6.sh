#!/usr/bin/env bash
# Claim 6 (DESIGN §1, §6): small client batches with high learning rates are
# what make federated training work.  At equal tokens per round (each client
# 128 sequences a round), client batch 8 (16 local steps: claim 1's sweep
# over 1e-3, 3e-3, 1e-2) against batch 32 (4 steps, warmup scaled with the
# steps) with its own, wider sweep (3e-4 ... 3e-2: a larger batch
# may take a larger LR), one seed each.
#   experiments/paper/claim6.sh      (after claim1.sh)
. "$(dirname "$0")/lib.sh"
for b in $batches; do
    IFS=: read -r bs steps warm <<< "$b"
    arm "claim6/b$bs" --grid clients.lr="$lrs6" --set clients.batch_size="$bs" \
        --set clients.local_steps="$steps" --set clients.warmup="$warm"
done
