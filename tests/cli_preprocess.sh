#!/usr/bin/env bash
# cli_preprocess.sh — `eva preprocess`: success is silent, -v talks, overrides are accepted, and
# every bad input gives one "eva preprocess: ..." line on stderr, a non-zero exit and no output
# file (nor a leftover temp file). Pixel values are checked by test_preprocess.c.
set -euo pipefail
EVA="${EVA_BIN:?EVA_BIN not set}"
T="${EVA_TMP:-/tmp}/cli_preprocess.$$"
mkdir -p "$T"
trap 'rm -rf "$T"' EXIT
D=data/preprocess
G=$D/gen
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

# expect_fail NAME EXIT_CODE_MIN PATTERN -- args...: non-zero exit, one stderr line matching, no output.
expect_fail() {
    local name=$1 pattern=$2; shift 3
    rm -f "$T/out.safetensors"
    set +e
    "$EVA" preprocess "$@" >"$T/stdout" 2>"$T/stderr"
    local rc=$?
    set -e
    if [ $rc -eq 0 ]; then bad "$name: exit 0"; return; fi
    if [ "$(wc -l <"$T/stderr")" -ne 1 ]; then bad "$name: expected one stderr line, got: $(cat "$T/stderr")"; return; fi
    if ! grep -q "^eva preprocess: .*$pattern" "$T/stderr"; then bad "$name: stderr '$(cat "$T/stderr")' lacks '$pattern'"; return; fi
    if [ -s "$T/stdout" ]; then bad "$name: wrote to stdout"; return; fi
    if ls "$T" | grep -q '^out\.safetensors'; then bad "$name: output or temp file left: $(ls "$T")"; return; fi
    ok
}

# 1. success: silent, output written
for img in grace_hopper.jpg chelsea.png rocket.jpg; do
    for p in eva_giant_patch14_224.clip_ft_in1k t336 eva_21k_1k_560px_psz14_ema eva_clip_psz14; do
        out="$T/ok.safetensors"
        if "$EVA" preprocess "$D/$img" --preset "$p" -o "$out" >"$T/stdout" 2>"$T/stderr" && [ -s "$out" ] &&
            [ ! -s "$T/stdout" ] && [ ! -s "$T/stderr" ]; then ok; else bad "$img $p: $(cat "$T/stderr")"; fi
        rm -f "$out"
    done
done
# -v prints the geometry on stderr
if "$EVA" preprocess "$D/rocket.jpg" --preset t224 -o "$T/v.safetensors" -v 2>&1 | grep -q "640x427 -> size 224 crop_pct 0.9 shortest"; then ok; else bad "-v"; fi
# overrides
if "$EVA" preprocess "$G/rgb_31x17.png" --preset t224 --size 64 --crop-pct 1.5 --resize squash --mean 0,0,0 --std 1,1,1 \
    --preprocess timm -o "$T/o.safetensors" && [ -s "$T/o.safetensors" ]; then ok; else bad "overrides"; fi
if "$EVA" preprocess "$G/exif_6.jpg" --size 16 --exif-rotate -o "$T/e.safetensors"; then ok; else bad "--size without preset"; fi
# size of the file: 8-byte length + JSON header + 64*64*3 bytes + 4*3*64*64 bytes
sz=$(stat -c %s "$T/o.safetensors")
[ "$sz" -gt $((64 * 64 * 3 + 4 * 3 * 64 * 64)) ] && ok || bad "override output too small ($sz)"
if "$EVA" help preprocess | grep -q "usage: eva preprocess"; then ok; else bad "help"; fi

# 2. bad input
expect_fail empty "empty file" -- "$G/bad_empty.jpg" --preset t224 -o "$T/out.safetensors"
expect_fail text "not a JPEG, PNG or WebP" -- "$G/bad_text.jpg" --preset t224 -o "$T/out.safetensors"
expect_fail trunc_jpg "truncated" -- "$G/bad_trunc.jpg" --preset t224 -o "$T/out.safetensors"
expect_fail trunc_png "truncated" -- "$G/bad_trunc.png" --preset t224 -o "$T/out.safetensors"
expect_fail garbage "corrupt JPEG" -- "$G/bad_garbage.jpg" --preset t224 -o "$T/out.safetensors"
expect_fail huge "100000x100000" -- "$G/bad_huge.png" --preset t224 -o "$T/out.safetensors"
expect_fail bomb_jpg "decompression bomb" -- "$G/bad_bomb.jpg" --preset t224 -o "$T/out.safetensors"
expect_fail gif "GIF images are not supported" -- "$G/bad_gif.gif" --preset t224 -o "$T/out.safetensors"
expect_fail missing "cannot open" -- "$T/nope.jpg" --preset t224 -o "$T/out.safetensors"
expect_fail preset "unknown preprocessing preset 'nope'" -- "$D/rocket.jpg" --preset nope -o "$T/out.safetensors"
expect_fail family "unknown preprocessing family" -- "$D/rocket.jpg" --preset t224 --preprocess tf -o "$T/out.safetensors"
expect_fail noout "no output" -- "$D/rocket.jpg" --preset t224
expect_fail nopreset "give --preset" -- "$D/rocket.jpg" -o "$T/out.safetensors"
expect_fail mean "--mean expects three numbers" -- "$D/rocket.jpg" --preset t224 --mean 1,2 -o "$T/out.safetensors"
expect_fail std "std" -- "$D/rocket.jpg" --preset t224 --std 0,1,1 -o "$T/out.safetensors"
expect_fail resize "--resize expects" -- "$D/rocket.jpg" --preset t224 --resize crop -o "$T/out.safetensors"
expect_fail option "unknown option" -- "$D/rocket.jpg" --preset t224 --bogus -o "$T/out.safetensors"
# output into a folder that does not exist: error, nothing created
set +e
"$EVA" preprocess "$D/rocket.jpg" --preset t224 -o "$T/no/such/dir/out.safetensors" 2>"$T/stderr"
rc=$?
set -e
if [ $rc -ne 0 ] && [ "$(wc -l <"$T/stderr")" -eq 1 ] && grep -q "^eva preprocess: " "$T/stderr" && [ ! -e "$T/no" ]; then ok; else
    bad "missing output dir: rc=$rc $(cat "$T/stderr")"; fi

echo "cli_preprocess: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
