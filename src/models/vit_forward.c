/* vit_forward.c — the EVA ViT forward pass over an activation arena sized once per
 * (batch, resolution). Shapes: B batch, S image side, P patch, G = S/P, N = G*G + 1 tokens,
 * D width, H heads, F MLP hidden, C classes.
 *
 *   x = [cls | patches·Wpe^T + bpe] + pos               x: [B, N, D]
 *   per block: x += proj(attn(LN1 x));  x += fc2(gelu(fc1(LN2 x)))
 *   pooling: mean of patch tokens -> fc_norm -> head  |  norm -> token 0 -> head  |  norm -> lm_head
 *
 * Every op comes from ops/ (GEMM with fused bias/GELU/residual epilogues, streaming attention);
 * EVA_REFERENCE=1 in the environment switches the whole pass to the plain reference kernels. */
#include "models/vit.h"
#include "ops/gemm.h"
#include "ops/ops.h"

#include <stdio.h>
#include <stdlib.h>

struct eva_ctx {
    const eva_model *model;
    eva_pool *pool;
    eva_arena arena;
    int arena_batch, arena_size;   /* what the arena is sized for */
    bool reference;
    bool profiling;
    double prof[EVA_PROF_COUNT];   /* seconds per op family since the last reset */
    double prof_total;
    float *x, *h, *qkv, *o, *f, *cols, *pooled;
    void *lowp_ws;                 /* bf16 / q8 GEMM workspace (NULL for fp32 models) */
};

eva_status eva_ctx_create(const eva_model *model, int n_threads, eva_ctx **out) {
    *out = NULL;
    if (!model) return eva_fail(EVA_ERR_INVALID_ARG, "null model");
    eva_ctx *c = eva_calloc(1, sizeof *c);
    if (!c) return EVA_ERR_NOMEM;
    c->model = model;
    eva_status st = eva_pool_create(n_threads, &c->pool);
    if (st != EVA_OK) {
        free(c);
        return st;
    }
    const char *ref = getenv("EVA_REFERENCE");
    c->reference = ref && *ref && strcmp(ref, "0") != 0;
    *out = c;
    return EVA_OK;
}

const eva_model *eva_ctx_model(const eva_ctx *c) { return c ? c->model : NULL; }

void eva_ctx_free(eva_ctx *c) {
    if (!c) return;
    eva_arena_free(&c->arena);
    eva_pool_free(c->pool);
    free(c);
}

/* Activation memory for (B, S): x, h, o [BN, D]; qkv [BN, 3D]; f [BN, F]; patch columns
 * [B G^2, C P^2]; pooled [B, D]. Attention needs no N x N buffer (streamed). */
static eva_status ensure_arena(eva_ctx *c, int B, int S) {
    if (c->arena.base && c->arena_batch == B && c->arena_size == S) return EVA_OK;
    const eva_vit_config *cfg = &c->model->cfg;
    size_t G = (size_t)(S / cfg->patch), N = G * G + 1, BN = (size_t)B * N, D = (size_t)cfg->width;
    size_t sizes[7] = {BN * D, BN * D, BN * 3 * D, BN * D, BN * (size_t)cfg->mlp,
                       (size_t)B * G * G * (size_t)cfg->in_chans * (size_t)(cfg->patch * cfg->patch), (size_t)B * D};
    /* low-precision GEMM workspace for the largest K of the block matrices (bytes) */
    int kmax = EVA_MAX(cfg->width, cfg->mlp);
    size_t ws_bytes = c->model->wdtype == EVA_BF16 ? eva_gemm_bf16_workspace((int)BN, kmax, eva_pool_threads(c->pool))
                      : c->model->wdtype == EVA_Q8 ? eva_gemm_q8_workspace((int)BN, kmax, eva_pool_threads(c->pool))
                                                   : 0;
    size_t total = ws_bytes ? eva_arena_round(ws_bytes) : 0;
    for (int i = 0; i < 7; i++) total += eva_arena_round(sizes[i] * sizeof(float));
    eva_arena_free(&c->arena);
    if (eva_arena_init(&c->arena, total) != EVA_OK)
        return eva_fail(EVA_ERR_NOMEM, "cannot allocate %.1f MB of activations for batch %d at %d px", total / 1e6, B, S);
    float **slots[7] = {&c->x, &c->h, &c->qkv, &c->o, &c->f, &c->cols, &c->pooled};
    for (int i = 0; i < 7; i++) *slots[i] = eva_arena_alloc(&c->arena, sizes[i] * sizeof(float));
    c->lowp_ws = ws_bytes ? eva_arena_alloc(&c->arena, ws_bytes) : NULL;
    c->arena_batch = B;
    c->arena_size = S;
    return EVA_OK;
}

void eva_ctx_set_profiling(eva_ctx *c, bool on) {
    if (!c) return;
    c->profiling = on;
    memset(c->prof, 0, sizeof c->prof);
    c->prof_total = 0;
}

