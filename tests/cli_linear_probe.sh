#!/usr/bin/env bash
# cli_linear_probe.sh — `eva finetune --linear-probe` end to end on a small two-class image folder:
# a tiny MIM model pre-trained for a few steps, probed with LARS and SGD; the result is a
# classifier that `eva eval` / `eva classify` / `eva convert` take as it is, and eval reproduces
# the probe's last validation number. Also `eva finetune --aa` (RandAugment) runs, is recorded and
# resumes bit-identically, and bad flags fail with one line.
source "$(dirname "$0")/lib_cli.sh"
need_tiny_weights

two_class_folder "$T/data"
ARCH=(--width 64 --depth 2 --heads 2 --mlp 128 --patch 14 --size 56)

# expect_one_line WHAT PATTERN CMD...: expect_fail, and stderr is exactly one line
expect_one_line() {
  local what=$1
  expect_fail "$@"
  [ "$(wc -l <"$T/err")" -eq 1 ] && ok || bad "$what: $(wc -l <"$T/err") lines on stderr"
}

"$EVA" pretrain --data "$T/data" --teacher "$W" "${ARCH[@]}" --batch 8 --epochs 4 --steps 6 --out "$T/mim" -t 2 2>/dev/null && ok || bad "pretrain"

# -- LARS probe: learns the two classes; eval / classify / info / convert take the result
# (two distinct images, 2 steps per epoch: LARS moves each weight by ~1e-3 x lr of its norm per step,
# so the head needs a couple of hundred steps)
PROBE=(--linear-probe --init "$T/mim/model.safetensors" --data "$T/data" --val "$T/data" --batch 8 --epochs 100 --warmup-epochs 5 -t 2)
"$EVA" finetune "${PROBE[@]}" --lr 1.0 --out "$T/lars" 2>"$T/err" && ok || bad "probe failed: $(tail -3 "$T/err")"
grep -q "train features: 16 images" "$T/err" && ok || bad "no feature extraction message"
[ "$(wc -l <"$T/lars/metrics.jsonl")" -eq 100 ] && ok || bad "metrics: $(wc -l <"$T/lars/metrics.jsonl") lines, want one per epoch (100)"
val=$(tail -1 "$T/lars/metrics.jsonl" | sed 's/.*"val_top1": \([0-9.]*\).*/\1/')
echo "LARS probe validation top-1 after 100 epochs: $val"
awk -v v="$val" 'BEGIN { exit !(v >= 0.99) }' && ok || bad "the two classes were not learned (top-1 $val)"
e1=$("$EVA" eval --model "$T/lars/model.safetensors" --data "$T/data" --json 2>"$T/err" | sed 's/.*"top1": \([0-9.]*\).*/\1/')
awk -v a="$e1" -v b="$val" 'BEGIN { exit !(a == b) }' && ok || bad "eval $e1 != probe validation $val ($(cat "$T/err"))"
"$EVA" classify --model "$T/lars/model.safetensors" data/preprocess/rocket.jpg -k 1 2>/dev/null | grep -q "rocket (1)" && ok || bad "classify does not use the probe / class names"
"$EVA" info "$T/lars/model.safetensors" | grep -q "final norm + cls token; head: 2 outputs (classes: linear probe)" && ok || bad "info: $("$EVA" info "$T/lars/model.safetensors" | grep pooling)"
"$EVA" info "$T/lars/model.safetensors" --all | grep -qE "mask_token|lm_head" && bad "MIM-only tensors kept in the probe" || ok
"$EVA" convert "$T/lars/model.safetensors" "$T/probe16.safetensors" --dtype f16 2>/dev/null && ok || bad "convert"
e16=$("$EVA" eval --model "$T/probe16.safetensors" --data "$T/data" --json 2>/dev/null | sed 's/.*"top1": \([0-9.]*\).*/\1/')
awk -v a="$e16" 'BEGIN { exit !(a >= 0.99) }' && ok || bad "converted probe: top-1 '$e16' (the cls_classifier mark lost?)"

