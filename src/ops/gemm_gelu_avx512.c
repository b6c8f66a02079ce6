/* gemm_gelu_avx512.c — exact-erf GELU over n floats, 0.5·x·(1 + erf(x/√2)).
 * Placeholder: libm erff per element (the reference); to be vectorised. */
#include "ops/gemm_internal.h"

void eva_gelu_avx512(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = eva_gelu_ref(x[i]);
}
