#!/usr/bin/env bash
# cli_masks.sh — `eva masks`: output layout, determinism, PNG sheet, flag validation.
set -euo pipefail
EVA="${EVA_BIN:?EVA_BIN not set}"
T="${EVA_TMP:-/tmp}/cli_masks.$$"
mkdir -p "$T"
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

# 1. official parameters, 64 masks + PNG
"$EVA" masks --grid 16x16 --count 105 --min-block 16 -n 64 --seed 3 -o "$T/a.safetensors" --png "$T/a.png" >"$T/out.txt"
grep -q "wrote 64 masks (16x16, target 105)" "$T/out.txt" && ok || bad "summary line: $(cat "$T/out.txt")"
# safetensors: 8-byte header length, JSON naming masks U8 [64, 256], then 64*256 bytes
hlen=$(od -An -t u8 -N 8 "$T/a.safetensors" | tr -d ' ')
size=$(stat -c %s "$T/a.safetensors")
[ "$size" -eq $((8 + hlen + 64 * 256)) ] && ok || bad "file size $size, header $hlen"
header=$(head -c $((8 + hlen)) "$T/a.safetensors" | tail -c "$hlen")
grep -q '"masks":{"dtype":"U8","shape":\[64,256\]' <<<"$header" && ok || bad "header: $header"
# every mask has between 16 and 105 ones: data bytes are 0/1 and sum to <= 64*105
sum=$(tail -c $((64 * 256)) "$T/a.safetensors" | od -An -v -t u1 | tr -s ' ' '\n' | grep -v '^$' | awk '{ if ($1 > 1) bad = 1; s += $1 } END { print bad ? -1 : s }')
[ "$sum" -gt $((64 * 80)) ] && [ "$sum" -le $((64 * 105)) ] && ok || bad "mask sum $sum"
[ "$(head -c 8 "$T/a.png" | od -An -t x1 | tr -d ' ')" = "89504e470d0a1a0a" ] && ok || bad "PNG signature"

# 2. determinism: same seed -> same bytes; other seed -> different
"$EVA" masks -n 64 --seed 3 -o "$T/b.safetensors" >/dev/null
tail -c $((64 * 256)) "$T/a.safetensors" >"$T/a.bin"
tail -c $((64 * 256)) "$T/b.safetensors" >"$T/b.bin"
cmp -s "$T/a.bin" "$T/b.bin" && ok || bad "same seed, different masks"
"$EVA" masks -n 64 --seed 4 -o "$T/c.safetensors" >/dev/null
tail -c $((64 * 256)) "$T/c.safetensors" >"$T/c.bin"
cmp -s "$T/a.bin" "$T/c.bin" && bad "different seeds, same masks" || ok

# 3. other grid / aspect range
"$EVA" masks --grid 8x12 --count 30 --min-block 4 --max-block 10 --min-aspect 0.5 --max-aspect 2 -n 5 -o "$T/d.safetensors" >/dev/null
hlen=$(od -An -t u8 -N 8 "$T/d.safetensors" | tr -d ' ')
head -c $((8 + hlen)) "$T/d.safetensors" | grep -q '"shape":\[5,96\]' && ok || bad "8x12 shape"

# 4. bad flags: usage error (exit 2), one line on stderr, no output file
expect_usage() {
    local what="$1"; shift
    set +e
    "$EVA" masks "$@" -o "$T/bad.safetensors" 2>"$T/err.txt" >/dev/null
    local rc=$?
    set -e
    if [ $rc -eq 2 ] && [ "$(wc -l <"$T/err.txt")" -eq 1 ] && [ ! -e "$T/bad.safetensors" ]; then ok; else
        bad "$what: rc $rc, stderr: $(cat "$T/err.txt")"; fi
}
expect_usage "count > H*W" --grid 8x8 --count 65
expect_usage "min-block > count" --count 20 --min-block 21
expect_usage "aspect <= 0" --min-aspect -1
expect_usage "aspect 0" --max-aspect 0
expect_usage "grid syntax" --grid 16
expect_usage "grid syntax 2" --grid 16x16x2
expect_usage "grid zero" --grid 0x16
expect_usage "n zero" -n 0
expect_usage "unknown flag" --bogus
expect_usage "count not a number" --count ten
set +e
"$EVA" masks -n 2 2>/dev/null; rc=$?
set -e
[ $rc -eq 2 ] && ok || bad "missing -o: rc $rc"
"$EVA" help masks | grep -q "usage: eva masks" && ok || bad "help text"

echo "cli_masks: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
