/* linear_probe.h — `eva finetune --linear-probe` (spec §6, last column): a frozen pre-trained trunk,
 * features = the cls token after the final LayerNorm, BatchNorm1d without affine (eps 1e-6,
 * momentum 0.1, as MAE's linear probe), then a Linear head (trunc-normal std 0.01, bias 0) trained
 * with LARS (momentum 0.9, trust coefficient 1e-3, no weight decay; 1-D tensors skip the trust
 * ratio) or SGD + momentum, warm-up + cosine per step, plain cross-entropy.
 *
 * The trunk is frozen, so it runs once per image: features of the training (and validation)
 * images, with the model's own evaluation transform (no RandomResizedCrop / flip: one pass instead
 * of one per epoch), are cached in memory and the head trains on them for many epochs.
 * The result folds BatchNorm's running statistics into the head (W' = W / sqrt(var + eps),
 * b' = b - W' mean) and is saved with the trunk and final norm as a "cls_classifier" model that
 * eva eval / eva classify run directly. */
#ifndef EVA_TRAIN_LINEAR_PROBE_H
#define EVA_TRAIN_LINEAR_PROBE_H

#include "train/finetune_run.h"

/* spec: lr 1.0 (LARS) for the 224 px EVA-CLIP probe (total batch 16000). The default reads it as
 * a base lr for batch 256, scaled linearly as MAE's linear probe does (lr = blr x batch / 256),
 * not as the lr at batch 16000: LARS moves each weight by ~lr x 1e-3 of its norm per step, so
 * the head's total movement is ~lr x steps, and 1.0 x 256/16000 = 0.016 over 90 epochs of a
 * small dataset (Fashion-MNIST: 21k steps vs ImageNet's 7.2k at lr 1.0) barely trains (measured:
 * see the report in scripts/train-fmnist.sh). */
#define EVA_PROBE_SPEC_LR 1.0
#define EVA_PROBE_SPEC_BATCH 256
#define EVA_PROBE_BN_EPS 1e-6

/* Defaults of the probe recipe on top of the fine-tuning ones: 90 epochs, 10 warm-up, wd 0,
 * batch 256, min lr 0, lr from the batch (above). */
void eva_linear_probe_defaults(eva_finetune_config *c, bool lr_set, bool epochs_set, bool warmup_set, bool wd_set,
                               bool batch_set, bool min_lr_set);

/* Runs the probe; writes RUN/metrics.jsonl (one line per epoch) and RUN/model.safetensors. */
eva_status eva_linear_probe_run(const eva_finetune_config *cfg, eva_train_progress_fn fn, void *user);

/* ---- pieces, exposed for tests */
/* BatchNorm1d (no affine) in training mode over x [B, D]: xn = (x - mean_B) / sqrt(var_B + eps)
 * (biased variance); running stats <- (1 - mom) running + mom batch (unbiased variance). */
void eva_bn_train(const float *x, int B, int D, double eps, double momentum, float *run_mean, float *run_var, float *xn);
/* Fold eval-mode BN into the head: W [C, D], b [C] -> W' = W / sqrt(var + eps), b' = b - W' mean. */
void eva_bn_fold(const float *W, const float *b, const float *mean, const float *var, double eps, int C, int D,
                 float *W_out, float *b_out);
/* One LARS step (MAE util/lars.py): for a tensor with ndim > 1, g += wd p and g *= trust ||p|| /
 * ||g|| (when both norms are > 0); then mu = momentum mu + g; p -= lr mu. sgd: no trust ratio for
 * any tensor (torch SGD with momentum and weight decay). n elements. */
void eva_lars_update(float *p, const float *g, float *mu, int64_t n, bool matrix, bool sgd, double lr, double wd,
                     double momentum, double trust);

#endif
