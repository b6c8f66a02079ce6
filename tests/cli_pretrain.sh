#!/usr/bin/env bash
# cli_pretrain.sh — `eva pretrain` end to end on a small deterministic image folder with the
# golden tiny EVA as teacher: the loss goes down, kill -9 + --resume gives bit-identical weights,
# a damaged newest checkpoint falls back to the previous one, and bad inputs (empty folder,
# unreadable images, a teacher with another patch grid, a full disk while checkpointing) give
# clear messages and lose nothing.
source "$(dirname "$0")/lib_cli.sh"
need_tiny_weights

# 24 images: the 3 golden photos, 8 copies each, in two class folders
photo_folder "$T/data"
ARGS=(--data "$T/data" --teacher "$W" --width 64 --depth 2 --heads 2 --mlp 128 --patch 14 --size 56
      --batch 8 --epochs 40 --lr 2e-3 --warmup-epochs 2 --drop-path 0 -t 2 --seed 7)

# -- a short run: the loss (-cos) must fall well below its start
"$EVA" pretrain "${ARGS[@]}" --out "$T/run" --steps 120 --ckpt-every 40 2>"$T/err" && ok || bad "pretrain failed: $(tail -3 "$T/err")"
first=$(head -1 "$T/run/metrics.jsonl" | sed 's/.*"loss": \([-0-9.e]*\).*/\1/')
last=$(tail -5 "$T/run/metrics.jsonl" | sed 's/.*"loss": \([-0-9.e]*\).*/\1/' | awk '{s += $1} END {printf "%.4f", s / NR}')
echo "loss: first step $first, mean of the last 5 steps $last"
awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a - 0.3 && b < -0.5) }' && ok || bad "loss did not fall: $first -> $last"
[ "$(wc -l <"$T/run/metrics.jsonl")" -eq 120 ] && ok || bad "metrics lines $(wc -l <"$T/run/metrics.jsonl")"
ls "$T/run"/ckpt-*.safetensors | wc -l | grep -q '^3$' && ok || bad "expected 3 checkpoints kept"
"$EVA" info "$T/run/model.safetensors" | grep -q "pooling: MIM" && ok || bad "model.safetensors is not an EVA MIM model"
"$EVA" embed --model "$T/run/model.safetensors" "$T/data/a/g0.jpg" -o "$T/e.npy" 2>/dev/null && ok || bad "embed with the pre-trained model"

# -- kill -9 mid-run, then --resume: the same final weights as an uninterrupted run
"$EVA" pretrain "${ARGS[@]}" --out "$T/ref" --steps 40 2>/dev/null && ok || bad "reference run"
"$EVA" pretrain "${ARGS[@]}" --out "$T/killed" --steps 40 --ckpt-every 5 2>/dev/null &
pid=$!
for _ in $(seq 1 500); do
  [ -f "$T/killed/ckpt-00000015.safetensors" ] && break
  sleep 0.02
done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
"$EVA" pretrain --resume "$T/killed" -t 2 2>"$T/err" && ok || bad "resume failed: $(cat "$T/err")"
grep -q "resumed from" "$T/err" && ok || bad "no resume message"
# compare the tensor bytes (metadata may differ): the data section after the header
body() { local n; n=$(od -An -tu8 -N8 "$1" | tr -d ' '); tail -c +$((9 + n)) "$1" | md5sum; }
[ "$(body "$T/ref/model.safetensors")" = "$(body "$T/killed/model.safetensors")" ] && ok || bad "resumed weights differ from the uninterrupted run"

