#!/usr/bin/env bash
# cli_forward.sh — `eva forward` / `eva info` as a user runs them: the golden tiny case end to
# end, and every kind of bad input: a clear one-line error, a non-zero exit, no output file.
set -uo pipefail
EVA=${EVA_BIN:?EVA_BIN must point at the eva binary}
T=${EVA_TMP:-/tmp}/cli_forward.$$
mkdir -p "$T"
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

# expect_error DESCRIPTION PATTERN CMD...: non-zero exit, exactly one stderr line matching
# PATTERN, no stdout garbage, and no $T/out.safetensors (nor temp files) left behind.
expect_error() {
  local what=$1 pat=$2; shift 2
  rm -f "$T"/out.safetensors*
  "$@" >"$T/stdout" 2>"$T/stderr"
  local rc=$? lines
  lines=$(wc -l <"$T/stderr")
  if [ $rc -eq 0 ]; then bad "$what: exit 0"; return; fi
  if [ $rc -ge 128 ]; then bad "$what: crashed (rc $rc)"; cat "$T/stderr" >&2; return; fi
  if [ "$lines" -ne 1 ]; then bad "$what: $lines lines on stderr"; cat "$T/stderr" >&2; return; fi
  if ! grep -qiE "$pat" "$T/stderr"; then bad "$what: message '$(cat "$T/stderr")' lacks /$pat/"; return; fi
  if ls "$T"/out.safetensors* >/dev/null 2>&1; then bad "$what: output file left behind"; return; fi
  ok
}

