/* attention_causal.c — causal self-attention over packed sequences (see attention_causal.h).
 * Shapes: S sequences, rows [offsets[s], offsets[s+1]), D width, H heads, hd = D/H. */
#include "ops/attention_causal.h"

#include <math.h>
#include <stdlib.h>

/* One (sequence, head): for every query i, logits over keys 0..i, softmax, weighted sum of v.
 * logit: scratch of at least L floats. Shared by the reference and the threaded version so the
 * two can only differ in scheduling. */
static void causal_one(const float *qkv, float *out, int r0, int L, int D, int hd, int h, float *logit) {
    float scale = 1.0f / sqrtf((float)hd);
    size_t row = (size_t)3 * D;
    for (int i = 0; i < L; i++) {
        const float *qi = qkv + (size_t)(r0 + i) * row + (size_t)h * hd;
        float mx = -INFINITY;
        for (int j = 0; j <= i; j++) {
            const float *kj = qkv + (size_t)(r0 + j) * row + D + (size_t)h * hd;
            float s = 0;
            for (int d = 0; d < hd; d++) s += (qi[d] * scale) * kj[d];
            logit[j] = s;
            if (s > mx) mx = s;
        }
        float sum = 0;
        for (int j = 0; j <= i; j++) {
            logit[j] = expf(logit[j] - mx);
            sum += logit[j];
        }
        float inv = 1.0f / sum;
        float *o = out + (size_t)(r0 + i) * D + (size_t)h * hd;
        for (int d = 0; d < hd; d++) o[d] = 0;
        for (int j = 0; j <= i; j++) {
            const float *vj = qkv + (size_t)(r0 + j) * row + 2 * (size_t)D + (size_t)h * hd;
            float p = logit[j] * inv;
            for (int d = 0; d < hd; d++) o[d] += p * vj[d];
        }
    }
}

bool eva_attention_causal_ref(const float *qkv, float *out, const int *offsets, int S, int D, int H) {
    int hd = D / H, max_len = 1;
    for (int s = 0; s < S; s++) max_len = EVA_MAX(max_len, offsets[s + 1] - offsets[s]);
    float *logit = malloc(sizeof(float) * (size_t)max_len);
    if (!logit) return false;
    for (int s = 0; s < S; s++)
        for (int h = 0; h < H; h++) causal_one(qkv, out, offsets[s], offsets[s + 1] - offsets[s], D, hd, h, logit);
    free(logit);
    return true;
}

enum { CAUSAL_MAX_LEN = 4096 };

typedef struct {
    const float *qkv;
    float *out;
    const int *offsets;
    int D, H, hd;
} causal_job;

static void causal_task(void *ctx, int task, int thread) {
    (void)thread;
    const causal_job *j = ctx;
    int s = task / j->H, h = task % j->H;
    float logit[CAUSAL_MAX_LEN];
    causal_one(j->qkv, j->out, j->offsets[s], j->offsets[s + 1] - j->offsets[s], j->D, j->hd, h, logit);
}

void eva_attention_causal(eva_pool *pool, const float *qkv, float *out, const int *offsets, int S, int D, int H) {
    int max_len = 0;
    for (int s = 0; s < S; s++) max_len = EVA_MAX(max_len, offsets[s + 1] - offsets[s]);
    if (!pool || max_len > CAUSAL_MAX_LEN || (size_t)S * H > (size_t)1 << 30) {
        if (!eva_attention_causal_ref(qkv, out, offsets, S, D, H)) {
            /* out of memory for an L-float row: compute with the stack row in chunks is not
             * possible for L > 4096; leave zeros so the caller's result is clearly wrong */
            for (int r = offsets[0]; r < offsets[S]; r++)
                for (int d = 0; d < D; d++) out[(size_t)r * D + d] = NAN;
        }
        return;
    }
    causal_job j = {qkv, out, offsets, D, H, D / H};
    eva_pool_run(pool, S * H, causal_task, &j);
}
