/* finetune.h — the data side of EVA-01 fine-tuning (timm 0.5.4 semantics): soft targets with
 * label smoothing, CutMix / Mixup on a batch (partner = reversed batch), and the Beta draw. */
#ifndef EVA_TRAIN_FINETUNE_H
#define EVA_TRAIN_FINETUNE_H

#include "base/base.h"

/* targets [B, C]: lam * smooth(label_b) + (1 - lam) * smooth(label_{B-1-b}), smooth(y) = (1 - s +
 * s/C) at y and s/C elsewhere. lam = 1: plain label smoothing. */
void eva_soft_targets(const int *labels, int B, int C, double smoothing, double lam, float *targets);
/* CutMix: rows y0..y1-1, columns x0..x1-1 of each image replaced by the reversed-batch partner's
 * (from the original batch). Returns the corrected lam = 1 - box area / S^2. images [B, Cin, S, S]. */
double eva_cutmix_apply(float *images, int B, int Cin, int S, int y0, int y1, int x0, int x1);
/* Mixup: images <- lam x + (1 - lam) x_partner. */
void eva_mixup_apply(float *images, int B, int Cin, int S, double lam);
/* timm rand_bbox for CutMix with the draws made by our RNG: lam0 ~ Beta(a, a), cut = int(S sqrt(1 -
 * lam0)), centre uniform, box clipped. */
void eva_cutmix_box(eva_rng *r, double alpha, int S, int *y0, int *y1, int *x0, int *x1);
double eva_rng_beta(eva_rng *r, double a, double b);

#endif
