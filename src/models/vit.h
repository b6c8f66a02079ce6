/* vit.h — the EVA ViT: configuration, bound weights and the forward pass (internal). */
#ifndef EVA_VIT_H
#define EVA_VIT_H

#include "base/base.h"
#include "io/tensor_map.h"
#include "models/registry.h"
#include "ops/gemm_lowp.h"

typedef struct eva_vit_config {
    char arch[64];
    char timm_name[64];
    int width, depth, heads, mlp, patch, img_size, in_chans;
    int num_classes, lm_dim;
    eva_pooling pooling;
    bool has_norm, has_fc_norm, has_head, has_mask_token, has_lm_head;
    bool cls_classifier;   /* CLS_NORM pooling whose head gives class logits (linear probe), not a CLIP projection */
    float ln_eps;
    float mean[3], std[3], crop_pct;
    int squash;
    char labels[32];
} eva_vit_config;

/* A big Linear weight [N, K] kept in low precision (model wdtype BF16 or Q8) or as fp32 weight
 * panels; unused for fp32 rows. */
typedef struct eva_lowp_linear {
    const float *panels;          /* F32 as weight panels (gemm.h; view into the file or owned), else NULL */
    const uint16_t *bf16;         /* BF16: [N, K] bf16 bits (view into the file or owned) */
    eva_q8_weight q8;             /* Q8: packed for the VNNI kernel (owned) */
} eva_lowp_linear;

typedef struct eva_block_weights {
    const float *norm1_w, *norm1_b;
    const float *qkv_w;           /* [3D, D] */
    const float *q_bias, *v_bias; /* [D] each */
    float *qkv_bias;              /* [3D] = [q_bias | 0 | v_bias], built at load */
    const float *proj_w, *proj_b; /* [D, D], [D] */
    const float *norm2_w, *norm2_b;
    const float *fc1_w, *fc1_b;   /* [F, D], [F] */
    const float *fc2_w, *fc2_b;   /* [D, F], [D] */
    /* wdtype BF16/Q8, or F32 panels: qkv_w, proj_w, fc1_w, fc2_w are NULL and these hold the weights */
    eva_lowp_linear qkv_lp, proj_lp, fc1_lp, fc2_lp;
} eva_block_weights;

struct eva_model {
    eva_vit_config cfg;
    const float *patch_w, *patch_b;   /* [D, C, P, P], [D] */
    const float *cls_token;           /* [D] */
    const float *pos_embed;           /* [1 + G*G, D] at cfg.img_size */
    const float *mask_token;          /* [D] (MIM) */
    const float *norm_w, *norm_b;     /* final norm over tokens */
    const float *fc_norm_w, *fc_norm_b;
    const float *head_w, *head_b;     /* [C, D], [C] */
    const float *lm_w, *lm_b;         /* [lm_dim, D], [lm_dim] */
    eva_block_weights *blocks;
    eva_dtype wdtype;                 /* compute dtype of the block matrices: F32, BF16 or Q8 */
    eva_tensor_map map;               /* backing file (views point into it) */
    float *owned;                     /* converted weights, qkv biases: one allocation */
    size_t owned_floats, owned_used;
    eva_posemb_method posemb;
    int64_t n_params;
    char source[256];
    char ckpt_prefix[128];            /* the state dict actually used, e.g. "model." */
};

/* Carve n floats from the model's single owned allocation. */
float *eva_model_take(eva_model *m, size_t n);

/* Bind weights from a tensor map (names under prefix), converting and resampling as needed. */
eva_status eva_vit_bind(eva_model *m, const eva_model_params *p);

/* Fill a model from the deterministic formula of golden README §7.1. */
eva_status eva_vit_build_synthetic(eva_model *m, const eva_arch *a, const eva_model_params *p);

/* FNV-1a name hash + splitmix value of the formula, exposed for tests. */
uint64_t eva_formula_hash(const char *name);
float eva_formula_value(uint64_t name_hash, uint64_t index, double offset, double scale);
/* input tensor of tag TAG ("tiny-public/224"...): x_i = (float)(2 u_i) */
void eva_formula_input(const char *tag, float *out, size_t n);

#endif
