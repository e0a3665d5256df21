#!/usr/bin/env bash
# Claim 2 (DESIGN §1, §6): Photon communicates 64-512x less than per-step
# all-reduce, and (issue 15) so reaches a target perplexity sooner on slow
# links.  (a) The communication reduction against T_local at equal tokens
# (480 local steps per client in all): T_local = 48, 96, 160 and 480 (10, 5,
# 3 and 1 rounds) next to claim 1's 16 (30 rounds), one seed; the ratio is exact
# arithmetic, the question is what a longer round costs in perplexity.
# (b) Time to target over links of 10, 100 and 1000 Mbit/s (20 ms one-way
# latency, compute = model): Photon (claim 1's federated recipe) against
# per-step ring all-reduce data parallelism among the same 8 workers (the
# centralized run with its tuned LR: the same global batch, one all-reduce per
# step), one seed; the network model does not change training (same
# model_hash at every bandwidth), only the simulated clock.
#   experiments/paper/claim2.sh      (needs claim1.sh's LR sweeps)
. "$(dirname "$0")/lib.sh"
fed_lr=$(best claim1/fed-lr clients.lr)
cen_lr=$(best claim1/central-lr centralized.lr)
for tr in $t_local; do
    arm "claim2/t${tr%:*}" --set clients.lr="$fed_lr" --set clients.local_steps="${tr%:*}" \
        --set run.rounds="${tr#*:}" --set eval.every=1 --seeds 1
done
net=(--set network.latency_ms=20 --set network.compute=model)
arm claim2/net-fed --grid network.bandwidth_mbps=10,100,1000 --set clients.lr="$fed_lr" "${net[@]}"
arm claim2/net-allreduce --grid network.bandwidth_mbps=10,100,1000 --set run.mode=centralized \
    --set centralized.lr="$cen_lr" "${net[@]}"
