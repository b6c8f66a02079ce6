/* gemm_q8_avx512.c — AVX-512 VNNI int8 tile (12 x 32) and activation quantisation.
 * Shapes: one tile C[mr<=12, nr<=32] from Aq[kq][12][4] (u8) and Wq[kq][32][4] (s8), kq = ceil(K/4)
 * (layouts and math in gemm_lowp.h).
 *
 * Why 12 x 32: 24 int32 accumulators + 2 weight vectors + 1 broadcast register (vpdpbusd cannot
 * broadcast its u8 operand from memory, unlike the fp32 kernel's FMA), leaving gcc room: 14 rows
 * (31 registers) measured ~15% slower. Each k-quad is 2 loads and 24 vpdpbusd, each 16 x 4 u8·s8 MACs:
 * 4x the multiply-adds of an fp32 FMA per instruction, while a weight byte is a quarter of the
 * fp32 memory traffic. Epilogue: subtract 128·rowsum (the +128 that made A unsigned), convert,
 * scale by as[m]·ws[n], then bias / residual / GELU exactly as the reference orders them.
 * Compiled with -mavx512f/bw/dq/vl/vnni; only called after the run-time CPU check in gemm.c. */
#include "ops/gemm_internal.h"
#include "ops/gemm_lowp.h"

#include "ops/gemm_gelu_avx512.h"

#include <immintrin.h>
#include <string.h>

#define MR EVA_Q8_MR
#define NR EVA_Q8_NR

static inline __attribute__((always_inline)) void q8_store(__m512i acc, __m512i corr, __m512 scale, float *c,
                                                          __mmask16 mask, int flags, __m512 bias) {
    __m512 x = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc, corr)), scale);
    if (flags & GEMM_F_BIAS) x = _mm512_add_ps(x, bias);
    if (flags & GEMM_F_LOAD_C) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mask, c));
    if (flags & GEMM_F_GELU) x = eva_gelu16_avx512(x);
    _mm512_mask_storeu_ps(c, mask, x);
}

/* acc += u8(a)·s8(b) in groups of 4. Inline asm because gcc 12 does not keep the intrinsic's
 * accumulator in place: it copies every accumulator through another register (and spills),
 * which cost a third of the kernel's speed. */
static inline __attribute__((always_inline)) __m512i dpbusd(__m512i acc, __m512i a, __m512i b) {
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
    return acc;
}

static inline __attribute__((always_inline)) void q8_tile(const int mr, int kq, const uint8_t *ap, const int8_t *bp,
                                                         float *c, int ldc, int nr, int flags, const float *ascale,
                                                         const float *wscale, const int32_t *rowsum,
                                                         const float *bias, int32_t *part, const char *pf,
                                                         int pf_lines) {
    __m512i c0[MR], c1[MR];
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++) {
        c0[i] = (flags & Q8_F_PART_LOAD) ? _mm512_loadu_si512((const void *)(part + i * NR)) : _mm512_setzero_si512();
        c1[i] = (flags & Q8_F_PART_LOAD) ? _mm512_loadu_si512((const void *)(part + i * NR + 16)) : _mm512_setzero_si512();
    }
    for (int q = 0; q < kq; q++) {
        /* the next weight panel into L2, one line every other k-quad (see eva_q8_tile_avx512) */
        if ((q & 1) == 0 && pf_lines > 0) {
            _mm_prefetch(pf, _MM_HINT_T1);
            pf += 64;
            pf_lines--;
        }
        __m512i b0 = _mm512_loadu_si512((const void *)bp);
        __m512i b1 = _mm512_loadu_si512((const void *)(bp + 64));
        _mm_prefetch((const char *)(bp + 1024), _MM_HINT_T0);
        _mm_prefetch((const char *)(bp + 1024 + 64), _MM_HINT_T0);
#pragma GCC unroll 12
        for (int i = 0; i < mr; i++) {
            int32_t a4;
            memcpy(&a4, ap + 4 * i, 4);
            __m512i a = _mm512_set1_epi32(a4);
            c0[i] = dpbusd(c0[i], a, b0);
            c1[i] = dpbusd(c1[i], a, b1);
        }
        ap += MR * 4;
        bp += NR * 4;
    }
    if (flags & Q8_F_PART_STORE) {   /* more k blocks to come: keep the exact int32 sums */
#pragma GCC unroll 12
        for (int i = 0; i < mr; i++) {
            _mm512_storeu_si512((void *)(part + i * NR), c0[i]);
            _mm512_storeu_si512((void *)(part + i * NR + 16), c1[i]);
        }
        return;
    }
    __mmask16 m0 = (__mmask16)(nr >= 16 ? 0xFFFFu : (1u << nr) - 1u);
    __mmask16 m1 = (__mmask16)(nr >= 32 ? 0xFFFFu : nr > 16 ? (1u << (nr - 16)) - 1u : 0u);
    __m512i k128 = _mm512_set1_epi32(128);
    __m512i corr0 = _mm512_mullo_epi32(_mm512_loadu_si512((const void *)rowsum), k128);
    __m512i corr1 = _mm512_mullo_epi32(_mm512_loadu_si512((const void *)(rowsum + 16)), k128);
    __m512 ws0 = _mm512_loadu_ps(wscale), ws1 = _mm512_loadu_ps(wscale + 16);
    __m512 bias0 = _mm512_setzero_ps(), bias1 = _mm512_setzero_ps();
    if (flags & GEMM_F_BIAS) {
        bias0 = _mm512_maskz_loadu_ps(m0, bias);
        bias1 = _mm512_maskz_loadu_ps(m1, bias + 16);
    }
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++) {
        __m512 as = _mm512_set1_ps(ascale[i]);
        float *ci = c + (size_t)i * (size_t)ldc;
        q8_store(c0[i], corr0, _mm512_mul_ps(as, ws0), ci, m0, flags, bias0);
        if (m1) q8_store(c1[i], corr1, _mm512_mul_ps(as, ws1), ci + 16, m1, flags, bias1);
    }
}

