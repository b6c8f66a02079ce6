/* patch.c — patch extraction so the patch-embedding conv (kernel = stride = P) is one GEMM. */
#include "ops/ops.h"

/* images [B, C, S, S] -> cols [B*G*G, C*P*P], G = S / P */
void eva_im2col_patches(const float *images, float *cols, int B, int C, int S, int P) {
    int G = S / P;
    size_t K = (size_t)C * P * P;
    for (int b = 0; b < B; b++)
        for (int r = 0; r < G; r++)
            for (int c = 0; c < G; c++) {
                float *dst = cols + ((size_t)b * G * G + (size_t)r * G + c) * K;
                for (int ch = 0; ch < C; ch++)
                    for (int i = 0; i < P; i++) {
                        const float *src = images + (((size_t)b * C + ch) * S + (size_t)r * P + i) * S + (size_t)c * P;
                        for (int j = 0; j < P; j++) *dst++ = src[j];
                    }
            }
}
