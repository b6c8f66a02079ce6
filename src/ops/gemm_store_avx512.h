/* gemm_store_avx512.h — the epilogue of the AVX-512 14 x 32 micro-kernels (fp32 in
 * gemm_avx512.c, bf16 pairs in gemm_bf16dot_kernel.h): one row of the tile is two zmm of fp32
 * sums, stored as c = sum (+ bias) (+ c) then GELU, per the GEMM_F_* flags (gemm_internal.h).
 * Shapes: acc0/acc1 = C[i, 0:16] / C[i, 16:32] of an mr x 32 tile. Include only from files
 * compiled with -mavx512f. */
#ifndef EVA_OPS_GEMM_STORE_AVX512_H
#define EVA_OPS_GEMM_STORE_AVX512_H

#include "ops/gemm_gelu_avx512.h"
#include "ops/gemm_internal.h"

#include <immintrin.h>

static inline __attribute__((always_inline)) void gemm_store16_avx512(__m512 x, float *c, int flags, __m512 bias) {
    if (flags & GEMM_F_BIAS) x = _mm512_add_ps(x, bias);
    if (flags & GEMM_F_LOAD_C) x = _mm512_add_ps(x, _mm512_loadu_ps(c));
    if (flags & GEMM_F_GELU) x = eva_gelu16_avx512(x);
    _mm512_storeu_ps(c, x);
}

/* rows 0..mr-1 of the tile: c0[i], c1[i] -> c + i*ldc (mr is a compile-time constant after
 * inlining, so the accumulators never leave their registers) */
static inline __attribute__((always_inline)) void gemm_store_tile_avx512(const int mr, const __m512 *c0, const __m512 *c1,
                                                                         float *c, int ldc, int flags, const float *bias) {
    __m512 bias0 = _mm512_setzero_ps(), bias1 = _mm512_setzero_ps();
    if (flags & GEMM_F_BIAS) {
        bias0 = _mm512_loadu_ps(bias);
        bias1 = _mm512_loadu_ps(bias + 16);
    }
#pragma GCC unroll 14
    for (int i = 0; i < mr; i++) {
        gemm_store16_avx512(c0[i], c + (size_t)i * (size_t)ldc, flags, bias0);
        gemm_store16_avx512(c1[i], c + (size_t)i * (size_t)ldc + 16, flags, bias1);
    }
}

#endif /* EVA_OPS_GEMM_STORE_AVX512_H */
