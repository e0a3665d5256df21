#!/usr/bin/env bash
# docs/CONFIG.md must be exactly what `photon-sim config-reference` prints,
# so the key reference never drifts from the schema in io/config_schema.c.
set -u
BIN=${PHOTON_SIM:?PHOTON_SIM not set}
SRC=${PHOTON_SOURCE_DIR:?PHOTON_SOURCE_DIR not set}
T=$(mktemp -d "${TMPDIR:-/tmp}/photon-it-XXXXXX")
trap 'rm -rf "$T"' EXIT
"$BIN" config-reference >"$T/CONFIG.md" || { echo "FAIL: config-reference exited non-zero"; exit 1; }
if ! diff -u "$SRC/docs/CONFIG.md" "$T/CONFIG.md"; then
    echo "FAIL: docs/CONFIG.md is out of date; regenerate it with: cmake --build build --target config-doc"
    exit 1
fi
echo "docs/CONFIG.md matches the schema"
