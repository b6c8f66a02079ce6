/* gemm_avx2.c — AVX2/FMA fp32 micro-kernel (6 x 16 register tile) and B-panel packing, the
 * fallback for CPUs without AVX-512.
 * Shapes: one tile C[mr<=6, 16] (+)= Ap[kc][6] · Bp[kc][16] (layouts in gemm_internal.h).
 * Why 6 x 16: 12 ymm accumulators + 2 B vectors + 1 broadcast = 15 of the 16 ymm registers.
 * Compiled with -mavx2 -mfma -mf16c; only called after the run-time CPU check in gemm.c. */
#include "ops/gemm_internal.h"

#include "ops/gemm_gelu_avx2.h"

#include <immintrin.h>

#define MR 6
#define NR 16

static inline __attribute__((always_inline)) void tile_store(__m256 x, float *c, int flags, __m256 bias) {
    if (flags & GEMM_F_BIAS) x = _mm256_add_ps(x, bias);
    if (flags & GEMM_F_LOAD_C) x = _mm256_add_ps(x, _mm256_loadu_ps(c));
    if (flags & GEMM_F_GELU) x = eva_gelu8_avx2(x);
    _mm256_storeu_ps(c, x);
}

static inline __attribute__((always_inline)) void tile_kernel(const int mr, int kc, const float *ap, const float *bp,
                                                              float *c, int ldc, int flags, const float *bias,
                                                              const gemm_prefetch *pf) {
    __m256 c0[MR], c1[MR];
#pragma GCC unroll 6
    for (int i = 0; i < mr; i++) {
        c0[i] = _mm256_setzero_ps();
        c1[i] = _mm256_setzero_ps();
    }
    const char *pf_row = pf ? pf->row : NULL;
    int pf_rows = pf ? pf->rows : 0, pf_line = 0;
    for (int k = 0; k < kc; k++) {
        if ((k & 3) == 0 && pf_rows > 0) {
            _mm_prefetch(pf_row + (size_t)pf_line * 64, _MM_HINT_T1);
            if (++pf_line == pf->lines_per_row) {
                pf_line = 0;
                pf_row += pf->stride;
                pf_rows--;
            }
        }
        __m256 b0 = _mm256_load_ps(bp);
        __m256 b1 = _mm256_load_ps(bp + 8);
#pragma GCC unroll 6
        for (int i = 0; i < mr; i++) {
            __m256 a = _mm256_broadcast_ss(ap + i);
            c0[i] = _mm256_fmadd_ps(a, b0, c0[i]);
            c1[i] = _mm256_fmadd_ps(a, b1, c1[i]);
        }
        ap += MR;
        bp += NR;
    }
    __m256 bias0 = _mm256_setzero_ps(), bias1 = _mm256_setzero_ps();
    if (flags & GEMM_F_BIAS) {
        bias0 = _mm256_loadu_ps(bias);
        bias1 = _mm256_loadu_ps(bias + 8);
    }
#pragma GCC unroll 6
    for (int i = 0; i < mr; i++) {
        tile_store(c0[i], c + (size_t)i * (size_t)ldc, flags, bias0);
        tile_store(c1[i], c + (size_t)i * (size_t)ldc + 8, flags, bias1);
    }
}

static void kernel_avx2(int kc, const float *ap, const float *bp, float *c, int ldc, int mr, int flags,
                        const float *bias, const gemm_prefetch *pf) {
    switch (mr) {
    case 1: tile_kernel(1, kc, ap, bp, c, ldc, flags, bias, pf); break;
    case 2: tile_kernel(2, kc, ap, bp, c, ldc, flags, bias, pf); break;
    case 3: tile_kernel(3, kc, ap, bp, c, ldc, flags, bias, pf); break;
    case 4: tile_kernel(4, kc, ap, bp, c, ldc, flags, bias, pf); break;
    case 5: tile_kernel(5, kc, ap, bp, c, ldc, flags, bias, pf); break;
    default: tile_kernel(MR, kc, ap, bp, c, ldc, flags, bias, pf); break;
    }
}

/* In-register 8x8 transpose: r[i] holds row i on entry, column i on exit. */
static inline __attribute__((always_inline)) void transpose8(__m256 r[8]) {
    __m256 t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    /* u[4g+q], 128-bit half H = rows 4g..4g+3 of column 4H+q */
    for (int q = 0; q < 4; q++) {
        r[q] = _mm256_permute2f128_ps(u[q], u[4 + q], 0x20);
        r[4 + q] = _mm256_permute2f128_ps(u[q], u[4 + q], 0x31);
    }
}

/* out[k*16 + j] = w[j*ldw + k] for j < nr (zero for j >= nr). Full 8x8 blocks in registers. */
static void pack_tn_avx2(int kc, const float *w, int ldw, int nr, float *out) {
    int k8 = nr == NR ? kc / 8 * 8 : 0;
    for (int k = 0; k < k8; k += 8) {
        for (int h = 0; h < 2; h++) {
            __m256 r[8];
            for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(w + (size_t)(h * 8 + i) * (size_t)ldw + k);
            transpose8(r);
            for (int i = 0; i < 8; i++) _mm256_store_ps(out + (size_t)(k + i) * NR + h * 8, r[i]);
        }
    }
    for (int k = k8; k < kc; k++)
        for (int j = 0; j < NR; j++) out[(size_t)k * NR + j] = j < nr ? w[(size_t)j * (size_t)ldw + k] : 0.0f;
}

static void pack_nn_avx2(int kc, const float *b, int ldb, int nr, float *out) {
    for (int k = 0; k < kc; k++) {
        const float *src = b + (size_t)k * (size_t)ldb;
        float *dst = out + (size_t)k * NR;
        if (nr == NR) {
            _mm256_store_ps(dst, _mm256_loadu_ps(src));
            _mm256_store_ps(dst + 8, _mm256_loadu_ps(src + 8));
        } else {
            for (int j = 0; j < NR; j++) dst[j] = j < nr ? src[j] : 0.0f;
        }
    }
}

void eva_gelu_avx2(float *x, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, eva_gelu8_avx2(_mm256_loadu_ps(x + i)));
    for (; i < n; i++) x[i] = eva_gelu_ref(x[i]); /* < 8 left: the reference */
}

const gemm_isa eva_gemm_isa_avx2 = {
    .name = "avx2",
    .mr = MR,
    .nr = NR,
    .kernel = kernel_avx2,
    .pack_tn = pack_tn_avx2,
    .pack_nn = pack_nn_avx2,
};
