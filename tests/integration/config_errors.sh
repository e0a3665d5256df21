#!/usr/bin/env bash
# Bad experiment files through the real binary: each one prints exactly one
# line on stderr naming file:line (where there is a line) and exits 2;
# --dry-run prints the resolved configuration and exits 0; every subcommand
# has --help.
source "$(dirname "$0")/cli_common.bash"

# expect_error NAME PATTERN ARGS...: exit 2, exactly one stderr line matching PATTERN.
expect_error() { local name=$1; shift; expect "$name" 2 "$@"; }

ok_base='[data]
sources = text.txt'
echo "some text" >text.txt
printf '%s\n[clients]\nlocal_steps = 4\nloca_steps = 3\n' "$ok_base" >unknown_key.ini
expect_error "unknown key" "unknown_key.ini:5: \[clients\] loca_steps: unknown key \(did you mean 'local_steps'\?\)" unknown_key.ini

printf '%s\n\n[clinets]\ncount = 3\n' "$ok_base" >unknown_section.ini
expect_error "unknown section" "unknown_section.ini:4: unknown section \[clinets\] \(did you mean \[clients\]\?\)" unknown_section.ini

printf '%s\n[model]\nn_layer = two\n' "$ok_base" >wrong_type.ini
expect_error "wrong type" "wrong_type.ini:4: \[model\] n_layer: expected an integer in \[1, 1024\] \(got 'two'\)" wrong_type.ini

printf '%s\n[clients]\nlr = 1000\n' "$ok_base" >out_of_range.ini
expect_error "out of range" "out_of_range.ini:4: \[clients\] lr: expected a number in \(0, 100\] \(got '1000'\)" out_of_range.ini

printf '%s\n[run]\nbackend = tpu\n' "$ok_base" >bad_enum.ini
expect_error "bad enum" "bad_enum.ini:4: \[run\] backend: expected one of auto, cpu, cuda \(got 'tpu'\)" bad_enum.ini

printf '%s\n[clients]\nlocal_steps = 3\n; again\nlocal_steps = 4\n' "$ok_base" >duplicate.ini
expect_error "duplicate key" "duplicate.ini:6: \[clients\] local_steps: duplicate key \(first set on line 4" duplicate.ini

expect_error "missing file" "missing.ini: cannot open: No such file or directory" missing.ini

# Tests run as root, where chmod 000 does not stop reading: a directory given
# as the file is the unreadable input every user can reproduce.
mkdir dir.ini
expect_error "unreadable file (a directory)" "dir.ini: is a directory, expected an INI file" dir.ini
if [ "$(id -u)" != 0 ]; then
    printf '%s\n' "$ok_base" >noperm.ini && chmod 000 noperm.ini
    expect_error "unreadable file (permissions)" "noperm.ini: cannot open: Permission denied" noperm.ini
fi

printf 'include = b.ini\n%s\n' "$ok_base" >a.ini
printf '[run]\nname = b\ninclude = a.ini\n' >b.ini
expect_error "include cycle" "b.ini:3: include cycle: a.ini -> b.ini -> a.ini" a.ini

printf '%s\ninclude = presets/none.ini\n' "$ok_base" >missing_include.ini
expect_error "missing include" "missing_include.ini:3: include: presets/none.ini: cannot open" missing_include.ini

printf '%s\n[run]\nthis is not a key value line\n' "$ok_base" >syntax.ini
expect_error "syntax error" "syntax.ini:4: syntax error" syntax.ini

printf '%s\n[model]\nn_head = 3\n' "$ok_base" >cross.ini
expect_error "cross-key check" "cross.ini:4: \[model\] d_model = 64 is not a multiple of \[model\] n_head = 3" cross.ini

