#!/usr/bin/env bash
# cli_teacher_cache.sh — `eva teacher-cache` + `eva pretrain --teacher-cache`: a cached f32
# teacher gives bit-identical student weights to the online teacher, a resume mid-run reads the
# right steps, the file has the documented size, and caches made for another stream (seed, size,
# batch, data, too few steps) or damaged files (truncated, bad magic, changed header, changed
# record) are refused with one clear line.
source "$(dirname "$0")/lib_cli.sh"
need_tiny_weights

# 24 images: the 3 golden photos, 8 copies each, in two class folders (as cli_pretrain.sh)
photo_folder "$T/data"
STEPS=12
# the golden tiny EVA (width 192, patch 14) as teacher: 4x4 grid at 56 px; 3 epochs of 24/8 = 12 steps
ARGS=(--data "$T/data" --width 64 --depth 2 --heads 2 --mlp 128 --patch 14 --size 56
      --batch 8 --epochs 4 --lr 2e-3 --warmup-epochs 1 -t 2 --seed 7)
CARGS=(--teacher "$W" --data "$T/data" --size 56 --batch 8 --seed 7 -t 2)
body() { local n; n=$(od -An -tu8 -N8 "$1" | tr -d ' '); tail -c +$((9 + n)) "$1" | md5sum; }
losses() { sed 's/.*"loss": \([-0-9.e]*\).*/\1/' "$1/metrics.jsonl"; }

