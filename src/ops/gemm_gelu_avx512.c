/* gemm_gelu_avx512.c — exact-erf GELU over n floats with AVX-512 (the formula and its accuracy
 * are documented in gemm_gelu_avx512.h). Shapes: x[n], in place. */
#include "ops/gemm_internal.h"

#include "ops/gemm_gelu_avx512.h"

void eva_gelu_avx512(float *x, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, eva_gelu16_avx512(_mm512_loadu_ps(x + i)));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        _mm512_mask_storeu_ps(x + i, m, eva_gelu16_avx512(_mm512_maskz_loadu_ps(m, x + i)));
    }
}
