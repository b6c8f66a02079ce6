/* gemm_gelu_avx2.h — exact-erf GELU on 8 floats for AVX2/FMA code (include only from *_avx2.c
 * files). The same formula and coefficients as gemm_gelu_avx512.h (see there and
 * scripts/fit_gelu_erf.py); 2^n is built in the exponent field instead of vscalefps and the masks
 * are blends. Shapes: elementwise. */
#ifndef EVA_OPS_GEMM_GELU_AVX2_H
#define EVA_OPS_GEMM_GELU_AVX2_H

#include <immintrin.h>

static inline __attribute__((always_inline)) __m256 eva_gelu8_avx2(__m256 x) {
    const __m256 z = _mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f));
    const __m256 t = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), z);
    /* small |z|: erf = z + z·P(z²) */
    __m256 s = _mm256_mul_ps(z, z);
    __m256 p = _mm256_set1_ps(8.369821308602595e-05f);
    p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(-0.0008142577086643647f));
    p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(0.005201013360688384f));
    p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(-0.026859385841447907f));
    p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(0.11283695120054768f));
    p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(-0.3761263368940186f));
    p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(0.12837916662284113f));
    __m256 h_small = _mm256_add_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(p, z, z));
    /* tail: e = erfc(t) = exp(Q(t - 2.5)) */
    __m256 u = _mm256_sub_ps(_mm256_min_ps(t, _mm256_set1_ps(4.0f)), _mm256_set1_ps(2.5f));
    __m256 q = _mm256_set1_ps(1.0313934062022054e-06f);
    q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(6.639155255795733e-06f));
    q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(-5.067345715320506e-06f));
    q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(8.091170772673803e-05f));
    q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(-0.00042405156009048554f));
    q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(0.002160742004841815f));
    q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(-0.010859824982095896f));
    q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(-0.9438936292822038f));
    q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(-5.352680590262281f));
    q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(-7.80681525599819f));
    /* exp(q), q in [-16.5, -1.6]: q = n·ln2 + r */
    __m256 n = _mm256_round_ps(_mm256_mul_ps(q, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), q);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428606820309417232e-06f), r);
    __m256 e = _mm256_set1_ps(1.0f / 5040.0f);
    e = _mm256_fmadd_ps(e, r, _mm256_set1_ps(1.0f / 720.0f));
    e = _mm256_fmadd_ps(e, r, _mm256_set1_ps(1.0f / 120.0f));
    e = _mm256_fmadd_ps(e, r, _mm256_set1_ps(1.0f / 24.0f));
    e = _mm256_fmadd_ps(e, r, _mm256_set1_ps(1.0f / 6.0f));
    e = _mm256_fmadd_ps(e, r, _mm256_set1_ps(0.5f));
    e = _mm256_fmadd_ps(e, r, _mm256_set1_ps(1.0f));
    e = _mm256_fmadd_ps(e, r, _mm256_set1_ps(1.0f));
    /* 2^n for n in [-24, -2]: build the exponent field directly */
    __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    e = _mm256_mul_ps(e, _mm256_castsi256_ps(bits));
    e = _mm256_and_ps(_mm256_cmp_ps(t, _mm256_set1_ps(4.0f), _CMP_LT_OQ), e); /* t >= 4: erfc = 0 */
    __m256 pos = _mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_GT_OQ);
    __m256 h_tail = _mm256_blendv_ps(e, _mm256_sub_ps(_mm256_set1_ps(2.0f), e), pos); /* z > 0: 2 - e, else e */
    __m256 small = _mm256_cmp_ps(t, _mm256_set1_ps(0.921875f), _CMP_LE_OQ);
    __m256 h = _mm256_blendv_ps(h_tail, h_small, small);
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), h);
}

#endif /* EVA_OPS_GEMM_GELU_AVX2_H */
