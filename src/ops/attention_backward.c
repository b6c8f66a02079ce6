/* attention_backward.c — softmax self-attention for training: forward that also returns the
 * per-row log-sum-exp, and the FlashAttention-2 style backward that recomputes the softmax
 * from it. Shapes: qkv, dqkv [B,N,3D]; out, dout [B,N,D]; lse [B,H,N]; hd = D/H;
 * scale = hd^-1/2; s_ij = (scale q_i)·k_j; p_ij = exp(s_ij - lse_i). */
#include "ops/attention_fast.h"
#include "ops/attention_train_tile.h"

/* ---------------------------------------------------------------- reference */

void eva_attention_fwd_ref(const float *qkv, float *out, float *lse, int B, int N, int D, int H) {
    int hd = D / H;
    float scale = 1.0f / sqrtf((float)hd);
    float *s = malloc(sizeof(float) * (size_t)N);
    if (!s) return;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < N; i++) {
                const float *qi = qkv + ROW(b, i) + (size_t)h * hd;
                float mx = -INFINITY;
                for (int j = 0; j < N; j++) {
                    const float *kj = qkv + ROW(b, j) + D + (size_t)h * hd;
                    float acc = 0;
                    for (int d = 0; d < hd; d++) acc += (qi[d] * scale) * kj[d];
                    s[j] = acc;
                    mx = acc > mx ? acc : mx;
                }
                float sum = 0;
                for (int j = 0; j < N; j++) {
                    s[j] = expf(s[j] - mx);
                    sum += s[j];
                }
                float *o = out + ((size_t)b * N + i) * D + (size_t)h * hd;
                for (int d = 0; d < hd; d++) o[d] = 0;
                for (int j = 0; j < N; j++) {
                    const float *vj = qkv + ROW(b, j) + 2 * (size_t)D + (size_t)h * hd;
                    float p = s[j] / sum;
                    for (int d = 0; d < hd; d++) o[d] += p * vj[d];
                }
                lse[((size_t)b * H + h) * N + i] = mx + logf(sum);
            }
    free(s);
}

void eva_attention_backward_ref(const float *qkv, const float *out, const float *lse, const float *dout, float *dqkv,
                                int B, int N, int D, int H) {
    int hd = D / H;
    float scale = 1.0f / sqrtf((float)hd);
    memset(dqkv, 0, sizeof(float) * (size_t)B * N * 3 * D);
    float *p = malloc(sizeof(float) * (size_t)N);
    if (!p) return;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < N; i++) {
                const float *qi = qkv + ROW(b, i) + (size_t)h * hd;
                const float *oi = out + ((size_t)b * N + i) * D + (size_t)h * hd;
                const float *doi = dout + ((size_t)b * N + i) * D + (size_t)h * hd;
                float *dqi = dqkv + ROW(b, i) + (size_t)h * hd;
                float L = lse[((size_t)b * H + h) * N + i];
                float delta = 0;
                for (int d = 0; d < hd; d++) delta += doi[d] * oi[d];
                for (int j = 0; j < N; j++) {
                    const float *kj = qkv + ROW(b, j) + D + (size_t)h * hd;
                    const float *vj = kj + D;
                    float *dkj = dqkv + ROW(b, j) + D + (size_t)h * hd;
                    float *dvj = dkj + D;
                    float sv = 0, dp = 0;
                    for (int d = 0; d < hd; d++) {
                        sv += (qi[d] * scale) * kj[d];
                        dp += doi[d] * vj[d];
                    }
                    float pj = expf(sv - L);
                    float ds = pj * (dp - delta);
                    for (int d = 0; d < hd; d++) {
                        dqi[d] += scale * ds * kj[d];
                        dkj[d] += ds * (qi[d] * scale);
                        dvj[d] += pj * doi[d];
                    }
                }
            }
    free(p);
}

/* ---------------------------------------------------------------- streaming (tiles in
 * attention_train_tile.h), AVX-512 build of the same tiles when the CPU has it */

void eva_attention_train_fwd_avx512(const attn_job *j, int task);
void eva_attention_train_bwd_avx512(const attn_job *j, int task);

static bool use_avx512(void) {
    const char *force = getenv("EVA_ATTENTION");
    return eva_cpu_avx512() && !(force && !strcmp(force, "generic"));
}

static void fwd_task(void *ctx, int task, int thread) {
    (void)thread;
    train_fwd_tile(ctx, task);
}
static void bwd_task(void *ctx, int task, int thread) {
    (void)thread;
    train_bwd_tile(ctx, task);
}
#if defined(__x86_64__)
static void fwd_task_avx512(void *ctx, int task, int thread) {
    (void)thread;
    eva_attention_train_fwd_avx512(ctx, task);
}
static void bwd_task_avx512(void *ctx, int task, int thread) {
    (void)thread;
    eva_attention_train_bwd_avx512(ctx, task);
}
#endif

void eva_attention_fwd(eva_pool *pool, const float *qkv, float *out, float *lse, int B, int N, int D, int H) {
    attn_job j = {.qkv = qkv, .o = out, .l = lse, .B = B, .N = N, .D = D, .H = H, .hd = D / H,
                  .q_blocks = (N + QB - 1) / QB, .scale = 1.0f / sqrtf((float)(D / H))};
    #if defined(__x86_64__)
    if (use_avx512()) {
        /* the hand-vectorised inference kernel also writes lse; EVA_ATTENTION=tile keeps the
         * auto-vectorised training tile (comparison point) */
        const char *force = getenv("EVA_ATTENTION");
        if (j.hd <= EVA_ATTN_FAST_MAX_HD && !(force && !strcmp(force, "tile"))) {
            eva_attention_fwd_avx512(pool, qkv, out, lse, B, N, D, H);
            return;
        }
        eva_pool_run(pool, B * H * j.q_blocks, fwd_task_avx512, &j);
        return;
    }
#endif
    eva_pool_run(pool, B * H * j.q_blocks, fwd_task, &j);
}

void eva_attention_backward(eva_pool *pool, const float *qkv, const float *out, const float *lse, const float *dout,
                            float *dqkv, int B, int N, int D, int H) {
    attn_job j = {.qkv = qkv, .out = out, .lse = lse, .dout = dout, .dqkv = dqkv, .B = B, .N = N, .D = D, .H = H,
                  .hd = D / H, .q_blocks = (N + QB - 1) / QB, .scale = 1.0f / sqrtf((float)(D / H))};
    #if defined(__x86_64__)
    if (use_avx512()) {
        eva_pool_run(pool, B * H, bwd_task_avx512, &j);
        return;
    }
#endif
    eva_pool_run(pool, B * H, bwd_task, &j);
}
