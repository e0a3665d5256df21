#!/usr/bin/env bash
# The portable build (-DPHOTON_PORTABLE=ON, issue 11 §8): a CPU run gives the
# same model bits whichever OpenBLAS kernels the environment asks for, where
# the default build's bits follow the kernels (which is why the option
# exists: the test could not tell the difference otherwise); and the link
# encodings (bench --runtime --quant --digest) are bitwise the same in both.  Builds
# photon-sim into a temporary directory (about a minute on 2 cores).
source "$(dirname "$0")/runtime_common.bash"
command -v cmake >/dev/null || { echo "SKIP: no cmake"; exit 77; }
grep -q ' avx2 ' /proc/cpuinfo && grep -q ' fma ' /proc/cpuinfo || { echo "SKIP: the CPU has no AVX2/FMA"; exit 77; }

cmake -S "$PHOTON_SOURCE_DIR" -B "$tmp/build" -DCMAKE_BUILD_TYPE=Release -DPHOTON_PORTABLE=ON -DPHOTON_CUDA=OFF \
    > "$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log"; fail "configure"; }
cmake --build "$tmp/build" --target photon-sim -j "$(nproc)" > "$tmp/build.log" 2>&1 || { tail -30 "$tmp/build.log"; fail "build"; }
portable=$tmp/build/photon-sim
"$portable" --version | grep -q 'CPU build: portable, OpenBLAS kernels Haswell' || fail "--version: $("$portable" --version)"

write_tiny_ini "$tmp/exp.ini"
# Two kernel families this CPU can run, whose products round differently.
other=Sandybridge
grep -q ' avx512f ' /proc/cpuinfo && other=SkylakeX

hash_of() {   # hash_of BINARY CORETYPE -> model_hash of a fresh run
    rm -rf "$tmp/run"
    OPENBLAS_CORETYPE=$2 "$1" "$tmp/exp.ini" > "$tmp/out.log" 2>&1 || { cat "$tmp/out.log"; fail "run with $1 $2"; }
    sed -n 's/.*"model_hash": *"\([0-9a-f]*\)".*/\1/p' "$tmp/run/summary.json"
}
p1=$(hash_of "$portable" Haswell)
p2=$(hash_of "$portable" "$other")
grep -q '"cpu_build": *"portable"' "$tmp/run/summary.json" || fail "summary.json does not name the portable build"
grep -q '"blas_kernels": *"Haswell"' "$tmp/run/summary.json" || fail "summary.json: kernels $(grep blas_kernels "$tmp/run/summary.json")"
[ -n "$p1" ] && [ "$p1" = "$p2" ] || fail "portable build: model hash $p1 with Haswell kernels, $p2 asked for $other"
n1=$(hash_of "$PHOTON_SIM" Haswell)
n2=$(hash_of "$PHOTON_SIM" "$other")
[ "$n1" != "$n2" ] || fail "the default build gave the same bits under Haswell and $other kernels: this test cannot tell"
# The link encodings (gpu/quant.c, and its AVX2 kernels in both builds) give the same bits.
"$portable" bench --runtime --quant --digest > "$tmp/digest-portable.txt" || fail "portable: quant digest"
"$PHOTON_SIM" bench --runtime --quant --digest > "$tmp/digest-default.txt" || fail "default: quant digest"
[ "$(grep -c '^digest ' "$tmp/digest-default.txt")" = 3 ] || fail "quant digest: $(cat "$tmp/digest-default.txt")"
diff "$tmp/digest-portable.txt" "$tmp/digest-default.txt" || fail "the portable and default builds encode differently"
echo "PASS: portable build $p1 under Haswell and $other; default build $n1 vs $n2; the same link encodings"
