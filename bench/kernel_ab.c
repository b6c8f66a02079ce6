/* kernel_ab.c — A/B of two builds of the fp32 AVX-512 micro-kernel inside one process.
 * Shapes: the batch-1 qkv GEMM, C[257, 4224] = A[257, 1408] · W[4224, 1408]^T, done as the
 * driver does it at batch 1 (gemm.c: each thread takes its share of the 132 weight panels; a
 * panel is packed from W's rows (W^T, 32 columns), then its 19 row tiles run while the next
 * panel's weights are prefetched), on 1 or 2 threads, weights cold (24 rotating copies, 570 MB).
 *
 * Why: this VM's speed drifts by tens of percent over minutes (other tenants), so two runs of
 * gemm_bench a minute apart cannot resolve a 5 % change. Here variant A, variant B and A again
 * run back to back (~20 ms each) and each round scores B / mean(A before, A after); the median
 * over rounds is the figure. Built by bench/kernel_ab (which compiles src/ops/gemm_avx512.c
 * twice with different -D flags, as kernel_ab_a / kernel_ab_b).
 * Usage: kernel_ab THREADS ROUNDS */
#define _POSIX_C_SOURCE 200809L /* pthread barriers, clock_gettime under -std=c17 */
#include "ops/gemm_internal.h"
#include "ab_util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern const gemm_isa kernel_ab_a, kernel_ab_b;

enum { M = 257, K = 1408, N = 4224, COPIES = 24, MAX_THREADS = 2 };

typedef struct worker {
    int id;
    float *a, *b, *c; /* packed A (all rows), one packed W panel, C */
} worker;

static float *g_w[COPIES];
static int g_copy, g_threads;
static const gemm_isa *g_isa;
static volatile int g_stop;
static pthread_barrier_t g_start, g_done;

static void panels(const worker *t) {
    const gemm_isa *isa = g_isa;
    const float *w = g_w[g_copy];
    int np = N / 32, p0 = t->id * np / g_threads, p1 = (t->id + 1) * np / g_threads;
    for (int p = p0; p < p1; p++) {
        isa->pack_tn(K, w + (size_t)p * 32 * K, K, 32, t->b);
        const float *next = p + 1 < p1 ? w + (size_t)(p + 1) * 32 * K : NULL;
        gemm_panel_tiles pt = {.kernel = isa->kernel, .mr_tile = isa->mr, .nr_tile = 32, .rows = M, .kc = K,
                               .ap = t->a, .ap_stride = (size_t)isa->mr * K, .bp = t->b, .c = t->c + p * 32,
                               .ldc = N, .nr = 32, .pf_src = (const char *)next, .pf_stride = K * sizeof(float),
                               .pf_lines = K * (int)sizeof(float) / 64, .pf_rows = next ? 32 : 0};
        eva_gemm_panel_tiles(&pt);
    }
}

static void *worker_main(void *arg) {
    for (;;) {
        pthread_barrier_wait(&g_start);
        if (g_stop) return NULL;
        panels(arg);
        pthread_barrier_wait(&g_done);
    }
}

static double timed(const gemm_isa *isa) {
    g_isa = isa;
    g_copy = (g_copy + 1) % COPIES;
    double t0 = now();
    pthread_barrier_wait(&g_start);
    pthread_barrier_wait(&g_done);
    return 2.0 * M * N * K / (now() - t0) * 1e-9;
}

int main(int argc, char **argv) {
    g_threads = argc > 1 ? atoi(argv[1]) : 1;
    int rounds = argc > 2 ? atoi(argv[2]) : 40;
    if (g_threads < 1 || g_threads > MAX_THREADS || rounds < 1 || rounds > 1000) {
        fprintf(stderr, "usage: kernel_ab THREADS(1-2) ROUNDS(1-1000)\n");
        return 2;
    }
    for (int i = 0; i < COPIES; i++) {
        g_w[i] = aligned_alloc(64, (size_t)N * K * sizeof(float));
        if (!g_w[i]) return 1;
        for (size_t j = 0; j < (size_t)N * K; j++) g_w[i][j] = 1e-3f * (float)((j + (size_t)i) % 11);
    }
    float *A = malloc((size_t)M * K * sizeof(float));
    if (!A) return 1;
    for (size_t j = 0; j < (size_t)M * K; j++) A[j] = 1e-2f * (float)(j % 13);
    worker w[MAX_THREADS];
    pthread_t tid[MAX_THREADS];
    pthread_barrier_init(&g_start, NULL, (unsigned)g_threads + 1);
    pthread_barrier_init(&g_done, NULL, (unsigned)g_threads + 1);
    for (int i = 0; i < g_threads; i++) {
        w[i].id = i;
        w[i].a = aligned_alloc(64, (size_t)(M + 13) * K * sizeof(float));
        w[i].b = aligned_alloc(64, (size_t)K * 32 * sizeof(float));
        w[i].c = aligned_alloc(64, (size_t)M * N * sizeof(float));
        if (!w[i].a || !w[i].b || !w[i].c) return 1;
        memset(w[i].c, 0, (size_t)M * N * sizeof(float));
        for (int p = 0; p < M; p += 14) kernel_ab_a.pack_a(K, A + (size_t)p * K, K, M - p < 14 ? M - p : 14, w[i].a + (size_t)p * K);
        pthread_create(&tid[i], NULL, worker_main, &w[i]);
    }
    double *ratio = malloc((size_t)rounds * 3 * sizeof(double)), *ga = ratio + rounds, *gb = ga + rounds;
    if (!ratio) return 1;
    timed(&kernel_ab_a); /* first touch of the buffers */
    for (int r = 0; r < rounds; r++) {
        double a0 = timed(&kernel_ab_a), b = timed(&kernel_ab_b), a1 = timed(&kernel_ab_a);
        ratio[r] = 2 * b / (a0 + a1);
        ga[r] = (a0 + a1) / 2;
        gb[r] = b;
    }
    qsort(ratio, (size_t)rounds, sizeof(double), cmp_double);
    qsort(ga, (size_t)rounds, sizeof(double), cmp_double);
    qsort(gb, (size_t)rounds, sizeof(double), cmp_double);
    printf("%d thread(s), %d rounds: B/A median %.3f (quartiles %.3f %.3f); A %.1f GFLOP/s, B %.1f GFLOP/s (medians)\n",
           g_threads, rounds, ratio[rounds / 2], ratio[rounds / 4], ratio[rounds * 3 / 4], ga[rounds / 2], gb[rounds / 2]);
    g_stop = 1;
    pthread_barrier_wait(&g_start);
    for (int i = 0; i < g_threads; i++) pthread_join(tid[i], NULL);
    return 0;
}
