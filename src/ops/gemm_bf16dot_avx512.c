/* gemm_bf16dot_avx512.c — the bf16-pair micro-kernel with vdpbf16ps emulated in AVX-512F.
 * Shapes: one tile C[mr<=14, 32] (+)= A[mr, kc] · W[32, kc]^T (layouts in gemm_bf16dot_kernel.h).
 *
 * Why it exists: it runs the same packing, tails, epilogues and driver as the real kernel on
 * CPUs without avx512_bf16 (this project's development machine among them), so those are tested
 * everywhere, and it gives the numbers the real instruction gives. It is twice the FMAs of the
 * fp32 kernel, so it is never the default: EVA_BF16=dot selects it where the CPU lacks the
 * instruction (tests, accuracy studies).
 *
 * The emulation: a bf16 pair is one 32-bit lane; its odd (high) element as fp32 is the lane with
 * the low 16 bits cleared, its even element the lane shifted left by 16. A product of two bf16 is
 * exact in fp32 (8 + 8 significant bits), so each fused multiply-add rounds once, like each of
 * vdpbf16ps's two accumulations (odd first, then even, round to nearest even). Not emulated:
 * the instruction's denormals-are-zero / flush-to-zero, which only matter below 2^-126. */
#include <immintrin.h>

static inline __attribute__((always_inline)) __m512 bf16dot_emulated(__m512 acc, __m512i b, __m512i a) {
    const __m512i hi_mask = _mm512_set1_epi32((int)0xFFFF0000u);
    __m512 a_odd = _mm512_castsi512_ps(_mm512_and_si512(a, hi_mask));
    __m512 b_odd = _mm512_castsi512_ps(_mm512_and_si512(b, hi_mask));
    __m512 a_even = _mm512_castsi512_ps(_mm512_slli_epi32(a, 16));
    __m512 b_even = _mm512_castsi512_ps(_mm512_slli_epi32(b, 16));
    acc = _mm512_fmadd_ps(b_odd, a_odd, acc);
    return _mm512_fmadd_ps(b_even, a_even, acc);
}

#define BF16DOT(acc, b, a) bf16dot_emulated(acc, b, a)
#define BF16DOT_NAME(x) bf16dot_emulated_##x
#include "ops/gemm_bf16dot_kernel.h"

const eva_bf16dot_isa eva_bf16dot_isa_emulated = {
    .name = "vdpbf16ps emulated",
    .kernel = bf16dot_emulated_kernel,
    .pack_a = bf16dot_emulated_pack_a,
    .pack_b = bf16dot_emulated_pack_b,
};
