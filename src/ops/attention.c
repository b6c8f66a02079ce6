/* attention.c — softmax self-attention over qkv [B, N, 3D] -> out [B, N, D], H heads. */
#include "ops/ops.h"

#include "ops/attention_fast.h"
#include "ops/attention_tile.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Reference: per (b, h, query i) an N-float logit row; obviously right, O(N) memory. */
void eva_attention_ref(const float *qkv, float *out, int B, int N, int D, int H) {
    int hd = D / H;
    float scale = 1.0f / sqrtf((float)hd);
    size_t row = (size_t)3 * D;
    float *logit = malloc(sizeof(float) * (size_t)N);
    float *q = malloc(sizeof(float) * (size_t)hd);
    if (!logit || !q) { free(logit); free(q); return; }
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < N; i++) {
                const float *qi = qkv + ((size_t)b * N + i) * row + (size_t)h * hd;
                for (int d = 0; d < hd; d++) q[d] = qi[d] * scale;
                float mx = -INFINITY;
                for (int j = 0; j < N; j++) {
                    const float *kj = qkv + ((size_t)b * N + j) * row + D + (size_t)h * hd;
                    float s = 0;
                    for (int d = 0; d < hd; d++) s += q[d] * kj[d];
                    logit[j] = s;
                    if (s > mx) mx = s;
                }
                float sum = 0;
                for (int j = 0; j < N; j++) {
                    logit[j] = expf(logit[j] - mx);
                    sum += logit[j];
                }
                float *o = out + ((size_t)b * N + i) * D + (size_t)h * hd;
                for (int d = 0; d < hd; d++) o[d] = 0;
                for (int j = 0; j < N; j++) {
                    const float *vj = qkv + ((size_t)b * N + j) * row + 2 * (size_t)D + (size_t)h * hd;
                    float p = logit[j] / sum;
                    for (int d = 0; d < hd; d++) o[d] += p * vj[d];
                }
            }
    free(logit);
    free(q);
}

/* Streaming version (FlashAttention style): tiles of queries x keys with an online softmax, no
 * N x N matrix. With AVX-512 the hand-vectorised kernel of attention_fwd_avx512.c runs; the
 * generic tile of attention_tile.h (baseline ISA, or its compiler-vectorised AVX-512 build) is
 * the fallback and the comparison point. EVA_ATTENTION selects one for tests and benchmarks:
 * "generic" (baseline tile), "tile" (auto-vectorised AVX-512 tile), unset/"auto" (fastest). */
void eva_attention_tile_avx512(const attn_job *j, int task);

static void attn_task(void *ctx, int task, int thread) {
    (void)thread;
    attention_tile(ctx, task);
}

static void attn_task_avx512(void *ctx, int task, int thread) {
    (void)thread;
    eva_attention_tile_avx512(ctx, task);
}

void eva_attention(eva_pool *pool, const float *qkv, float *out, int B, int N, int D, int H) {
    int hd = D / H;
    if (hd > MAX_HD) {
        eva_attention_ref(qkv, out, B, N, D, H);
        return;
    }
    const char *force = getenv("EVA_ATTENTION");
    bool use_avx512 = eva_cpu_avx512() && !(force && !strcmp(force, "generic"));
    if (use_avx512 && !(force && !strcmp(force, "tile"))) {
        eva_attention_fwd_avx512(pool, qkv, out, NULL, B, N, D, H);
        return;
    }
    attn_job j = {qkv, out, B, N, D, H, hd, (N + QB - 1) / QB, 1.0f / sqrtf((float)hd)};
    eva_pool_run(pool, B * H * j.q_blocks, use_avx512 ? attn_task_avx512 : attn_task, &j);
}
