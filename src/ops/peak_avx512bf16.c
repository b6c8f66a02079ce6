/* peak_avx512bf16.c — 16 independent zmm vdpbf16ps chains: the bf16 dot-product peak, the rate
 * a perfect bf16 GEMM kernel could reach (compiled only where the compiler knows avx512_bf16;
 * run only after the CPU check in peak.c). Each instruction is 16 lanes x 2 products x 2 flops. */
#include "ops/peak.h"

#include <immintrin.h>

double eva_peak_loop_avx512bf16(long iters) {
    __m512 a[16];
    /* pairs of 1.0 times pairs of 2^-20: each chain grows by 2^-19 per step, finite and normal */
    __m512bh x = (__m512bh)_mm512_set1_epi32(0x3f803f80), y = (__m512bh)_mm512_set1_epi32(0x35803580);
    for (int i = 0; i < 16; i++) a[i] = _mm512_set1_ps((float)i);
    for (long it = 0; it < iters; it++)
        for (int i = 0; i < 16; i++) a[i] = _mm512_dpbf16_ps(a[i], x, y);
    __m512 s = a[0];
    for (int i = 1; i < 16; i++) s = _mm512_add_ps(s, a[i]);
    volatile float sink = _mm512_reduce_add_ps(s);
    (void)sink;
    return (double)iters * 16 * 16 * 4;
}
