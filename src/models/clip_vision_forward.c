/* clip_vision_forward.c — the CLIP vision tower's forward pass (OpenAI model.py VisionTransformer
 * with EVA-01's modified ending), over an activation arena sized once per (batch, resolution).
 * Shapes: B batch, S side, P patch, G = S/P, Np = G*G patches, T = Np + 1 tokens, W width,
 * H heads, F MLP hidden, D output dim, R rows returned per image (Np, or T with the class token).
 *
 * Every op comes from ops/: conv1 is im2col + GEMM (no bias), in_proj's q | k | v row order is
 * exactly eva_attention's qkv layout, residual adds are the GEMM's ACCUMULATE epilogue.
 * QuickGELU is not a GEMM epilogue, so it runs as its own pass after a STORE. */
#include "models/clip_vision.h"
#include "ops/gemm.h"
#include "ops/ops.h"

#include <math.h>
#include <stdlib.h>

/* ---------------------------------------------------------------- QuickGELU */

/* u * sigmoid(1.702 u) = u / (1 + exp(-1.702 u)); exp overflows to inf for very negative u,
 * giving u / inf = -0, which is the right limit. */
void eva_quick_gelu_ref(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = x[i] / (1.0f + expf(-1.702f * x[i]));
}

typedef struct { float *x; size_t n, per; void (*fn)(float *, size_t); } qg_job;

static void qg_task(void *ctx, int task, int thread) {
    const qg_job *j = ctx;
    size_t lo = (size_t)task * j->per, hi = EVA_MIN(lo + j->per, j->n);
    j->fn(j->x + lo, hi - lo);
}

/* Split into 16K-value chunks over the pool (chunks amortise the task overhead and stay in
 * L1/L2). The AVX-512 kernel when the CPU has it (scalar libm expf costs ~5% of a ViT-L pass). */
void eva_quick_gelu(eva_pool *pool, float *x, size_t n) {
    qg_job j = {x, n, 16384, eva_cpu_avx512() ? eva_quick_gelu_avx512 : eva_quick_gelu_ref};
    eva_pool_run(pool, (int)((n + j.per - 1) / j.per), qg_task, &j);
}

/* ---------------------------------------------------------------- selection helpers */

int eva_clip_vision_rows(const eva_clip_vision *m, int S, const eva_clip_vision_select *sel) {
    const int P = m->cfg.patch;
    if (S < P || S % P || S / P > 4096) return 0;
    int G = S / P;
    return G * G + (sel && sel->keep_cls ? 1 : 0);
}

int eva_clip_vision_dim(const eva_clip_vision *m, const eva_clip_vision_select *sel) {
    return !sel || sel->proj ? m->cfg.out_dim : m->cfg.width;
}

void eva_clip_vision_work_free(eva_clip_vision_work *w) {
    if (!w) return;
    eva_arena_free(&w->arena);
    memset(w, 0, sizeof *w);
}

/* cols [B Np, 3 P^2]; x, h, o [B T, W]; qkv [B T, 3W]; f [B T, F]; sel [B T, W]; pos [T, W]
 * (the resampled positional embedding when G differs from the checkpoint's grid). */
static eva_status ensure_work(const eva_clip_vision *m, eva_clip_vision_work *w, int B, int S) {
    if (w->arena.base && w->batch == B && w->size == S) return EVA_OK;
    const size_t G = (size_t)(S / m->cfg.patch), Np = G * G, T = Np + 1, BT = (size_t)B * T;
    const size_t W = (size_t)m->cfg.width, P = (size_t)m->cfg.patch, F = (size_t)m->cfg.mlp_hidden;
    size_t sizes[8] = {(size_t)B * Np * 3 * P * P, BT * W, BT * W, BT * 3 * W, BT * W, BT * F, BT * W, T * W};
    float **slots[8] = {&w->cols, &w->x, &w->h, &w->qkv, &w->o, &w->f, &w->sel, &w->pos};
    size_t total = 0;
    for (int i = 0; i < 8; i++) {
        size_t bytes;
        if (!eva_size_mul(sizes[i], sizeof(float), &bytes) || bytes > ((size_t)1 << 40))
            return eva_fail(EVA_ERR_NOMEM, "activations for batch %d at %d px are too large", B, S);
        total += eva_arena_round(bytes);
    }
    eva_arena_free(&w->arena);
    w->batch = w->size = 0;
    eva_status st = eva_arena_init(&w->arena, total);
    if (st != EVA_OK) return st;
    for (int i = 0; i < 8; i++) *slots[i] = eva_arena_alloc(&w->arena, sizes[i] * sizeof(float));
    w->batch = B;
    w->size = S;
    return EVA_OK;
}

