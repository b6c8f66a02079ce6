/* exp_avx512.h — exp on 16 floats (AVX-512; include only from *_avx512.c files): a = n·ln2 + r
 * with round-to-nearest n and a split ln 2, |r| <= ln2/2, degree-7 Taylor polynomial
 * (truncation < 6e-9 relative), scaled by 2^n with vscalefps (overflow -> inf, underflow -> 0).
 * Callers clamp the argument to the range they need. Shared by the exact-erf GELU of the GEMM
 * epilogue and CLIP's QuickGELU. */
#ifndef EVA_OPS_EXP_AVX512_H
#define EVA_OPS_EXP_AVX512_H

#include <immintrin.h>

static inline __m512 eva_exp512(__m512 a) {
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(a, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), a);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606820309417232e-06f), r);
    __m512 e = _mm512_set1_ps(1.0f / 5040.0f);
    e = _mm512_fmadd_ps(e, r, _mm512_set1_ps(1.0f / 720.0f));
    e = _mm512_fmadd_ps(e, r, _mm512_set1_ps(1.0f / 120.0f));
    e = _mm512_fmadd_ps(e, r, _mm512_set1_ps(1.0f / 24.0f));
    e = _mm512_fmadd_ps(e, r, _mm512_set1_ps(1.0f / 6.0f));
    e = _mm512_fmadd_ps(e, r, _mm512_set1_ps(0.5f));
    e = _mm512_fmadd_ps(e, r, _mm512_set1_ps(1.0f));
    e = _mm512_fmadd_ps(e, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(e, n);
}

#endif