printf '%s\n[aggregator]\nfragments = 4\n' "$ok_base" >fragments.ini
expect_error "more fragments than units" "fragments.ini:4: \[aggregator\] fragments = 4: a model of 2 blocks splits into at most 3 fragments" fragments.ini
printf '%s\n[aggregator]\ncompression = int4\n' "$ok_base" >compression.ini
expect_error "unknown compression" "compression.ini:4: \[aggregator\] compression: expected one of none, bf16, int8, fp4 \(got 'int4'\)" compression.ini
printf '%s\n[run]\nmode = centralized\n[aggregator]\ncompression = int8\n' "$ok_base" >central.ini
expect_error "compression of a centralized run" "central.ini:6: \[aggregator\] compression applies to federated runs" central.ini
printf '%s\n[aggregator]\nfragments = 3\n[clients]\nlocal_steps = 2\n' "$ok_base" >phases.ini
expect_error "fragments beyond local steps" "phases.ini:4: \[aggregator\] fragments = 3 is more than \[clients\] local_steps = 2" phases.ini
printf '%s\n[eval]\non = actor\n[aggregator]\nbroadcast_compression = bf16\n' "$ok_base" >eval_actor.ini
expect_error "actor evaluation of a compressed broadcast" "eval_actor.ini:4: \[eval\] on = actor: with broadcast_compression" eval_actor.ini

mkdir -p other && echo "more text" > other/text.txt
printf '%s\n[data]\nvalidation = text.txt, other/text.txt\n' "$ok_base" >same_names.ini
expect_error "two validation sources of one name" "same_names.ini:4: \[data\] validation: two items are named 'text' \(give one a name: name=path\)" same_names.ini

# At most 16 validation sources (per-source perplexities, io/val_index.h):
# a 17th is refused at load, before any data is read, whether it is a 17th
# item or a pattern's 17th file; 16 items, or 17 files under one name, load.
mkdir -p val && for i in $(seq -w 1 17); do echo "validation text $i" > val/v$i.txt; done
items() { local n=$1 s=""; for i in $(seq -w 1 17 | head -n "$n"); do s="$s,"$'\n'"    val/v$i.txt"; done; echo "${s#,$'\n'    }"; }
printf '%s\n[data]\nvalidation = %s\n' "$ok_base" "$(items 17)" >val17.ini
expect_error "17 validation sources" "val17.ini:4: \[data\] validation: more than 16 sources \(the 17th is 'v17'; per-source perplexities are kept for at most 16\): gather files under one name with name=pattern" val17.ini
printf '%s\n[data]\nvalidation = val/v*.txt\n' "$ok_base" >val17glob.ini
expect_error "17 validation sources of one pattern" "val17glob.ini:4: \[data\] validation: more than 16 sources \(the 17th is 'v17'" val17glob.ini
expect_error "17 validation sources, prepare" "val17.ini:4: \[data\] validation: more than 16 sources" prepare val17.ini
printf '%s\n[data]\nvalidation = %s\n' "$ok_base" "$(items 16)" >val16.ini
printf '%s\n[data]\nvalidation = val=val/v*.txt\n' "$ok_base" >val_named.ini
for f in val16.ini val_named.ini; do
    "$BIN" "$f" --dry-run >/dev/null 2>err.txt && echo "ok   $f loads" || fail "$f: $(cat err.txt)"
done

printf '%s\n[eval]\ntokens = 10\n' "$ok_base" >few_tokens.ini
expect_error "eval budget below a window" "few_tokens.ini:4: \[eval\] tokens = 10 is less than one window of \[model\] seq_len = 64 tokens" few_tokens.ini

printf '%s\n[data]\nvalidation = text.txt,\n    nope.txt\n' "$ok_base" >missing_input.ini
expect_error "missing data file" "missing_input.ini:4: \[data\] validation: '.*/nope.txt' not found \(No such file or directory\)" missing_input.ini

