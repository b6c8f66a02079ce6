#!/usr/bin/env bash
# cli_teacher.sh — `eva teacher-features`: output layout, options, help, and bad inputs (one line
# on stderr, non-zero exit, no output file). The golden values are checked in test_teacher.c.
set -euo pipefail
EVA="${EVA_BIN:?EVA_BIN not set}"
T="${EVA_TMP:-/tmp}/cli_teacher.$$"
mkdir -p "$T"
trap 'rm -rf "$T"' EXIT
D=data/teacher
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
header() { local h; h=$(od -An -t u8 -N 8 "$1" | tr -d ' '); head -c $((8 + h)) "$1" | tail -c "$h"; }

# 1. both weight files: the two outputs with their shapes
for m in "$D/teacher_clip_tiny_f16.safetensors" "$D/teacher_clip_tiny.pt"; do
    "$EVA" teacher-features --model "$m" -i "$D/teacher_clip_io.safetensors" -o "$T/o.safetensors" -t 2
    h=$(header "$T/o.safetensors")
    grep -q '"output.teacher_features":{"dtype":"F32","shape":\[2,16,64\]' <<<"$h" && ok || bad "$m features: $h"
    grep -q '"output.image_embed":{"dtype":"F32","shape":\[2,64\]' <<<"$h" && ok || bad "$m embed: $h"
    rm -f "$T/o.safetensors"
done
# same bytes from the .safetensors and the .pt (identical weights), 1 and 2 threads
"$EVA" teacher-features --model "$D/teacher_clip_tiny_f16.safetensors" -i "$D/teacher_clip_io.safetensors" -o "$T/a.safetensors" -t 1
"$EVA" teacher-features --model "$D/teacher_clip_tiny.pt" -i "$D/teacher_clip_io.safetensors" -o "$T/b.safetensors" -t 2
cmp -s "$T/a.safetensors" "$T/b.safetensors" && ok || bad ".safetensors -t 1 and .pt -t 2 differ"

# 2. selection options change the shape
"$EVA" teacher-features --model "$D/teacher_clip_tiny.pt" -i "$D/teacher_clip_io.safetensors" -o "$T/c.safetensors" --layer 1 --no-proj --keep-cls
h=$(header "$T/c.safetensors")
grep -q '"output.teacher_features":{"dtype":"F32","shape":\[2,17,128\]' <<<"$h" && ok || bad "--layer 1 --no-proj --keep-cls: $h"
grep -q 'output.image_embed' <<<"$h" && bad "image_embed written at --layer 1" || ok

# 3. help
"$EVA" help teacher-features | grep -q "usage: eva teacher-features" && ok || bad "help text"
"$EVA" teacher-features --help | grep -q "output.teacher_features" && ok || bad "--help text"

# 4. bad inputs: non-zero exit, exactly one stderr line mentioning the problem, no output file
expect_fail() {   # expect_fail WANTED_RC PATTERN args...
    local want=$1 pat=$2 rc=0
    shift 2
    "$EVA" teacher-features "$@" -o "$T/bad.safetensors" 2>"$T/err.txt" >/dev/null || rc=$?
    local lines; lines=$(wc -l <"$T/err.txt")
    if [ "$rc" -ne "$want" ]; then bad "$* -> rc $rc (want $want): $(cat "$T/err.txt")"
    elif [ "$lines" -ne 1 ]; then bad "$* -> $lines stderr lines"
    elif ! grep -q -- "$pat" "$T/err.txt"; then bad "$* -> message '$(cat "$T/err.txt")' lacks '$pat'"
    elif [ -e "$T/bad.safetensors" ] || ls "$T"/bad.safetensors.tmp* >/dev/null 2>&1; then bad "$* left an output file"
    else ok; fi
    rm -f "$T/bad.safetensors"
}
M="$D/teacher_clip_tiny_f16.safetensors"
expect_fail 1 "not a multiple of the teacher's patch size 14" --model "$M" -i "$D/bad_size.safetensors"
expect_fail 1 "missing tensor 'input.images'" --model "$M" -i "$D/bad_name.safetensors"
expect_fail 1 "must be \[B, 3, S, S\]" --model "$M" -i "$D/bad_rank.safetensors"
expect_fail 1 "dtype I32" --model "$M" -i "$D/bad_dtype.safetensors"
expect_fail 1 "not a CLIP vision checkpoint" --model "$D/teacher_clip_io.safetensors" -i "$D/teacher_clip_io.safetensors"
expect_fail 1 "absent" --model "$D/absent.pt" -i "$D/teacher_clip_io.safetensors"
expect_fail 1 "absent" --model "$M" -i "$D/absent.safetensors"
expect_fail 1 "" --model "$D/teacher_clip.json" -i "$D/teacher_clip_io.safetensors"
expect_fail 1 "not divisible by 3 heads" --model "$M" -i "$D/teacher_clip_io.safetensors" --heads 3
expect_fail 2 "the teacher has 2 blocks" --model "$M" -i "$D/teacher_clip_io.safetensors" --layer 3
expect_fail 2 "--model TEACHER is required" -i "$D/teacher_clip_io.safetensors"
expect_fail 2 "--input IN.safetensors is required" --model "$M"
expect_fail 2 "unknown option '--frobnicate'" --model "$M" -i "$D/teacher_clip_io.safetensors" --frobnicate
expect_fail 2 "-t must be in" --model "$M" -i "$D/teacher_clip_io.safetensors" -t 0
expect_fail 2 "expects an integer" --model "$M" -i "$D/teacher_clip_io.safetensors" --layer x
rc=0; "$EVA" teacher-features --model "$M" -i "$D/teacher_clip_io.safetensors" 2>/dev/null || rc=$?
[ "$rc" -eq 2 ] && ok || bad "missing -o -> rc $rc"

echo "cli_teacher: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
