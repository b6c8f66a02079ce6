/* transpose16_avx512.h — in-register 16x16 fp32 transpose, shared by the AVX-512 packing
 * routines (fp32 weights in gemm_avx512.c, bf16 weights in gemm_bf16_avx512.c).
 * Shapes: r[16] zmm rows of 16 floats -> r[i] = column i. Include only from files compiled
 * with -mavx512f. */
#ifndef EVA_TRANSPOSE16_AVX512_H
#define EVA_TRANSPOSE16_AVX512_H

#include <immintrin.h>

/* In-register 16x16 transpose: r[i] holds row i on entry, column i on exit (64 shuffles). */
static inline __attribute__((always_inline)) void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        __m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 1]);
        __m512d c = _mm512_castps_pd(t[i + 2]), d = _mm512_castps_pd(t[i + 3]);
        r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    /* r[4g+q], 128-bit lane L = rows 4g..4g+3 of column 4L+q: a 4x4 transpose of lanes */
    for (int q = 0; q < 4; q++) {
        __m512 u0 = _mm512_shuffle_f32x4(r[q], r[4 + q], 0x44);
        __m512 u1 = _mm512_shuffle_f32x4(r[q], r[4 + q], 0xEE);
        __m512 u2 = _mm512_shuffle_f32x4(r[8 + q], r[12 + q], 0x44);
        __m512 u3 = _mm512_shuffle_f32x4(r[8 + q], r[12 + q], 0xEE);
        t[q] = _mm512_shuffle_f32x4(u0, u2, 0x88);
        t[4 + q] = _mm512_shuffle_f32x4(u0, u2, 0xDD);
        t[8 + q] = _mm512_shuffle_f32x4(u1, u3, 0x88);
        t[12 + q] = _mm512_shuffle_f32x4(u1, u3, 0xDD);
    }
    for (int i = 0; i < 16; i++) r[i] = t[i];
}

#endif
