/* gemm_gelu_avx512.h — exact-erf GELU on 16 floats, 0.5·x·(1 + erf(x/√2)), for AVX-512 code
 * (include only from *_avx512.c files). Shapes: elementwise.
 *
 * erf(z), t = |z| (coefficients fitted by scripts/fit_gelu_erf.py, relative/absolute error of
 * the fit < 1e-9, far below float rounding):
 *   t <= 0.921875    erf(z) = z + z·P6(z²)                      (odd series, no cancellation)
 *   t <  4           erf(z) = ±(1 - exp(Q9(t - 2.5)))          Q ≈ log erfc(t)
 *   t >= 4           erf(z) = ±1                                (erfc(4) < half an ulp of 1)
 * In the tail 1 + erf(z) is formed as 2 - e or e (not 1 - (1 - e)), so it is never less
 * accurate than libm's 1 + erff(z). exp uses round-to-nearest range reduction with a split ln 2,
 * a degree-7 Taylor polynomial on |r| <= ln2/2 (truncation < 6e-9) and vscalefps.
 * Measured against 0.5f·x·(1 + erff(x/√2)): |diff| <= 3e-7·|x| (see tests/test_gemm.c).
 * NaN propagates; +inf -> +inf; -inf -> NaN (as the libm formula). */
#ifndef EVA_OPS_GEMM_GELU_AVX512_H
#define EVA_OPS_GEMM_GELU_AVX512_H

#include "ops/exp_avx512.h"

#include <immintrin.h>

static inline __attribute__((always_inline)) __m512 eva_gelu16_avx512(__m512 x) {
    const __m512 z = _mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f));
    const __m512 t = _mm512_abs_ps(z);
    /* small |z|: erf = z + z·P(z²) */
    __m512 s = _mm512_mul_ps(z, z);
    __m512 p = _mm512_set1_ps(8.369821308602595e-05f);
    p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(-0.0008142577086643647f));
    p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(0.005201013360688384f));
    p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(-0.026859385841447907f));
    p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(0.11283695120054768f));
    p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(-0.3761263368940186f));
    p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(0.12837916662284113f));
    __m512 h_small = _mm512_add_ps(_mm512_set1_ps(1.0f), _mm512_fmadd_ps(p, z, z));
    /* tail: e = erfc(t) = exp(Q(t - 2.5)) */
    __m512 u = _mm512_sub_ps(_mm512_min_ps(t, _mm512_set1_ps(4.0f)), _mm512_set1_ps(2.5f));
    __m512 q = _mm512_set1_ps(1.0313934062022054e-06f);
    q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(6.639155255795733e-06f));
    q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(-5.067345715320506e-06f));
    q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(8.091170772673803e-05f));
    q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(-0.00042405156009048554f));
    q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(0.002160742004841815f));
    q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(-0.010859824982095896f));
    q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(-0.9438936292822038f));
    q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(-5.352680590262281f));
    q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(-7.80681525599819f));
    /* exp(q), q in [-16.5, -1.6]: q = n·ln2 + r */
    __m512 e = eva_exp512(q);
    e = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(t, _mm512_set1_ps(4.0f), _CMP_LT_OQ), e); /* t >= 4: erfc = 0 */
    __mmask16 pos = _mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_GT_OQ);
    __m512 h_tail = _mm512_mask_sub_ps(e, pos, _mm512_set1_ps(2.0f), e); /* z > 0: 2 - e, else e */
    __mmask16 small = _mm512_cmp_ps_mask(t, _mm512_set1_ps(0.921875f), _CMP_LE_OQ);
    __m512 h = _mm512_mask_mov_ps(h_tail, small, h_small);
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), h);
}

#endif /* EVA_OPS_GEMM_GELU_AVX512_H */
