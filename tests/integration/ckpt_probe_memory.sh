#!/usr/bin/env bash
# The child that reads an untrusted checkpoint first (io/checkpoint_probe.c)
# has its address space bounded (RLIMIT_AS: what it had + 256 MB + 4 x the
# file's size): a small file whose datasets hold a model of 200M zeros
# (gzip-compressed HDF5 chunks: about 1 MB on disk, 800 MB to read) is
# refused in one line, without the parent allocating it either.  A real checkpoint still reads.  Needs h5py (skips
# with 77 without it).
source "$(dirname "$0")/runtime_common.bash"
if ldd "$PHOTON_SIM" 2>/dev/null | grep -q 'lib[at]san'; then
    echo "skip: sanitizer build (ASan reserves terabytes of address space: no RLIMIT_AS there)"; exit 77
fi
py=${PHOTON_PYTHON:-/usr/bin/python3}
"$py" -c "import h5py" 2>/dev/null || { echo "no h5py for $py: skipped"; exit 77; }
write_tiny_ini "$tmp/x.ini"
"$PHOTON_SIM" "$tmp/x.ini" --set eval.every=0 > "$tmp/run.txt" 2>&1 || fail "run: $(tail -n 2 "$tmp/run.txt")"
ck=$tmp/run/checkpoints/ckpt-00000003.h5
"$PHOTON_SIM" inspect "$ck" > "$tmp/real.txt" 2>&1 || { cat "$tmp/real.txt"; fail "inspect of a real checkpoint failed"; }
"$py" - "$ck" "$tmp/huge.h5" <<'PY' || fail "h5py could not write the crafted file"
import sys, h5py, numpy as np
src, dst = sys.argv[1], sys.argv[2]
D = 4096   # 1 layer of d_model 4096: 12 D^2 + ... = 203M parameters
with h5py.File(src, "r") as a, h5py.File(dst, "w") as b:
    for k, v in a.attrs.items():
        b.attrs[k] = v
    g = b.create_group("model")
    for k, v in a["model"].attrs.items():
        g.attrs[k] = v
    g.attrs["d_model"] = D
    g.attrs["n_head"] = 32
    for name, ds in a["model"].items():
        shape = tuple(D if n == 32 else 3 * D if n == 96 else 4 * D if n == 128 else n for n in ds.shape)
        if name.endswith("wpe.weight"):
            shape = (ds.shape[0], D)   # seq_len rows
        chunks = tuple(min(n, 1024) for n in shape)
        d = g.create_dataset(name, shape=shape, dtype="f4", chunks=chunks, fletcher32=True, compression="gzip",
                             compression_opts=1)
        z = np.zeros(chunks, dtype="f4")
        for i in range(0, shape[0], chunks[0]):   # every chunk written: zeros, compressed ~1000:1
            if len(shape) == 1:
                d[i:i + chunks[0]] = z[:min(chunks[0], shape[0] - i)]
            else:
                for j in range(0, shape[1], chunks[1]):
                    d[i:i + chunks[0], j:j + chunks[1]] = z[:min(chunks[0], shape[0] - i), :min(chunks[1], shape[1] - j)]
PY
size=$(stat -c %s "$tmp/huge.h5")
[ "$size" -lt 8000000 ] || fail "the crafted file is $size bytes"
t0=$(date +%s%N)
rc=0; "$PHOTON_SIM" inspect "$tmp/huge.h5" > "$tmp/huge.txt" 2>&1 || rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
cat "$tmp/huge.txt"
[ $rc = 1 ] || fail "inspect of a $size-byte file declaring 800 MB of tensors: exit $rc, expected 1"
grep -q "huge.h5: reading it needs more memory than a checkpoint of $size bytes can (over [0-9]* MB)" "$tmp/huge.txt" \
    || fail "no line saying the file needs more memory than its size allows"
[ "$(grep -c . "$tmp/huge.txt")" = 1 ] || fail "more than one line"
echo "ok: refused in $ms ms"
