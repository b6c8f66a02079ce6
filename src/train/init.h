/* init.h — official EVA-01 weight initialisation, drawn with eva_rng (statistically equal to
 * the torch init, not bit-equal).
 *
 * modeling_pretrain.py (MIM student): trunc_normal_(std = 0.015) truncated at +-1 std
 * (EVA-01's wrapper passes a = -std, b = std) for every Linear / Conv2d weight, cls_token,
 * mask_token, pos_embed and lm_head.weight; biases, q_bias, v_bias 0; LayerNorm weight 1, bias 0;
 * then attn.proj.weight and mlp.fc2.weight of block i (0-based) divided by sqrt(2 (i + 1)).
 * Fine-tuning head (modeling_finetune.py): timm trunc_normal_(std 0.02, a = -2, b = 2 absolute),
 * then head.weight and head.bias multiplied by init_scale (0.001). */
#ifndef EVA_TRAIN_INIT_H
#define EVA_TRAIN_INIT_H

#include "train/optim.h"

/* Fill dst[n] with N(mean, std^2) truncated to [lo, hi] (absolute bounds), by rejection from
 * eva_rng_normal. EVA_ERR_INVALID_ARG if std <= 0, lo >= hi or the interval holds less than
 * 1e-3 of the mass (rejection would crawl). */
eva_status eva_trunc_normal_fill(float *dst, int64_t n, double mean, double std, double lo, double hi, eva_rng *rng);

typedef struct eva_init_config {
    double std;          /* 0.015 (pre-training) / 0.02 (fine-tuning) */
    double trunc_lo;     /* absolute bounds: -std, +std (EVA-01 pre-training) or -2, 2 (timm) */
    double trunc_hi;
    double head_scale;   /* head.weight / head.bias multiplied by this (fine-tuning 0.001) */
} eva_init_config;

eva_init_config eva_init_config_pretrain(void);    /* std 0.015, +-1 std, head scale 1 */
eva_init_config eva_init_config_finetune(void);    /* std 0.02, [-2, 2], head scale 0.001 */

/* Initialise every tensor of the list by its official name (see the rules above). Tensor j
 * draws from its own stream eva_rng_make(seed, j) so the result does not depend on order.
 * Unknown names: 1-D -> 0, otherwise trunc-normal (the _init_weights rule for Linear). */
eva_status eva_init_vit_params(const eva_param_ref *params, int n, const eva_init_config *cfg, uint64_t seed);

#endif
