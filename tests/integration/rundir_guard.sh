#!/usr/bin/env bash
# A run never destroys another run's results (DESIGN §7, io/rundir.h):
# running into a run directory that holds results without --resume fails
# with one line (exit 2) naming the directory and the ways out, and leaves
# every file byte-identical; --resume and --replace are exclusive; an
# interrupted --replace (its trash left behind) is refused until --replace
# finishes it; --replace keeps the prepared data and starts over.
source "$(dirname "$0")/runtime_common.bash"
write_tiny_ini "$tmp/x.ini"
sets=(--set run.rounds=2 --set checkpoint.every=1)
"$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" > "$tmp/first.txt" 2>&1 || { cat "$tmp/first.txt"; fail "first run"; }
run=$tmp/run
hashes() { (cd "$run" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
hashes > "$tmp/before.txt"
[ "$(grep -c . "$tmp/before.txt")" -ge 5 ] || fail "the first run left too few files: $(cat "$tmp/before.txt")"

# 1. Refused, one line, exit 2, nothing touched (also with other --set values).
rc=0
"$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" --set run.rounds=3 > "$tmp/out.txt" 2> "$tmp/err.txt" || rc=$?
[ $rc = 2 ] || { cat "$tmp/err.txt"; fail "a run into a run directory with results exited $rc, expected 2"; }
[ "$(wc -l < "$tmp/err.txt")" = 1 ] || { cat "$tmp/err.txt"; fail "expected one error line"; }
grep -q "error: run directory $run already holds results (metrics.jsonl, summary.json, tb/, checkpoints/)" "$tmp/err.txt" ||
    fail "message does not name the directory and its results: $(cat "$tmp/err.txt")"
grep -q -- "--resume" "$tmp/err.txt" && grep -q -- "--replace" "$tmp/err.txt" || fail "message does not name both ways out"
hashes > "$tmp/after.txt"
diff "$tmp/before.txt" "$tmp/after.txt" > /dev/null || { diff "$tmp/before.txt" "$tmp/after.txt"; fail "the refused run changed files"; }

# A run directory with only a checkpoint (metrics lost) is refused too.
mkdir -p "$tmp/r2/checkpoints" && cp "$run/checkpoints/ckpt-00000002.h5" "$tmp/r2/checkpoints/"
rc=0; "$PHOTON_SIM" "$tmp/x.ini" --set run.out_dir="$tmp/r2" > /dev/null 2> "$tmp/err.txt" || rc=$?
[ $rc = 2 ] && grep -q "(checkpoints/)" "$tmp/err.txt" || fail "checkpoint-only directory: exit $rc, $(cat "$tmp/err.txt")"

# 2. --resume with --replace: a usage error.
rc=0; "$PHOTON_SIM" "$tmp/x.ini" --resume --replace > /dev/null 2> "$tmp/err.txt" || rc=$?
[ $rc = 2 ] && grep -q "exclude each other" "$tmp/err.txt" || fail "--resume --replace: exit $rc, $(cat "$tmp/err.txt")"

# 3. An interrupted --replace (trash left, some results still in place) is
# refused for plain runs and --resume alike, the files untouched.
mkdir "$run/.replaced" && mv "$run/summary.json" "$run/.replaced/"
hashes > "$tmp/before.txt"
for extra in "" "--resume"; do
    rc=0; "$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" $extra > /dev/null 2> "$tmp/err.txt" || rc=$?
    [ $rc = 2 ] && grep -q "an earlier --replace was interrupted" "$tmp/err.txt" ||
        fail "interrupted replace ($extra): exit $rc, $(cat "$tmp/err.txt")"
    hashes > "$tmp/after.txt"
    diff -q "$tmp/before.txt" "$tmp/after.txt" > /dev/null || fail "refused run ($extra) changed files"
done

# 4. --replace finishes it: old results gone, prepared data kept (same
# files, not re-prepared), a complete new run in their place.
data_before=$(cd "$tmp/data" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum)
"$PHOTON_SIM" "$tmp/x.ini" --set run.rounds=1 --replace > "$tmp/rep.txt" 2>&1 || { cat "$tmp/rep.txt"; fail "--replace run"; }
[ ! -e "$run/.replaced" ] || fail "the trash is still there"
[ ! -e "$run/checkpoints/ckpt-00000002.h5" ] || fail "an old checkpoint survived --replace"
grep -q '"rounds":1,' "$run/summary.json" || fail "summary is not the new run's: $(cat "$run/summary.json")"
[ "$(grep -c '"event":"round"' "$run/metrics.jsonl")" = 1 ] || fail "metrics.jsonl is not the new run's alone"
data_after=$(cd "$tmp/data" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum)
[ "$data_before" = "$data_after" ] || fail "--replace touched the prepared data"
grep -q "preparing\|tokeniz" "$tmp/rep.txt" && fail "--replace re-prepared the data: $(cat "$tmp/rep.txt")"

# 5. The default prepared data inside the run directory (<run dir>/data) is
# no result: a directory holding only it runs without a flag.
"$PHOTON_SIM" prepare "$tmp/x.ini" --set run.out_dir="$tmp/r3" --set data.prepared_dir= > /dev/null 2>&1 || fail "prepare r3"
[ -d "$tmp/r3/data" ] || fail "prepare did not write $tmp/r3/data"
"$PHOTON_SIM" "$tmp/x.ini" --set run.out_dir="$tmp/r3" --set data.prepared_dir= --set run.rounds=1 > "$tmp/r3.txt" 2>&1 ||
    { cat "$tmp/r3.txt"; fail "a run into a directory with prepared data only was refused"; }
echo ok