# -- --checkpoint-activations recomputes instead of storing: the same weights bit for bit
"$EVA" pretrain "${ARGS[@]}" --out "$T/ckact" --steps 40 --checkpoint-activations 2>"$T/err" && ok || bad "checkpointed run failed: $(cat "$T/err")"
[ "$(body "$T/ref/model.safetensors")" = "$(body "$T/ckact/model.safetensors")" ] && ok || bad "--checkpoint-activations changed the weights"
# -- bf16 mixed precision: runs, is recorded (a resume keeps it), trains like fp32, differs from it
"$EVA" pretrain "${ARGS[@]}" --out "$T/bf16" --steps 40 --precision bf16 2>"$T/err" && ok || bad "bf16 run failed: $(cat "$T/err")"
grep -q '"cfg.precision":"bf16"' "$T/bf16/model.safetensors" && ok || bad "precision not recorded"
[ "$(body "$T/ref/model.safetensors")" != "$(body "$T/bf16/model.safetensors")" ] && ok || bad "bf16 run identical to fp32 (not on?)"
l32=$(tail -5 "$T/ref/metrics.jsonl" | sed 's/.*"loss": \([-0-9.e]*\).*/\1/' | awk '{s += $1} END {print s / NR}')
l16=$(tail -5 "$T/bf16/metrics.jsonl" | sed 's/.*"loss": \([-0-9.e]*\).*/\1/' | awk '{s += $1} END {print s / NR}')
echo "loss after 40 steps (mean of the last 5): fp32 $l32, bf16 $l16"
awk -v a="$l32" -v b="$l16" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d < 0.05) }' && ok || bad "bf16 loss $l16 far from fp32 $l32"
expect_fail "pretrain --precision fp16" "precision must be fp32 or bf16" "$EVA" pretrain "${ARGS[@]}" --out "$T/x" --precision fp16

# -- a damaged newest checkpoint: warning, the previous one is used
"$EVA" pretrain "${ARGS[@]}" --out "$T/dmg" --steps 10 --ckpt-every 5 2>/dev/null
newest=$(ls "$T/dmg"/ckpt-*.safetensors | tail -1)
head -c 2000 "$newest" >"$newest.cut" && mv "$newest.cut" "$newest"
"$EVA" pretrain --resume "$T/dmg" --steps 12 -t 2 2>"$T/err" && ok || bad "resume after damage failed: $(cat "$T/err")"
grep -q "damaged" "$T/err" && ok || bad "no warning about the damaged checkpoint: $(cat "$T/err")"
grep -q "at step 5" "$T/err" && ok || bad "did not fall back to step 5: $(cat "$T/err")"

# -- disk full while writing a checkpoint: clear error, older checkpoints intact
"$EVA" pretrain "${ARGS[@]}" --out "$T/full" --steps 10 --ckpt-every 5 2>/dev/null
before=$(ls "$T/full"/ckpt-* | md5sum)
EVA_FAULT_WRITE_BYTES=100000 "$EVA" pretrain --resume "$T/full" --steps 15 -t 2 2>"$T/err"
rc=$?
[ $rc -ne 0 ] && grep -q "No space left on device" "$T/err" && ok || bad "disk full: rc $rc, $(cat "$T/err")"
ls "$T/full"/*.tmp.* >/dev/null 2>&1 && bad "temp file left after a failed write" || ok
"$EVA" pretrain --resume "$T/full" --steps 15 -t 2 2>/dev/null && ok || bad "resume after the failed write"

# -- unreadable images are skipped and counted; the run continues
mkdir -p "$T/mixed"
cp "$T"/data/a/*.jpg "$T/mixed/"
: >"$T/mixed/zz_empty.jpg"
echo "text" >"$T/mixed/zz_text.png"
"$EVA" pretrain "${ARGS[@]}" --data "$T/mixed" --out "$T/mixedrun" --steps 4 2>"$T/err" && ok || bad "run with unreadable images failed: $(cat "$T/err")"
grep -q "unreadable image(s) were skipped" "$T/err" && ok || bad "unreadable images not reported"

# -- bad input
mkdir -p "$T/empty"
expect_fail "empty folder" "no images found" "$EVA" pretrain "${ARGS[@]}" --data "$T/empty" --out "$T/e1" --steps 2
expect_fail "wrong patch grid" "patch grids must match" "$EVA" pretrain "${ARGS[@]}" --patch 8 --out "$T/e2" --steps 2
expect_fail "missing teacher" "neither a CLIP vision tower" "$EVA" pretrain "${ARGS[@]}" --teacher "$T/none.pt" --out "$T/e3" --steps 2
expect_fail "no data" "data is required" "$EVA" pretrain --teacher "$W" --out "$T/e4"
expect_fail "resume without checkpoints" "no checkpoint" "$EVA" pretrain --resume "$T/empty"
expect_fail "bad width/heads" "multiple of --heads" "$EVA" pretrain "${ARGS[@]}" --width 65 --out "$T/e5" --steps 2

finish
