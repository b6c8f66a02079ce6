/* resize_avx2.c — the horizontal pass of Pillow's fixed-point bicubic resize (preprocess.c) with
 * SSE4.1/AVX2 integer lanes: one RGB(x) pixel per 128-bit register, the same int32 products and
 * sums as the scalar reference (integer adds commute), so results are bit-identical.
 * Shapes: row [W, 3] uint8 -> out [ww, 3] uint8; bounds [ww, 2] (first tap, tap count),
 * kk [ww, ksize] int32 coefficients with 22 fractional bits. Called only after a run-time
 * __builtin_cpu_supports("avx2") check. */
#include "pipelines/resize_internal.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

void eva_resize_hrow_avx2(const uint8_t *row, int W, int ww, const int *bounds, const int32_t *kk, int ksize,
                          uint8_t *out) {
    for (int x = 0; x < ww; x++) {
        const int xmin = bounds[2 * x], n = bounds[2 * x + 1];
        const int32_t *k = kk + (size_t)x * ksize;
        const uint8_t *p = row + (size_t)xmin * 3;
        __m128i acc = _mm_set1_epi32(1 << 21);
        /* A 4-byte load reads one byte past the pixel: safe unless this is the row's last pixel. */
        const int nsafe = xmin + n < W ? n : n - 1;
        int j = 0;
        for (; j < nsafe; j++, p += 3) {
            int32_t v;
            memcpy(&v, p, 4);
            __m128i px = _mm_cvtepu8_epi32(_mm_cvtsi32_si128(v));
            acc = _mm_add_epi32(acc, _mm_mullo_epi32(px, _mm_set1_epi32(k[j])));
        }
        if (j < n) {
            __m128i px = _mm_setr_epi32(p[0], p[1], p[2], 0);
            acc = _mm_add_epi32(acc, _mm_mullo_epi32(px, _mm_set1_epi32(k[j])));
        }
        /* clip8: clamp(v >> 22, 0, 255) == Pillow's clip8 for every int32 v. */
        __m128i s = _mm_srai_epi32(acc, 22);
        s = _mm_packus_epi16(_mm_packs_epi32(s, s), s);
        int32_t r = _mm_cvtsi128_si32(s);
        memcpy(out + 3 * (size_t)x, &r, 3);
    }
}
#else
/* Not x86-64: never called (use_fast() is false); defined so the library links. */
void eva_resize_hrow_avx2(const uint8_t *row, int W, int ww, const int *bounds, const int32_t *kk, int ksize,
                          uint8_t *out) {
    (void)row; (void)W; (void)ww; (void)bounds; (void)kk; (void)ksize; (void)out;
}
#endif