/* ---------------------------------------------------------------- the pass */

typedef struct run {
    eva_pool *pool;
    bool ref;
} run;

static void gemm(const run *r, int M, int N, int K, const float *A, const float *Wt, const float *bias, float *C,
                 eva_gemm_epilogue epi) {
    if (r->ref)
        eva_gemm_ref(M, N, K, A, K, Wt, K, bias, C, N, epi);
    else
        eva_gemm(r->pool, M, N, K, A, K, Wt, K, bias, C, N, epi);
}

static void layernorm(const run *r, const float *x, const float *w, const float *b, float *y, int rows, int D,
                      float eps) {
    if (r->ref)
        eva_layernorm_ref(x, w, b, y, rows, D, eps);
    else
        eva_layernorm(r->pool, x, w, b, y, rows, D, eps);
}

/* C[M, D] = A[M, W] @ proj[W, D] (proj used as stored, not transposed). */
static void project(const run *r, int M, const float *A, const eva_clip_vision *m, float *C) {
    const int W = m->cfg.width, D = m->cfg.out_dim;
    if (r->ref)
        eva_gemm_nn_ref(M, D, W, A, W, m->proj, D, C, D, false);
    else
        eva_gemm_nn(r->pool, M, D, W, A, W, m->proj, D, C, D, false);
}

/* x[BT, W] += gamma * y (open_clip layer scale). */
static void add_scaled(float *x, const float *y, const float *gamma, size_t rows, int W) {
    for (size_t i = 0; i < rows; i++)
        for (int c = 0; c < W; c++) x[i * (size_t)W + (size_t)c] += gamma[c] * y[i * (size_t)W + (size_t)c];
}

