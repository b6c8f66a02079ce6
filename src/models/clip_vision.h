/* clip_vision.h — the OpenAI / open_clip CLIP vision tower ("VisionTransformer" of CLIP's
 * model.py), used by EVA-01 pre-training as the MIM teacher (golden README-teacher-finetune §1).
 *
 * Shapes: B batch, S image side, P patch, G = S/P grid, T = G*G + 1 tokens (token 0 = class),
 * W width, H heads (W/64 as OpenAI's build_model), F = 4W MLP hidden, D output dim (proj [W, D]).
 *
 *   p = conv1(x) (kernel = stride = P, no bias)         -> [B, G*G, W]   (patch = row*G + col)
 *   t = [class_embedding | p] + positional_embedding    -> [B, T, W]
 *   t = LN(t; ln_pre)
 *   per block: t += out_proj(MHA(LN(t; ln_1)));  t += c_proj(QuickGELU(c_fc(LN(t; ln_2))))
 *   teacher features = LN(t[:, 1:]; ln_post) @ proj     -> [B, G*G, D]   (EVA-01's forward)
 *   image embed      = LN(t[:, 0];  ln_post) @ proj     -> [B, D]        (CLIP encode_image)
 *
 * All LayerNorms: eps 1e-5. QuickGELU u * sigmoid(1.702 u). Weights are converted to fp32 at load
 * (OpenAI files mix fp16 and fp32) and held in one allocation. */
#ifndef EVA_MODELS_CLIP_VISION_H
#define EVA_MODELS_CLIP_VISION_H

#include "base/base.h"

typedef struct eva_clip_vision_config {
    int width, layers, heads, patch, grid;   /* grid: side of the positional-embedding grid */
    int mlp_hidden, out_dim;
    bool layer_scale;                        /* open_clip ls_1.gamma / ls_2.gamma present */
    float ln_eps;
} eva_clip_vision_config;

typedef struct eva_clip_block {
    float *ln1_w, *ln1_b;
    float *in_w, *in_b;        /* [3W, W], [3W]: rows q | k | v */
    float *out_w, *out_b;      /* [W, W], [W] */
    float *ln2_w, *ln2_b;
    float *fc_w, *fc_b;        /* [F, W], [F] */
    float *cproj_w, *cproj_b;  /* [W, F], [W] */
    float *ls1, *ls2;          /* [W] layer-scale gammas, NULL when absent */
} eva_clip_block;

typedef struct eva_clip_vision {
    eva_clip_vision_config cfg;
    float *conv_w;             /* [W, 3*P*P] (conv1.weight [W, 3, P, P] flattened) */
    float *cls;                /* [W] */
    float *pos;                /* [G*G + 1, W] */
    float *ln_pre_w, *ln_pre_b, *ln_post_w, *ln_post_b;
    float *proj;               /* [W, D], used as x @ proj */
    eva_clip_block *blocks;    /* [layers] */
    float *storage;            /* the one allocation every pointer above points into */
    size_t n_params;
} eva_clip_vision;

/* Which tokens the forward returns (the "target layer and normalisation" of the teacher). */
typedef struct eva_clip_vision_select {
    int layer;                 /* blocks to run: 0 = output of ln_pre, k = after block k, -1 = all */
    bool ln_post;              /* apply ln_post */
    bool proj;                 /* apply @ proj (output dim D instead of W) */
    bool keep_cls;             /* include token 0 (features have T rows instead of G*G) */
    bool reference;            /* plain reference kernels (slow; for checking) */
} eva_clip_vision_select;

/* Allocate weights for cfg (values uninitialised; cfg.mlp_hidden/out_dim/grid must be set). */
eva_status eva_clip_vision_alloc(const eva_clip_vision_config *cfg, eva_clip_vision *out);
void eva_clip_vision_free(eva_clip_vision *m);

/* Load from a .safetensors / .pt file with OpenAI or open_clip names: the tower's tensors are
 * found under whatever prefix holds `conv1.weight` + `transformer.resblocks.0.*` ("visual.",
 * none, "model.visual.", "state_dict.visual.", ...; "visual." preferred). heads 0: width/64. */
eva_status eva_clip_vision_load(const char *path, int heads, eva_clip_vision *out);

/* Activation workspace, sized once per (B, S). */
typedef struct eva_clip_vision_work {
    eva_arena arena;
    int batch, size;
    float *cols, *x, *h, *qkv, *o, *f, *sel, *pos;
} eva_clip_vision_work;

void eva_clip_vision_work_free(eva_clip_vision_work *w);

/* Rows and width of one image's features for a selection at side S (0 if S is not valid). */
int eva_clip_vision_rows(const eva_clip_vision *m, int S, const eva_clip_vision_select *sel);
int eva_clip_vision_dim(const eva_clip_vision *m, const eva_clip_vision_select *sel);

/* images [B, 3, S, S] -> features [B, rows, dim] (may be NULL) and cls_embed [B, D] = LN(cls of
 * the last block; ln_post) @ proj (may be NULL; computed only when sel->layer is -1 or L). */
eva_status eva_clip_vision_forward(const eva_clip_vision *m, eva_clip_vision_work *w, eva_pool *pool,
                                   const float *images, int B, int S, const eva_clip_vision_select *sel,
                                   float *features, float *cls_embed);

/* QuickGELU u * sigmoid(1.702 u) in place over n values: the libm reference, the AVX-512
 * version (call only when eva_cpu_avx512()) and the threaded dispatcher that
 * picks the fastest available (within a few float ulps of the reference). */
void eva_quick_gelu_ref(float *x, size_t n);
void eva_quick_gelu_avx512(float *x, size_t n);
void eva_quick_gelu(eva_pool *pool, float *x, size_t n);

#endif
