/* quick_gelu_avx512.c — QuickGELU u·sigmoid(1.702u) = u / (1 + exp(-1.702u)) on 16 floats at a
 * time (CLIP's MLP activation). Shapes: elementwise over n values. Called only after a run-time
 * avx512f check (clip_vision_forward.c); the reference is eva_quick_gelu_ref.
 *
 * exp(a): a clamped to [-100, 100] (beyond, exp is 0 or inf in float anyway; the clamp keeps
 * range reduction exact and NaN passes through because min/max return their second operand on
 * NaN), a = n·ln2 + r with round-to-nearest n and a split ln 2, |r| <= ln2/2, degree-7 Taylor
 * polynomial (truncation < 6e-9 relative), scaled by 2^n with vscalefps (overflow -> inf,
 * giving u / inf = -0 as the reference). The division is IEEE, so the result is within a few
 * float ulps of the libm reference (checked in tests/test_teacher.c). */
#include "models/clip_vision.h"

#include "ops/exp_avx512.h"

#include <immintrin.h>

static inline __m512 quick_gelu16(__m512 u) {
    __m512 a = _mm512_mul_ps(u, _mm512_set1_ps(-1.702f));
    a = _mm512_min_ps(_mm512_set1_ps(100.0f), a);
    a = _mm512_max_ps(_mm512_set1_ps(-100.0f), a);
    __m512 e = eva_exp512(a);
    return _mm512_div_ps(u, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

void eva_quick_gelu_avx512(float *x, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, quick_gelu16(_mm512_loadu_ps(x + i)));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(x + i, m, quick_gelu16(_mm512_maskz_loadu_ps(m, x + i)));
    }
}
