#!/usr/bin/env bash
# tools/wan.sh on one point (docs/NETWORK.md, "Ground truth"): the
# wan-check experiment for real on emulated hosts (network namespaces,
# shaped links, remote actors over TCP) and a real ring all-reduce; the
# network model's times must be within 20% of the measured ones here (the
# documented grid is within 15%; this machine may be busier).  Nothing may
# be left behind: namespaces, cgroups, processes.  Skipped (77) where
# namespaces, TUN devices or tc are not allowed.
set -euo pipefail
: "${PHOTON_SIM:?PHOTON_SIM must point to the photon-sim binary}"
: "${PHOTON_SOURCE_DIR:?PHOTON_SOURCE_DIR must point to the source tree}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/photon-wan-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
before_ns=$(ip netns list 2> /dev/null | grep -c '^pw' || true)
rc=0
bash "$PHOTON_SOURCE_DIR/tools/wan.sh" --build "$(dirname "$PHOTON_SIM")" --out "$tmp/runs" --json "$tmp/wan.jsonl" \
    --max-error 20 --ring-steps 3 "$PHOTON_SOURCE_DIR/experiments/network/wan-check.ini" --set run.rounds=3 \
    > "$tmp/out.txt" 2>&1 || rc=$?
cat "$tmp/out.txt"
[ $rc = 77 ] && { echo "skipped: $(grep 'cannot emulate' "$tmp/out.txt")"; exit 77; }
[ $rc = 0 ] || fail "wan.sh exited with $rc"
[ "$(grep -c '"mode": "federated"' "$tmp/wan.jsonl")" = 1 ] || fail "no federated measurement"
[ "$(grep -c '"mode": "allreduce"' "$tmp/wan.jsonl")" = 1 ] || fail "no all-reduce measurement"
grep -q '"status":"completed"' "$tmp/runs/own/summary.json" || fail "the federated run did not complete"
[ "$(ip netns list 2> /dev/null | grep -c '^pw' || true)" = "$before_ns" ] || fail "network namespaces left: $(ip netns list)"
! ls /sys/fs/cgroup/cpu 2> /dev/null | grep -q '^photon-pw' || fail "cgroups left"
! pgrep -f "photon-wan-delay|photon-ring-bench" > /dev/null || fail "helper processes left"
echo ok