printf '%s\n' "$ok_base" >good.ini
expect_error "--set without =" "--set 'clients.local_steps': expected section.key=value" good.ini --set clients.local_steps
expect_error "--set unknown key" "--set clients.loca_steps: \[clients\] loca_steps: unknown key \(did you mean 'local_steps'\?\)" good.ini --set clients.loca_steps=3
expect_error "--set wrong type" "--set clients.lr: \[clients\] lr: expected a number" good.ini --set clients.lr=fast
expect_error "unknown option" "unknown option --frobnicate" good.ini --frobnicate
expect_error "no experiment" "no experiment file given" run

expect_error "typo of a command" "unknown command 'evl' \(did you mean 'eval'\?\)" evl x.h5
expect_error "neither command nor file" "'frobnicate' is neither a command nor an experiment file" frobnicate
expect_error "help for an unknown command" "help: unknown command 'nosuch'" help nosuch
# No arguments at all: a usage error, so the error line comes first on
# stderr (then the usage), nothing on stdout, exit 2.
"$BIN" >out.txt 2>err.txt; rc=$?
if [ $rc != 2 ] || [ -s out.txt ] || ! head -1 err.txt | grep -q "error: no command or experiment file given" ||
    ! grep -q '^usage:' err.txt; then
    fail "no arguments: exit $rc, stdout $(wc -c <out.txt) bytes, stderr starts '$(head -1 err.txt)'"
else
    echo "ok   no arguments"
fi

# --dry-run: exit 0, the resolved config on stdout, nothing on stderr, and it loads again.
if "$BIN" good.ini --set clients.local_steps=7 --dry-run >resolved.ini 2>err.txt; then
    grep -q '^local_steps = 7$' resolved.ini || fail "--dry-run: local_steps = 7 not in output"
    grep -q "^sources = $T/text.txt\$" resolved.ini || grep -q "^sources = $(cd "$T" && pwd -P)/text.txt\$" resolved.ini ||
        fail "--dry-run: source path not resolved: $(grep '^sources' resolved.ini)"
    [ -s err.txt ] && fail "--dry-run wrote to stderr: $(cat err.txt)"
    "$BIN" resolved.ini --dry-run >again.ini 2>err.txt || fail "resolved config does not load: $(cat err.txt)"
    diff <(grep -v '^;' resolved.ini) <(grep -v '^;' again.ini) >/dev/null || fail "dump of the dump differs"
    echo "ok   --dry-run"
else
    fail "--dry-run exited non-zero: $(cat err.txt)"
fi
# The run's options may come first.
"$BIN" --set clients.local_steps=7 --dry-run good.ini 2>err.txt | grep -q '^local_steps = 7$' ||
    fail "photon-sim --set ... --dry-run good.ini: $(cat err.txt)"
expect_error "run option first, no experiment" "no experiment file given" --dry-run
# `run` spelled out takes the same arguments.
"$BIN" run good.ini --dry-run >/dev/null 2>&1 || fail "photon-sim run good.ini --dry-run"

# Every experiment in the repository loads as it is (its data exists), and
# every preset loads once given a data source.
for f in "$SRC"/experiments/*.ini; do
    [ -e "$f" ] || continue
    "$BIN" "$f" --dry-run >/dev/null 2>err.txt || fail "$(basename "$f"): $(cat err.txt)"
done
for f in "$SRC"/configs/*.ini; do
    "$BIN" "$f" --dry-run --set data.sources=text.txt >/dev/null 2>err.txt || fail "$(basename "$f"): $(cat err.txt)"
done

# --help for the program and every subcommand: exit 0, usage on stdout.
for cmd in "" run prepare eval sample inspect export-hf encode actor bench config-reference; do
    # shellcheck disable=SC2086
    if ! "$BIN" $cmd --help >out.txt 2>err.txt || ! grep -q 'usage' out.txt; then
        fail "photon-sim $cmd --help"
    fi
done
"$BIN" good.ini --help | grep -q 'usage: photon-sim EXPERIMENT.ini' || fail "photon-sim EXPERIMENT.ini --help"

if [ "$fails" != 0 ]; then echo "$fails failure(s)"; exit 1; fi
echo "all config error checks passed"
