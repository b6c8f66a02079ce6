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
    float *scratch;      /* per thread: kt [hd, max_len] + logit [max_len] */
    size_t scratch_per_thread;
} causal_job;

/* Fast (sequence, head): K is transposed once into kt[d][j] so that the logit loop runs over
 * keys j (independent sums: vectorisable without reassociating anything) instead of a
 * horizontal dot product over d. Each logit still sums over d in order 0..hd-1 exactly as the
 * reference does, so the two agree to the last bit when the compiler does not contract to FMA. */
static void causal_task(void *ctx, int task, int thread) {
    const causal_job *j = ctx;
    int s = task / j->H, h = task % j->H, hd = j->hd, D = j->D;
    int r0 = j->offsets[s], L = j->offsets[s + 1] - r0;
    float *kt = j->scratch + (size_t)thread * j->scratch_per_thread, *logit = kt + (size_t)hd * L;
    size_t row = (size_t)3 * D;
    float scale = 1.0f / sqrtf((float)hd);
    for (int t = 0; t < L; t++) {
        const float *k = j->qkv + (size_t)(r0 + t) * row + D + (size_t)h * hd;
        for (int d = 0; d < hd; d++) kt[(size_t)d * L + t] = k[d];
    }
    for (int i = 0; i < L; i++) {
        const float *qi = j->qkv + (size_t)(r0 + i) * row + (size_t)h * hd;
        int n = i + 1;
        for (int t = 0; t < n; t++) logit[t] = 0;
        for (int d = 0; d < hd; d++) {
            float qd = qi[d] * scale;
            const float *kr = kt + (size_t)d * L;
            for (int t = 0; t < n; t++) logit[t] += qd * kr[t];
        }
        float mx = -INFINITY;
        for (int t = 0; t < n; t++) mx = logit[t] > mx ? logit[t] : mx;
        float sum = 0;
        for (int t = 0; t < n; t++) {
            logit[t] = expf(logit[t] - mx);
            sum += logit[t];
        }
        float inv = 1.0f / sum;
        float *o = j->out + (size_t)(r0 + i) * D + (size_t)h * hd;
        for (int d = 0; d < hd; d++) o[d] = 0;
        for (int t = 0; t < n; t++) {
            const float *v = j->qkv + (size_t)(r0 + t) * row + 2 * (size_t)D + (size_t)h * hd;
            float p = logit[t] * inv;
            for (int d = 0; d < hd; d++) o[d] += p * v[d];
        }
    }
}

void eva_attention_causal(eva_pool *pool, const float *qkv, float *out, const int *offsets, int S, int D, int H) {
    int max_len = 0, hd = D / H;
    for (int s = 0; s < S; s++) max_len = EVA_MAX(max_len, offsets[s + 1] - offsets[s]);
    size_t per = (size_t)(hd + 1) * (size_t)max_len + 16;
    int nt = pool ? eva_pool_threads(pool) : 1;
    float *scratch = (max_len <= CAUSAL_MAX_LEN) ? malloc(sizeof(float) * per * (size_t)nt) : NULL;
    if (!pool || !scratch) {
        /* no pool, an absurd length or no memory for the scratch: the reference (which needs
         * only one logit row); if even that fails, NaN so the result is visibly wrong */
        free(scratch);
        if (!eva_attention_causal_ref(qkv, out, offsets, S, D, H))
            for (int r = offsets[0]; r < offsets[S]; r++)
                for (int d = 0; d < D; d++) out[(size_t)r * D + d] = NAN;
        return;
    }
    causal_job j = {qkv, out, offsets, D, H, hd, scratch, per};
    eva_pool_run(pool, S * H, causal_task, &j);
    free(scratch);
}
