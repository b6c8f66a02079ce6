/* attention_bench.c — GFLOP/s of the inference attention (eva_attention) on the EVA-giant shapes
 * (D 1408, 16 heads of hd 88; N = 257 / 577 / 1601 tokens at 224 / 336 / 560 px, and batch 8 at
 * 224) plus a hd-64 shape (ViT-B, 197 tokens), per kernel and thread count. FLOPs = 4·B·N²·D
 * (q·k^T and P·V, 2 per multiply-add). Kernels are chosen with EVA_ATTENTION: generic (baseline
 * ISA tile), tile (the same tile auto-vectorised for AVX-512), auto (hand-vectorised AVX-512).
 * Usage: attention_bench [reps] [threads] [kernel]   (threads 0 = 1 and 2; kernel: only that one)
 * Build: cc -O2 -Iinclude -Isrc bench/attention_bench.c build-attn/libeva.a -lpthread -lm */
#include "ops/ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Process CPU time: on a shared machine wall time also counts other people's jobs. */
static double cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 3, only_threads = argc > 2 ? atoi(argv[2]) : 0;
    const char *only_kernel = argc > 3 ? argv[3] : NULL;
    if (reps < 1) reps = 1;
    static const int shapes[][4] = {   /* B, N, D, H */
        {1, 257, 1408, 16}, {1, 577, 1408, 16}, {1, 1601, 1408, 16}, {8, 257, 1408, 16}, {1, 197, 768, 12},
    };
    static const char *kernels[] = {"generic", "tile", "auto"};
    eva_rng rng = eva_rng_make(3, 0);
    for (int threads = 1; threads <= 2; threads++) {
        if (only_threads && threads != only_threads) continue;
        eva_pool *pool = NULL;
        if (eva_pool_create(threads, &pool) != EVA_OK) return 1;
        for (size_t s = 0; s < EVA_ARRAY_LEN(shapes); s++) {
            int B = shapes[s][0], N = shapes[s][1], D = shapes[s][2], H = shapes[s][3];
            size_t nq = (size_t)B * N * 3 * D, no = (size_t)B * N * D;
            float *qkv = malloc(nq * sizeof(float)), *out = malloc(no * sizeof(float));
            if (!qkv || !out) return 1;
            for (size_t i = 0; i < nq; i++) qkv[i] = (float)eva_rng_uniform(&rng) * 2 - 1;
            double flop = 4.0 * B * (double)N * N * D;
            for (size_t k = 0; k < EVA_ARRAY_LEN(kernels); k++) {
                if (only_kernel && strcmp(only_kernel, kernels[k])) continue;
                setenv("EVA_ATTENTION", kernels[k], 1);
                eva_attention(pool, qkv, out, B, N, D, H);   /* warm-up */
                double best = 1e30, best_cpu = 1e30;
                for (int r = 0; r < reps; r++) {
                    double t0 = eva_now_seconds(), c0 = cpu_seconds();
                    eva_attention(pool, qkv, out, B, N, D, H);
                    double dt = eva_now_seconds() - t0, dc = (cpu_seconds() - c0) / threads;
                    if (dt < best) best = dt;
                    if (dc < best_cpu) best_cpu = dc;
                }
                printf("threads=%d B=%d N=%4d D=%4d H=%2d hd=%3d %-8s best %8.2f ms %6.1f GFLOP/s  per-core-cpu %6.1f"
                       " GFLOP/s\n",
                       threads, B, N, D, H, D / H, kernels[k], best * 1e3, flop / best * 1e-9,
                       flop / best_cpu * 1e-9 / threads);
                fflush(stdout);
            }
            free(qkv);
            free(out);
        }
        eva_pool_free(pool);
    }
    unsetenv("EVA_ATTENTION");
    return 0;
}
