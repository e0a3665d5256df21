#!/usr/bin/env bash
# A disk that fills up during checkpoint writes (issue 12 item 5), through
# the real binary, with real mechanisms:
#   1. RLIMIT_FSIZE (ulimit -f, SIGXFSZ ignored): every checkpoint write
#      fails part-way with EFBIG.  The periodic ones are logged and the run
#      goes on; the final one fails the run with exit 1 (never a crash: it
#      once ended 139 in HDF5's exit cleanup) and one clear error line;
#      summary.json says failed; no temp file, shm segment or checkpoint is
#      left.
#   2. When this process may mount a tmpfs (root; skipped otherwise): a
#      2 MiB file system holds one checkpoint but not two, so the later
#      writes fail with ENOSPC; the first checkpoint is left intact and
#      verifies; after the file system is grown, --resume continues from it
#      and completes.
source "$(dirname "$0")/runtime_common.bash"
mnt=$tmp/mnt
trap 'mountpoint -q "$mnt" 2>/dev/null && umount "$mnt"; cleanup' EXIT

write_tiny_ini "$tmp/x.ini" "[clients]" "optimizer_state = keep"
sets=(--set checkpoint.every=1 --set checkpoint.keep=2)
"$PHOTON_SIM" prepare "$tmp/x.ini" > "$tmp/prep.txt" 2>&1 || fail "prepare: $(cat "$tmp/prep.txt")"

# 1. RLIMIT_FSIZE: 600 KiB, about half a checkpoint of this run.
rc=0
( trap '' XFSZ; ulimit -f 600; exec "$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" ) > "$tmp/fsize.txt" 2>&1 &
pid=$!
wait $pid || rc=$?
[ $rc = 1 ] || fail "fsize: exit status $rc, expected 1: $(tail -n 3 "$tmp/fsize.txt")"
last=$(tail -n 1 "$tmp/fsize.txt")
case $last in
    "photon-sim: error: checkpoint after round 3: "*"File too large") ;;
    *) fail "fsize: last line is not one clear error: $last" ;;
esac
[ "$(grep -c 'checkpoint after round [12] failed (the previous one stays)' "$tmp/fsize.txt")" = 2 ] ||
    fail "fsize: the periodic failures were not logged: $(cat "$tmp/fsize.txt")"
grep -q '"status":"failed"' "$tmp/run/summary.json" || fail "fsize: summary.json does not say failed"
ls "$tmp/run/checkpoints"/ckpt-*.h5 > /dev/null 2>&1 && fail "fsize: a checkpoint exists: $(ls "$tmp/run/checkpoints")"
no_leftovers $pid

# 2. ENOSPC on a small tmpfs.
mkdir -p "$mnt"
if ! mount -t tmpfs -o size=2m tmpfs "$mnt" 2> /dev/null; then
    echo "ckpt_disk_full: cannot mount a tmpfs here (not root, or no mount permission): ENOSPC part skipped"
    exit 0
fi
out=$mnt/run
rc=0
"$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" --set run.out_dir="$out" > "$tmp/full.txt" 2>&1 &
pid=$!
wait $pid || rc=$?
[ $rc = 1 ] || fail "enospc: exit status $rc, expected 1: $(tail -n 3 "$tmp/full.txt")"
last=$(tail -n 1 "$tmp/full.txt")
case $last in
    "photon-sim: error: checkpoint after round 3: "*"No space left on device") ;;
    *) fail "enospc: last line is not one clear error: $last" ;;
esac
[ "$(ls "$out/checkpoints")" = ckpt-00000001.h5 ] || fail "enospc: checkpoints left: $(ls "$out/checkpoints")"
"$PHOTON_SIM" inspect "$out/checkpoints/ckpt-00000001.h5" --verify > "$tmp/inspect.txt" 2>&1 ||
    fail "enospc: the surviving checkpoint does not verify: $(tail -n 2 "$tmp/inspect.txt")"
if ls /dev/shm 2>/dev/null | grep -q "^photon-$pid-"; then fail "enospc: shm segments left"; fi
find "$out" -name '*.tmp.*' | grep -q . && fail "enospc: temp files left: $(find "$out" -name '*.tmp.*')"
# Room again: the run continues from round 1 and completes.
mount -o remount,size=16m "$mnt" || fail "cannot grow the tmpfs"
"$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" --set run.out_dir="$out" --resume > "$tmp/resume.txt" 2>&1 ||
    fail "resume after the disk got room: $(tail -n 3 "$tmp/resume.txt")"
grep -q "resuming after round 1 " "$tmp/resume.txt" || fail "did not resume after round 1: $(cat "$tmp/resume.txt")"
grep -q '"status":"completed"' "$out/summary.json" || fail "resumed run not completed"
echo "ckpt_disk_full: ok"
