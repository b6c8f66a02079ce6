#!/usr/bin/env bash
# cli_panels.sh — fp32 weight panels from the command line: `eva convert --layout panels` writes
# the block matrices as F32 [ceil(N/32), K, 32] with eva.layout=panels32, every inference command
# runs such a file with no flags and gets the rows model's numbers bit for bit, `--layout
# rows|panels` switches the in-memory layout of any model (synthetic included), `eva convert`
# turns a panels file back into the original rows, `eva bench` reports the layout, and bad values
# give one-line errors.
source "$(dirname "$0")/lib_cli.sh"
need_tiny_weights
GOLD=data/golden/tiny/tiny_forward.safetensors
TINY=(--synthetic --arch eva_tiny_test)

same() {   # same WHAT A B: eva diff reports bit-identical tensors
  "$EVA" diff "$2" "$3" >"$T/d" 2>&1
  grep -q "bit-identical" "$T/d" && ok || bad "$1: $(tail -1 "$T/d")"
}

# -- synthetic tiny: rows and panels in memory give the same outputs
"$EVA" forward "${TINY[@]}" --input "$GOLD" --output "$T/syn_rows.safetensors" -t 2 2>"$T/err" && ok || bad "forward rows: $(cat "$T/err")"
"$EVA" forward "${TINY[@]}" --layout panels --input "$GOLD" --output "$T/syn_pan.safetensors" -t 2 2>"$T/err" && ok ||
  bad "forward --layout panels: $(cat "$T/err")"
same "synthetic panels vs rows" "$T/syn_rows.safetensors" "$T/syn_pan.safetensors"

# -- the file round trip
"$EVA" convert "$W" "$T/pan.safetensors" --layout panels 2>"$T/err" && ok || bad "convert --layout panels: $(cat "$T/err")"
"$EVA" info "$T/pan.safetensors" --all >"$T/info" 2>&1
grep -qE "blocks.0.mlp.fc1.weight +F32 +\[26, 192, 32\]" "$T/info" && ok || bad "panels file lacks F32 [26, 192, 32] fc1"
grep -qE "blocks.1.attn.qkv.weight +F32 +\[18, 192, 32\]" "$T/info" && ok || bad "panels file lacks F32 [18, 192, 32] qkv"
grep -q "panels32" "$T/info" && ok || bad "panels file lacks eva.layout metadata"
"$EVA" forward --model "$W" --input "$GOLD" --output "$T/rows.safetensors" -t 2 2>"$T/err" && ok || bad "forward rows file"
"$EVA" forward --model "$T/pan.safetensors" --input "$GOLD" --output "$T/pan_out.safetensors" -t 2 2>"$T/err" && ok ||
  bad "forward panels file: $(cat "$T/err")"
same "panels file vs rows file" "$T/rows.safetensors" "$T/pan_out.safetensors"
"$EVA" forward --model "$T/pan.safetensors" --layout rows --input "$GOLD" --output "$T/unpacked.safetensors" -t 1 2>"$T/err" && ok ||
  bad "forward panels file --layout rows: $(cat "$T/err")"
same "panels file run as rows" "$T/rows.safetensors" "$T/unpacked.safetensors"
"$EVA" forward --model "$W" --layout panels --input "$GOLD" --output "$T/packed.safetensors" -t 2 2>"$T/err" && ok ||
  bad "forward rows file --layout panels: $(cat "$T/err")"
same "rows file packed at load" "$T/rows.safetensors" "$T/packed.safetensors"
# the reference kernels read the panels too
"$EVA" forward --model "$T/pan.safetensors" --reference --input "$GOLD" --output "$T/pref.safetensors" 2>"$T/err" && ok ||
  bad "forward --reference panels: $(cat "$T/err")"
