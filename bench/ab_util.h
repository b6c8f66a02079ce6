/* ab_util.h — what the in-process A/B harnesses (attn_ab.c, gemm_ab.c, kernel_ab.c, q8_ab.c)
 * share: a monotonic clock and a qsort comparison for their per-round ratios. */
#ifndef EVA_BENCH_AB_UTIL_H
#define EVA_BENCH_AB_UTIL_H

#include <time.h>

static inline double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static inline int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

#endif
