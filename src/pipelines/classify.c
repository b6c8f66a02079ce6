/* classify.c — the everyday jobs on top of the forward pass: a model's own preprocessing,
 * top-k classification with softmax probabilities, and image embeddings (cls / mean / pre-logits
 * / tokens, after any block; L2-normalised projections for CLIP vision towers). */
#include "models/vit.h"

#include <math.h>
#include <stdlib.h>

eva_status eva_model_preprocess(const eva_model *m, const char *family, eva_preprocess_params *out) {
    if (!m || !out) return eva_fail(EVA_ERR_INVALID_ARG, "null argument");
    const eva_vit_config *c = &m->cfg;
    /* registry models carry a named preset (official EVA-01 or timm family) */
    if (eva_arch_find(c->arch) && eva_preprocess_preset_family(c->arch, family, out) == EVA_OK) {
        out->size = c->img_size;   /* the size the model was loaded for */
        return EVA_OK;
    }
    if (family && strcmp(family, "official") != 0 && strcmp(family, "timm") != 0)
        return eva_fail(EVA_ERR_INVALID_ARG, "unknown preprocessing family '%s' (official or timm)", family);
    memset(out, 0, sizeof *out);
    out->size = c->img_size;
    out->crop_pct = c->crop_pct > 0 ? c->crop_pct : 1.0f;
    out->squash = c->squash;
    memcpy(out->mean, c->mean, sizeof out->mean);
    memcpy(out->std, c->std, sizeof out->std);
    return EVA_OK;
}

eva_status eva_classify(eva_ctx *ctx, const float *images, int B, int k, eva_topk *out) {
    const eva_model *m = eva_ctx_model(ctx);
    if (!m || !images || !out || k <= 0) return eva_fail(EVA_ERR_INVALID_ARG, "eva_classify: bad arguments");
    int C = m->cfg.num_classes;
    if (!eva_model_is_classifier(m))
        return eva_fail(EVA_ERR_INVALID_ARG, "%s has no classifier head (use embeddings%s)", m->cfg.arch,
                        m->cfg.pooling == EVA_POOL_CLS_NORM ? " or zero-shot with a CLIP model" : "");
    if (k > C) k = C;
    float *logits = eva_malloc(sizeof(float) * (size_t)B * C);
    if (!logits) return EVA_ERR_NOMEM;
    eva_outputs o = {.logits = logits};
    eva_status st = eva_forward(ctx, images, B, 0, &o);
    for (int b = 0; b < B && st == EVA_OK; b++) {
        const float *l = logits + (size_t)b * C;
        double mx = -INFINITY, sum = 0;
        for (int c = 0; c < C; c++) mx = fmax(mx, l[c]);
        for (int c = 0; c < C; c++) sum += exp((double)l[c] - mx);
        /* top-k by repeated selection: k is small, C at most ~22k */
        for (int j = 0; j < k; j++) {
            int best = -1;
            for (int c = 0; c < C; c++) {
                bool taken = false;
                for (int t = 0; t < j && !taken; t++) taken = out[(size_t)b * k + t].index == c;
                if (!taken && (best < 0 || l[c] > l[best])) best = c;
            }
            eva_topk *r = &out[(size_t)b * k + j];
            r->index = best;
            r->logit = l[best];
            r->prob = (float)(exp((double)l[best] - mx) / sum);
        }
    }
    free(logits);
    return st;
}

int eva_embed_dim(const eva_model *m, eva_embed_pool pool, int block) {
    if (!m) return 0;
    const eva_vit_config *c = &m->cfg;
    switch (pool) {
    case EVA_EMBED_DEFAULT:
        return block < 0 && c->pooling == EVA_POOL_CLS_NORM && c->has_head && !c->cls_classifier ? c->num_classes : c->width;
    case EVA_EMBED_CLS:
    case EVA_EMBED_MEAN:
    case EVA_EMBED_PRELOGITS:
        return c->width;
    case EVA_EMBED_TOKENS:
        return eva_model_tokens(m, c->img_size) * c->width;
    }
    return 0;
}

eva_status eva_embed(eva_ctx *ctx, const float *images, int B, eva_embed_pool pool, int block, float *out) {
    const eva_model *m = eva_ctx_model(ctx);
    if (!m || !images || !out) return eva_fail(EVA_ERR_INVALID_ARG, "eva_embed: null argument");
    const eva_vit_config *c = &m->cfg;
    if (block >= c->depth) return eva_fail(EVA_ERR_INVALID_ARG, "block %d out of range (0..%d)", block, c->depth - 1);
    if (block >= 0 && pool == EVA_EMBED_PRELOGITS)
        return eva_fail(EVA_ERR_INVALID_ARG, "pre-logits exist only after the last block (use cls, mean or tokens with --block)");
    int D = c->width, N = eva_model_tokens(m, c->img_size);
    bool clip = pool == EVA_EMBED_DEFAULT && block < 0 && c->pooling == EVA_POOL_CLS_NORM && c->has_head && !c->cls_classifier;
    if (pool == EVA_EMBED_DEFAULT && !clip) pool = block < 0 ? EVA_EMBED_PRELOGITS : EVA_EMBED_CLS;
    float *tokens = NULL;
    eva_outputs o = {0};
    if (clip) {
        o.logits = out;
    } else if (pool == EVA_EMBED_PRELOGITS) {
        o.pre_logits = out;
    } else {
        tokens = eva_malloc(sizeof(float) * (size_t)B * N * D);
        if (!tokens) return EVA_ERR_NOMEM;
        if (block >= 0) {
            o.block_out = tokens;
            o.block_index = block;
        } else {
            o.tokens_final = tokens;
        }
    }
    eva_status st = eva_forward(ctx, images, B, 0, &o);
    if (st == EVA_OK && clip) {
        /* EVA-CLIP image embedding: the projection, L2-normalised */
        int E = c->num_classes;
        for (int b = 0; b < B; b++) {
            double s = 0;
            for (int e = 0; e < E; e++) s += (double)out[(size_t)b * E + e] * out[(size_t)b * E + e];
            float inv = (float)(1.0 / fmax(sqrt(s), 1e-12));
            for (int e = 0; e < E; e++) out[(size_t)b * E + e] *= inv;
        }
    } else if (st == EVA_OK && tokens) {
        for (int b = 0; b < B; b++) {
            const float *t = tokens + (size_t)b * N * D;
            if (pool == EVA_EMBED_TOKENS) {
                memcpy(out + (size_t)b * N * D, t, sizeof(float) * (size_t)N * D);
            } else if (pool == EVA_EMBED_CLS) {
                memcpy(out + (size_t)b * D, t, sizeof(float) * D);
            } else {   /* mean of the patch tokens, cls excluded */
                for (int d = 0; d < D; d++) {
                    double s = 0;
                    for (int i = 1; i < N; i++) s += t[(size_t)i * D + d];
                    out[(size_t)b * D + d] = (float)(s / (N - 1));
                }
            }
        }
    }
    free(tokens);
    return st;
}