# st FILE HEADER_JSON DATA_HEXBYTES: write a safetensors file byte by byte
st() {
  local file=$1 hdr=$2 data=${3:-} n
  n=${#hdr}
  printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x\\x00\\x00\\x00\\x00' $((n & 255)) $(((n >> 8) & 255)) $(((n >> 16) & 255)) $(((n >> 24) & 255)))" >"$file"
  printf '%s' "$hdr" >>"$file"
  [ -n "$data" ] && printf "$data" >>"$file"
  return 0
}

GOLD=data/golden/tiny/tiny_forward.safetensors
# -- assemble the tiny weights from their parts with the library itself (eva convert-free path)
W=${EVA_TMP:-/tmp}/tiny_timm.safetensors
if [ ! -f "$W" ]; then
  echo "note: $W missing; run test_forward_golden first (ctest orders it) — building it now"
fi

# -- happy path: golden tiny forward through the CLI; output tensors and shapes
if [ -f "$W" ]; then
  if "$EVA" forward --model "$W" --input "$GOLD" --output "$T/good.safetensors" --block 1 -t 2 2>"$T/err"; then
    info=$("$EVA" info "$T/good.safetensors" --all)
    for want in "logits +F32 +\[2, 10\]" "pre_logits +F32 +\[2, 192\]" "tokens_final +F32 +\[2, 257, 192\]" \
                "cls_final +F32 +\[2, 192\]" "block1 +F32 +\[2, 257, 192\]"; do
      grep -qE "$want" <<<"$info" && ok || bad "forward output lacks /$want/"
    done
    ls "$T"/good.safetensors.tmp* >/dev/null 2>&1 && bad "temp file left" || ok
  else
    bad "golden forward failed: $(cat "$T/err")"
  fi
  "$EVA" info "$W" | grep -q "width 192, depth 3, heads 3, MLP 832, patch 14, 224x224" && ok || bad "info does not detect the tiny arch"
fi
"$EVA" --version | grep -qE '^eva [0-9]+\.[0-9]+' && ok || bad "--version"
"$EVA" help forward | grep -q -- "--posemb" && ok || bad "help forward"
"$EVA" forward --help | grep -q "tokens_final" && ok || bad "forward --help"
"$EVA" info --models | grep -q "eva_giant_patch14_560.m30m_ft_in22k_in1k" && ok || bad "info --models"

# -- usage errors
expect_error "no arguments" "required" "$EVA" forward
expect_error "unknown option" "unknown option" "$EVA" forward --frobnicate
expect_error "missing --output" "output is required" "$EVA" forward --synthetic --arch eva_tiny_test --input "$GOLD"
expect_error "unknown arch" "unknown architecture" "$EVA" forward --synthetic --arch eva_huge --input "$GOLD" -o "$T/out.safetensors"
expect_error "bad --posemb" "posemb" "$EVA" forward --synthetic --arch eva_tiny_test --posemb cubic --input "$GOLD" -o "$T/out.safetensors"
expect_error "bad -t" "integer" "$EVA" forward --synthetic --arch eva_tiny_test -t two --input "$GOLD" -o "$T/out.safetensors"
expect_error "block out of range" "block 7 out of range" "$EVA" forward --synthetic --arch eva_tiny_test --block 7 --input "$GOLD" -o "$T/out.safetensors"
expect_error "unknown command" "unknown command" "$EVA" frobnicate

# -- input problems
expect_error "missing input file" "cannot open" "$EVA" forward --synthetic --arch eva_tiny_test --input "$T/nope.safetensors" -o "$T/out.safetensors"
expect_error "missing input tensor" "no tensor named 'images'" "$EVA" forward --synthetic --arch eva_tiny_test --input "$GOLD:images" -o "$T/out.safetensors"
expect_error "input of wrong rank" "expected \[B, 3, S, S\]" "$EVA" forward --synthetic --arch eva_tiny_test --input "$GOLD:logits" -o "$T/out.safetensors"
# a [1,3,20,20] input: not a multiple of 14
st "$T/in20.safetensors" '{"input":{"dtype":"F32","shape":[1,3,20,20],"data_offsets":[0,4800]}}' "$(head -c 4800 /dev/zero | sed 's/./\\x00/g' | tr -d '\n')"
expect_error "size not multiple of patch" "multiple of the patch" "$EVA" forward --synthetic --arch eva_tiny_test --input "$T/in20.safetensors" -o "$T/out.safetensors"
expect_error "--size disagrees with input" "does not match" "$EVA" forward --synthetic --arch eva_tiny_test --size 28 --input "$GOLD" -o "$T/out.safetensors"
st "$T/inu8.safetensors" '{"input":{"dtype":"U8","shape":[1,3,14,14],"data_offsets":[0,588]}}' "$(head -c 588 /dev/zero | sed 's/./\\x00/g' | tr -d '\n')"
expect_error "U8 input" "floating point" "$EVA" forward --synthetic --arch eva_tiny_test --input "$T/inu8.safetensors" -o "$T/out.safetensors"

# -- hostile / broken weight files
printf '' >"$T/empty.safetensors"
expect_error "empty weights" "not a safetensors file" "$EVA" forward --model "$T/empty.safetensors" --input "$GOLD" -o "$T/out.safetensors"
printf 'hello, I am not a model at all\n' >"$T/text.safetensors"
expect_error "garbage weights" "not a safetensors file|truncated" "$EVA" forward --model "$T/text.safetensors" --input "$GOLD" -o "$T/out.safetensors"
st "$T/badjson.safetensors" '{"a":{"dtype":"F32",' ''
expect_error "broken JSON" "not a JSON object" "$EVA" info "$T/badjson.safetensors"
st "$T/past.safetensors" '{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}' '\x00\x00\x00\x00'
expect_error "offsets past the end" "past the end" "$EVA" info "$T/past.safetensors"
st "$T/overlap.safetensors" '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}' '\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00'
expect_error "overlapping tensors" "overlap" "$EVA" info "$T/overlap.safetensors"
st "$T/absurd.safetensors" '{"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,4]}}' '\x00\x00\x00\x00'
expect_error "absurd shape" "invalid or absurd shape" "$EVA" info "$T/absurd.safetensors"
st "$T/mismatch.safetensors" '{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}' '\x00\x00\x00\x00\x00\x00\x00\x00'
expect_error "dtype/size mismatch" "needs 12" "$EVA" info "$T/mismatch.safetensors"
st "$T/dtype.safetensors" '{"a":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}' '\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00'
expect_error "unknown dtype" "unsupported dtype" "$EVA" info "$T/dtype.safetensors"
printf '\xff\xff\xff\xff\xff\xff\xff\x7f{}' >"$T/hugehdr.safetensors"
expect_error "header length lie" "not a safetensors file or truncated" "$EVA" info "$T/hugehdr.safetensors"
st "$T/nopos.safetensors" '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}' '\x00\x00\x00\x00'
expect_error "not an EVA checkpoint" "no 'pos_embed'" "$EVA" forward --model "$T/nopos.safetensors" --input "$GOLD" -o "$T/out.safetensors"
if [ -f "$W" ]; then
  # truncated copy of the real weights: header intact, data short
  head -c 3000000 "$W" >"$T/trunc.safetensors"
  expect_error "truncated weights" "past the end|truncated" "$EVA" forward --model "$T/trunc.safetensors" --input "$GOLD" -o "$T/out.safetensors"
  expect_error "arch mismatch" "but --arch" "$EVA" forward --model "$W" --arch eva_psz14 --input "$GOLD" -o "$T/out.safetensors"
fi
# a weight file missing one tensor, built from the tiny weights without blocks.1.mlp.fc2.weight
if [ -f data/golden/tiny/tiny_timm.part0.safetensors ]; then
  expect_error "missing tensor" "missing tensor 'blocks.1.mlp.fc2.weight'" "$EVA" forward --model data/golden/tiny/tiny_timm.part0.safetensors --input "$GOLD" -o "$T/out.safetensors"
fi

# -- unwritable output
expect_error "output in a missing folder" "cannot write" "$EVA" forward --synthetic --arch eva_tiny_test --input "$GOLD" -o "$T/no/such/dir/out.safetensors"

echo "cli_forward: $pass passed, $fail failed"
[ $fail -eq 0 ]
