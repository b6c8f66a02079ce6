#!/usr/bin/env bash
# cli_finetune.sh — `eva finetune` + `eva eval` end to end on a small two-class image folder:
# training from scratch and from a pre-trained MIM model, the per-epoch validation numbers
# reproduced by `eva eval` (live and --ema, and by its --predictions CSV), classify with the
# class names recorded in the model, bit-identical resume after kill -9, and bad inputs.
source "$(dirname "$0")/lib_cli.sh"
need_tiny_weights

two_class_folder "$T/data"
ARCH=(--width 64 --depth 2 --heads 2 --mlp 128 --patch 14 --size 56)
FT=(--data "$T/data" --val "$T/data" --batch 8 --epochs 12 --lr 2e-3 --warmup-epochs 1 --drop-path 0 --ema 0.9 -t 2 --seed 5)

# -- from scratch: learns the two classes, eval reproduces the last validation numbers
"$EVA" finetune "${FT[@]}" "${ARCH[@]}" --out "$T/scratch" --steps 24 2>"$T/err" && ok || bad "finetune failed: $(tail -3 "$T/err")"
last=$(tail -1 "$T/scratch/metrics.jsonl")
val=$(echo "$last" | sed 's/.*"val_top1": \([0-9.]*\).*/\1/')
val_ema=$(echo "$last" | sed 's/.*"val_top1_ema": \([0-9.]*\).*/\1/')
echo "validation after 24 steps: top-1 $val, EMA $val_ema"
awk -v v="$val" 'BEGIN { exit !(v >= 0.99) }' && ok || bad "the two classes were not learned (top-1 $val)"
e1=$("$EVA" eval --model "$T/scratch/model.safetensors" --data "$T/data" --json | sed 's/.*"top1": \([0-9.]*\).*/\1/')
e2=$("$EVA" eval --model "$T/scratch/model.safetensors" --data "$T/data" --json --ema | sed 's/.*"top1": \([0-9.]*\).*/\1/')
awk -v a="$e1" -v b="$val" 'BEGIN { exit !(a == b) }' && ok || bad "eval $e1 != training validation $val"
awk -v a="$e2" -v b="$val_ema" 'BEGIN { exit !(a == b) }' && ok || bad "eval --ema $e2 != training validation $val_ema"
"$EVA" classify --model "$T/scratch/model.safetensors" data/preprocess/rocket.jpg -k 1 2>/dev/null | grep -q "rocket (1)" && ok || bad "class names not used by classify"
"$EVA" eval --model "$T/scratch/model.safetensors" --data "$T/data" --confusion-png "$T/c.png" >/dev/null && [ -s "$T/c.png" ] && ok || bad "confusion PNG"
head -c 8 "$T/c.png" | od -An -tx1 | grep -q "89 50 4e 47" && ok || bad "confusion PNG signature"
# per-sample predictions (CSV): one row per image, and its top-1 column gives eval's top-1
"$EVA" eval --model "$T/scratch/model.safetensors" --data "$T/data" --predictions "$T/p.csv" >/dev/null && ok || bad "eval --predictions"
head -1 "$T/p.csv" | grep -qx "index,label,top1,top2" && ok || bad "predictions header: $(head -1 "$T/p.csv")"
[ $(($(wc -l <"$T/p.csv") - 1)) -eq "$(find "$T/data" -type f | wc -l)" ] && ok || bad "predictions: $(wc -l <"$T/p.csv") lines"
p1=$(awk -F, 'NR > 1 { t += $2 == $3; n++ } END { printf "%.6f", t / n }' "$T/p.csv")
[ "$p1" = "$e1" ] && ok || bad "predictions top-1 $p1 != eval $e1"
"$EVA" eval --model "$T/scratch/model.safetensors" --data "$T/data" --dtype q8 --predictions "$T/q8.csv" >/dev/null && ok ||
  bad "eval --dtype q8 --predictions"
expect_fail "eval: predictions path" "cannot|No such" "$EVA" eval --model "$T/scratch/model.safetensors" --data "$T/data" \
  --predictions "$T/no/such/dir/p.csv"
expect_fail "eval: bad dtype" "dtype must be" "$EVA" eval --model "$T/scratch/model.safetensors" --data "$T/data" --dtype f8

# -- from a pre-trained MIM model (stop_grad_conv1 on: the patch embedding stays as pre-trained)
"$EVA" pretrain --data "$T/data" --teacher "$W" "${ARCH[@]}" --batch 8 --epochs 4 --steps 6 --out "$T/mim" -t 2 2>/dev/null && ok || bad "pretrain"
"$EVA" finetune "${FT[@]}" --init "$T/mim/model.safetensors" --out "$T/ft" --steps 8 2>"$T/err" && ok || bad "finetune --init: $(tail -2 "$T/err")"
grep -q "initialised" "$T/err" && ok || bad "no init message"
"$EVA" info "$T/ft/model.safetensors" | grep -q "mean of patch tokens + fc_norm" && ok || bad "result is not a classifier"

# -- kill -9 + resume = uninterrupted
"$EVA" finetune "${FT[@]}" "${ARCH[@]}" --out "$T/ref" --steps 20 2>/dev/null && ok || bad "reference run"
"$EVA" finetune "${FT[@]}" "${ARCH[@]}" --out "$T/kill" --steps 20 --ckpt-every 3 2>/dev/null &
pid=$!
for _ in $(seq 1 500); do [ -f "$T/kill/ckpt-00000009.safetensors" ] && break; sleep 0.02; done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
"$EVA" finetune --resume "$T/kill" -t 2 2>"$T/err" && ok || bad "resume: $(cat "$T/err")"
body() { local n; n=$(od -An -tu8 -N8 "$1" | tr -d ' '); tail -c +$((9 + n)) "$1" | md5sum; }
[ "$(body "$T/ref/model.safetensors")" = "$(body "$T/kill/model.safetensors")" ] && ok || bad "resumed fine-tuning differs"

# -- bad input
mkdir -p "$T/one/only"; cp data/preprocess/rocket.jpg "$T/one/only/"
expect_fail "one class" "needs labelled classes" "$EVA" finetune --data "$T/one" --out "$T/e1" "${ARCH[@]}" --steps 2
expect_fail "missing init" "cannot open" "$EVA" finetune --data "$T/data" --init "$T/none.safetensors" --out "$T/e2" --steps 2
expect_fail "eval: bad split" "split must be train or test" "$EVA" eval --synthetic --arch eva_tiny_test --data fashion-mnist:none
expect_fail "eval: no data" "data is required" "$EVA" eval --model "$T/scratch/model.safetensors"
expect_fail "bad smoothing" "out of range" "$EVA" finetune --data "$T/data" --out "$T/e3" --smoothing 1.5

finish
