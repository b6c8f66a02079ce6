/* gemm_bf16dot_kernel.h — the bf16 x bf16 -> fp32 micro-kernel (vdpbf16ps) and its packing,
 * written once and compiled twice: with the real instruction (gemm_bf16dot_avx512bf16.c, for
 * CPUs with avx512_bf16) and with an exact AVX-512F emulation of it (gemm_bf16dot_avx512.c), so
 * that everything but the one instruction — layouts, rounding, tails, epilogues, the driver — is
 * executed and tested on machines without avx512_bf16 too.
 * Shapes: one tile C[mr<=14, 32] (+)= A[mr, kc] · W[32, kc]^T with A rounded to bf16.
 *
 * Packed layouts (k pairs kp = ceil(kc/2), a pair = one 32-bit word, low half = even k):
 *   A panel  ap[kp*14 + i] = (bf16(A[i, 2kp]), bf16(A[i, 2kp+1]))     rows >= mr are zero
 *   B panel  bp[kp*32 + j] = (W[j, 2kp], W[j, 2kp+1])                  j >= nr and k >= kc zero
 * The B word is already in W's memory (two consecutive bf16 of one row), so packing B is a pure
 * 32-bit 16x16 transpose; A is rounded to nearest even (NaN kept quiet) as it is packed, exactly
 * as eva_round_bf16_n rounds it for the reference.
 *
 * The tile is 14 x 32 for the same register reason as the fp32 kernel (28 accumulators, 2 B
 * vectors, 1 broadcast); each vdpbf16ps does 2 k steps, so a k pair costs what one k step of
 * fp32 costs: twice the FLOP rate where the instruction runs at the FMA rate.
 *
 * The including file defines BF16DOT(acc, b, a) = acc + the pair dot products of b and a per
 * lane (vdpbf16ps semantics: odd pair element first, then even, each one fp32 rounding) and
 * BF16DOT_NAME(x), and is compiled with -mavx512f/bw/dq/vl (+ -mavx512bf16 for the real one). */
#ifndef EVA_OPS_GEMM_BF16DOT_KERNEL_H
#define EVA_OPS_GEMM_BF16DOT_KERNEL_H

#include "ops/gemm_internal.h"
#include "ops/gemm_store_avx512.h"
#include "ops/transpose16_avx512.h"

#include <immintrin.h>
#include <stdint.h>

#define DOT_MR 14
#define DOT_NR 32
/* Software prefetch of both packed panels, 24 pair steps ahead: the same bytes per instruction
 * and the same B-panel reuse from L2 as the fp32 kernel, where it was measured (gemm_avx512.c);
 * not measured with the real vdpbf16ps, which no machine here had. */
#define DOT_PF_STEPS 24

/* 16 fp32 -> their bf16 bits (round to nearest even, NaN stays a quiet NaN) in the low half of
 * each 32-bit lane; the same rule as eva_round_bf16_n. */
static inline __attribute__((always_inline)) __m512i dot_round_bf16(__m512 x) {
    __m512i u = _mm512_castps_si512(x);
    __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)), lsb), 16);
    __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
    return _mm512_mask_mov_epi32(r, nan, _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40)));
}

static inline __attribute__((always_inline)) void dot_tile(const int mr, int kc, const uint32_t *ap, const uint32_t *bp,
                                                           float *c, int ldc, int flags, const float *bias,
                                                           const gemm_prefetch *pf) {
    __m512 c0[DOT_MR], c1[DOT_MR];
#pragma GCC unroll 14
    for (int i = 0; i < mr; i++) {
        _mm_prefetch((const char *)(c + (size_t)i * (size_t)ldc), _MM_HINT_T1);
        _mm_prefetch((const char *)(c + (size_t)i * (size_t)ldc + 16), _MM_HINT_T1);
        c0[i] = _mm512_setzero_ps();
        c1[i] = _mm512_setzero_ps();
    }
    const int kp = (kc + 1) / 2;
    const char *pf_row = pf ? pf->row : NULL;
    int pf_rows = pf ? pf->rows : 0, pf_line = 0;
    for (int k = 0; k < kp; k++) {
        /* one prefetch of the next weight panel per 2 pair steps: the same bytes per FLOP as
           the fp32 kernel's one per 4 k steps, the panel being half the bytes */
        if ((k & 1) == 0 && pf_rows > 0) {
            _mm_prefetch(pf_row + (size_t)pf_line * 64, _MM_HINT_T1);
            if (++pf_line == pf->lines_per_row) {
                pf_line = 0;
                pf_row += pf->stride;
                pf_rows--;
            }
        }
        _mm_prefetch((const char *)(bp + DOT_PF_STEPS * DOT_NR), _MM_HINT_T0);
        _mm_prefetch((const char *)(bp + DOT_PF_STEPS * DOT_NR + 16), _MM_HINT_T0);
        _mm_prefetch((const char *)(ap + DOT_PF_STEPS * DOT_MR), _MM_HINT_T0);
        __m512i b0 = _mm512_load_si512((const void *)bp);
        __m512i b1 = _mm512_load_si512((const void *)(bp + 16));
#pragma GCC unroll 14
        for (int i = 0; i < mr; i++) {
            __m512i a = _mm512_set1_epi32((int)ap[i]);
            c0[i] = BF16DOT(c0[i], b0, a);
            c1[i] = BF16DOT(c1[i], b1, a);
        }
        ap += DOT_MR;
        bp += DOT_NR;
    }
    gemm_store_tile_avx512(mr, c0, c1, c, ldc, flags, bias);
}

