/* peak.h — measured arithmetic peak of this machine: the FMA throughput a perfect fp32 kernel
 * could reach, used by `eva bench` to report "% of peak". */
#ifndef EVA_OPS_PEAK_H
#define EVA_OPS_PEAK_H

#include "base/base.h"

/* GFLOP/s of independent fp32 FMA chains on every pool thread for about `seconds`
 * (AVX-512 when the CPU has it, else AVX2/FMA, else scalar). Writes the ISA used into *isa. */
double eva_peak_fp32_gflops(eva_pool *pool, double seconds, const char **isa);

/* Whether vdpbf16ps may be executed: the build has it and the CPU advertises avx512_bf16, or
 * EVA_BF16=dot-force asks for it without asking the CPU (VMs that hide the flag of a CPU that
 * has it; SIGILL on a CPU without it). The one rule for the bf16 GEMM and the probe below. */
bool eva_bf16_dot_usable(void);

/* GFLOP/s of independent vdpbf16ps chains (2 products per lane, 2 flops each) on every pool
 * thread (pool NULL: the calling thread): the bf16 dot-product peak. 0 when
 * eva_bf16_dot_usable() is false. */
double eva_peak_bf16_gflops(eva_pool *pool, double seconds);

/* ISA-specific inner loops (peak_avx512.c / peak_avx2.c): `iters` rounds of FMAs; returns the
 * flops done (2 per lane per FMA). */
double eva_peak_loop_avx512(long iters);
double eva_peak_loop_avx2(long iters);
double eva_peak_loop_avx512bf16(long iters); /* only with EVA_HAVE_AVX512BF16 */

#endif
