/* gemm_ab.c — A/B of a GEMM driver option inside one process: batch-1 shared A packing off (A)
 * and on (B), through eva_gemm on the EVA-giant batch-1 shapes, 2 threads, cold weights.
 * Shapes: C[257, N] = A[257, K] · W[N, K]^T for qkv (4224 x 1408), proj (1408 x 1408), fc1
 * (6144 x 1408) and fc2 (1408 x 6144) in turn, as in one transformer block.
 *
 * Why in one process: this VM's speed drifts by tens of percent over minutes, so separate runs
 * cannot resolve a 1-2 % change; here every round runs one block's four GEMMs as A, B, A back
 * to back (~60 ms each) and scores B / mean(A before, A after); the median over rounds is the
 * figure. Build: cc -O2 -Iinclude -Isrc bench/gemm_ab.c build/libeva.a -lpthread -lm
 * Usage: gemm_ab [ROUNDS] [THREADS] */
#define _POSIX_C_SOURCE 200809L
#include "ops/gemm.h"
#include "ab_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { M = 257, D = 1408, F = 6144, Q = 3 * D, COPIES = 6 };

typedef struct block_weights {
    float *qkv, *proj, *fc1, *fc2, *bq, *bp, *b1, *b2;
} block_weights;

static float *filled(size_t n, float scale) {
    float *p = eva_aligned_alloc(n * sizeof(float));
    if (!p) exit(1);
    for (size_t i = 0; i < n; i++) p[i] = scale * (float)((int)(i % 17) - 8);
    return p;
}

/* one block's GEMMs (attention itself left out: it does not depend on the option) */
static double block(eva_pool *pool, const block_weights *w, const float *x, float *qkv, float *h, float *mlp) {
    double t0 = now();
    eva_gemm(pool, M, Q, D, x, D, w->qkv, D, w->bq, qkv, Q, EVA_GEMM_STORE);
    eva_gemm(pool, M, D, D, qkv, Q, w->proj, D, w->bp, h, D, EVA_GEMM_ACCUMULATE);
    eva_gemm(pool, M, F, D, h, D, w->fc1, D, w->b1, mlp, F, EVA_GEMM_GELU);
    eva_gemm(pool, M, D, F, mlp, F, w->fc2, F, w->b2, h, D, EVA_GEMM_ACCUMULATE);
    double flops = 2.0 * M * ((double)Q * D + (double)D * D + 2.0 * F * D);
    return flops / (now() - t0) * 1e-9;
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 30, threads = argc > 2 ? atoi(argv[2]) : 2;
    if (rounds < 1 || rounds > 1000 || threads < 1 || threads > 64) {
        fprintf(stderr, "usage: gemm_ab [ROUNDS 1-1000] [THREADS 1-64]\n");
        return 2;
    }
    eva_pool *pool = NULL;
    if (eva_pool_create(threads, &pool) != EVA_OK) return 1;
    block_weights w[COPIES]; /* 6 x 101 MB: each call reads its weights from DRAM */
    for (int c = 0; c < COPIES; c++)
        w[c] = (block_weights){filled((size_t)Q * D, 1e-3f), filled((size_t)D * D, 1e-3f), filled((size_t)F * D, 1e-3f),
                               filled((size_t)D * F, 1e-3f),  filled(Q, 1e-2f),           filled(D, 1e-2f),
                               filled(F, 1e-2f),             filled(D, 1e-2f)};
    float *x = filled((size_t)M * D, 1e-2f), *qkv = filled((size_t)M * Q, 0), *h = filled((size_t)M * D, 0),
          *mlp = filled((size_t)M * F, 0);
    double *ratio = malloc((size_t)rounds * 3 * sizeof(double)), *ga = ratio + rounds, *gb = ga + rounds;
    if (!ratio) return 1;
    int copy = 0;
    block(pool, &w[copy], x, qkv, h, mlp);
    for (int r = 0; r < rounds; r++) {
        double g[3];
        for (int v = 0; v < 3; v++) {
            eva_gemm_set_share_a(v == 1);
            copy = (copy + 1) % COPIES;
            g[v] = block(pool, &w[copy], x, qkv, h, mlp);
        }
        ratio[r] = 2 * g[1] / (g[0] + g[2]);
        ga[r] = (g[0] + g[2]) / 2;
        gb[r] = g[1];
    }
    qsort(ratio, (size_t)rounds, sizeof(double), cmp_double);
    qsort(ga, (size_t)rounds, sizeof(double), cmp_double);
    qsort(gb, (size_t)rounds, sizeof(double), cmp_double);
    printf("shared A packing, %d thread(s), %d rounds: on/off median %.3f (quartiles %.3f %.3f); off %.1f GFLOP/s, "
           "on %.1f GFLOP/s (medians)\n",
           threads, rounds, ratio[rounds / 2], ratio[rounds / 4], ratio[rounds * 3 / 4], ga[rounds / 2], gb[rounds / 2]);
    eva_pool_free(pool);
    return 0;
}