eva_status eva_ctx_profile(const eva_ctx *c, double seconds[EVA_PROF_COUNT]) {
    if (!c || !seconds) return eva_fail(EVA_ERR_INVALID_ARG, "null argument");
    memcpy(seconds, c->prof, sizeof c->prof);
    return EVA_OK;
}

/* Profiling: time each op family only when asked (two clock reads per op otherwise skipped). */
#define PROF_BEGIN(c) double prof_t0_ = (c)->profiling ? eva_now_seconds() : 0
#define PROF_END(c, k) do { if ((c)->profiling) (c)->prof[k] += eva_now_seconds() - prof_t0_; } while (0)

static void linear(eva_ctx *c, int M, int N, int K, const float *A, const float *W, const float *bias, float *C,
                   eva_gemm_epilogue epi) {
    PROF_BEGIN(c);
    if (c->reference)
        eva_gemm_ref(M, N, K, A, K, W, K, bias, C, N, epi);
    else
        eva_gemm(c->pool, M, N, K, A, K, W, K, bias, C, N, epi);
    PROF_END(c, EVA_PROF_GEMM);
}

/* A block matrix: fp32 (rows or weight panels), bf16 or int8 GEMM per the model's weights (same
 * epilogues). */
static void block_linear(eva_ctx *c, int M, int N, int K, const float *A, const float *W, const eva_lowp_linear *lp,
                         const float *bias, float *C, eva_gemm_epilogue epi) {
    eva_dtype dt = c->model->wdtype;
    if (dt == EVA_F32 && lp->panels) {
        PROF_BEGIN(c);
        if (c->reference)
            eva_gemm_panels_ref(M, N, K, A, K, lp->panels, bias, C, N, epi);
        else
            eva_gemm_panels(c->pool, M, N, K, A, K, lp->panels, bias, C, N, epi);
        PROF_END(c, EVA_PROF_GEMM);
        return;
    }
    if (dt == EVA_F32) {
        linear(c, M, N, K, A, W, bias, C, epi);
        return;
    }
    PROF_BEGIN(c);
    if (dt == EVA_BF16) {
        if (c->reference)
            eva_gemm_bf16_ref(M, N, K, A, K, lp->bf16, K, bias, C, N, epi);
        else
            eva_gemm_bf16(c->pool, M, N, K, A, K, lp->bf16, K, bias, C, N, epi, c->lowp_ws);
    } else {
        if (c->reference)
            eva_gemm_q8_ref(M, N, K, A, K, &lp->q8, bias, C, N, epi, c->lowp_ws);
        else
            eva_gemm_q8(c->pool, M, N, K, A, K, &lp->q8, bias, C, N, epi, c->lowp_ws);
    }
    PROF_END(c, EVA_PROF_GEMM);
}

static void layernorm(eva_ctx *c, const float *x, const float *w, const float *b, float *y, int rows, int D, float eps) {
    PROF_BEGIN(c);
    if (c->reference)
        eva_layernorm_ref(x, w, b, y, rows, D, eps);
    else
        eva_layernorm(c->pool, x, w, b, y, rows, D, eps);
    PROF_END(c, EVA_PROF_LAYERNORM);
}

static void attention(eva_ctx *c, const float *qkv, float *o, int B, int N, int D, int H) {
    PROF_BEGIN(c);
    if (c->reference)
        eva_attention_ref(qkv, o, B, N, D, H);
    else
        eva_attention(c->pool, qkv, o, B, N, D, H);
    PROF_END(c, EVA_PROF_ATTENTION);
}

