# Shared by the runtime_*.sh integration tests (sourced; not a test itself):
# a temp dir removed on exit, and a tiny federated experiment written there.
set -euo pipefail
: "${PHOTON_SIM:?PHOTON_SIM must point to the photon-sim binary}"
: "${PHOTON_SOURCE_DIR:?PHOTON_SOURCE_DIR must point to the source tree}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/photon-rt.XXXXXX")
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT

# write_tiny_ini FILE [extra INI lines...]: a few-thousand-parameter model on
# 200 C4 documents, a 512-token BPE trained on them, 4 clients.
write_tiny_ini() {
    local f=$1; shift
    cat > "$f" <<INI
[run]
name = tiny
out_dir = $tmp/run
seed = 7
rounds = 3
backend = cpu
threads = 1
[model]
n_layer = 1
n_head = 2
d_model = 32
seq_len = 32
[data]
sources = $PHOTON_SOURCE_DIR/data/c4/c4-sample-train.json.gz
validation = $PHOTON_SOURCE_DIR/data/c4/c4-sample-validation.json.gz
tokenizer = train
tokenizer_vocab = 512
max_docs = 200
prepared_dir = $tmp/data
[clients]
count = 4
per_round = 4
actors = 2
local_steps = 4
batch_size = 4
lr = 3e-3
[eval]
every = 1
batches = 2
[checkpoint]
every = 2
keep = 2
INI
    local line
    for line in "$@"; do echo "$line" >> "$f"; done
}

fail() { echo "FAIL: $*" >&2; exit 1; }

# metrics_untimed FILE: metrics.jsonl without what differs between two runs
# of the same bits (times, throughputs, pids, actor slots, paths), for
# comparing a resumed run with an uninterrupted one.
metrics_untimed() {
    sed -E 's/"(time|seconds|overhead_seconds)":[^,}]*//g; s/"actor_tokens_per_s":\[[^]]*\]//g; s/"(pid|actor)":[0-9]+//g; s/"dir":"[^"]*"//' "$1"
}

# no_leftovers PID: no /dev/shm segment of that supervisor and no temp file in the run dir.
no_leftovers() {
    local pid=$1
    if ls /dev/shm 2>/dev/null | grep -q "^photon-$pid-"; then fail "shm segments left: $(ls /dev/shm | grep "^photon-$pid-")"; fi
    if find "$tmp/run" -name '*.tmp.*' 2>/dev/null | grep -q .; then fail "temp files left: $(find "$tmp/run" -name '*.tmp.*')"; fi
}
