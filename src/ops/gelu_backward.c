/* gelu_backward.c — exact-erf GELU derivative. Shapes: u, dg, du [n].
 * g(u) = u Φ(u) with Φ the normal CDF, so dg/du = Φ(u) + u φ(u), φ(u) = exp(-u²/2)/√(2π). */
#include "ops/backward.h"

#include <math.h>

/* Reference in double (the derivative is smooth; double keeps it obviously right). */
void eva_gelu_backward_ref(const float *u, const float *dg, float *du, size_t n) {
    for (size_t i = 0; i < n; i++) {
        double x = u[i];
        double cdf = 0.5 * (1.0 + erf(x * 0.70710678118654752));
        double pdf = 0.39894228040143268 * exp(-0.5 * x * x);
        du[i] = (float)(dg[i] * (cdf + x * pdf));
    }
}

/* Fast: float erff/expf (a few ulps, far below the fp32 backward's own rounding), chunks over
 * the pool. */
typedef struct { const float *u, *dg; float *du; size_t n, chunk; } gelu_job;

static void gelu_task(void *ctx, int task, int thread) {
    (void)thread;
    const gelu_job *j = ctx;
    size_t i0 = (size_t)task * j->chunk, i1 = EVA_MIN(j->n, i0 + j->chunk);
    for (size_t i = i0; i < i1; i++) {
        float x = j->u[i];
        float cdf = 0.5f * (1.0f + erff(x * 0.70710678118654752f));
        float pdf = 0.39894228040143268f * expf(-0.5f * x * x);
        j->du[i] = j->dg[i] * (cdf + x * pdf);
    }
}

void eva_gelu_backward(eva_pool *pool, const float *u, const float *dg, float *du, size_t n) {
    size_t chunk = 16384;
    gelu_job j = {u, dg, du, n, chunk};
    eva_pool_run(pool, (int)((n + chunk - 1) / chunk), gelu_task, &j);
}