eva_status eva_forward(eva_ctx *c, const float *images, int B, int S, eva_outputs *out) {
    if (!c || !images || !out) return eva_fail(EVA_ERR_INVALID_ARG, "eva_forward: null argument");
    const eva_model *m = c->model;
    const eva_vit_config *cfg = &m->cfg;
    if (S == 0) S = cfg->img_size;
    if (S != cfg->img_size)
        return eva_fail(EVA_ERR_SHAPE, "input is %dx%d but the model was loaded for %dx%d (load it with img_size %d)", S,
                        S, cfg->img_size, cfg->img_size, S);
    if (B <= 0 || B > 4096) return eva_fail(EVA_ERR_INVALID_ARG, "batch size %d out of range", B);
    if (out->block_out && (out->block_index < 0 || out->block_index >= cfg->depth))
        return eva_fail(EVA_ERR_INVALID_ARG, "block %d out of range (model has %d blocks: 0..%d)", out->block_index,
                        cfg->depth, cfg->depth - 1);
    if (out->logits && !cfg->has_head) return eva_fail(EVA_ERR_INVALID_ARG, "this model has no classifier head");
    if (out->lm_out && !cfg->has_lm_head) return eva_fail(EVA_ERR_INVALID_ARG, "this model has no lm_head");
    eva_status st = ensure_arena(c, B, S);
    if (st != EVA_OK) return st;

    const int D = cfg->width, F = cfg->mlp, P = cfg->patch, Cin = cfg->in_chans, G = S / P, N = G * G + 1;
    const int BN = B * N, K_pe = Cin * P * P;
    float *x = c->x, *h = c->h, *qkv = c->qkv, *o = c->o, *f = c->f;

    double t_start = c->profiling ? eva_now_seconds() : 0;
    /* patch embedding as one GEMM into h (token rows 0..B*G*G-1), then assemble x */
    eva_im2col_patches(images, c->cols, B, Cin, S, P);
    linear(c, B * G * G, D, K_pe, c->cols, m->patch_w, m->patch_b, h, EVA_GEMM_STORE);
    for (int b = 0; b < B; b++) {
        float *xb = x + (size_t)b * N * D;
        for (int d = 0; d < D; d++) xb[d] = m->cls_token[d] + m->pos_embed[d];
        for (int t = 1; t < N; t++) {
            const float *src = h + ((size_t)b * G * G + t - 1) * D;
            const float *pos = m->pos_embed + (size_t)t * D;
            float *dst = xb + (size_t)t * D;
            for (int d = 0; d < D; d++) dst[d] = src[d] + pos[d];
        }
    }

    for (int l = 0; l < cfg->depth; l++) {
        const eva_block_weights *w = &m->blocks[l];
        layernorm(c, x, w->norm1_w, w->norm1_b, h, BN, D, cfg->ln_eps);
        block_linear(c, BN, 3 * D, D, h, w->qkv_w, &w->qkv_lp, w->qkv_bias, qkv, EVA_GEMM_STORE);
        attention(c, qkv, o, B, N, D, cfg->heads);
        block_linear(c, BN, D, D, o, w->proj_w, &w->proj_lp, w->proj_b, x, EVA_GEMM_ACCUMULATE);
        layernorm(c, x, w->norm2_w, w->norm2_b, h, BN, D, cfg->ln_eps);
        block_linear(c, BN, F, D, h, w->fc1_w, &w->fc1_lp, w->fc1_b, f, EVA_GEMM_GELU);
        block_linear(c, BN, D, F, f, w->fc2_w, &w->fc2_lp, w->fc2_b, x, EVA_GEMM_ACCUMULATE);
        if (out->block_out && out->block_index == l) memcpy(out->block_out, x, sizeof(float) * (size_t)BN * D);
    }

    if (out->cls_final)
        for (int b = 0; b < B; b++) memcpy(out->cls_final + (size_t)b * D, x + (size_t)b * N * D, sizeof(float) * D);

    /* final norm over all tokens where the model has one (CLIP vision, MIM) */
    const float *tokens = x;
    if (cfg->has_norm) {
        layernorm(c, x, m->norm_w, m->norm_b, h, BN, D, cfg->ln_eps);
        tokens = h;
    }
    if (out->tokens_final) memcpy(out->tokens_final, tokens, sizeof(float) * (size_t)BN * D);

    float *pooled = c->pooled;
    if (cfg->pooling == EVA_POOL_CLS_NORM) {
        for (int b = 0; b < B; b++) memcpy(pooled + (size_t)b * D, tokens + (size_t)b * N * D, sizeof(float) * D);
    } else {
        /* mean of the G*G patch tokens (cls excluded), summed in double, then fc_norm if present */
        for (int b = 0; b < B; b++) {
            for (int d = 0; d < D; d++) {
                double s = 0;
                for (int t = 1; t < N; t++) s += tokens[((size_t)b * N + t) * D + d];
                pooled[(size_t)b * D + d] = (float)(s / (N - 1));
            }
        }
        if (cfg->pooling == EVA_POOL_MEAN_FCNORM && cfg->has_fc_norm)
            eva_layernorm_ref(pooled, m->fc_norm_w, m->fc_norm_b, pooled, B, D, cfg->ln_eps);
    }
    if (out->pre_logits) memcpy(out->pre_logits, pooled, sizeof(float) * (size_t)B * D);
    if (out->logits) eva_gemm_ref(B, cfg->num_classes, D, pooled, D, m->head_w, D, m->head_b, out->logits, cfg->num_classes, EVA_GEMM_STORE);
    if (out->lm_out)
        for (int b = 0; b < B; b++)
            linear(c, N - 1, cfg->lm_dim, D, tokens + ((size_t)b * N + 1) * D, m->lm_w, m->lm_b,
                   out->lm_out + (size_t)b * (N - 1) * cfg->lm_dim, EVA_GEMM_STORE);
    if (c->profiling) {   /* "other" is whatever the timed op families do not cover */
        c->prof_total += eva_now_seconds() - t_start;
        double known = 0;
        for (int k = 0; k < EVA_PROF_OTHER; k++) known += c->prof[k];
        c->prof[EVA_PROF_OTHER] = c->prof_total - known;
    }
    return EVA_OK;
}
