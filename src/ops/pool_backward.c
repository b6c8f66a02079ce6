/* pool_backward.c — mean pooling of the patch tokens (EVA fine-tuning head) and its backward.
 * Shapes: x, dx [B, N, D] (token 0 = cls, excluded); pooled, dpooled [B, D]. */
#include "ops/backward.h"

void eva_mean_pool_patches(const float *x, float *pooled, int B, int N, int D) {
    for (int b = 0; b < B; b++)
        for (int d = 0; d < D; d++) {
            double s = 0;
            for (int t = 1; t < N; t++) s += x[((size_t)b * N + t) * D + d];
            pooled[(size_t)b * D + d] = N > 1 ? (float)(s / (N - 1)) : 0.0f;
        }
}

void eva_mean_pool_patches_backward(const float *dpooled, float *dx, int B, int N, int D) {
    if (N <= 1) return;
    float inv = 1.0f / (float)(N - 1);
    for (int b = 0; b < B; b++)
        for (int t = 1; t < N; t++) {
            float *r = dx + ((size_t)b * N + t) * D;
            const float *g = dpooled + (size_t)b * D;
            for (int d = 0; d < D; d++) r[d] += g[d] * inv;
        }
}
