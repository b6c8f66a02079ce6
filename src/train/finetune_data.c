/* finetune_data.c — soft targets, CutMix and Mixup (timm 0.5.4 Mixup, mode 'batch'). */
#include "train/finetune.h"

#include <math.h>
#include <stdlib.h>

void eva_soft_targets(const int *labels, int B, int C, double smoothing, double lam, float *targets) {
    double off = smoothing / C, on = 1.0 - smoothing + off;
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            double t1 = c == labels[b] ? on : off, t2 = c == labels[B - 1 - b] ? on : off;
            targets[(size_t)b * C + c] = (float)(lam * t1 + (1.0 - lam) * t2);
        }
}

double eva_cutmix_apply(float *images, int B, int Cin, int S, int y0, int y1, int x0, int x1) {
    size_t per = (size_t)Cin * S * S;
    float *orig = malloc(sizeof(float) * per * (size_t)B);
    if (orig) {
        memcpy(orig, images, sizeof(float) * per * (size_t)B);
        for (int b = 0; b < B; b++)
            for (int ch = 0; ch < Cin; ch++)
                for (int y = y0; y < y1; y++)
                    memcpy(images + per * b + ((size_t)ch * S + y) * S + x0,
                           orig + per * (B - 1 - b) + ((size_t)ch * S + y) * S + x0, sizeof(float) * (size_t)(x1 - x0));
        free(orig);
    }
    return 1.0 - (double)(y1 - y0) * (x1 - x0) / ((double)S * S);
}

void eva_mixup_apply(float *images, int B, int Cin, int S, double lam) {
    size_t per = (size_t)Cin * S * S;
    float *orig = malloc(sizeof(float) * per * (size_t)B);
    if (!orig) return;
    memcpy(orig, images, sizeof(float) * per * (size_t)B);
    for (int b = 0; b < B; b++)
        for (size_t k = 0; k < per; k++)
            images[per * b + k] = (float)(lam * orig[per * b + k] + (1.0 - lam) * orig[per * (B - 1 - b) + k]);
    free(orig);
}

/* Marsaglia-Tsang gamma (shape a), with the a < 1 boost */
static double rng_gamma(eva_rng *r, double a) {
    if (a < 1) return rng_gamma(r, a + 1) * pow(eva_rng_uniform(r) + 1e-300, 1.0 / a);
    double d = a - 1.0 / 3, c = 1.0 / sqrt(9 * d);
    for (;;) {
        double x = eva_rng_normal(r), v = 1 + c * x;
        if (v <= 0) continue;
        v = v * v * v;
        double u = eva_rng_uniform(r);
        if (u < 1 - 0.0331 * x * x * x * x || log(u + 1e-300) < 0.5 * x * x + d * (1 - v + log(v))) return d * v;
    }
}

double eva_rng_beta(eva_rng *r, double a, double b) {
    double x = rng_gamma(r, a), y = rng_gamma(r, b);
    return x / (x + y);
}

void eva_cutmix_box(eva_rng *r, double alpha, int S, int *y0, int *y1, int *x0, int *x1) {
    double lam0 = eva_rng_beta(r, alpha, alpha);
    int cut = (int)(S * sqrt(1.0 - lam0));
    int cy = (int)eva_rng_below(r, S), cx = (int)eva_rng_below(r, S);
    *y0 = EVA_MAX(0, EVA_MIN(S, cy - cut / 2));
    *y1 = EVA_MAX(0, EVA_MIN(S, cy + cut / 2));
    *x0 = EVA_MAX(0, EVA_MIN(S, cx - cut / 2));
    *x1 = EVA_MAX(0, EVA_MIN(S, cx + cut / 2));
}
