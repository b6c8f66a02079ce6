/* layernorm_backward.c — LayerNorm forward keeping (mean, rstd) and its backward.
 * Shapes: x, y, dy, dx [rows, D]; w, b, dw, db [D]; mean, rstd [rows] (double). */
#include "ops/backward.h"

#include <math.h>
#include <stdlib.h>

static void ln_fwd_rows(const float *x, const float *w, const float *b, float *y, double *mean, double *rstd, int r0,
                        int r1, int D, float eps) {
    for (int r = r0; r < r1; r++) {
        const float *xr = x + (size_t)r * D;
        float *yr = y + (size_t)r * D;
        double mu = 0, var = 0;
        for (int i = 0; i < D; i++) mu += xr[i];
        mu /= D;
        for (int i = 0; i < D; i++) {
            double d = xr[i] - mu;
            var += d * d;
        }
        var /= D;
        double inv = 1.0 / sqrt(var + (double)eps);
        /* same rounding as eva_layernorm_ref: normalise in double, round, then affine in float */
        for (int i = 0; i < D; i++) yr[i] = (float)((xr[i] - mu) * inv) * w[i] + b[i];
        mean[r] = mu;
        rstd[r] = inv;
    }
}

typedef struct { const float *x, *w, *b; float *y; double *mean, *rstd; int rows, D, per; float eps; } lnf_job;

static void lnf_task(void *ctx, int task, int thread) {
    (void)thread;
    const lnf_job *j = ctx;
    int r0 = task * j->per, r1 = EVA_MIN(j->rows, r0 + j->per);
    ln_fwd_rows(j->x, j->w, j->b, j->y, j->mean, j->rstd, r0, r1, j->D, j->eps);
}

void eva_layernorm_fwd_train(eva_pool *pool, const float *x, const float *w, const float *b, float *y, double *mean,
                             double *rstd, int rows, int D, float eps) {
    lnf_job j = {x, w, b, y, mean, rstd, rows, D, 16, eps};
    if (!pool) {
        ln_fwd_rows(x, w, b, y, mean, rstd, 0, rows, D, eps);
        return;
    }
    eva_pool_run(pool, (rows + 15) / 16, lnf_task, &j);
}

/* Rows [r0, r1): dx += ..., dw/db partial sums (double) += ... */
static void ln_bwd_rows(const float *x, const float *w, const double *mean, const double *rstd, const float *dy,
                        float *dx, double *dw, double *db, int r0, int r1, int D) {
    for (int r = r0; r < r1; r++) {
        const float *xr = x + (size_t)r * D, *dyr = dy + (size_t)r * D;
        double mu = mean[r], rs = rstd[r];
        double sg = 0, sgx = 0;
        for (int i = 0; i < D; i++) {
            double xh = (xr[i] - mu) * rs;
            double g = (double)dyr[i] * w[i];
            sg += g;
            sgx += g * xh;
            dw[i] += dyr[i] * xh;
            db[i] += dyr[i];
        }
        sg /= D;
        sgx /= D;
        if (dx) {
            float *dxr = dx + (size_t)r * D;
            for (int i = 0; i < D; i++) {
                double xh = (xr[i] - mu) * rs;
                double g = (double)dyr[i] * w[i];
                dxr[i] = (float)(dxr[i] + rs * (g - sg - xh * sgx));
            }
        }
    }
}

void eva_layernorm_backward_ref(const float *x, const float *w, const double *mean, const double *rstd,
                                const float *dy, float *dx, float *dw, float *db, int rows, int D) {
    double *acc = calloc((size_t)2 * D, sizeof(double));
    if (!acc) return;
    ln_bwd_rows(x, w, mean, rstd, dy, dx, acc, acc + D, 0, rows, D);
    for (int i = 0; i < D; i++) {
        dw[i] = (float)(dw[i] + acc[i]);
        db[i] = (float)(db[i] + acc[D + i]);
    }
    free(acc);
}

/* Threaded: a fixed number of row chunks (independent of the thread count), each with its own
 * dw/db partial; the partials are summed in chunk order afterwards. */
typedef struct {
    const float *x, *w;
    const double *mean, *rstd;
    const float *dy;
    float *dx;
    double *part;
    int rows, D, per;
} lnb_job;

static void lnb_task(void *ctx, int task, int thread) {
    (void)thread;
    const lnb_job *j = ctx;
    int r0 = task * j->per, r1 = EVA_MIN(j->rows, r0 + j->per);
    double *p = j->part + (size_t)task * 2 * j->D;
    memset(p, 0, sizeof(double) * 2 * (size_t)j->D);
    ln_bwd_rows(j->x, j->w, j->mean, j->rstd, j->dy, j->dx, p, p + j->D, r0, r1, j->D);
}

eva_status eva_layernorm_backward(eva_pool *pool, const float *x, const float *w, const double *mean,
                                  const double *rstd, const float *dy, float *dx, float *dw, float *db, int rows,
                                  int D) {
    int per = EVA_MAX(16, (rows + 63) / 64);
    int tasks = (rows + per - 1) / per;
    if (tasks <= 0) return EVA_OK;
    double *part = eva_malloc(sizeof(double) * 2 * (size_t)D * (size_t)tasks);
    if (!part) return EVA_ERR_NOMEM;
    lnb_job j = {x, w, mean, rstd, dy, dx, part, rows, D, per};
    eva_pool_run(pool, tasks, lnb_task, &j);
    for (int i = 0; i < D; i++) {
        double sw = 0, sb = 0;
        for (int t = 0; t < tasks; t++) {
            sw += part[(size_t)t * 2 * D + i];
            sb += part[(size_t)t * 2 * D + D + i];
        }
        dw[i] = (float)(dw[i] + sw);
        db[i] = (float)(db[i] + sb);
    }
    free(part);
    return EVA_OK;
}