"$EVA" forward --model "$W" --reference --input "$GOLD" --output "$T/rref.safetensors" 2>"$T/err" && ok || bad "forward --reference"
same "reference panels vs rows" "$T/rref.safetensors" "$T/pref.safetensors"
# low precision from a panels file equals it from the rows file
"$EVA" forward --model "$T/pan.safetensors" --dtype q8 --input "$GOLD" --output "$T/pq8.safetensors" -t 2 2>"$T/err" && ok ||
  bad "forward panels --dtype q8: $(cat "$T/err")"
"$EVA" forward --model "$W" --dtype q8 --input "$GOLD" --output "$T/rq8.safetensors" -t 2 2>"$T/err" && ok || bad "forward --dtype q8"
same "q8 from panels vs rows" "$T/rq8.safetensors" "$T/pq8.safetensors"
# back to rows: the original weights
"$EVA" convert "$T/pan.safetensors" "$T/back.safetensors" 2>"$T/err" && ok || bad "convert panels -> rows: $(cat "$T/err")"
"$EVA" info "$T/back.safetensors" --all >"$T/info2" 2>&1
grep -qE "blocks.0.mlp.fc1.weight +F32 +\[832, 192\]" "$T/info2" && ok || bad "rows file lacks F32 [832, 192] fc1"
same "rows -> panels -> rows weights" "$W" "$T/back.safetensors"
"$EVA" classify --model "$T/pan.safetensors" data/preprocess/rocket.jpg -k 3 >"$T/c" 2>"$T/err" && ok ||
  bad "classify with the panels file: $(cat "$T/err")"

# -- bench says which layout ran
out=$("$EVA" bench "${TINY[@]}" --layout panels -t 2 --reps 1 --warmup 0 --json 2>"$T/err")
grep -q '"weight_layout":"panels"' <<<"$out" && ok || bad "bench --layout panels: $out $(cat "$T/err")"
out=$("$EVA" bench "${TINY[@]}" -t 2 --reps 1 --warmup 0 --json 2>"$T/err")
grep -q '"weight_layout":"rows"' <<<"$out" && ok || bad "bench rows: $out"
out=$("$EVA" bench --model "$T/pan.safetensors" -t 2 --reps 1 --warmup 0 --json 2>"$T/err")
grep -q '"weight_layout":"panels"' <<<"$out" && ok || bad "bench panels file: $out $(cat "$T/err")"

# -- documented where the model options are
"$EVA" help forward >"$T/h" 2>&1; grep -q -- "--layout rows|panels" "$T/h" && ok || bad "help forward lacks --layout"
"$EVA" help convert >"$T/h" 2>&1; grep -q -- "--layout panels" "$T/h" && ok || bad "help convert lacks --layout"
"$EVA" help bench >"$T/h" 2>&1; grep -q -- "--layout rows|panels" "$T/h" && ok || bad "help bench lacks --layout"

# -- training wants rows: a panels file is refused with the way out
two_class_folder "$T/data"
expect_fail "finetune --init panels" "inference layout.*eva convert" "$EVA" finetune --data "$T/data" --init "$T/pan.safetensors" \
  --out "$T/ft" --steps 1 -t 2
[ ! -e "$T/ft/model.safetensors" ] && ok || bad "a refused finetune wrote a model"

# -- bad values: one line, non-zero exit, no output file
expect_fail "convert panels bf16" "panels is for --dtype f32" "$EVA" convert "$W" "$T/x.safetensors" --layout panels --dtype bf16
[ ! -e "$T/x.safetensors" ] && ok || bad "a refused convert left a file"
expect_fail "convert --layout cols" "must be rows or panels" "$EVA" convert "$W" "$T/x.safetensors" --layout cols
expect_fail "forward --layout diag" "must be rows or panels" "$EVA" forward "${TINY[@]}" --layout diag --input "$GOLD" --output "$T/x.safetensors"
expect_fail "bench --layout" "needs a value|missing|requires" "$EVA" bench "${TINY[@]}" --layout
for f in err; do [ "$(wc -l <"$T/$f")" -le 1 ] && ok || bad "multi-line error: $(cat "$T/$f")"; done

finish