#define Q8_CASE(R) \
    case R: q8_tile(R, kq, ap, bp, c, ldc, nr, flags, ascale, wscale, rowsum, bias, part, pf, pf_lines); break;

/* pf, pf_lines: consecutive cache lines of the next weight panel to pull into L2 during this
 * tile (gemm_q8.c spreads a panel's lines over its row tiles); NULL / 0: none. The weights'
 * own lines are also prefetched into L1 8 k-quads ahead, both lines of each quad (measured with
 * bench/q8_ab.c, next-panel prefetch on vs off: 1.059 on 2 threads, 1.055 on 1). */
void eva_q8_tile_avx512(int kq, const uint8_t *ap, const int8_t *bp, float *c, int ldc, int mr, int nr, int flags,
                        const float *ascale, const float *wscale, const int32_t *rowsum, const float *bias,
                        int32_t *part, const char *pf, int pf_lines) {
    switch (mr) {
        Q8_CASE(1) Q8_CASE(2) Q8_CASE(3) Q8_CASE(4) Q8_CASE(5) Q8_CASE(6) Q8_CASE(7)
        Q8_CASE(8) Q8_CASE(9) Q8_CASE(10) Q8_CASE(11)
    default: q8_tile(MR, kq, ap, bp, c, ldc, nr, flags, ascale, wscale, rowsum, bias, part, pf, pf_lines); break;
    }
}

/* Rows m0..m1-1 (one 12-row panel), bit-identical to quantize_rows_ref in gemm_q8.c: the max is
 * exact in any order, a·inv is one rounding, cvtps rounds to nearest even like lrintf. */
void eva_q8_quantize_rows_avx512(int m0, int m1, int K, const float *A, int lda, const q8_ws_layout *L) {
    const __m512 absmask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7FFFFFFF));
    const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127), off = _mm512_set1_epi32(128);
    int kpad = (int)L->kq * 4;
    for (int m = m0; m < m1; m++) {
        const float *a = A + (size_t)m * (size_t)lda;
        /* four running maxima: one chain waits 4 cycles per vector on vmaxps (bench: the whole
           quantisation 1.5x faster at K = 1408, 1.17x at 6144, bit-identical) */
        __m512 v0 = _mm512_setzero_ps(), v1 = v0, v2 = v0, v3 = v0;
        int k = 0;
        for (; k + 64 <= K; k += 64) {
            v0 = _mm512_max_ps(v0, _mm512_and_ps(_mm512_loadu_ps(a + k), absmask));
            v1 = _mm512_max_ps(v1, _mm512_and_ps(_mm512_loadu_ps(a + k + 16), absmask));
            v2 = _mm512_max_ps(v2, _mm512_and_ps(_mm512_loadu_ps(a + k + 32), absmask));
            v3 = _mm512_max_ps(v3, _mm512_and_ps(_mm512_loadu_ps(a + k + 48), absmask));
        }
        for (; k < K; k += 16) {
            __mmask16 mk = (__mmask16)(K - k >= 16 ? 0xFFFFu : (1u << (K - k)) - 1u);
            v0 = _mm512_max_ps(v0, _mm512_and_ps(_mm512_maskz_loadu_ps(mk, a + k), absmask));
        }
        float mx = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(v0, v1), _mm512_max_ps(v2, v3)));
        float inv = mx > 0.0f ? 127.0f / mx : 0.0f;
        L->ascale[m] = mx / 127.0f;
        __m512 vinv = _mm512_set1_ps(inv);
        uint8_t *dst = L->aq + (size_t)(m / MR) * L->kq * MR * 4 + (size_t)(m % MR) * 4;
        for (k = 0; k < kpad; k += 16) {
            int left = K - k;
            __mmask16 mk = (__mmask16)(left >= 16 ? 0xFFFFu : left > 0 ? (1u << left) - 1u : 0u);
            __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(mk, a + k), vinv));
            q = _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(q, lo), hi), off);
            /* 16 values = 4 k-quads: each quad's 4 bytes go to one 32-bit slot of its quad row */
            __m128i bytes = _mm512_cvtepi32_epi8(q);
            uint8_t *d = dst + (size_t)(k / 4) * MR * 4;
            if (kpad - k >= 16) {
                _mm_storeu_si32(d, bytes);
                _mm_storeu_si32(d + MR * 4, _mm_srli_si128(bytes, 4));
                _mm_storeu_si32(d + 2 * MR * 4, _mm_srli_si128(bytes, 8));
                _mm_storeu_si32(d + 3 * MR * 4, _mm_srli_si128(bytes, 12));
            } else {
                uint32_t quads[4];
                _mm_storeu_si128((__m128i *)quads, bytes);
                for (int t = 0; t < (kpad - k) / 4; t++) memcpy(d + (size_t)t * MR * 4, &quads[t], 4);
            }
        }
    }
}
