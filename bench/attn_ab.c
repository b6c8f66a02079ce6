/* attn_ab.c — A/B of two builds of the AVX-512 attention forward inside one process.
 * Shapes: qkv [1, N, 3·1408] -> out [1, N, 1408], 16 heads of hd 88 (EVA-g), N = 257 / 577 / 1601
 * (224 / 336 / 560 px). Variant A, variant B and A again run back to back and each round scores
 * B / mean(A before, A after) in GFLOP/s; the median over rounds is the figure (this VM's speed
 * drifts too much between separate runs to resolve a few %). Built by bench/attn_ab, which
 * compiles two versions of src/ops/attention_fwd_avx512.c as attn_ab_a / attn_ab_b.
 * Usage: attn_ab THREADS ROUNDS */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c17 */
#include "ops/ops.h"
#include "ab_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef void attn_fn(eva_pool *, const float *, float *, float *, int, int, int, int, bool);
attn_fn attn_ab_a, attn_ab_b;

/* GFLOP/s of `reps` calls (~20 ms in all) */
static double rate(attn_fn *f, eva_pool *pool, const float *qkv, float *out, int N, int reps) {
    double t0 = now();
    for (int r = 0; r < reps; r++) f(pool, qkv, out, NULL, 1, N, 1408, 16, true);
    return 4.0 * N * N * 1408 * reps / (now() - t0) * 1e-9;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2, rounds = argc > 2 ? atoi(argv[2]) : 40;
    if (threads < 1 || rounds < 1) return 2;
    eva_pool *pool = NULL;
    if (eva_pool_create(threads, &pool) != EVA_OK) return 1;
    static const int Ns[] = {257, 577, 1601};
    eva_rng rng = eva_rng_make(5, 0);
    for (size_t s = 0; s < EVA_ARRAY_LEN(Ns); s++) {
        int N = Ns[s], reps = EVA_MAX(1, (int)(0.02 * 150e9 * threads / (4.0 * N * N * 1408)));
        /* one block of >= 8 MB, as the forward's activation arena: eva_aligned_alloc asks for huge
           pages there (qkv rows are 16.9 KB apart, a TLB miss each with 4 KB pages) */
        size_t nq = (size_t)N * 3 * 1408, no = (size_t)N * 1408;
        float *qkv = eva_aligned_alloc(sizeof(float) * EVA_MAX(nq + no, (size_t)2 << 20)), *out = qkv ? qkv + nq : NULL;
        double *ratio = malloc(sizeof(double) * (size_t)rounds), *ga = malloc(sizeof(double) * (size_t)rounds);
        if (!qkv || !out || !ratio || !ga) return 1;
        for (size_t i = 0; i < nq; i++) qkv[i] = 2 * eva_rng_uniform(&rng) - 1;
        rate(attn_ab_a, pool, qkv, out, N, reps), rate(attn_ab_b, pool, qkv, out, N, reps);   /* warm-up */
        for (int r = 0; r < rounds; r++) {
            double a0 = rate(attn_ab_a, pool, qkv, out, N, reps), b = rate(attn_ab_b, pool, qkv, out, N, reps);
            double a1 = rate(attn_ab_a, pool, qkv, out, N, reps);
            ratio[r] = b / (0.5 * (a0 + a1)), ga[r] = 0.5 * (a0 + a1);
        }
        qsort(ratio, (size_t)rounds, sizeof(double), cmp_double);
        qsort(ga, (size_t)rounds, sizeof(double), cmp_double);
        printf("threads=%d N=%4d  A median %6.1f GFLOP/s  B/A median %.3f  (quartiles %.3f %.3f)\n", threads, N,
               ga[rounds / 2], ratio[rounds / 2], ratio[rounds / 4], ratio[3 * rounds / 4]);
        eva_aligned_free(qkv), free(ratio), free(ga);
    }
    eva_pool_free(pool);
    return 0;
}
