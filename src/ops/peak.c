/* peak.c — run the FMA (or bf16 dot-product) loop on every thread of the pool and report the
 * aggregate rate. */
#include "ops/peak.h"

#include <stdlib.h>
#include <string.h>

typedef struct { double seconds; int isa, n; int started; double flops[1024]; } peak_job;

static double scalar_loop(long iters) {
    volatile float a = 1.0f;
    float x = a, y = x, z = x, w = x;
    for (long i = 0; i < iters; i++) { x = x * 0.9999999f + 1e-7f; y = y * 0.9999999f + 1e-7f; z = z * 0.9999999f + 1e-7f; w = w * 0.9999999f + 1e-7f; }
    a = x + y + z + w;
    return (double)iters * 8;
}

static double bf16_loop(long iters) {
#if defined(EVA_HAVE_AVX512BF16)
    return eva_peak_loop_avx512bf16(iters);
#else
    (void)iters;
    return 0;
#endif
}

static void peak_task(void *ctx, int task, int thread) {
    (void)task;
    peak_job *j = ctx;
    /* a barrier: every thread holds one task, so no thread can run two of them in turn */
    __atomic_fetch_add(&j->started, 1, __ATOMIC_ACQ_REL);
    while (__atomic_load_n(&j->started, __ATOMIC_ACQUIRE) < j->n) { }
    double t0 = eva_now_seconds(), flops = 0;
    long iters = 1 << 16;
    while (eva_now_seconds() - t0 < j->seconds)
        flops += j->isa == 3 ? bf16_loop(iters) : j->isa == 2 ? eva_peak_loop_avx512(iters)
                 : j->isa == 1 ? eva_peak_loop_avx2(iters) : scalar_loop(iters);
    j->flops[thread] = flops / (eva_now_seconds() - t0);
}

static double run(eva_pool *pool, double seconds, int isa) {
    peak_job j = {.seconds = seconds, .isa = isa};
    int n = eva_pool_threads(pool);
    if (n > 1024) n = 1024;
    j.n = n;
    eva_pool_run(pool, n, peak_task, &j);   /* one task per thread: each loops for `seconds` */
    double total = 0;
    for (int i = 0; i < n; i++) total += j.flops[i];
    return total / 1e9;
}

double eva_peak_fp32_gflops(eva_pool *pool, double seconds, const char **isa) {
    __builtin_cpu_init();
    int which = eva_cpu_avx512() ? 2 : __builtin_cpu_supports("fma") ? 1 : 0;
    if (isa) *isa = which == 2 ? "avx512" : which == 1 ? "avx2" : "scalar";
    return run(pool, seconds, which);
}

bool eva_bf16_dot_usable(void) {
#if defined(__x86_64__) && defined(EVA_HAVE_AVX512BF16)
    const char *env = getenv("EVA_BF16");
    if (env && !strcmp(env, "dot-force")) return true;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16");
#else
    return false;
#endif
}

double eva_peak_bf16_gflops(eva_pool *pool, double seconds) {
    return eva_bf16_dot_usable() ? run(pool, seconds, 3) : 0;
}