# -- build the caches; the size is 4096 + steps x B x (16 + rows x dim x e)
"$EVA" teacher-cache "${CARGS[@]}" --steps $STEPS -o "$T/c32.tc" 2>"$T/err" && ok || bad "teacher-cache f32: $(cat "$T/err")"
grep -q "wrote .*12 steps x 8 images, 16 x 192 f32 features" "$T/err" && ok || bad "summary line: $(cat "$T/err")"
[ "$(stat -c %s "$T/c32.tc")" -eq $((4096 + STEPS * 8 * (16 + 16 * 192 * 4))) ] && ok || bad "f32 cache size $(stat -c %s "$T/c32.tc")"
"$EVA" teacher-cache "${CARGS[@]}" --steps $STEPS --dtype f16 -o "$T/c16.tc" 2>"$T/err" && ok || bad "teacher-cache f16: $(cat "$T/err")"
[ "$(stat -c %s "$T/c16.tc")" -eq $((4096 + STEPS * 8 * (16 + 16 * 192 * 2))) ] && ok || bad "f16 cache size $(stat -c %s "$T/c16.tc")"
ls "$T"/*.tmp.* >/dev/null 2>&1 && bad "temp file left" || ok
# the same command twice gives the same bytes (seeded stream, deterministic teacher)
"$EVA" teacher-cache "${CARGS[@]}" --steps $STEPS -o "$T/c32b.tc" 2>/dev/null
cmp -s "$T/c32.tc" "$T/c32b.tc" && ok || bad "two cache builds differ"

# -- online teacher vs f32 cache: bit-identical weights and identical losses
"$EVA" pretrain "${ARGS[@]}" --teacher "$W" --out "$T/online" --steps $STEPS 2>"$T/err" && ok || bad "online run: $(tail -2 "$T/err")"
"$EVA" pretrain "${ARGS[@]}" --teacher-cache "$T/c32.tc" --out "$T/cached" --steps $STEPS 2>"$T/err" && ok || bad "cached run: $(tail -2 "$T/err")"
[ -f "$T/online/model.safetensors" ] && [ "$(body "$T/online/model.safetensors")" = "$(body "$T/cached/model.safetensors")" ] \
  && ok || bad "cached-teacher weights differ from the online teacher's"
cmp -s <(losses "$T/online") <(losses "$T/cached") && ok || bad "losses differ between online and cached runs"
"$EVA" info "$T/cached/model.safetensors" | grep -q "pooling: MIM" && ok || bad "cached run's model is not an EVA MIM model"
# an f16 cache trains too, with slightly different targets
"$EVA" pretrain "${ARGS[@]}" --teacher-cache "$T/c16.tc" --out "$T/half" --steps $STEPS 2>"$T/err" && ok || bad "f16 cached run: $(tail -2 "$T/err")"
a=$(losses "$T/online" | tail -1) b=$(losses "$T/half" | tail -1)
awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d < 0.02) }' && ok || bad "f16 loss $b far from f32 $a"
# ... and so other weights: the comparison above does see a change of the targets
[ "$(body "$T/online/model.safetensors")" != "$(body "$T/half/model.safetensors")" ] && ok || bad "f16 targets gave identical weights"

# -- resume mid-run from a checkpoint: reads the cache from step 4 on, same weights
"$EVA" pretrain "${ARGS[@]}" --teacher-cache "$T/c32.tc" --out "$T/res" --steps $STEPS --ckpt-every 4 2>/dev/null && ok || bad "checkpointed cached run"
rm -f "$T/res/ckpt-00000008.safetensors" "$T/res/ckpt-00000012.safetensors" "$T/res/model.safetensors"
"$EVA" pretrain --resume "$T/res" -t 2 2>"$T/err" && ok || bad "resume with the cache: $(cat "$T/err")"
grep -q "at step 4" "$T/err" && ok || bad "did not resume at step 4: $(cat "$T/err")"
[ -f "$T/res/model.safetensors" ] && [ "$(body "$T/cached/model.safetensors")" = "$(body "$T/res/model.safetensors")" ] \
  && ok || bad "resumed cached run differs from the uninterrupted one"
expect_fail "resume past the cache" "holds 12 steps, this run needs 16" "$EVA" pretrain --resume "$T/res" --steps 16 -t 2

# -- caches made for another stream are refused before training
expect_fail "other seed" "made for --seed 7, this run has --seed 8" \
  "$EVA" pretrain "${ARGS[@]}" --seed 8 --teacher-cache "$T/c32.tc" --out "$T/x1" --steps 4
expect_fail "other batch" "made for --batch 8, this run has --batch 4" \
  "$EVA" pretrain "${ARGS[@]}" --batch 4 --teacher-cache "$T/c32.tc" --out "$T/x2" --steps 4
expect_fail "other size" "made for --size 56, this run has --size 28" \
  "$EVA" pretrain "${ARGS[@]}" --size 28 --patch 7 --teacher-cache "$T/c32.tc" --out "$T/x3" --steps 4
expect_fail "other grid" "patch grids must match" \
  "$EVA" pretrain "${ARGS[@]}" --patch 7 --teacher-cache "$T/c32.tc" --out "$T/x4" --steps 4
mkdir -p "$T/data2/a" && cp "$T"/data/a/* "$T/data2/a/" && rm "$T/data2/a/g0.jpg"
expect_fail "other data (count)" "dataset of 24 images" \
  "$EVA" pretrain "${ARGS[@]}" --data "$T/data2" --teacher-cache "$T/c32.tc" --out "$T/x5" --steps 4
mkdir -p "$T/data3/a" "$T/data3/b" && cp "$T"/data/a/* "$T/data3/b/" && cp "$T"/data/b/* "$T/data3/a/"
expect_fail "other data (labels)" "made for other data" \
  "$EVA" pretrain "${ARGS[@]}" --data "$T/data3" --teacher-cache "$T/c32.tc" --out "$T/x6" --steps 4
expect_fail "too few steps" "holds 12 steps, this run needs 20" \
  "$EVA" pretrain "${ARGS[@]}" --teacher-cache "$T/c32.tc" --out "$T/x7" --steps 20
expect_fail "both teachers" "not both" "$EVA" pretrain "${ARGS[@]}" --teacher "$W" --teacher-cache "$T/c32.tc" --out "$T/x8"

# -- damaged files: one clear line, no crash
size=$(stat -c %s "$T/c32.tc")
head -c $((size - 100)) "$T/c32.tc" >"$T/trunc.tc"
expect_fail "truncated records" "truncated: $((size - 100)) bytes, $size expected" \
  "$EVA" pretrain "${ARGS[@]}" --teacher-cache "$T/trunc.tc" --out "$T/d1" --steps 4
head -c 100 "$T/c32.tc" >"$T/short.tc"
expect_fail "truncated header" "shorter than its 4096-byte header" \
  "$EVA" pretrain "${ARGS[@]}" --teacher-cache "$T/short.tc" --out "$T/d2" --steps 4
{ cat "$T/c32.tc"; echo x; } >"$T/long.tc"
expect_fail "trailing bytes" "bytes after its last step" "$EVA" pretrain "${ARGS[@]}" --teacher-cache "$T/long.tc" --out "$T/d3" --steps 4
patch_byte() { cp "$T/c32.tc" "$2"; printf "$3" | dd of="$2" bs=1 seek="$1" conv=notrunc status=none; }
patch_byte 0 "$T/magic.tc" 'X'
expect_fail "bad magic" "not a teacher cache" "$EVA" pretrain "${ARGS[@]}" --teacher-cache "$T/magic.tc" --out "$T/d4" --steps 4
patch_byte 32 "$T/hdr.tc" '\x09'      # the batch field, checksum not updated
expect_fail "changed header" "header is damaged" "$EVA" pretrain "${ARGS[@]}" --teacher-cache "$T/hdr.tc" --out "$T/d5" --steps 4
patch_byte $((4096 + 8 * 8 + 3)) "$T/rec.tc" '\x55'    # step 0, sample 0's image hash
expect_fail "changed record" "step 0 sample 0: the augmented image differs" \
  "$EVA" pretrain "${ARGS[@]}" --teacher-cache "$T/rec.tc" --out "$T/d6" --steps 4
patch_byte $((4096 + 98432 + 2)) "$T/idx.tc" '\x01'    # step 1, sample 0's dataset index
expect_fail "changed index" "step 1 sample 0: the loader gave image" \
  "$EVA" pretrain "${ARGS[@]}" --teacher-cache "$T/idx.tc" --out "$T/d7" --steps 4
expect_fail "missing cache" "cannot open the teacher cache" \
  "$EVA" pretrain "${ARGS[@]}" --teacher-cache "$T/none.tc" --out "$T/d8" --steps 4

# -- teacher-cache's own input errors: no output file left behind
expect_fail "bad dtype" "dtype must be f32 or f16" "$EVA" teacher-cache "${CARGS[@]}" --steps 2 --dtype bf16 -o "$T/e1.tc"
expect_fail "no steps" "--steps N or --epochs E" "$EVA" teacher-cache "${CARGS[@]}" -o "$T/e2.tc"
expect_fail "bad teacher" "neither a CLIP vision tower" "$EVA" teacher-cache "${CARGS[@]}" --teacher "$T/none.pt" --steps 2 -o "$T/e3.tc"
expect_fail "batch above the data" "too few for batch 32" "$EVA" teacher-cache "${CARGS[@]}" --batch 32 --steps 2 -o "$T/e4.tc"
ls "$T"/e*.tc "$T"/*.tmp.* >/dev/null 2>&1 && bad "output left after a failure" || ok
"$EVA" help teacher-cache | grep -q "4096 + N x B" && ok || bad "help lacks the size formula"

finish
