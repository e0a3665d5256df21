#!/usr/bin/env bash
# Claim 5 (DESIGN §1, §6; issue 15): wall time to a target perplexity falls
# as clients (compute) are added, with a compute-time trade-off like
# centralized training's.  K = 1, 2, 4, 8 clients per round (each with
# claim 1's recipe: more clients = more tokens per round) against
# data-parallel centralized training on K workers (global batch 8K, its tuned
# LR), 30 rounds each, on the simulated clock: 100 Mbit/s links, 20 ms,
# compute = model.  Time to target = simulated seconds to the K = 1 run's
# final perplexity; the trade-off = K x that time (worker-seconds).
#   experiments/paper/claim5.sh      (after claim1.sh)
. "$(dirname "$0")/lib.sh"
fed_lr=$(best claim1/fed-lr clients.lr)
cen_lr=$(best claim1/central-lr centralized.lr)
net=(--set network.bandwidth_mbps=100 --set network.latency_ms=20 --set network.compute=model)
arm claim5/fed --grid clients.per_round=1,2,4,8 --set clients.lr="$fed_lr" \
    --set aggregator.min_clients=1 "${net[@]}"
arm claim5/allreduce --grid clients.per_round=1,2,4,8 --set run.mode=centralized \
    --set centralized.lr="$cen_lr" --set aggregator.min_clients=1 "${net[@]}"
