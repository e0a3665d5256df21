#!/usr/bin/env bash
# A checkpoint written by another program that follows DESIGN §5 is read
# (issue 12 item 7): h5py (Debian's python3-h5py) rebuilds a run's newest
# checkpoint from scratch with its defaults — Python str attributes become
# variable-length UTF-8 strings, ints int64 — every dataset with
# Fletcher-32.  inspect --verify says ok, eval gives the same loss as on
# the original, and --resume continues from it (it is not skipped for an
# older one).  Skips (77) without h5py.
source "$(dirname "$0")/runtime_common.bash"
py=${PHOTON_PYTHON:-/usr/bin/python3}
"$py" -c "import h5py" 2>/dev/null || { echo "no h5py for $py: skipped"; exit 77; }
write_tiny_ini "$tmp/x.ini" "[clients]" "optimizer_state = keep" "[aggregator]" "strategy = nesterov" \
    "server_lr = 0.7" "momentum = 0.7"
sets=(--set checkpoint.every=1 --set checkpoint.keep=0)
"$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" > "$tmp/run.txt" 2>&1 || fail "run: $(tail -n 2 "$tmp/run.txt")"
ck=$tmp/run/checkpoints/ckpt-00000003.h5
cp "$ck" "$tmp/original.h5"
"$py" - "$tmp/original.h5" "$ck" <<'PY' || fail "h5py could not rewrite the checkpoint"
import sys, h5py
src, dst = sys.argv[1], sys.argv[2]
with h5py.File(src, "r") as a, h5py.File(dst, "w") as b:
    def attrs(x, y):
        for k, v in x.attrs.items():
            if isinstance(v, bytes):
                v = v.decode("utf-8")
            y.attrs[k] = v.item() if hasattr(v, "item") else v   # str -> vlen UTF-8, ints -> int64
    def copy(name, obj):
        if isinstance(obj, h5py.Group):
            attrs(obj, b.require_group(name))
        else:
            d = b.create_dataset(name, data=obj[()], fletcher32=True, chunks=True)
            attrs(obj, d)
    attrs(a, b)
    a.visititems(copy)
with h5py.File(dst, "r") as b:
    t = b.attrs.get_id("format").get_type()
    assert t.is_variable_str(), "format is not a variable-length string"
PY
"$PHOTON_SIM" inspect "$ck" --verify > "$tmp/inspect.txt" 2>&1 || fail "inspect --verify: $(tail -n 3 "$tmp/inspect.txt")"
grep -q "^checksums    ok" "$tmp/inspect.txt" && grep -q "^run state    ok" "$tmp/inspect.txt" ||
    fail "inspect --verify: $(cat "$tmp/inspect.txt")"
a=$("$PHOTON_SIM" eval "$tmp/original.h5" --data "$tmp/data/val.bin" --batches 2 --batch 2 --threads 1 2>/dev/null)
b=$("$PHOTON_SIM" eval "$ck" --data "$tmp/data/val.bin" --batches 2 --batch 2 --threads 1 2>/dev/null)
[ -n "$a" ] && [ "$a" = "$b" ] || fail "eval differs: '$a' (photon-sim's file) vs '$b' (h5py's)"
"$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" --set run.rounds=4 --resume > "$tmp/resume.txt" 2>&1 ||
    fail "resume: $(tail -n 3 "$tmp/resume.txt")"
grep -q "resuming after round 3 " "$tmp/resume.txt" || fail "did not resume from the h5py checkpoint: $(cat "$tmp/resume.txt")"
grep -q "skipping" "$tmp/resume.txt" && fail "a checkpoint was skipped: $(cat "$tmp/resume.txt")"
echo "ckpt_h5py: ok ($b)"