eva_status eva_clip_vision_forward(const eva_clip_vision *m, eva_clip_vision_work *w, eva_pool *pool,
                                   const float *images, int B, int S, const eva_clip_vision_select *sel,
                                   float *features, float *cls_embed) {
    static const eva_clip_vision_select all = {.layer = -1, .ln_post = true, .proj = true};
    if (!sel) sel = &all;
    const eva_clip_vision_config *c = &m->cfg;
    if (!images || !w) return eva_fail(EVA_ERR_INVALID_ARG, "null images or workspace");
    if (B < 1) return eva_fail(EVA_ERR_INVALID_ARG, "batch must be >= 1, got %d", B);
    if (S < c->patch || S % c->patch || S / c->patch > 4096)
        return eva_fail(EVA_ERR_SHAPE, "image size %d is not a positive multiple of the patch size %d", S, c->patch);
    const int nl = sel->layer < 0 ? c->layers : sel->layer;
    if (nl > c->layers) return eva_fail(EVA_ERR_INVALID_ARG, "layer %d: the tower has %d blocks", sel->layer, c->layers);
    if (cls_embed && nl != c->layers)
        return eva_fail(EVA_ERR_INVALID_ARG, "the image embedding needs all %d blocks (layer %d selected)", c->layers, sel->layer);
    const int G = S / c->patch, Np = G * G, T = Np + 1, W = c->width, F = c->mlp_hidden, P = c->patch;
    if ((int64_t)B * T > (1 << 28) || (int64_t)B * T * (int64_t)EVA_MAX(F, 3 * W) > ((int64_t)1 << 40))
        return eva_fail(EVA_ERR_NOMEM, "batch %d at %d px is too large", B, S);
    const int BT = B * T;
    eva_status st = ensure_work(m, w, B, S);
    if (st != EVA_OK) return st;
    const run r = {pool, sel->reference};

    /* Positional embedding for this grid: the checkpoint's, or its patch part resampled
     * bicubically (align_corners=False, a = -0.75) from grid x grid to G x G. */
    const float *pos = m->pos;
    if (G != c->grid) {
        memcpy(w->pos, m->pos, sizeof(float) * (size_t)W);
        eva_resample_grid_official(m->pos + W, c->grid, c->grid, w->pos + W, G, G, W);
        pos = w->pos;
    }

    /* Patch embedding: cols [B Np, 3 P^2] · conv1^T -> o [B Np, W]; then tokens
     * x[b, 0] = cls + pos[0], x[b, 1 + p] = o[b Np + p] + pos[1 + p]. */
    eva_im2col_patches(images, w->cols, B, 3, S, P);
    gemm(&r, B * Np, W, 3 * P * P, w->cols, m->conv_w, NULL, w->o, EVA_GEMM_STORE);
    for (int b = 0; b < B; b++) {
        float *xb = w->x + (size_t)b * T * W;
        for (int ch = 0; ch < W; ch++) xb[ch] = m->cls[ch] + pos[ch];
        for (int p = 0; p < Np; p++) {
            const float *src = w->o + ((size_t)b * Np + p) * W;
            float *dst = xb + (size_t)(1 + p) * W;
            const float *pp = pos + (size_t)(1 + p) * W;
            for (int ch = 0; ch < W; ch++) dst[ch] = src[ch] + pp[ch];
        }
    }
    layernorm(&r, w->x, m->ln_pre_w, m->ln_pre_b, w->x, BT, W, c->ln_eps);

    for (int l = 0; l < nl; l++) {
        const eva_clip_block *bk = &m->blocks[l];
        /* attention branch: x += out_proj(MHA(ln_1 x)) */
        layernorm(&r, w->x, bk->ln1_w, bk->ln1_b, w->h, BT, W, c->ln_eps);
        gemm(&r, BT, 3 * W, W, w->h, bk->in_w, bk->in_b, w->qkv, EVA_GEMM_STORE);
        if (r.ref)
            eva_attention_ref(w->qkv, w->o, B, T, W, c->heads);
        else
            eva_attention(pool, w->qkv, w->o, B, T, W, c->heads);
        if (bk->ls1) {
            gemm(&r, BT, W, W, w->o, bk->out_w, bk->out_b, w->h, EVA_GEMM_STORE);
            add_scaled(w->x, w->h, bk->ls1, (size_t)BT, W);
        } else {
            gemm(&r, BT, W, W, w->o, bk->out_w, bk->out_b, w->x, EVA_GEMM_ACCUMULATE);
        }
        /* MLP branch: x += c_proj(QuickGELU(c_fc(ln_2 x))) */
        layernorm(&r, w->x, bk->ln2_w, bk->ln2_b, w->h, BT, W, c->ln_eps);
        gemm(&r, BT, F, W, w->h, bk->fc_w, bk->fc_b, w->f, EVA_GEMM_STORE);
        if (r.ref)
            eva_quick_gelu_ref(w->f, (size_t)BT * F);
        else
            eva_quick_gelu(pool, w->f, (size_t)BT * F);
        if (bk->ls2) {
            gemm(&r, BT, W, F, w->f, bk->cproj_w, bk->cproj_b, w->h, EVA_GEMM_STORE);
            add_scaled(w->x, w->h, bk->ls2, (size_t)BT, W);
        } else {
            gemm(&r, BT, W, F, w->f, bk->cproj_w, bk->cproj_b, w->x, EVA_GEMM_ACCUMULATE);
        }
    }

    /* Selected rows (patch tokens, optionally with the class token) -> ln_post -> @ proj. */
    if (features) {
        const int skip = sel->keep_cls ? 0 : 1, R = T - skip;
        for (int b = 0; b < B; b++)
            memcpy(w->sel + (size_t)b * R * W, w->x + ((size_t)b * T + skip) * W, sizeof(float) * (size_t)R * W);
        if (sel->ln_post) layernorm(&r, w->sel, m->ln_post_w, m->ln_post_b, w->sel, B * R, W, c->ln_eps);
        if (sel->proj)
            project(&r, B * R, w->sel, m, features);
        else
            memcpy(features, w->sel, sizeof(float) * (size_t)B * R * W);
    }
    /* Standard CLIP image embedding: LN(class token; ln_post) @ proj. */
    if (cls_embed) {
        for (int b = 0; b < B; b++) memcpy(w->h + (size_t)b * W, w->x + (size_t)b * T * W, sizeof(float) * (size_t)W);
        layernorm(&r, w->h, m->ln_post_w, m->ln_post_b, w->h, B, W, c->ln_eps);
        project(&r, B, w->h, m, cls_embed);
    }
    return EVA_OK;
}
