#!/usr/bin/env bash
# `photon-sim bench --runtime` reaches the runtime-cost bench and prints one
# JSON object per size with the memcpy comparison; bad sizes are usage errors.
set -euo pipefail
: "${PHOTON_SIM:?PHOTON_SIM must point to the photon-sim binary}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/photon-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$PHOTON_SIM" bench --runtime --sizes tiny --clients 4 --reps 1 --threads 1 --json > "$tmp/out.json"
python3 - "$tmp/out.json" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert len(rows) == 1, rows
r = rows[0]
assert r["size"] == "tiny" and r["clients"] == 4 and r["params"] > 0, r
for k in ("memcpy_gbps", "agg_gbps", "agg_prenorm_gbps", "memcpy_over_agg", "outer_ms"):
    assert r[k] > 0, (k, r)
PY
# --quant: one object per encoding, each smaller than fp32, with its saving on a 1 Gbit/s link
"$PHOTON_SIM" bench --runtime --quant --sizes tiny --reps 1 --threads 1 --json > "$tmp/q.json"
python3 - "$tmp/q.json" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert [r["encoding"] for r in rows] == ["bf16", "int8", "fp4"], rows
for r in rows:
    assert r["ratio"] > 1.9 and r["bytes"] * r["ratio"] > 4 * r["params"] * 0.999, r
    for k in ("memcpy_ms", "encode_ms", "encode_ef_ms", "decode_ms", "link_saved_s", "cost_s",
              "memcpy_gbps", "encode_gbps", "encode_ef_gbps", "decode_gbps"):
        assert r[k] > 0, (k, r)
    assert r["link_mbps"] == 1000, r
PY
# --kernels both: each encoding with the build's kernels and the portable ones, side by side
"$PHOTON_SIM" bench --runtime --quant --sizes tiny --reps 1 --threads 1 --kernels both --json > "$tmp/q2.json"
python3 - "$tmp/q2.json" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert [r["encoding"] for r in rows] == ["bf16", "bf16", "int8", "int8", "fp4", "fp4"], rows
assert all(r["kernels"] == "portable" for r in rows[1::2]) and rows[0]["kernels"] in ("avx2", "portable"), rows
PY
# --digest: the encodings' bits, the same from both kernel sets
"$PHOTON_SIM" bench --runtime --quant --digest > "$tmp/d.txt"
[ "$(grep -c '^digest \(bf16\|int8\|fp4\) *[0-9a-f]\{16\}$' "$tmp/d.txt")" = 3 ] || { echo "FAIL: digest $(cat "$tmp/d.txt")" >&2; exit 1; }
set +e
"$PHOTON_SIM" bench --runtime --sizes huge > "$tmp/err.txt" 2>&1
rc=$?
set -e
[ "$rc" = 2 ] || { echo "FAIL: bad size exited $rc, expected 2" >&2; exit 1; }
grep -q "unknown size 'huge'" "$tmp/err.txt" || { echo "FAIL: $(cat "$tmp/err.txt")" >&2; exit 1; }
echo ok
