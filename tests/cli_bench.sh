#!/usr/bin/env bash
# cli_bench.sh — the `eva bench` contract: --json carries ms_per_image, images_per_s, gflops,
# peak_gflops and peak_rss_mb as numbers (and steal_ms_per_image on Linux); --peak --json the fp32 and the bf16 dot-product peaks
# (null where the CPU lacks avx512_bf16); the bf16 math is reported and EVA_BF16 switches it;
# --profile adds the per-op shares; bad flags fail with one line. No timing is asserted.
source "$(dirname "$0")/lib_cli.sh"
TINY=(--synthetic --arch eva_tiny_test -t 2 --reps 2 --warmup 0)

num='-?[0-9]+(\.[0-9]+)?'
out=$("$EVA" bench "${TINY[@]}" --json 2>"$T/err") && ok || bad "bench --json: $(cat "$T/err")"
for key in ms_per_image images_per_s gflops peak_gflops peak_rss_mb pct_of_peak best_ms best_pct_of_peak cpu_ms_per_image; do
  grep -qE "\"$key\":$num" <<<"$out" && ok || bad "bench --json lacks numeric $key: $out"
done
[ "$(echo "$out" | wc -l)" -eq 1 ] && ok || bad "bench --json printed more than one line"
# the fastest pass is at least as fast as the median one, against the same peak
json_num() { grep -oE "\"$1\":$num" <<<"$2" | head -1 | cut -d: -f2; }
awk -v b="$(json_num best_pct_of_peak "$out")" -v m="$(json_num pct_of_peak "$out")" 'BEGIN { exit !(b + 0.1 >= m) }' \
  && ok || bad "best_pct_of_peak below pct_of_peak: $out"
grep -q '"peak_kind":"fp32"' <<<"$out" && ok || bad "f32 run not measured against the fp32 peak: $out"
# hypervisor steal: a non-negative number wherever /proc/stat has the steal column (Linux)
if [ -r /proc/stat ] && awk '/^cpu /{exit !(NF >= 9)}' /proc/stat; then
  grep -qE '"steal_ms_per_image":[0-9]+(\.[0-9]+)?' <<<"$out" && ok || bad "bench --json lacks steal_ms_per_image: $out"
else
  echo "note: no /proc/stat steal column here — steal_ms_per_image not checked"
fi

out=$("$EVA" bench --peak -t 2 --json 2>"$T/err") && ok || bad "bench --peak --json: $(cat "$T/err")"
grep -qE "\"peak_gflops\":$num" <<<"$out" && ok || bad "peak json: $out"
grep -qE "\"bf16_peak_gflops\":($num|null)" <<<"$out" && ok || bad "peak json lacks bf16_peak_gflops: $out"
if grep -qw avx512_bf16 /proc/cpuinfo 2>/dev/null; then
  grep -qE "\"bf16_peak_gflops\":$num" <<<"$out" && ok || bad "avx512_bf16 CPU without a bf16 peak: $out"
else
  grep -q '"bf16_peak_gflops":null' <<<"$out" && ok || bad "bf16 peak reported without avx512_bf16: $out"
  echo "note: this CPU lacks avx512_bf16 — the vdpbf16ps paths are only run emulated here"
fi
"$EVA" bench --peak -t 1 >"$T/peak.txt" 2>&1
grep -q "bf16 dot-product peak" "$T/peak.txt" && ok || bad "bench --peak text lacks the bf16 line"

# -- bf16 math: reported, switched by EVA_BF16 (dot runs emulated where the CPU lacks it)
if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
  out=$(EVA_BF16=widen "$EVA" bench "${TINY[@]}" --dtype bf16 --json 2>/dev/null)
  grep -q '"bf16_math":"widened to fp32"' <<<"$out" && ok || bad "EVA_BF16=widen: $out"
  out=$(EVA_BF16=dot "$EVA" bench "${TINY[@]}" --dtype bf16 --json 2>/dev/null)
  grep -q '"bf16_math":"vdpbf16ps' <<<"$out" && ok || bad "EVA_BF16=dot: $out"
  "$EVA" bench "${TINY[@]}" --dtype bf16 >/dev/null 2>"$T/hdr"
  grep -q "bf16 math:" "$T/hdr" && ok || bad "bf16 math not in the header: $(cat "$T/hdr")"
  # the two maths give (slightly) different numbers: bf16 activations in one of them
  EVA_BF16=widen "$EVA" forward --synthetic --arch eva_tiny_test --dtype bf16 --input-formula tiny/224/seed0 --size 224 \
    --output "$T/w.safetensors" -t 2 2>"$T/err" && ok || bad "forward widen: $(cat "$T/err")"
  EVA_BF16=dot "$EVA" forward --synthetic --arch eva_tiny_test --dtype bf16 --input-formula tiny/224/seed0 --size 224 \
    --output "$T/d.safetensors" -t 2 2>"$T/err" && ok || bad "forward dot: $(cat "$T/err")"
  "$EVA" diff "$T/w.safetensors" "$T/d.safetensors" --quiet >/dev/null 2>&1 && bad "dot math identical to widen?" || ok
else
  echo "SKIPPED: bf16 math checks — no AVX-512 on this CPU (bf16 runs the reference kernels)"
fi

# -- per-op profile
"$EVA" bench "${TINY[@]}" --profile >"$T/prof" 2>/dev/null
grep -qE "^  gemm +[0-9.]+%" "$T/prof" && ok || bad "--profile lacks the gemm row: $(cat "$T/prof")"

# -- bad flags: one line, non-zero exit
expect_fail "reps 0" "reps must be" "$EVA" bench "${TINY[@]}" --reps 0
expect_fail "no model" "required|synthetic" "$EVA" bench -t 2
expect_fail "unknown flag" "unknown option" "$EVA" bench "${TINY[@]}" --fast
finish
