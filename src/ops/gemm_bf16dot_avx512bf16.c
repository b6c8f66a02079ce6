/* gemm_bf16dot_avx512bf16.c — the bf16-pair micro-kernel on the real vdpbf16ps (avx512_bf16:
 * Cooper Lake, Sapphire Rapids and later, Zen 4 and later).
 * Shapes: one tile C[mr<=14, 32] (+)= A[mr, kc] · W[32, kc]^T (layouts in gemm_bf16dot_kernel.h).
 *
 * Compiled with -mavx512bf16 on top of the AVX-512 flags, only when the compiler knows it (CMake
 * then defines EVA_HAVE_AVX512BF16); called only after the run-time CPU check in gemm_bf16.c.
 * Everything but this instruction is shared with, and tested through, the emulated twin
 * (gemm_bf16dot_avx512.c); on a CPU with the instruction tests/test_lowp.c also checks that
 * the two agree bit for bit. */
#include <immintrin.h>

#define BF16DOT(acc, b, a) _mm512_dpbf16_ps(acc, (__m512bh)(b), (__m512bh)(a))
#define BF16DOT_NAME(x) bf16dot_hw_##x
#include "ops/gemm_bf16dot_kernel.h"

const eva_bf16dot_isa eva_bf16dot_isa_hw = {
    .name = "vdpbf16ps",
    .kernel = bf16dot_hw_kernel,
    .pack_a = bf16dot_hw_pack_a,
    .pack_b = bf16dot_hw_pack_b,
};
