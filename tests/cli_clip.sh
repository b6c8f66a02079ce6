#!/usr/bin/env bash
# cli_clip.sh — EVA-CLIP commands on the golden tiny model: `eva clip` (one side only, bad
# inputs), `eva zeroshot` (ranks equal the golden logits' ranks, labels file with blank lines,
# --imagenet, --cache, vision-only checkpoint), `eva embed-text` (empty, 100 kB, invalid UTF-8)
# and `eva search`. The model files (the golden weights + the generated token embedding, in the
# three layouts) are written by `test_clip --fixtures` into $EVA_TMP.
set -euo pipefail
EVA="${EVA_BIN:?EVA_BIN not set}"
T="${EVA_TMP:-/tmp}/cli_clip.$$"
mkdir -p "$T"
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
IO=data/clip/eva_clip_io.safetensors

# fixtures: test_clip sits next to the eva binary's tests/ folder
FIX="$(dirname "$EVA")/tests/test_clip"
EVA_TMP="$T" "$FIX" --fixtures >/dev/null
M="$T/clip_open_clip.safetensors"
M1="$T/clip_eva01_clip.safetensors"
VO="$T/clip_vision_only.safetensors"
[ -f "$M" ] && [ -f "$M1" ] && [ -f "$VO" ] && ok || bad "fixtures not written"

# 1. eva clip: both sides, then text only (input without images) via an I64 file made by eva
"$EVA" clip --model "$M" --input "$IO" -o "$T/out.safetensors" -t 2 && ok || bad "eva clip failed"
info=$("$EVA" info "$T/out.safetensors" 2>/dev/null || true)
grep -q "output.logits_per_image .*\[3, 5\]" <<<"$info" && ok || bad "logits_per_image shape: $info"
grep -q "output.logits_per_text .*\[5, 3\]" <<<"$info" && ok || bad "logits_per_text shape"
if "$EVA" clip --model "$M" --input "$T/out.safetensors" -o "$T/none.safetensors" 2>"$T/err"; then
    bad "input without images/ids accepted"
else
    grep -q "neither 'input.images' nor 'input.text_ids'" "$T/err" && ok || bad "message: $(cat "$T/err")"
fi
[ ! -e "$T/none.safetensors" ] && ok || bad "partial output written"

# 2. zero-shot: labels = the five golden strings (blank lines in between are skipped), template
#    "{}" -> class embedding = that string's text feature, so the ranks must equal the golden
#    logits' ranks: image 0: 0 2 4 1 3, image 1: 0 4 2 1 3, image 2: 0 2 4 1 3.
printf 'a photo of a cat\n\n   \na diagram of a Transformer encoder\ntwo dogs playing in the snow.\r\n\nEVA-CLIP: zero-shot 78.5%% top-1!\na caf\xc3\xa9 in Z\xc3\xbcrich at night \xf0\x9f\x8c\x99\n\n' > "$T/labels.txt"
echo '{}' > "$T/tpl.txt"
out=$("$EVA" zeroshot --model "$M1" "$IO" --labels-file "$T/labels.txt" --templates "$T/tpl.txt" -k 5 --json -t 2)
ranks=$(echo "$out" | grep -o '"index": [0-9]*' | awk '{printf "%s ", $2}')
[ "$ranks" = "0 2 4 1 3 0 4 2 1 3 0 2 4 1 3 " ] && ok || bad "zeroshot ranks: $ranks"
# logit of image 0 / class 0 = 100 / exp(logit_scale) * golden logit = -0.3325841602674509 * 100 / 14.298523068373607
l00=$(echo "$out" | grep -o '"logit": [-0-9.e]*' | head -1 | awk '{print $2}')
awk -v l="$l00" 'BEGIN { d = l - (-0.3325841602674509 * 100 / 14.298523068373607); exit !(d < 1e-3 && d > -1e-3) }' \
    && ok || bad "logit[0][0] = $l00"
# text output, top-1 only
out=$("$EVA" zeroshot --model "$M" "$IO" --labels "a photo of a cat, two dogs playing in the snow." --templates "$T/tpl.txt" -k 1)
[ "$(echo "$out" | grep -c '1\. a photo of a cat')" -eq 3 ] && ok || bad "top-1: $out"

