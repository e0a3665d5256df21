#!/usr/bin/env bash
# Temporary files of interrupted writes are swept at start-up (issue 12
# item 6; tools/soak.sh found a config.ini.tmp.<pid> that --resume never
# removed).  A supervisor SIGKILLed inside its config.ini write (the write
# fault seam with PHOTON_FAULT_KILL: an exact point, no race), and stale
# temp files planted in the run, checkpoint, prepared-data and tokenizer
# directories — of a process that is gone and of a pid that now runs
# another program — are all removed by the next start (--resume), while a
# file that only looks similar stays.  Then a kill inside a checkpoint
# write, and --resume again: the run completes bitwise identical to one
# that was never interrupted, with no temp file left anywhere.
source "$(dirname "$0")/runtime_common.bash"
write_tiny_ini "$tmp/x.ini" "[clients]" "optimizer_state = keep"
sets=(--set checkpoint.every=1 --set checkpoint.keep=2)
"$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" --set run.out_dir="$tmp/ref" > "$tmp/ref.txt" 2>&1 || fail "reference run: $(tail -n 2 "$tmp/ref.txt")"
temps() { find "$tmp/run" "$tmp/data" -name '*.tmp.[0-9]*' 2>/dev/null | sort; }

# 1. Killed in the first write of the run: config.ini (the data is prepared).
rc=0
{ PHOTON_FAULT_WRITE=1 PHOTON_FAULT_KILL=1 "$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" > "$tmp/k1.txt" 2>&1; } 2>/dev/null || rc=$?
[ $rc = 137 ] || fail "kill in config.ini: exit $rc, expected 137 (SIGKILL): $(tail -n 2 "$tmp/k1.txt")"
ls "$tmp/run"/config.ini.tmp.* > /dev/null 2>&1 || fail "no config.ini.tmp.<pid> left by the kill: $(ls "$tmp/run")"

# 2. Stale files of a gone process (pid 999999999 never exists) and of a
# pid that runs another program now (this sleep), and a look-alike.
sleep 60 > /dev/null 2>&1 & other=$!
trap 'kill $other 2>/dev/null || true; cleanup' EXIT
mkdir -p "$tmp/run/checkpoints"
echo x > "$tmp/run/checkpoints/ckpt-00000002.h5.tmp.999999999"
echo x > "$tmp/run/summary.json.tmp.$other"
echo x > "$tmp/data/client_0000.bin.tmp.999999999"
echo x > "$tmp/data/tokenizer/vocab.bpe.tmp.$other"
echo x > "$tmp/run/notes.tmp.txt"
[ "$(temps | wc -l)" = 5 ] || fail "expected 5 temp files (config.ini's and 4 planted), found: $(temps)"

# 3. Resume: all swept, then killed inside its first checkpoint write
# (write seam call 2; call 1 is config.ini).
rc=0
{ PHOTON_FAULT_WRITE=2 PHOTON_FAULT_KILL=1 "$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" --resume > "$tmp/k2.txt" 2>&1; } 2>/dev/null || rc=$?
kill "$other" 2>/dev/null || true
[ $rc = 137 ] || fail "kill in a checkpoint write: exit $rc, expected 137: $(tail -n 2 "$tmp/k2.txt")"
grep -q "removed 3 temporary file(s) left by an interrupted run" "$tmp/k2.txt" || fail "run/checkpoint temp files not swept: $(cat "$tmp/k2.txt")"
grep -q "removed 1 temporary file(s) in $tmp/data, left by an interrupted prepare" "$tmp/k2.txt" || fail "prepared-data temp file not swept"
grep -q "removed 1 temporary file(s) in $tmp/data/tokenizer" "$tmp/k2.txt" || fail "tokenizer temp file not swept"
[ -f "$tmp/run/notes.tmp.txt" ] || fail "a file that only looks like a temp file was removed"
left=$(temps)
case $left in
    "$tmp/run/checkpoints/ckpt-00000001.h5.tmp."*) ;;
    *) fail "after the second kill, expected only ckpt-00000001's temp file, found: $left" ;;
esac

# 4. Resume to the end: nothing left, same model as the reference.
"$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" --resume > "$tmp/final.txt" 2>&1 || fail "final resume: $(tail -n 2 "$tmp/final.txt")"
[ -z "$(temps)" ] || fail "temp files left: $(temps)"
[ "$(grep model_hash "$tmp/run/summary.json")" = "$(grep model_hash "$tmp/ref/summary.json")" ] ||
    fail "final model differs from the uninterrupted run's"
echo "temp_sweep: ok"
