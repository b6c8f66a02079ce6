/* gemm_bench.c — GFLOP/s of eva_gemm on the EVA-giant linear-layer shapes (batch 1 and 8),
 * 1 and 2 threads. Weights rotate through enough distinct copies (>= 512 MB) that every call
 * reads W from DRAM as the real forward pass does (the giant model's 4 GB of weights never sit
 * in cache); pass "hot" to reuse one copy instead.
 * Usage: gemm_bench [hot|cold] [reps] [panels]     (panels: W pre-packed as weight panels,
 * eva_gemm_panels, as in a file converted with --layout panels; EVA_GEMM=ref|avx2|avx512 forces a kernel, EVA_HUGEPAGES=0 turns
 * the huge-page advice off, EVA_GEMM_KC=N forces the K block) */
#include "ops/gemm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Process CPU time: on a shared machine wall time also counts other people's jobs; CPU time per
 * thread shows what the kernel itself achieves (spin-waiting in the pool counts against us). */
static double cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    bool hot = argc > 1 && !strcmp(argv[1], "hot");
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    bool panels = argc > 3 && !strcmp(argv[3], "panels");
    if (reps < 1) reps = 1;
    static const int shapes[][3] = {
        {257, 4224, 1408}, {257, 1408, 1408}, {257, 6144, 1408}, {257, 1408, 6144},
        {2056, 4224, 1408}, {2056, 1408, 1408}, {2056, 6144, 1408}, {2056, 1408, 6144},
    };
    printf("kernel %s, weights %s%s\n", eva_gemm_kernel_name(), hot ? "hot (one copy)" : "cold (rotating copies)",
           panels ? ", pre-packed panels" : "");
    eva_rng rng = eva_rng_make(7, 0);
    for (int threads = 1; threads <= 2; threads++) {
        eva_pool *pool = NULL;
        if (eva_pool_create(threads, &pool) != EVA_OK) return 1;
        for (size_t s = 0; s < EVA_ARRAY_LEN(shapes); s++) {
            int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
            size_t wn = panels ? eva_panels_floats(N, K) : (size_t)N * K;
            int copies = hot ? 1 : (int)((512u << 20) / (wn * sizeof(float))) + 1;
            float *A = malloc((size_t)M * K * sizeof(float)), *C = malloc((size_t)M * N * sizeof(float));
            /* the library's allocator: 2 MB aligned and huge-page advised, like loaded weights */
            float *W = eva_aligned_alloc(wn * copies * sizeof(float)), *bias = malloc((size_t)N * sizeof(float));
            for (size_t i = 0; i < (size_t)M * K; i++) A[i] = (float)eva_rng_uniform(&rng) - 0.5f;
            if (panels) {
                float *tmp = malloc((size_t)N * K * sizeof(float));
                for (size_t i = 0; i < (size_t)N * K; i++) tmp[i] = (float)eva_rng_uniform(&rng) - 0.5f;
                eva_pack_panels(N, K, tmp, K, W);
                free(tmp);
            } else {
                for (size_t i = 0; i < wn; i++) W[i] = (float)eva_rng_uniform(&rng) - 0.5f;
            }
            for (int c = 1; c < copies; c++) memcpy(W + (size_t)c * wn, W, wn * sizeof(float));
            for (int i = 0; i < N; i++) bias[i] = 0.1f;
            double flop = 2.0 * M * N * K;
            for (int epi = 0; epi < 2; epi++) {
#define RUN(w) (panels ? eva_gemm_panels(pool, M, N, K, A, K, (w), bias, C, N, (eva_gemm_epilogue)epi) \
                       : eva_gemm(pool, M, N, K, A, K, (w), K, bias, C, N, (eva_gemm_epilogue)epi))
                RUN(W); /* warm-up */
                double best = 1e30, total = 0, best_cpu = 1e30;
                int calls = reps * copies > 2 * reps ? reps * EVA_MIN(copies, 8) : reps;
                for (int r = 0; r < calls; r++) {
                    double t0 = eva_now_seconds(), c0 = cpu_seconds();
                    RUN(W + (size_t)(r % copies) * wn);
                    double dt = eva_now_seconds() - t0, dc = (cpu_seconds() - c0) / threads;
                    if (dc < best_cpu) best_cpu = dc;
                    total += dt;
                    if (dt < best) best = dt;
                }
                printf("threads=%d M=%4d N=%4d K=%4d %-5s  best %7.2f ms %6.1f GFLOP/s  mean %6.1f GFLOP/s"
                       "  per-core-cpu %6.1f GFLOP/s\n",
                       threads, M, N, K, epi ? "gelu" : "store", best * 1e3, flop / best * 1e-9,
                       flop / (total / calls) * 1e-9, flop / best_cpu / threads * 1e-9);
                fflush(stdout);
            }
            free(A); free(C); eva_aligned_free(W); free(bias);
        }
        eva_pool_free(pool);
    }
    return 0;
}
