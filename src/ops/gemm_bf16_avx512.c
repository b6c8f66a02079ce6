/* gemm_bf16_avx512.c — AVX-512 packing of a bf16 weight panel into the fp32 kernel's layout.
 * Shapes: W[N,K] bf16 rows (w points at W[n0, k0]) -> out[k*32 + j] = fp32(W[n0+j, k0+k]),
 * k < kc, j < nr (zero for nr <= j < 32).
 *
 * Why here: widening bf16 is exact (the bf16 bits are the high half of the fp32), so the fp32
 * kernel then computes exactly what it would on fp32 weights; doing it while transposing the
 * panel costs one shift per 16 values on top of the transpose the fp32 path pays anyway.
 * Compiled with -mavx512f/bw/dq/vl/vnni; only called after the run-time CPU check. */
#include "ops/gemm_internal.h"

#include "ops/transpose16_avx512.h"

#include <immintrin.h>
#include <stdint.h>

#define NR 32

/* 16 bf16 -> 16 fp32: zero-extend to 32 bits and shift into the high half. */
static inline __attribute__((always_inline)) __m512 widen16(__m256i h) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

void eva_bf16_pack_tn_avx512(int kc, const uint16_t *w, int ldw, int nr, float *out) {
    for (int k = 0; k < kc; k += 16) {
        int kk = EVA_MIN(16, kc - k);
        __mmask16 m = (__mmask16)(kk == 16 ? 0xFFFFu : (1u << kk) - 1u);
        for (int h = 0; h < 2; h++) {
            __m512 r[16];
            for (int i = 0; i < 16; i++) {
                int row = h * 16 + i;
                r[i] = row < nr ? widen16(_mm256_maskz_loadu_epi16(m, w + (size_t)row * (size_t)ldw + k))
                                : _mm512_setzero_ps();
            }
            transpose16(r);
            for (int i = 0; i < kk; i++) _mm512_store_ps(out + (size_t)(k + i) * NR + h * 16, r[i]);
        }
    }
}
