/* q8_ab.c — A/B of the int8 GEMM's next-panel weight prefetch (eva_gemm_q8_set_prefetch) in one
 * process: one EVA-g block's four GEMMs at M = 257 (batch 1, 224 px) with int8 weights streamed
 * from DRAM (16 rotating copies, ~400 MB), off / on / off back to back; each round scores
 * on / mean(off before, off after) in GFLOP/s, the median over rounds is the figure.
 * Build: cc -O2 -Iinclude -Isrc bench/q8_ab.c build/libeva.a -lpthread -lm -o q8_ab
 * Usage: q8_ab [ROUNDS] [THREADS] [M] */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c17 */
#include "ops/gemm_lowp.h"
#include "ab_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { COPIES = 16 };
static const int shapes[4][3] = {   /* N, K, epilogue: qkv, proj (+x), fc1 (GELU), fc2 (+x) */
    {4224, 1408, EVA_GEMM_STORE}, {1408, 1408, EVA_GEMM_ACCUMULATE}, {6144, 1408, EVA_GEMM_GELU},
    {1408, 6144, EVA_GEMM_ACCUMULATE}};

static eva_q8_weight make_weight(int N, int K, int seed) {
    size_t rows = eva_q8_padded_rows(N);
    int8_t *packed = calloc(eva_q8_packed_bytes(N, K), 1), *q = malloc((size_t)K);
    float *scale = calloc(rows, sizeof(float)), *w = malloc(sizeof(float) * (size_t)K);
    int32_t *rowsum = calloc(rows, sizeof(int32_t));
    if (!packed || !q || !scale || !w || !rowsum) exit(1);
    for (int n = 0; n < N; n++) {
        for (int k = 0; k < K; k++) w[k] = 1e-3f * (float)((n * 7 + k * 3 + seed) % 23 - 11);
        float ws = eva_q8_quantize_row(w, K, q);
        eva_q8_pack_row(n, K, q, ws, packed, scale, rowsum);
    }
    free(q), free(w);
    return (eva_q8_weight){N, K, packed, scale, rowsum};
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 30, threads = argc > 2 ? atoi(argv[2]) : 2;
    int M = argc > 3 ? atoi(argv[3]) : 257;
    if (rounds < 1 || threads < 1 || M < 1) return 2;
    eva_pool *pool = NULL;
    if (eva_pool_create(threads, &pool) != EVA_OK) return 1;
    eva_q8_weight w[COPIES][4];
    for (int c = 0; c < COPIES; c++)
        for (int s = 0; s < 4; s++) w[c][s] = make_weight(shapes[s][0], shapes[s][1], c * 4 + s);
    float *A = malloc(sizeof(float) * (size_t)M * 6144), *C = calloc((size_t)M * 6144, sizeof(float));
    void *ws = eva_aligned_alloc(eva_gemm_q8_workspace(M, 6144, threads));
    if (!A || !C || !ws) return 1;
    for (size_t i = 0; i < (size_t)M * 6144; i++) A[i] = 1e-2f * (float)((int)(i % 13) - 6);
    double flops = 0;
    for (int s = 0; s < 4; s++) flops += 2.0 * M * shapes[s][0] * shapes[s][1];
    int copy = 0;
    double *ratio = malloc(sizeof(double) * (size_t)rounds * 2), *g_off = ratio + rounds;
    for (int r = -1; r < rounds; r++) {
        double g[3];
        for (int v = 0; v < 3; v++) {
            eva_gemm_q8_set_prefetch(v == 1);
            copy = (copy + 1) % COPIES;
            double t0 = now();
            for (int s = 0; s < 4; s++)
                eva_gemm_q8(pool, M, shapes[s][0], shapes[s][1], s == 3 ? C : A, shapes[s][1], &w[copy][s], NULL,
                            s == 1 || s == 3 ? A : C, shapes[s][0], (eva_gemm_epilogue)shapes[s][2], ws);
            g[v] = flops / (now() - t0) * 1e-9;
        }
        if (r >= 0) ratio[r] = 2 * g[1] / (g[0] + g[2]), g_off[r] = (g[0] + g[2]) / 2;
    }
    eva_gemm_q8_set_prefetch(true);
    qsort(ratio, (size_t)rounds, sizeof(double), cmp_double);
    qsort(g_off, (size_t)rounds, sizeof(double), cmp_double);
    printf("q8 GEMMs M=%d, %d thread(s), %d rounds: off %.1f GFLOP/s (median), on/off median %.3f (quartiles %.3f %.3f)\n",
           M, threads, rounds, g_off[rounds / 2], ratio[rounds / 2], ratio[rounds / 4], ratio[3 * rounds / 4]);
    return 0;
}
