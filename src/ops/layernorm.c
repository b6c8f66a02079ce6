/* layernorm.c — LayerNorm over rows of [rows, D], eps as given (1e-6 for EVA). */
#include "ops/ops.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void eva_layernorm_rows_avx512(const float *x, const float *w, const float *b, float *y, int rows, int D, float eps);

/* x, y: [rows, D] */
void eva_layernorm_ref(const float *x, const float *w, const float *b, float *y, int rows, int D, float eps) {
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * D;
        float *yr = y + (size_t)r * D;
        double mean = 0, var = 0;
        for (int i = 0; i < D; i++) mean += xr[i];
        mean /= D;
        for (int i = 0; i < D; i++) {
            double d = xr[i] - mean;
            var += d * d;
        }
        var /= D;
        double inv = 1.0 / sqrt(var + (double)eps);
        for (int i = 0; i < D; i++) yr[i] = (float)((xr[i] - mean) * inv) * w[i] + b[i];
    }
}

typedef struct {
    const float *x, *w, *b;
    float *y;
    int rows, D, per_task;
    float eps;
    bool avx512;
} ln_job;

static void ln_task(void *ctx, int task, int thread) {
    (void)thread;
    const ln_job *j = ctx;
    int r0 = task * j->per_task, r1 = EVA_MIN(j->rows, r0 + j->per_task);
    if (r0 >= r1) return;
    (j->avx512 ? eva_layernorm_rows_avx512 : eva_layernorm_ref)(j->x + (size_t)r0 * j->D, j->w, j->b,
                                                                 j->y + (size_t)r0 * j->D, r1 - r0, j->D, j->eps);
}

/* x, y: [rows, D]; rows split over the pool. With AVX-512 the rows run in layernorm_avx512.c
 * (vector double statistics: LayerNorm 44.5 -> 20.2 ms per EVA-g 224 px pass, 2 threads);
 * EVA_LAYERNORM=ref keeps the reference for tests and A/B benchmarks. */
void eva_layernorm(eva_pool *pool, const float *x, const float *w, const float *b, float *y, int rows, int D, float eps) {
    const char *force = getenv("EVA_LAYERNORM");
    int per = 16;
    ln_job j = {x, w, b, y, rows, D, per, eps, eva_cpu_avx512() && !(force && !strcmp(force, "ref"))};
    eva_pool_run(pool, (rows + per - 1) / per, ln_task, &j);
}