# -- SGD, default lr (spec lr scaled to the batch): runs and records its settings
"$EVA" finetune "${PROBE[@]}" --optimizer sgd --epochs 3 --warmup-epochs 1 --out "$T/sgd" 2>"$T/err" && ok || bad "sgd probe: $(tail -2 "$T/err")"
grep -q "SGD lr 0.03125, batch 8, 3 epochs" "$T/err" && ok || bad "sgd: defaults not applied: $(grep 'linear probe:' "$T/err")"

# -- an unreadable image is skipped (with a warning), as the training loader does
cp -r "$T/data" "$T/data_bad"
echo "not a png" >"$T/data_bad/cat/broken.png"
"$EVA" finetune "${PROBE[@]}" --data "$T/data_bad" --epochs 2 --warmup-epochs 1 --out "$T/badimg" 2>"$T/err" && ok || bad "probe with a broken image: $(tail -2 "$T/err")"
grep -q "1 unreadable train image(s) skipped" "$T/err" && ok || bad "no warning about the broken image"

# -- RandAugment in fine-tuning: runs, is recorded, and a resumed run matches an uninterrupted one
FT=(--data "$T/data" "${ARCH[@]}" --batch 8 --epochs 4 --lr 2e-3 --drop-path 0 -t 2 --seed 3 --aa rand-m9-mstd0.5-inc1)
"$EVA" finetune "${FT[@]}" --out "$T/ra" --steps 6 2>"$T/err" && ok || bad "finetune --aa: $(tail -2 "$T/err")"
"$EVA" info "$T/ra/model.safetensors" --all | grep -q "cfg.aa.*rand-m9-mstd0.5-inc1" && ok || bad "cfg.aa not recorded"
"$EVA" finetune "${FT[@]}" --out "$T/ra2" --steps 3 2>/dev/null && "$EVA" finetune --resume "$T/ra2" --steps 6 -t 2 2>/dev/null && ok || bad "resume with --aa"
body() { local n; n=$(od -An -tu8 -N8 "$1" | tr -d ' '); tail -c +$((9 + n)) "$1" | md5sum; }
[ "$(body "$T/ra/model.safetensors")" = "$(body "$T/ra2/model.safetensors")" ] && ok || bad "resumed --aa run differs"
"$EVA" finetune "${FT[@]}" --aa none --out "$T/noaa" --steps 6 2>/dev/null && ok || bad "--aa none"
[ "$(body "$T/ra/model.safetensors")" != "$(body "$T/noaa/model.safetensors")" ] && ok || bad "--aa changed nothing"

# -- bad flags: one line each, no output
expect_one_line "bad optimizer" "lars or sgd" "$EVA" finetune "${PROBE[@]}" --optimizer adam --out "$T/e1"
expect_one_line "probe without init" "needs --init" "$EVA" finetune --linear-probe --data "$T/data" --out "$T/e2"
expect_one_line "probe resume" "no --resume" "$EVA" finetune --linear-probe --resume "$T/lars"
expect_one_line "optimizer without probe" "applies to --linear-probe" "$EVA" finetune --data "$T/data" --out "$T/e3" --optimizer sgd
expect_one_line "probe with aa" "no RandAugment" "$EVA" finetune "${PROBE[@]}" --aa rand-m9 --out "$T/e4"
expect_one_line "bad aa" "unknown RandAugment section" "$EVA" finetune --data "$T/data" --out "$T/e5" --aa rand-m9-q3
expect_one_line "bad aa name" "start with 'rand'" "$EVA" finetune --data "$T/data" --out "$T/e6" --aa autoaug
expect_one_line "probe of a fine-tuned model" "no final norm" "$EVA" finetune --linear-probe --init "$T/ra/model.safetensors" --data "$T/data" --out "$T/e7"
expect_one_line "probe: missing init" "cannot open|no such" "$EVA" finetune --linear-probe --init "$T/none.safetensors" --data "$T/data" --out "$T/e8"
for d in e1 e2 e3 e4 e5 e6; do [ ! -e "$T/$d" ] && ok || bad "$d: output folder created by a usage error"; done

finish
