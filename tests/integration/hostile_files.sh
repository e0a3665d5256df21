#!/usr/bin/env bash
# Files that are not what they claim (issue 12 item 8 and the class behind
# it): where photon-sim expects a file it reads only a regular file of a
# bounded size, so a device, a FIFO or a huge file fails at once with one
# line (every command runs under `timeout`: a hang is a failure).
#   - the experiment file or an include that is /dev/zero, a FIFO, a file
#     of 2 MB, a directory; includes that multiply (every file including
#     the next one twice: 2^20 loads) stop at a bound;
#   - eval --data a FIFO or /dev/zero; a checkpoint that is a FIFO or
#     /dev/zero; a tokenizer whose encoder.json is a FIFO or /dev/zero;
#   - a metrics.jsonl that is a FIFO when a run resumes.
source "$(dirname "$0")/cli_common.bash"
printf '#!/bin/sh\nexec timeout 20 "%s" "$@"\n' "$BIN" > tbin
chmod +x tbin
REAL=$BIN
BIN=$T/tbin

cat > exp.ini <<INI
[run]
name = hf
out_dir = $T/run
rounds = 1
backend = cpu
threads = 1
[model]
n_layer = 1
n_head = 2
d_model = 16
seq_len = 16
[data]
sources = $SRC/data/c4/c4-sample-train.json.gz
validation = $SRC/data/c4/c4-sample-validation.json.gz
tokenizer = train
tokenizer_vocab = 300
max_docs = 60
[clients]
count = 2
actors = 1
local_steps = 1
batch_size = 2
[checkpoint]
every = 1
INI
mkfifo fifo.ini fifo.bin fifo.h5
mkdir sub.ini
head -c 2000000 /dev/zero | tr '\0' '#' > big.ini
for f in /dev/zero "$T/fifo.ini" "$T/big.ini" "$T/sub.ini"; do
    printf 'include = %s\n[run]\nname = x\n' "$f" > "inc-$(basename "$f").ini"
done
expect "experiment file /dev/zero" 2 "/dev/zero: is a character device, expected an INI file" /dev/zero
expect "experiment file a FIFO" 2 "fifo.ini: is a FIFO, expected an INI file" fifo.ini
expect "experiment file of 2 MB" 2 "big.ini: is 2000000 bytes, more than an INI file may hold" big.ini
expect "include = /dev/zero" 2 "inc-zero.ini:1: include: /dev/zero: is a character device, expected an INI file" inc-zero.ini
expect "include of a FIFO" 2 "inc-fifo.ini.ini:1: include: .*fifo.ini: is a FIFO, expected an INI file" inc-fifo.ini.ini
expect "include of 2 MB" 2 "inc-big.ini.ini:1: include: .*big.ini: is 2000000 bytes" inc-big.ini.ini
expect "include of a directory" 2 "inc-sub.ini.ini:1: include: .*sub.ini: is a directory, expected an INI file" inc-sub.ini.ini
# l0 includes l1 twice, l1 includes l2 twice, ... l20: a million loads.
for i in $(seq 0 19); do printf 'include = l%d.ini, l%d.ini\n' $((i + 1)) $((i + 1)) > "l$i.ini"; done
printf '[run]\nname = leaf\n' > l20.ini
expect "includes that multiply" 2 "more than 256 files loaded for one experiment" l0.ini
long=$(head -c 5000 /dev/zero | tr '\0' 'a')
expect "--set value too long" 2 "--set .*too long" exp.ini --set "run.name=$long"

# A real checkpoint and shard for the checkpoint commands.
"$REAL" exp.ini > run.log 2>&1 || { cat run.log; fail "one-round run"; exit 1; }
CK=run/checkpoints/ckpt-00000001.h5
expect "eval --data a FIFO" 1 "fifo.bin: is a FIFO, expected a token shard" eval "$CK" --data fifo.bin
expect "eval --data /dev/zero" 1 "/dev/zero: is a character device, expected a token shard" eval "$CK" --data /dev/zero
expect "eval a FIFO checkpoint" 1 "fifo.h5: is a FIFO, expected a checkpoint file" eval fifo.h5 --data run/data/val.bin
expect "inspect /dev/zero" 1 "/dev/zero: is a character device, expected a checkpoint file" inspect /dev/zero
mkdir tok
cp run/data/tokenizer/vocab.bpe tok/
mkfifo tok/encoder.json
expect "tokenizer encoder.json a FIFO" 1 "encoder.json: is a FIFO, expected a tokenizer file" sample "$CK" --prompt hi --tokenizer tok
rm tok/encoder.json
ln -s /dev/zero tok/encoder.json
expect "tokenizer encoder.json -> /dev/zero" 1 "encoder.json: is a character device, expected a tokenizer file" encode --tokenizer tok

# metrics.jsonl replaced by a FIFO: --resume fails at once.
rm run/metrics.jsonl
mkfifo run/metrics.jsonl
"$BIN" exp.ini --resume > out.txt 2> err.txt
rc=$?
if [ $rc != 1 ] || ! tail -n 1 err.txt | grep -qE "^photon-sim: error: .*metrics.jsonl: .*(not a regular file|No such device)"; then
    fail "resume with a FIFO metrics.jsonl: exit $rc: $(cat err.txt)"
else
    echo "ok   resume with a FIFO metrics.jsonl: $(tail -n 1 err.txt)"
fi

[ $fails = 0 ] && echo "all hostile-file checks passed"
exit $((fails > 0))
