/* attention.c — softmax self-attention over qkv [B, N, 3D] -> out [B, N, D], H heads. */
#include "ops/ops.h"

#include <math.h>
#include <stdlib.h>

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

/* Streaming version. Tile: QB query rows x KB keys. Per tile: S = Qs K^T (K block transposed
 * once into kt[hd][KB] so the inner loop runs over keys contiguously), online softmax update of
 * (row max m, row sum l), acc += P V. Scratch per thread lives on the stack-sized buffers below. */
enum { QB = 32, KB = 64, MAX_HD = 256 };

typedef struct {
    const float *qkv;
    float *out;
    int B, N, D, H, hd, q_blocks;
    float scale;
} attn_job;

static void attn_task(void *ctx, int task, int thread) {
    (void)thread;
    const attn_job *j = ctx;
    int qb = task % j->q_blocks, bh = task / j->q_blocks;
    int h = bh % j->H, b = bh / j->H;
    int hd = j->hd, N = j->N, D = j->D;
    size_t row = (size_t)3 * D;
    const float *base = j->qkv + (size_t)b * N * row;
    int i0 = qb * QB, ni = EVA_MIN(QB, N - i0);

    float q[QB][MAX_HD], acc[QB][MAX_HD];
    float kt[MAX_HD][KB];
    float s[QB][KB];
    float m[QB], l[QB];
    for (int i = 0; i < ni; i++) {
        const float *qi = base + (size_t)(i0 + i) * row + (size_t)h * hd;
        for (int d = 0; d < hd; d++) {
            q[i][d] = qi[d] * j->scale;
            acc[i][d] = 0;
        }
        m[i] = -INFINITY;
        l[i] = 0;
    }
    for (int k0 = 0; k0 < N; k0 += KB) {
        int nk = EVA_MIN(KB, N - k0);
        for (int kk = 0; kk < nk; kk++) {
            const float *kr = base + (size_t)(k0 + kk) * row + D + (size_t)h * hd;
            for (int d = 0; d < hd; d++) kt[d][kk] = kr[d];
        }
        for (int i = 0; i < ni; i++) {
            float *si = s[i];
            for (int kk = 0; kk < KB; kk++) si[kk] = 0;
            for (int d = 0; d < hd; d++) {
                float qd = q[i][d];
                const float *kd = kt[d];
                for (int kk = 0; kk < KB; kk++) si[kk] += qd * kd[kk];
            }
            float mx = m[i];
            for (int kk = 0; kk < nk; kk++) mx = si[kk] > mx ? si[kk] : mx;
            float alpha = expf(m[i] - mx);   /* exp(-inf) = 0 on the first block */
            float sum = 0;
            for (int kk = 0; kk < nk; kk++) {
                si[kk] = expf(si[kk] - mx);
                sum += si[kk];
            }
            l[i] = l[i] * alpha + sum;
            m[i] = mx;
            float *ai = acc[i];
            for (int d = 0; d < hd; d++) ai[d] *= alpha;
            for (int kk = 0; kk < nk; kk++) {
                const float *vr = base + (size_t)(k0 + kk) * row + 2 * (size_t)D + (size_t)h * hd;
                float p = si[kk];
                for (int d = 0; d < hd; d++) ai[d] += p * vr[d];
            }
        }
    }
    for (int i = 0; i < ni; i++) {
        float *o = j->out + ((size_t)b * N + i0 + i) * D + (size_t)h * hd;
        float inv = 1.0f / l[i];
        for (int d = 0; d < hd; d++) o[d] = acc[i][d] * inv;
    }
}

void eva_attention(eva_pool *pool, const float *qkv, float *out, int B, int N, int D, int H) {
    int hd = D / H;
    if (hd > MAX_HD) {
        eva_attention_ref(qkv, out, B, N, D, H);
        return;
    }
    attn_job j = {qkv, out, B, N, D, H, hd, (N + QB - 1) / QB, 1.0f / sqrtf((float)hd)};
    eva_pool_run(pool, B * H * j.q_blocks, attn_task, &j);
}
