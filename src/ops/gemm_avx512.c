/* gemm_avx512.c — AVX-512 fp32 micro-kernel (14 x 32 register tile) and B-panel packing.
 * Shapes: one tile C[mr<=14, 32] (+)= Ap[kc][14] · Bp[kc][32] (layouts in gemm_internal.h).
 *
 * Why 14 x 32: 28 accumulators + 2 B vectors + 1 broadcast fill the 32 zmm registers; each k
 * step is 2 vector loads and 14 broadcast-FMAs pairs (28 vfmadd231ps, the broadcast folded into
 * the FMA as a {1to16} memory operand), so the two FMA ports stay saturated while the loads stay
 * well under two per cycle. EVA's N (1408, 4224, 6144, 1000) are multiples of 32, and the row
 * count is a compile-time constant per kernel instance so M = 257 (= 18*14 + 5) wastes nothing.
 * Compiled with -mavx512f/bw/dq/vl/vnni; only called after the run-time CPU check in gemm.c. */
#include "ops/gemm_internal.h"

#include "ops/gemm_store_avx512.h"
#include "ops/transpose16_avx512.h"

#include <immintrin.h>

#define MR 14
#define NR 32
/* Software prefetch distance, in k steps, for both packed panels. The B panel (kc x 32, up to
 * 176 KB) is re-read from L2 by every row tile and the hardware prefetchers do not keep it in L1
 * ahead of the loads. Measured with the version without it in the same process, alternating
 * every ~20 ms (median of 25-60 rounds): the bare kernel at kc 1408 x 19 tiles +4-7 %; the whole
 * batch-1 panel loop (W^T packing, cold weights, next-panel prefetch) +5 % on one thread and
 * +4 % on two. 16 to 32 steps were the same within noise, 48 and more lost part of it, and
 * prefetching A alone gave ~1 %. */
#ifndef PF_STEPS /* bench/kernel_ab builds the kernel with other values */
#define PF_STEPS 24
#endif

/* ---------------------------------------------------------------- micro-kernel */

static inline __attribute__((always_inline)) void tile_kernel(const int mr, int kc, const float *ap, const float *bp,
                                                              float *c, int ldc, int flags, const float *bias,
                                                              const gemm_prefetch *pf) {
    __m512 c0[MR], c1[MR];
    /* C is touched only after kc steps: start its misses now into L2 (the A and B streams would
       push it out of L1 again), and pull it into L1 16 steps before the end */
#pragma GCC unroll 14
    for (int i = 0; i < mr; i++) {
        _mm_prefetch((const char *)(c + (size_t)i * (size_t)ldc), _MM_HINT_T1);
        _mm_prefetch((const char *)(c + (size_t)i * (size_t)ldc + 16), _MM_HINT_T1);
    }
    const int c_pf_k = kc > 16 ? (kc - 16) & ~3 : 0;
#pragma GCC unroll 14
    for (int i = 0; i < mr; i++) {
        c0[i] = _mm512_setzero_ps();
        c1[i] = _mm512_setzero_ps();
    }
    const char *pf_row = pf ? pf->row : NULL;
    int pf_rows = pf ? pf->rows : 0, pf_line = 0;
    for (int k = 0; k < kc; k++) {
        if ((k & 3) == 0) {
            if (k == c_pf_k) {
#pragma GCC unroll 14
                for (int i = 0; i < mr; i++) {
                    _mm_prefetch((const char *)(c + (size_t)i * (size_t)ldc), _MM_HINT_T0);
                    _mm_prefetch((const char *)(c + (size_t)i * (size_t)ldc + 16), _MM_HINT_T0);
                }
            }
            if (pf_rows > 0) {
                _mm_prefetch(pf_row + (size_t)pf_line * 64, _MM_HINT_T1);
                if (++pf_line == pf->lines_per_row) {
                    pf_line = 0;
                    pf_row += pf->stride;
                    pf_rows--;
                }
            }
        }
#if PF_STEPS > 0
        _mm_prefetch((const char *)(bp + PF_STEPS * NR), _MM_HINT_T0);
        _mm_prefetch((const char *)(bp + PF_STEPS * NR + 16), _MM_HINT_T0);
        _mm_prefetch((const char *)(ap + PF_STEPS * MR), _MM_HINT_T0);
#endif
        __m512 b0 = _mm512_load_ps(bp);
        __m512 b1 = _mm512_load_ps(bp + 16);
#pragma GCC unroll 14
        for (int i = 0; i < mr; i++) {
            __m512 a = _mm512_set1_ps(ap[i]);
            c0[i] = _mm512_fmadd_ps(a, b0, c0[i]);
            c1[i] = _mm512_fmadd_ps(a, b1, c1[i]);
        }
        ap += MR;
        bp += NR;
    }
    gemm_store_tile_avx512(mr, c0, c1, c, ldc, flags, bias);
}

