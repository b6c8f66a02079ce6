/* clip_text.h — the CLIP text tower of EVA-CLIP (open_clip TextTransformer, internal).
 *
 * Shapes: V vocabulary (49408), P context (77), W width, L layers, H heads (hd = W/H, 64 by
 * default), F MLP hidden (4W), E joint embedding width. Per text (ids [P], padding 0):
 *
 *   x = token_embedding[ids] + positional_embedding                     x: [P, W]
 *   per block: x += out_proj(causal_attn(in_proj(LN1 x)));  x += c_proj(gelu(c_fc(LN2 x)))
 *   raw = LN_final(x)[argmax ids] @ text_projection                      raw: [E]
 *
 * LayerNorm eps 1e-5, exact erf GELU. Only positions 0..argmax(ids) are computed (causal:
 * later positions cannot influence the pooled one); `full` computes all P (tests, debug). */
#ifndef EVA_MODELS_CLIP_TEXT_H
#define EVA_MODELS_CLIP_TEXT_H

#include "base/base.h"
#include "io/tensor_map.h"

typedef struct eva_clip_text_block {
    const float *ln1_w, *ln1_b;
    const float *in_w, *in_b;       /* [3W, W] rows q | k | v, [3W] */
    const float *out_w, *out_b;     /* [W, W], [W] */
    const float *ln2_w, *ln2_b;
    const float *fc_w, *fc_b;       /* [F, W], [F] */
    const float *proj_w, *proj_b;   /* [W, F], [W] */
} eva_clip_text_block;

typedef struct eva_clip_text {
    int vocab, context, width, layers, heads, mlp, embed_dim;
    float ln_eps;
    /* token embedding kept in the file's dtype (rows gathered and converted on use) */
    const void *tok_emb;
    eva_dtype tok_dtype;
    const float *pos_emb;           /* [P, W] */
    const float *lnf_w, *lnf_b;
    const float *proj;              /* [W, E], used as x @ proj */
    eva_clip_text_block *blocks;
    void **owned;                   /* converted tensors */
    int n_owned, cap_owned;
    int64_t n_params;
} eva_clip_text;

/* Bind the tower from names under `prefix` ("text.", "module.text.", ...). heads: 0 -> W/64.
 * The map must outlive the tower (weights are views where the file holds F32). */
eva_status eva_clip_text_bind(eva_clip_text *t, const eva_tensor_map *map, const char *prefix, int heads);
void eva_clip_text_free(eva_clip_text *t);

/* Build a tower with synthetic weights (benchmarks): N(0, 0.02) style values from the RNG. */
eva_status eva_clip_text_synthetic(eva_clip_text *t, int width, int layers, int heads, int embed_dim, uint64_t seed);

/* ids [n, ctx] (ctx <= context), any ids in [0, vocab). raw_out [n, E] unnormalised features.
 * tokens_out (optional, needs full): [n, ctx, W] tokens after ln_final. reference: plain kernels.
 * Work is done in chunks of texts so activation memory stays bounded. */
eva_status eva_clip_text_forward(const eva_clip_text *t, eva_pool *pool, const int32_t *ids, int n, int ctx,
                                 bool full, bool reference, float *raw_out, float *tokens_out);

#endif