# 3. --imagenet (single template to keep it short), --cache reused and keyed
"$EVA" zeroshot --model "$M" "$IO" --imagenet --templates default -k 3 --cache "$T/cache.safetensors" > "$T/z1"
[ -f "$T/cache.safetensors" ] && ok || bad "cache not written"
"$EVA" info "$T/cache.safetensors" 2>/dev/null | grep -q "zeroshot.weights .*\[1000, 64\]" && ok || bad "cache shape"
"$EVA" zeroshot --model "$M" "$IO" --imagenet --templates default -k 3 --cache "$T/cache.safetensors" > "$T/z2"
cmp -s "$T/z1" "$T/z2" && ok || bad "cached result differs"
[ "$(grep -c '^ *[123]\. ' "$T/z1")" -eq 9 ] && ok || bad "3 x top-3 lines"
k1=$("$EVA" info "$T/cache.safetensors" 2>/dev/null | grep zeroshot_key)
"$EVA" zeroshot --model "$M" "$IO" --labels "cat,dog" --cache "$T/cache.safetensors" > /dev/null
k2=$("$EVA" info "$T/cache.safetensors" 2>/dev/null | grep zeroshot_key)
[ -n "$k1" ] && [ "$k1" != "$k2" ] && ok || bad "cache key did not change: $k1 / $k2"

# 4. zero-shot errors: vision-only checkpoint, only blank labels, no labels option
if "$EVA" zeroshot --model "$VO" "$IO" --labels cat,dog 2>"$T/err"; then bad "vision-only accepted"; else
    grep -q "vision-only" "$T/err" && ok || bad "vision-only message: $(cat "$T/err")"; fi
printf '\n  \n\n' > "$T/blank.txt"
if "$EVA" zeroshot --model "$M" "$IO" --labels-file "$T/blank.txt" 2>"$T/err"; then bad "blank labels accepted"; else
    grep -q "no class names" "$T/err" && ok || bad "blank message: $(cat "$T/err")"; fi
if "$EVA" zeroshot --model "$M" "$IO" 2>/dev/null; then bad "no labels accepted"; else ok; fi
if "$EVA" zeroshot --model "data/clip/eva_clip_tiny_openclip_f16.safetensors" "$IO" --labels a,b 2>"$T/err"; then
    bad "file without token embedding accepted"; else grep -q "token_embedding" "$T/err" && ok || bad "$(cat "$T/err")"; fi

# 5. embed-text: empty text, 100 kB text, invalid UTF-8 -> 3 rows; search finds a text's own row
long=$(head -c 102400 /dev/zero | tr '\0' 'a')
"$EVA" embed-text --model "$M" -o "$T/odd.npy" "" "$long" $'bad \xff\xfe utf8 \xc3' && ok || bad "embed-text odd inputs"
[ "$(head -c 6 "$T/odd.npy" | tail -c 5)" = "NUMPY" ] && ok || bad "npy magic"
printf 'a photo of a cat\na diagram of a Transformer encoder\ntwo dogs playing in the snow.\n' > "$T/texts.txt"
"$EVA" embed-text --model "$M" -o "$T/index.npy" --file "$T/texts.txt" && ok || bad "embed-text --file"
printf 'cat.jpg\ndiagram.png\ndogs.jpg\n' > "$T/paths.txt"
out=$("$EVA" search --model "$M" --index "$T/index.npy" --paths "$T/paths.txt" "two dogs playing in the snow." -k 2)
echo "$out" | head -1 | grep -q "^  1  1.000000  dogs.jpg$" && ok || bad "search top-1: $out"
[ "$(echo "$out" | wc -l)" -eq 2 ] && ok || bad "search -k 2: $out"
printf 'a\nb\n' > "$T/short.txt"
if "$EVA" search --model "$M" --index "$T/index.npy" --paths "$T/short.txt" "x" 2>"$T/err"; then bad "path count"; else
    grep -q "has 2 lines but" "$T/err" && ok || bad "$(cat "$T/err")"; fi
if "$EVA" search --model "$M" --index "$T/index.npy" --paths "$T/paths.txt" --image "$IO" 2>"$T/err"; then
    bad "3-image --image accepted"; else grep -q "one image" "$T/err" && ok || bad "$(cat "$T/err")"; fi
if "$EVA" embed-text --model "$VO" -o "$T/x.npy" "a" 2>/dev/null; then bad "vision-only embed-text"; else ok; fi
[ ! -e "$T/x.npy" ] && ok || bad "output written on failure"

echo "cli_clip: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
