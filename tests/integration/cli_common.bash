# Shared by the command-line integration tests (config_errors.sh,
# data_cli.sh, cli_odd_inputs.sh; sourced, not a test itself): a temp dir
# that is the working directory and is removed on exit, a failure counter,
# and `expect`, the check of one bad input.
set -u
BIN=${PHOTON_SIM:?PHOTON_SIM not set}
SRC=${PHOTON_SOURCE_DIR:?PHOTON_SOURCE_DIR not set}
T=$(mktemp -d "${TMPDIR:-/tmp}/photon-it-XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# expect NAME STATUS PATTERN ARGS...: photon-sim ARGS (stdin empty) exits
# STATUS with exactly one stderr line, which matches the regex PATTERN.
expect() {
    local name=$1 status=$2 pattern=$3; shift 3
    "$BIN" "$@" </dev/null >out.txt 2>err.txt
    local rc=$?
    if [ "$rc" != "$status" ]; then fail "$name: exit $rc, expected $status ($(head -c 300 err.txt))"; return; fi
    if [ "$(wc -l <err.txt)" != 1 ]; then fail "$name: $(wc -l <err.txt) stderr lines, expected 1:"; cat err.txt; return; fi
    if ! grep -qE -- "$pattern" err.txt; then fail "$name: stderr '$(cat err.txt)' does not match '$pattern'"; return; fi
    echo "ok   $name: $(cat err.txt)"
}