#define DOT_CASE(R) \
    case R: dot_tile(R, kc, (const uint32_t *)ap, (const uint32_t *)bp, c, ldc, flags, bias, pf); break;

static void BF16DOT_NAME(kernel)(int kc, const float *ap, const float *bp, float *c, int ldc, int mr, int flags,
                                 const float *bias, const gemm_prefetch *pf) {
    switch (mr) {
        DOT_CASE(1) DOT_CASE(2) DOT_CASE(3) DOT_CASE(4) DOT_CASE(5) DOT_CASE(6) DOT_CASE(7)
        DOT_CASE(8) DOT_CASE(9) DOT_CASE(10) DOT_CASE(11) DOT_CASE(12) DOT_CASE(13)
    default: dot_tile(DOT_MR, kc, (const uint32_t *)ap, (const uint32_t *)bp, c, ldc, flags, bias, pf); break;
    }
}

/* B panel: w points at W[n0, k0] (bf16 rows, ldw elements apart); out as above, 32 k at a time
 * (16 pairs = one zmm per row, then the 16x16 word transpose). */
static void BF16DOT_NAME(pack_b)(int kc, const uint16_t *w, int ldw, int nr, float *outf) {
    uint32_t *out = (uint32_t *)outf;
    for (int k = 0; k < kc; k += 32) {
        int kk = EVA_MIN(32, kc - k), pairs = (kk + 1) / 2;
        __mmask32 m = kk == 32 ? 0xFFFFFFFFu : (1u << kk) - 1u;
        for (int h = 0; h < 2; h++) {
            __m512 r[16];
            for (int i = 0; i < 16; i++) {
                int row = h * 16 + i;
                r[i] = row < nr ? _mm512_castsi512_ps(_mm512_maskz_loadu_epi16(m, w + (size_t)row * (size_t)ldw + k))
                                : _mm512_setzero_ps();
            }
            transpose16(r);
            for (int p = 0; p < pairs; p++) _mm512_store_ps((float *)(out + (size_t)(k / 2 + p) * DOT_NR + h * 16), r[p]);
        }
    }
}

/* A panel: a points at A[m0, k0] (fp32 rows, lda apart), mr <= 14 rows; out as above. */
static void BF16DOT_NAME(pack_a)(int kc, const float *a, int lda, int mr, float *outf) {
    uint32_t *out = (uint32_t *)outf;
    for (int k = 0; k < kc; k += 32) {
        int kk = EVA_MIN(32, kc - k), pairs = (kk + 1) / 2;
        __mmask16 m0 = (__mmask16)(kk >= 16 ? 0xFFFFu : (1u << kk) - 1u);
        __mmask16 m1 = (__mmask16)(kk >= 32 ? 0xFFFFu : kk > 16 ? (1u << (kk - 16)) - 1u : 0u);
        __m512 r[16];
        for (int i = 0; i < 16; i++) {
            if (i >= mr) {
                r[i] = _mm512_setzero_ps();
                continue;
            }
            const float *row = a + (size_t)i * (size_t)lda + k;
            __m256i lo = _mm512_cvtepi32_epi16(dot_round_bf16(_mm512_maskz_loadu_ps(m0, row)));
            __m256i hi = _mm512_cvtepi32_epi16(dot_round_bf16(_mm512_maskz_loadu_ps(m1, row + 16)));
            r[i] = _mm512_castsi512_ps(_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1));
        }
        transpose16(r);
        for (int p = 0; p < pairs; p++) _mm512_mask_storeu_ps((float *)(out + (size_t)(k / 2 + p) * DOT_MR), 0x3FFF, r[p]);
    }
}

#endif /* EVA_OPS_GEMM_BF16DOT_KERNEL_H */