#define KERNEL_CASE(R) \
    case R: tile_kernel(R, kc, ap, bp, c, ldc, flags, bias, pf); break;

static void kernel_avx512(int kc, const float *ap, const float *bp, float *c, int ldc, int mr, int flags,
                          const float *bias, const gemm_prefetch *pf) {
    switch (mr) {
        KERNEL_CASE(1) KERNEL_CASE(2) KERNEL_CASE(3) KERNEL_CASE(4) KERNEL_CASE(5) KERNEL_CASE(6) KERNEL_CASE(7)
        KERNEL_CASE(8) KERNEL_CASE(9) KERNEL_CASE(10) KERNEL_CASE(11) KERNEL_CASE(12) KERNEL_CASE(13)
    default: tile_kernel(MR, kc, ap, bp, c, ldc, flags, bias, pf); break;
    }
}

/* ---------------------------------------------------------------- packing */

/* out[k*32 + j] = w[j*ldw + k] for j < nr (zero for j >= nr), k < kc: W^T built 16x16 at a time. */
static void pack_tn_avx512(int kc, const float *w, int ldw, int nr, float *out) {
    for (int k = 0; k < kc; k += 16) {
        int kk = EVA_MIN(16, kc - k);
        __mmask16 m = (__mmask16)(kk == 16 ? 0xFFFFu : (1u << kk) - 1u);
        for (int h = 0; h < 2; h++) {
            __m512 r[16];
            for (int i = 0; i < 16; i++) {
                int row = h * 16 + i;
                r[i] = row < nr ? _mm512_maskz_loadu_ps(m, w + (size_t)row * (size_t)ldw + k) : _mm512_setzero_ps();
            }
            transpose16(r);
            for (int i = 0; i < kk; i++) _mm512_store_ps(out + (size_t)(k + i) * NR + h * 16, r[i]);
        }
    }
}

/* out[k*32 + j] = b[k*ldb + j] for j < nr (zero for j >= nr). */
static void pack_nn_avx512(int kc, const float *b, int ldb, int nr, float *out) {
    __mmask16 m0 = (__mmask16)(nr >= 16 ? 0xFFFFu : (1u << nr) - 1u);
    __mmask16 m1 = (__mmask16)(nr >= 32 ? 0xFFFFu : nr > 16 ? (1u << (nr - 16)) - 1u : 0u);
    for (int k = 0; k < kc; k++) {
        const float *src = b + (size_t)k * (size_t)ldb;
        _mm512_store_ps(out + (size_t)k * NR, _mm512_maskz_loadu_ps(m0, src));
        _mm512_store_ps(out + (size_t)k * NR + 16, _mm512_maskz_loadu_ps(m1, src + 16));
    }
}

/* out[k*14 + i] = a[i*lda + k] for i < mr, k < kc: 16 k at a time through the 16x16 transpose
 * (rows >= mr are zero), each column stored as 14 lanes. */
static void pack_a_avx512(int kc, const float *a, int lda, int mr, float *out) {
    for (int k = 0; k < kc; k += 16) {
        int kk = EVA_MIN(16, kc - k);
        __mmask16 m = (__mmask16)(kk == 16 ? 0xFFFFu : (1u << kk) - 1u);
        __m512 r[16];
        for (int i = 0; i < 16; i++)
            r[i] = i < mr ? _mm512_maskz_loadu_ps(m, a + (size_t)i * (size_t)lda + k) : _mm512_setzero_ps();
        transpose16(r);
        for (int i = 0; i < kk; i++) _mm512_mask_storeu_ps(out + (size_t)(k + i) * MR, 0x3FFF, r[i]);
    }
}

#ifndef EVA_GEMM_ISA_AVX512_NAME /* bench/kernel_ab links several variants into one program */
#define EVA_GEMM_ISA_AVX512_NAME eva_gemm_isa_avx512
#endif
const gemm_isa EVA_GEMM_ISA_AVX512_NAME = {
    .name = "avx512",
    .mr = MR,
    .nr = NR,
    .kernel = kernel_avx512,
    .pack_tn = pack_tn_avx512,
    .pack_nn = pack_nn_avx512,
    .pack_a = pack_a_avx512,
};
