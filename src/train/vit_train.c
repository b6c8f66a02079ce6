/* vit_train.c — the trainable EVA ViT: parameter table, activation storage, forward with mask
 * tokens and drop path, MIM head + loss, backward. See vit_train.h for shapes and the maths. */
#include "train/vit_train.h"

#include "ops/backward.h"
#include "ops/gemm_lowp.h"
#include "ops/ops.h"
#include "train/mim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* ---------------------------------------------------------------- parameter table */

enum { BLOCK_TENSORS = 13 };
static const char *const k_block_names[BLOCK_TENSORS] = {
    "norm1.weight", "norm1.bias", "attn.q_bias", "attn.v_bias", "attn.qkv.weight", "attn.proj.weight",
    "attn.proj.bias", "norm2.weight", "norm2.bias", "mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight",
    "mlp.fc2.bias"};

typedef struct { char name[64]; int ndim; int64_t shape[4]; } param_spec;

/* Official state_dict order (README §1.6). Returns the count; specs may be NULL to count. */
static int param_specs(const eva_vit_train_config *c, param_spec *s) {
    int n = 0;
    int64_t D = c->width, F = c->mlp, G = c->img_size / c->patch, Np = G * G;
#define ADD(nm, nd, s0, s1, s2, s3)                                                                     \
    do {                                                                                               \
        if (s) {                                                                                       \
            snprintf(s[n].name, sizeof s[n].name, "%s", nm);                                            \
            s[n].ndim = nd;                                                                            \
            s[n].shape[0] = s0, s[n].shape[1] = s1, s[n].shape[2] = s2, s[n].shape[3] = s3;            \
        }                                                                                              \
        n++;                                                                                           \
    } while (0)
    ADD("cls_token", 3, 1, 1, D, 0);
    if (c->num_classes == 0) ADD("mask_token", 3, 1, 1, D, 0);
    ADD("pos_embed", 3, 1, Np + 1, D, 0);
    ADD("patch_embed.proj.weight", 4, D, c->in_chans, c->patch, c->patch);
    ADD("patch_embed.proj.bias", 1, D, 0, 0, 0);
    for (int l = 0; l < c->depth; l++) {
        int64_t shapes[BLOCK_TENSORS][2] = {{D, 0}, {D, 0}, {D, 0}, {D, 0}, {3 * D, D}, {D, D}, {D, 0},
                                            {D, 0}, {D, 0}, {F, D}, {F, 0}, {D, F}, {D, 0}};
        for (int t = 0; t < BLOCK_TENSORS; t++) {
            char nm[64];
            snprintf(nm, sizeof nm, "blocks.%d.%s", l, k_block_names[t]);
            ADD(nm, shapes[t][1] ? 2 : 1, shapes[t][0], shapes[t][1], 0, 0);
        }
    }
    if (c->num_classes > 0) {   /* official named_parameters() order of the classifier */
        ADD("fc_norm.weight", 1, D, 0, 0, 0);
        ADD("fc_norm.bias", 1, D, 0, 0, 0);
        ADD("head.weight", 2, c->num_classes, D, 0, 0);
        ADD("head.bias", 1, c->num_classes, 0, 0, 0);
    } else {
        ADD("norm.weight", 1, D, 0, 0, 0);
        ADD("norm.bias", 1, D, 0, 0, 0);
        ADD("lm_head.weight", 2, c->lm_dim, D, 0, 0);
        ADD("lm_head.bias", 1, c->lm_dim, 0, 0, 0);
    }
#undef ADD
    return n;
}

static int64_t spec_numel(const param_spec *s) {
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++) n *= s->shape[i];
    return n;
}

/* Point the tensor struct at consecutive tensors of `mem` in spec order. */
static void bind_tensors(eva_vit_train_tensors *t, float *mem, const param_spec *s, int depth, bool classifier) {
    int k = 0;
    float *p = mem;
#define NEXT() (p += spec_numel(&s[k]), k++, p - spec_numel(&s[k - 1]))
    t->cls_token = NEXT();
    t->mask_token = classifier ? NULL : NEXT();
    t->pos_embed = NEXT();
    t->patch_w = NEXT();
    t->patch_b = NEXT();
    for (int l = 0; l < depth; l++) {
        eva_vit_train_block *b = &t->blocks[l];
        float **slots[BLOCK_TENSORS] = {&b->norm1_w, &b->norm1_b, &b->q_bias, &b->v_bias, &b->qkv_w,
                                        &b->proj_w,  &b->proj_b,  &b->norm2_w, &b->norm2_b, &b->fc1_w,
                                        &b->fc1_b,   &b->fc2_w,   &b->fc2_b};
        for (int i = 0; i < BLOCK_TENSORS; i++) *slots[i] = NEXT();
    }
    if (classifier) {
        t->fc_norm_w = NEXT();
        t->fc_norm_b = NEXT();
        t->head_w = NEXT();
        t->head_b = NEXT();
    } else {
        t->norm_w = NEXT();
        t->norm_b = NEXT();
        t->lm_w = NEXT();
        t->lm_b = NEXT();
    }
#undef NEXT
}

/* ---------------------------------------------------------------- activations */

typedef struct {
    float *x_in, *x_mid;        /* [BN, D] block input and mid-block residual */
    double *mu1, *rs1, *mu2, *rs2;  /* [BN] LayerNorm statistics */
    float *qkv;                 /* [BN, 3D] */
    float *att;                 /* [BN, D] attention output (heads concatenated) */
    float *lse;                 /* [B, H, N] */
    float *u, *g;               /* [BN, F] fc1 output, GELU output */
    float *keep1, *keep2;       /* [B] drop-path scales (0 or 1/(1-p)) */
} block_acts;

struct eva_vit_train_acts {
    int B;
    bool checkpointed;          /* blk[] hold only x_in and the keeps; `work` the rest, shared */
    eva_arena arena;
    block_acts *blk;            /* [L] */
    block_acts work;            /* intermediates of the block being (re)computed (checkpointing) */
    float *x_recompute;         /* [BN, D] discarded block output of a recomputation */
    bool bf16;                  /* bf16 operand copies below allocated */
    float *bf_a, *bf_b, *bf_w;  /* bf16-rounded copies of a product's two activations / weight */
    float *x_out;               /* [BN, D] output of the last block */
    float *cols;                /* [B Np, C P P] */
    float *e;                   /* [B Np, D] patch embedding */
    float *h;                   /* [BN, D] LayerNorm output scratch */
    float *tmp;                 /* [BN, D] branch output (drop path) */
    float *dx, *dh, *datt;      /* [BN, D] */
    float *dqkv;                /* [BN, 3D] */
    float *dg;                  /* [BN, F] */
    float *qkv_bias, *dqkv_bias;  /* [3D] */
    float *xm, *xn, *pred, *dpred, *target, *dxn, *dxm;   /* masked rows: [B Np, D] / [B Np, Dt] */
    double *mu_m, *rs_m;        /* [B Np] */
    int *rows;                  /* [B Np] token row (b N + 1 + p) of each masked patch */
    int M;
    /* classifier head: pooled [B, D], fc_norm output [B, D], its stats [B], logits / dlogits [B, C] */
    float *pooled, *pooled_n, *dpooled, *dpooled_n, *logits, *dlogits;
    double *mu_f, *rs_f;
};

static void acts_free(eva_vit_train_acts *a) {
    if (!a) return;
    eva_aligned_free(a->bf_a);
    eva_aligned_free(a->bf_b);
    eva_aligned_free(a->bf_w);
    free(a->pooled);
    free(a->pooled_n);
    free(a->dpooled);
    free(a->dpooled_n);
    free(a->logits);
    free(a->dlogits);
    free(a->mu_f);
    free(a->rs_f);
    eva_arena_free(&a->arena);
    free(a->blk);
    free(a);
}

/* Activation sizes of a batch: bytes of each per-block slice, of the shared slices, and the total
 * (arena-rounded) for the checkpointing mode `ckpt`. */
enum { BLOCK_SLICES = 13, SHARED_SLICES = 22 };
static const bool k_kept_when_checkpointed[BLOCK_SLICES] = {true, false, false, false, false, false, false,
                                                            false, false, false, false, true, true};

static size_t acts_layout(const eva_vit_train_config *c, int B, bool ckpt, size_t per_block[BLOCK_SLICES],
                          size_t shared[SHARED_SLICES]) {
    size_t G = (size_t)(c->img_size / c->patch), Np = G * G, N = Np + 1, BN = (size_t)B * N;
    size_t D = (size_t)c->width, F = (size_t)c->mlp, L = (size_t)c->depth, H = (size_t)c->heads;
    size_t Dt = (size_t)c->lm_dim, K = (size_t)c->in_chans * c->patch * c->patch, BNp = (size_t)B * Np;
    size_t pb[BLOCK_SLICES] = {BN * D * 4, BN * D * 4, BN * 8, BN * 8, BN * 8, BN * 8, BN * 3 * D * 4, BN * D * 4,
                               (size_t)B * H * N * 4, BN * F * 4, BN * F * 4, (size_t)B * 4, (size_t)B * 4};
    size_t sh[SHARED_SLICES] = {BN * D * 4, BNp * K * 4, BNp * D * 4, BN * D * 4, BN * D * 4, BN * D * 4, BN * D * 4,
                                BN * D * 4, BN * 3 * D * 4, BN * F * 4, 3 * D * 4, 3 * D * 4, BNp * D * 4, BNp * D * 4,
                                BNp * Dt * 4, BNp * Dt * 4, BNp * Dt * 4, BNp * D * 4, BNp * D * 4, BNp * 8, BNp * 8,
                                BNp * sizeof(int)};
    memcpy(per_block, pb, sizeof pb);
    memcpy(shared, sh, sizeof sh);
    size_t total = 0;
    for (int i = 0; i < BLOCK_SLICES; i++) {
        if (!ckpt || k_kept_when_checkpointed[i])
            total += L * eva_arena_round(pb[i]);
        else
            total += eva_arena_round(pb[i]);   /* the one shared working set */
    }
    if (ckpt) total += eva_arena_round(BN * D * 4);   /* x_recompute */
    for (int i = 0; i < SHARED_SLICES; i++) total += eva_arena_round(sh[i]);
    return total;
}

size_t eva_vit_train_activation_bytes(const eva_vit_train *m, int B) {
    size_t pb[BLOCK_SLICES], sh[SHARED_SLICES];
    return m && B > 0 ? acts_layout(&m->cfg, B, m->checkpoint_activations, pb, sh) : 0;
}

void eva_vit_train_memory_summary(const eva_vit_train *m, int B, const char *what, char *buf, size_t n) {
    snprintf(buf, n, "%s %.1f M parameters, %.0f MB of activations per step (batch %d, %s, %s)", what, m->total / 1e6,
             eva_vit_train_activation_bytes(m, B) / 1e6, B, m->checkpoint_activations ? "recomputed per block" : "stored",
             m->bf16 ? "bf16 products" : "fp32");
}

static eva_status ensure_acts(eva_vit_train *m, int B) {
    if (m->acts && m->acts->B == B && m->acts->checkpointed == m->checkpoint_activations && m->acts->bf16 == m->bf16)
        return EVA_OK;
    acts_free(m->acts);
    m->acts = NULL;
    const eva_vit_train_config *c = &m->cfg;
    const bool ckpt = m->checkpoint_activations;
    size_t D = (size_t)c->width, L = (size_t)c->depth;
    size_t per_block[BLOCK_SLICES], shared[SHARED_SLICES];
    size_t total = acts_layout(c, B, ckpt, per_block, shared);
    eva_vit_train_acts *a = eva_calloc(1, sizeof *a);
    if (!a) return EVA_ERR_NOMEM;
    a->blk = eva_calloc(L, sizeof *a->blk);
    if (!a->blk || eva_arena_init(&a->arena, total) != EVA_OK) {
        acts_free(a);
        return eva_fail(EVA_ERR_NOMEM, "cannot allocate %.1f MB of training activations for batch %d%s", total / 1e6, B,
                        ckpt ? "" : " (--checkpoint-activations needs less)");
    }
    a->checkpointed = ckpt;
    eva_arena *ar = &a->arena;
    for (size_t l = 0; l <= L; l++) {   /* l == L: the shared working set */
        if (l == L && !ckpt) break;
        block_acts *k = l < L ? &a->blk[l] : &a->work;
        void **slots[BLOCK_SLICES] = {(void **)&k->x_in, (void **)&k->x_mid, (void **)&k->mu1, (void **)&k->rs1,
                                      (void **)&k->mu2,  (void **)&k->rs2,   (void **)&k->qkv, (void **)&k->att,
                                      (void **)&k->lse,  (void **)&k->u,     (void **)&k->g,   (void **)&k->keep1,
                                      (void **)&k->keep2};
        for (int i = 0; i < BLOCK_SLICES; i++) {
            bool per_block_slice = !ckpt || k_kept_when_checkpointed[i];
            if ((l < L) == per_block_slice) *slots[i] = eva_arena_alloc(ar, per_block[i]);
        }
    }
    if (ckpt) a->x_recompute = eva_arena_alloc(ar, shared[0]);
    if (m->bf16) {
        /* the largest operands of any trunk / lm_head product: activations X or dY, weights W */
        size_t G = (size_t)(c->img_size / c->patch), Np = G * G, BN = (size_t)B * (Np + 1), BNp = (size_t)B * Np;
        size_t F = (size_t)c->mlp, Dt = (size_t)c->lm_dim, K = (size_t)c->in_chans * c->patch * c->patch;
        size_t act = BN * (F > 3 * D ? F : 3 * D), wts = D * (F > 3 * D ? F : 3 * D);
        if (BNp * K > act) act = BNp * K;
        if (BNp * Dt > act) act = BNp * Dt;
        if (Dt * D > wts) wts = Dt * D;
        if (D * K > wts) wts = D * K;
        a->bf_a = eva_aligned_alloc(act * sizeof(float));
        a->bf_b = eva_aligned_alloc(act * sizeof(float));
        a->bf_w = eva_aligned_alloc(wts * sizeof(float));
        if (!a->bf_a || !a->bf_b || !a->bf_w) {
            acts_free(a);
            return eva_fail(EVA_ERR_NOMEM, "cannot allocate the bf16 operand buffers for batch %d", B);
        }
        a->bf16 = true;
    }
    void **slots[SHARED_SLICES] = {(void **)&a->x_out, (void **)&a->cols, (void **)&a->e,      (void **)&a->h,
                        (void **)&a->tmp,   (void **)&a->dx,   (void **)&a->dh,     (void **)&a->datt,
                        (void **)&a->dqkv,  (void **)&a->dg,   (void **)&a->qkv_bias, (void **)&a->dqkv_bias,
                        (void **)&a->xm,    (void **)&a->xn,   (void **)&a->pred,   (void **)&a->dpred,
                        (void **)&a->target, (void **)&a->dxn, (void **)&a->dxm,    (void **)&a->mu_m,
                        (void **)&a->rs_m,  (void **)&a->rows};
    for (int i = 0; i < SHARED_SLICES; i++) *slots[i] = eva_arena_alloc(ar, shared[i]);
    if (c->num_classes > 0) {
        size_t C = (size_t)c->num_classes;
        a->pooled = malloc(sizeof(float) * B * D);
        a->pooled_n = malloc(sizeof(float) * B * D);
        a->dpooled = malloc(sizeof(float) * B * D);
        a->dpooled_n = malloc(sizeof(float) * B * D);
        a->logits = malloc(sizeof(float) * B * C);
        a->dlogits = malloc(sizeof(float) * B * C);
        a->mu_f = malloc(sizeof(double) * B);
        a->rs_f = malloc(sizeof(double) * B);
        if (!a->pooled || !a->pooled_n || !a->dpooled || !a->dpooled_n || !a->logits || !a->dlogits || !a->mu_f ||
            !a->rs_f) {
            acts_free(a);
            return eva_fail(EVA_ERR_NOMEM, "out of memory for the classifier head");
        }
    }
    a->B = B;
    m->acts = a;
    return EVA_OK;
}

/* ---------------------------------------------------------------- create / load */

eva_status eva_vit_train_create(const eva_vit_train_config *cfg, int n_threads, eva_vit_train **out) {
    *out = NULL;
    const eva_vit_train_config *c = cfg;
    if (c->patch <= 0 || c->img_size <= 0 || c->img_size % c->patch != 0 || c->in_chans <= 0 || c->width <= 0 ||
        c->depth <= 0 || c->heads <= 0 || c->width % c->heads != 0 || c->mlp <= 0 ||
        (c->num_classes <= 0 && c->lm_dim <= 0) || c->num_classes < 0 || c->num_classes > 1000000 ||
        c->img_size > 8192 || c->width > 65536 || c->mlp > 262144 || c->depth > 1024 || c->lm_dim > 65536 ||
        !(c->drop_path >= 0 && c->drop_path < 1) || !(c->ln_eps > 0))
        return eva_fail(EVA_ERR_INVALID_ARG,
                        "invalid training model config (img %d, patch %d, chans %d, width %d, depth %d, heads %d, "
                        "mlp %d, lm_dim %d, drop_path %g)",
                        c->img_size, c->patch, c->in_chans, c->width, c->depth, c->heads, c->mlp, c->lm_dim,
                        c->drop_path);
    eva_vit_train *m = eva_calloc(1, sizeof *m);
    if (!m) return EVA_ERR_NOMEM;
    m->cfg = *cfg;
    int n = param_specs(c, NULL);
    param_spec *specs = eva_calloc((size_t)n, sizeof *specs);
    m->params = eva_calloc((size_t)n, sizeof *m->params);
    m->p.blocks = eva_calloc((size_t)c->depth, sizeof(eva_vit_train_block));
    m->g.blocks = eva_calloc((size_t)c->depth, sizeof(eva_vit_train_block));
    eva_status st = EVA_ERR_NOMEM;
    if (!specs || !m->params || !m->p.blocks || !m->g.blocks) goto fail;
    param_specs(c, specs);
    m->n_params = n;
    int64_t total = 0;
    for (int i = 0; i < n; i++) total += spec_numel(&specs[i]);
    m->total = total;
    m->param_mem = eva_aligned_alloc(sizeof(float) * (size_t)total);
    m->grad_mem = eva_aligned_alloc(sizeof(float) * (size_t)total);
    if (!m->param_mem || !m->grad_mem) goto fail;
    memset(m->param_mem, 0, sizeof(float) * (size_t)total);
    memset(m->grad_mem, 0, sizeof(float) * (size_t)total);
    int64_t off = 0;
    for (int i = 0; i < n; i++) {
        m->params[i].name = eva_strdup(specs[i].name);
        if (!m->params[i].name) goto fail;
        m->params[i].param = m->param_mem + off;
        m->params[i].grad = m->grad_mem + off;
        m->params[i].numel = spec_numel(&specs[i]);
        m->params[i].ndim = specs[i].ndim;
        off += m->params[i].numel;
    }
    bind_tensors(&m->p, m->param_mem, specs, c->depth, c->num_classes > 0);
    bind_tensors(&m->g, m->grad_mem, specs, c->depth, c->num_classes > 0);
    if (c->num_classes > 0 && c->stop_grad_conv1)   /* torch: .grad stays None -> AdamW skips them */
        for (int i = 0; i < n; i++)
            if (!strncmp(m->params[i].name, "patch_embed.", 12)) m->params[i].grad = NULL;
    st = eva_pool_create(n_threads > 0 ? n_threads : eva_cpu_count(), &m->pool);
    if (st != EVA_OK) goto fail;
    const char *ref = getenv("EVA_REFERENCE");
    m->reference = ref && *ref && strcmp(ref, "0") != 0;
    free(specs);
    *out = m;
    return EVA_OK;
fail:
    free(specs);
    eva_vit_train_free(m);
    return st == EVA_ERR_NOMEM ? eva_fail(EVA_ERR_NOMEM, "out of memory creating the training model") : st;
}

void eva_vit_train_free(eva_vit_train *m) {
    if (!m) return;
    if (m->params)
        for (int i = 0; i < m->n_params; i++) free((char *)m->params[i].name);
    free(m->params);
    eva_aligned_free(m->param_mem);
    eva_aligned_free(m->grad_mem);
    free(m->p.blocks);
    free(m->g.blocks);
    eva_pool_free(m->pool);
    acts_free(m->acts);
    free(m);
}

int eva_vit_train_shape(const eva_vit_train *m, int index, int64_t shape[4]) {
    if (!m || index < 0 || index >= m->n_params) return 0;
    param_spec *specs = calloc((size_t)m->n_params, sizeof *specs);
    if (!specs) return 0;
    param_specs(&m->cfg, specs);
    int nd = specs[index].ndim;
    memcpy(shape, specs[index].shape, sizeof(int64_t) * 4);
    free(specs);
    return nd;
}

int eva_vit_train_find(const eva_vit_train *m, const char *name) {
    for (int i = 0; i < m->n_params; i++)
        if (strcmp(m->params[i].name, name) == 0) return i;
    return -1;
}

static bool view_dim_fits(const eva_tensor_view *v, int want_ndim) {
    return v->ndim == want_ndim && v->shape[0] > 0 && v->shape[0] <= (1 << 20);
}

/* A file whose block matrices are in an inference layout (eva convert --layout panels) has
 * tensors of the right names and sizes but another element order: refuse it, never read it. */
static eva_status refuse_inference_layout(eva_tensor_file *f, const char *path) {
    const char *layout = eva_tensor_file_metadata(f, "eva.layout");
    if (!layout) return EVA_OK;
    return eva_fail(EVA_ERR_UNSUPPORTED, "%s: its block matrices are stored as '%s' (an inference layout); training "
                    "needs rows: eva convert %s ROWS.safetensors", path, layout, path);
}

static eva_status load_impl(const char *path, int heads, int n_threads, bool classifier, bool stop_grad_conv1,
                            eva_vit_train **out) {
    *out = NULL;
    eva_tensor_file *f = NULL;
    eva_status st = eva_tensor_file_open(path, &f);
    if (st != EVA_OK) return st;
    if ((st = refuse_inference_layout(f, path)) != EVA_OK) {
        eva_tensor_file_close(f);
        return st;
    }
    eva_vit_train_config c = {0};
    c.ln_eps = 1e-6f;
    eva_tensor_view v;
    const char *need[] = {"cls_token", "patch_embed.proj.weight", "pos_embed", "blocks.0.mlp.fc1.weight",
                          classifier ? "head.weight" : "lm_head.weight"};
    for (size_t i = 0; i < EVA_ARRAY_LEN(need); i++)
        if (eva_tensor_file_find(f, need[i], &v) != EVA_OK) {
            eva_tensor_file_close(f);
            return eva_fail(EVA_ERR_FORMAT, "%s: not an EVA %s checkpoint (no '%s')", path,
                            classifier ? "classifier" : "MIM student", need[i]);
        }
    eva_tensor_file_find(f, "cls_token", &v);
    if (v.ndim != 3) goto bad;
    c.width = (int)EVA_MIN(v.shape[2], 1 << 20);
    eva_tensor_file_find(f, "patch_embed.proj.weight", &v);
    if (!view_dim_fits(&v, 4) || v.shape[2] != v.shape[3] || v.shape[2] <= 0 || v.shape[2] > 1024 ||
        v.shape[1] <= 0 || v.shape[1] > 64)
        goto bad;
    c.patch = (int)v.shape[2];
    c.in_chans = (int)v.shape[1];
    eva_tensor_file_find(f, "pos_embed", &v);
    if (v.ndim != 3 || v.shape[1] < 2 || v.shape[1] > (1 << 20)) goto bad;
    int G = (int)lround(sqrt((double)(v.shape[1] - 1)));
    if ((int64_t)G * G != v.shape[1] - 1) goto bad;
    c.img_size = G * c.patch;
    eva_tensor_file_find(f, "blocks.0.mlp.fc1.weight", &v);
    if (!view_dim_fits(&v, 2)) goto bad;
    c.mlp = (int)v.shape[0];
    eva_tensor_file_find(f, classifier ? "head.weight" : "lm_head.weight", &v);
    if (!view_dim_fits(&v, 2)) goto bad;
    if (classifier) {
        c.num_classes = (int)v.shape[0];
        c.stop_grad_conv1 = stop_grad_conv1;
    } else {
        c.lm_dim = (int)v.shape[0];
    }
    for (c.depth = 0; c.depth < 1024; c.depth++) {
        char nm[64];
        snprintf(nm, sizeof nm, "blocks.%d.norm1.weight", c.depth);
        if (eva_tensor_file_find(f, nm, &v) != EVA_OK) break;
    }
    if (heads <= 0) {
        const char *mh = eva_tensor_file_metadata(f, "num_heads");
        if (!mh) mh = eva_tensor_file_metadata(f, "heads");
        if (!mh) mh = eva_tensor_file_metadata(f, "eva.heads");
        if (mh) heads = atoi(mh);
    }
    if (heads <= 0) heads = c.width / 64 > 0 ? c.width / 64 : 1;
    c.heads = heads;
    eva_vit_train *m = NULL;
    st = eva_vit_train_create(&c, n_threads, &m);
    if (st != EVA_OK) {
        eva_tensor_file_close(f);
        return st;
    }
    param_spec *specs = eva_calloc((size_t)m->n_params, sizeof *specs);
    if (!specs) st = EVA_ERR_NOMEM;
    else param_specs(&m->cfg, specs);
    for (int i = 0; i < m->n_params && specs; i++) {
        const eva_param_ref *p = &m->params[i];
        if (eva_tensor_file_find(f, p->name, &v) != EVA_OK) {
            st = eva_fail(EVA_ERR_FORMAT, "%s: missing parameter '%s'", path, p->name);
            break;
        }
        bool same = v.ndim == specs[i].ndim;
        for (int d = 0; same && d < v.ndim; d++) same = v.shape[d] == specs[i].shape[d];
        if (!same) {
            char got[96], want[96];
            eva_shape_str(v.ndim, v.shape, got, sizeof got);
            eva_shape_str(specs[i].ndim, specs[i].shape, want, sizeof want);
            st = eva_fail(EVA_ERR_SHAPE, "%s: '%s' has shape %s, expected %s", path, p->name, got, want);
            break;
        }
        st = eva_tensor_convert_f32(&v, p->param);
        if (st != EVA_OK) break;
    }
    free(specs);
    eva_tensor_file_close(f);
    if (st != EVA_OK) {
        eva_vit_train_free(m);
        return st;
    }
    *out = m;
    return EVA_OK;
bad:
    eva_tensor_file_close(f);
    return eva_fail(EVA_ERR_SHAPE, "%s: unexpected shape of '%s'", path, v.name ? v.name : "?");
}

eva_status eva_vit_train_load(const char *path, int heads, int n_threads, eva_vit_train **out) {
    return load_impl(path, heads, n_threads, false, false, out);
}

eva_status eva_vit_train_load_classifier(const char *path, int heads, int n_threads, bool stop_grad_conv1,
                                         eva_vit_train **out) {
    return load_impl(path, heads, n_threads, true, stop_grad_conv1, out);
}

eva_status eva_vit_train_init_from(eva_vit_train *m, const char *path, int *copied) {
    eva_tensor_file *f = NULL;
    eva_status st = eva_tensor_file_open(path, &f);
    if (st != EVA_OK) return st;
    if ((st = refuse_inference_layout(f, path)) != EVA_OK) {
        eva_tensor_file_close(f);
        return st;
    }
    int n = 0;
    const eva_vit_train_config *c = &m->cfg;
    for (int i = 0; i < m->n_params && st == EVA_OK; i++) {
        eva_param_ref *p = &m->params[i];
        eva_tensor_view v;
        if (eva_tensor_file_find(f, p->name, &v) != EVA_OK) continue;
        int64_t numel = 1;
        for (int d = 0; d < v.ndim; d++) numel *= v.shape[d];
        if (numel == p->numel) {
            st = eva_tensor_convert_f32(&v, p->param);
            n++;
        } else if (!strcmp(p->name, "pos_embed") && v.ndim == 3 && v.shape[2] == c->width) {
            /* another grid: resample the patch part (official bicubic), keep the cls slot */
            int g_old = (int)lround(sqrt((double)(v.shape[1] - 1))), g_new = c->img_size / c->patch;
            float *tmp = malloc(sizeof(float) * (size_t)numel);
            if (!tmp || (int64_t)g_old * g_old + 1 != v.shape[1]) {
                free(tmp);
                st = eva_fail(EVA_ERR_SHAPE, "%s: pos_embed of %lld tokens is not a square grid", path, (long long)v.shape[1]);
                break;
            }
            st = eva_tensor_convert_f32(&v, tmp);
            memcpy(p->param, tmp, sizeof(float) * (size_t)c->width);
            eva_resample_grid_official(tmp + c->width, g_old, g_old, p->param + c->width, g_new, g_new, c->width);
            free(tmp);
            n++;
        } else {
            st = eva_fail(EVA_ERR_SHAPE, "%s: '%s' has %lld values, the model needs %lld", path, p->name, (long long)numel,
                          (long long)p->numel);
        }
    }
    eva_tensor_file_close(f);
    if (copied) *copied = n;
    return st;
}

/* ---------------------------------------------------------------- kernel choice */

static void linear_fwd(eva_vit_train *m, int M, int O, int K, const float *X, const float *W, const float *b,
                       float *Y, eva_gemm_epilogue epi) {
    if (m->bf16) {   /* bf16 operands, fp32 accumulation (the products of two bf16 are exact in fp32) */
        eva_round_bf16_n(X, m->acts->bf_a, (size_t)M * K);
        eva_round_bf16_n(W, m->acts->bf_w, (size_t)O * K);
        X = m->acts->bf_a;
        W = m->acts->bf_w;
    }
    if (m->reference)
        eva_gemm_ref(M, O, K, X, K, W, K, b, Y, O, epi);
    else
        eva_gemm(m->pool, M, O, K, X, K, W, K, b, Y, O, epi);
}

/* dX = dY W, dW = dY^T X, db = colsum dY of Y[M,O] = X[M,K] W[O,K]^T (+ b); bf16 operands as linear_fwd. */
static void linear_bwd(eva_vit_train *m, int M, int O, int K, const float *X, const float *W, const float *dY,
                       float *dX, float *dW, float *db) {
    if (m->bf16) {
        eva_round_bf16_n(X, m->acts->bf_a, (size_t)M * K);
        eva_round_bf16_n(dY, m->acts->bf_b, (size_t)M * O);
        eva_round_bf16_n(W, m->acts->bf_w, (size_t)O * K);
        X = m->acts->bf_a;
        dY = m->acts->bf_b;
        W = m->acts->bf_w;
    }
    eva_linear_backward(m->pool, m->reference, M, O, K, X, W, dY, dX, false, dW, db, false);
}

static void ln_fwd(eva_vit_train *m, const float *x, const float *w, const float *b, float *y, double *mu,
                   double *rs, int rows) {
    eva_layernorm_fwd_train(m->reference ? NULL : m->pool, x, w, b, y, mu, rs, rows, m->cfg.width, m->cfg.ln_eps);
}

static eva_status ln_bwd(eva_vit_train *m, const float *x, const float *w, const double *mu, const double *rs,
                         const float *dy, float *dx, float *dw, float *db, int rows) {
    if (m->reference) {
        eva_layernorm_backward_ref(x, w, mu, rs, dy, dx, dw, db, rows, m->cfg.width);
        return EVA_OK;
    }
    return eva_layernorm_backward(m->pool, x, w, mu, rs, dy, dx, dw, db, rows, m->cfg.width);
}

/* y = x + keep[b] * branch for each of the B samples (N rows of D each). */
static void add_scaled_branch(float *y, const float *x, const float *branch, const float *keep, int B, int N, int D) {
    for (int b = 0; b < B; b++) {
        size_t off = (size_t)b * N * D, n = (size_t)N * D;
        float k = keep[b];
        for (size_t i = 0; i < n; i++) y[off + i] = x[off + i] + k * branch[off + i];
    }
}

/* ---------------------------------------------------------------- forward */

static eva_status check_inputs(eva_vit_train *m, const float *images, int B, const uint8_t *mask,
                               const float *teacher) {
    if (!m || !images || !mask || !teacher) return eva_fail(EVA_ERR_INVALID_ARG, "mim step: null argument");
    if (B <= 0 || B > 4096) return eva_fail(EVA_ERR_INVALID_ARG, "mim step: batch size %d out of range", B);
    int G = m->cfg.img_size / m->cfg.patch;
    for (int64_t i = 0; i < (int64_t)B * G * G; i++)
        if (mask[i] > 1) return eva_fail(EVA_ERR_INVALID_ARG, "mim step: mask value %d is not 0/1", mask[i]);
    return EVA_OK;
}

/* The activations block l works with: its own storage, or with --checkpoint-activations its saved
 * input and drop-path scales plus the one shared set of intermediates (recomputed in the backward). */
static block_acts block_view(eva_vit_train *m, int l) {
    eva_vit_train_acts *a = m->acts;
    if (!m->checkpoint_activations) return a->blk[l];
    block_acts k = a->work;
    k.x_in = a->blk[l].x_in;
    k.keep1 = a->blk[l].keep1;
    k.keep2 = a->blk[l].keep2;
    return k;
}

/* One pre-norm block, x_out = block(k->x_in) [B N, D], filling k's intermediates. */
static void block_fwd(eva_vit_train *m, int l, int B, block_acts *k, float *x_out) {
    eva_vit_train_acts *a = m->acts;
    const eva_vit_train_config *c = &m->cfg;
    const int D = c->width, F = c->mlp, G = c->img_size / c->patch, N = G * G + 1, BN = B * N;
    const eva_vit_train_block *bw = &m->p.blocks[l];
    bool dp1 = false, dp2 = false;
    for (int b = 0; b < B; b++) {
        dp1 |= k->keep1[b] != 1.0f;
        dp2 |= k->keep2[b] != 1.0f;
    }
    /* attention branch */
    ln_fwd(m, k->x_in, bw->norm1_w, bw->norm1_b, a->h, k->mu1, k->rs1, BN);
    memcpy(a->qkv_bias, bw->q_bias, sizeof(float) * D);
    memset(a->qkv_bias + D, 0, sizeof(float) * D);   /* no k bias (and no gradient to it) */
    memcpy(a->qkv_bias + 2 * D, bw->v_bias, sizeof(float) * D);
    linear_fwd(m, BN, 3 * D, D, a->h, bw->qkv_w, a->qkv_bias, k->qkv, EVA_GEMM_STORE);
    if (m->reference)
        eva_attention_fwd_ref(k->qkv, k->att, k->lse, B, N, D, c->heads);
    else
        eva_attention_fwd(m->pool, k->qkv, k->att, k->lse, B, N, D, c->heads);
    if (dp1) {
        linear_fwd(m, BN, D, D, k->att, bw->proj_w, bw->proj_b, a->tmp, EVA_GEMM_STORE);
        add_scaled_branch(k->x_mid, k->x_in, a->tmp, k->keep1, B, N, D);
    } else {
        memcpy(k->x_mid, k->x_in, sizeof(float) * (size_t)BN * D);
        linear_fwd(m, BN, D, D, k->att, bw->proj_w, bw->proj_b, k->x_mid, EVA_GEMM_ACCUMULATE);
    }
    /* MLP branch; fc1 output kept before GELU for the backward */
    ln_fwd(m, k->x_mid, bw->norm2_w, bw->norm2_b, a->h, k->mu2, k->rs2, BN);
    linear_fwd(m, BN, F, D, a->h, bw->fc1_w, bw->fc1_b, k->u, EVA_GEMM_STORE);
    if (m->reference) {
        for (size_t i = 0; i < (size_t)BN * F; i++) k->g[i] = eva_gelu_ref(k->u[i]);
    } else {
        memcpy(k->g, k->u, sizeof(float) * (size_t)BN * F);
        eva_gelu_inplace(k->g, (size_t)BN * F);
    }
    if (dp2) {
        linear_fwd(m, BN, D, F, k->g, bw->fc2_w, bw->fc2_b, a->tmp, EVA_GEMM_STORE);
        add_scaled_branch(x_out, k->x_mid, a->tmp, k->keep2, B, N, D);
    } else {
        memcpy(x_out, k->x_mid, sizeof(float) * (size_t)BN * D);
        linear_fwd(m, BN, D, F, k->g, bw->fc2_w, bw->fc2_b, x_out, EVA_GEMM_ACCUMULATE);
    }
}

static eva_status forward(eva_vit_train *m, const float *images, int B, const uint8_t *mask, const float *teacher,
                          double *loss_out) {
    eva_status st = ensure_acts(m, B);
    if (st != EVA_OK) return st;
    eva_vit_train_acts *a = m->acts;
    const eva_vit_train_config *c = &m->cfg;
    const int D = c->width, P = c->patch, G = c->img_size / P, Np = G * G, N = Np + 1;
    const int Kpe = c->in_chans * P * P, Dt = c->lm_dim, L = c->depth;
    const eva_vit_train_tensors *w = &m->p;

    /* drop-path scales: one Philox stream per forward pass, drawn block by block, sample by sample */
    eva_rng rng = eva_rng_make(c->seed, m->step++);
    for (int l = 0; l < L; l++) {
        double p = L > 1 ? c->drop_path * l / (L - 1) : 0.0;
        for (int k = 0; k < 2; k++) {
            float *keep = k == 0 ? a->blk[l].keep1 : a->blk[l].keep2;
            for (int b = 0; b < B; b++) keep[b] = p > 0 ? (eva_rng_uniform(&rng) >= p ? (float)(1.0 / (1.0 - p)) : 0.0f) : 1.0f;
        }
    }

    /* patch embedding, mask tokens, cls, pos */
    eva_im2col_patches(images, a->cols, B, c->in_chans, c->img_size, P);
    linear_fwd(m, B * Np, D, Kpe, a->cols, w->patch_w, w->patch_b, a->e, EVA_GEMM_STORE);
    float *x0 = a->blk[0].x_in;
    for (int b = 0; b < B; b++) {
        float *xb = x0 + (size_t)b * N * D;
        for (int d = 0; d < D; d++) xb[d] = w->cls_token[d] + w->pos_embed[d];
        for (int p = 0; p < Np; p++) {
            const float *src = mask && mask[(size_t)b * Np + p] ? w->mask_token : a->e + ((size_t)b * Np + p) * D;
            const float *pos = w->pos_embed + (size_t)(p + 1) * D;
            float *dst = xb + (size_t)(p + 1) * D;
            for (int d = 0; d < D; d++) dst[d] = src[d] + pos[d];
        }
    }

    for (int l = 0; l < L; l++) {
        float *x_out = l + 1 < L ? a->blk[l + 1].x_in : a->x_out;
        block_acts k = block_view(m, l);
        block_fwd(m, l, B, &k, x_out);
    }

    if (c->num_classes > 0) {
        /* classifier: mean of the patch tokens -> fc_norm -> head; soft-target cross-entropy */
        const int C = c->num_classes;
        for (int b = 0; b < B; b++)
            for (int d = 0; d < D; d++) {
                double s = 0;
                for (int p = 1; p < N; p++) s += a->x_out[((size_t)b * N + p) * D + d];
                a->pooled[(size_t)b * D + d] = (float)(s / Np);
            }
        ln_fwd(m, a->pooled, w->fc_norm_w, w->fc_norm_b, a->pooled_n, a->mu_f, a->rs_f, B);
        eva_gemm_ref(B, C, D, a->pooled_n, D, w->head_w, D, w->head_b, a->logits, C, EVA_GEMM_STORE);
        double loss = 0;
        for (int b = 0; b < B; b++) {
            const float *l = a->logits + (size_t)b * C;
            const float *t = teacher ? teacher + (size_t)b * C : NULL;   /* soft targets */
            double mx = -INFINITY, z = 0;
            for (int k = 0; k < C; k++) mx = fmax(mx, l[k]);
            for (int k = 0; k < C; k++) z += exp((double)l[k] - mx);
            double lz = log(z) + mx;
            for (int k = 0; k < C; k++) {
                double tk = t ? t[k] : 0, pk = exp((double)l[k] - lz);
                loss -= tk * ((double)l[k] - lz);
                a->dlogits[(size_t)b * C + k] = (float)((pk - tk) / B);
            }
        }
        *loss_out = loss / B;
        return EVA_OK;
    }

    /* masked rows only: final norm, lm_head, loss */
    int M = 0;
    for (int b = 0; b < B; b++)
        for (int p = 0; p < Np; p++)
            if (mask[(size_t)b * Np + p]) {
                a->rows[M] = b * N + 1 + p;
                memcpy(a->xm + (size_t)M * D, a->x_out + (size_t)a->rows[M] * D, sizeof(float) * D);
                memcpy(a->target + (size_t)M * Dt, teacher + ((size_t)b * Np + p) * Dt, sizeof(float) * Dt);
                M++;
            }
    a->M = M;
    if (M > 0) {
        ln_fwd(m, a->xm, w->norm_w, w->norm_b, a->xn, a->mu_m, a->rs_m, M);
        linear_fwd(m, M, Dt, D, a->xn, w->lm_w, w->lm_b, a->pred, EVA_GEMM_STORE);
    }
    *loss_out = eva_mim_cosine_loss(a->pred, a->target, M, Dt, EVA_MIM_COS_EPS, a->dpred, NULL);
    return EVA_OK;
}

/* ---------------------------------------------------------------- backward */

/* Offset in grad_mem where part j starts: j = -1 the embeddings (cls, mask, pos, patch), 0..L-1
 * block j, L the head; part L + 1 is the end. */
static int64_t part_offset(const eva_vit_train *m, int j) {
    const int L = m->cfg.depth;
    if (j <= -1) return 0;
    if (j < L) return m->g.blocks[j].norm1_w - m->grad_mem;
    if (j == L) return (m->cfg.num_classes > 0 ? m->g.fc_norm_w : m->g.norm_w) - m->grad_mem;
    return m->total;
}

/* Report parts [first, last) of the gradient as final (see grad_ready in vit_train.h). */
static void grad_ready(eva_vit_train *m, int first, int last) {
    if (m->grad_ready) m->grad_ready(m->grad_ready_user, part_offset(m, first), part_offset(m, last));
}

static eva_status backward(eva_vit_train *m, int B, const uint8_t *mask) {
    eva_vit_train_acts *a = m->acts;
    const eva_vit_train_config *c = &m->cfg;
    const int D = c->width, F = c->mlp, P = c->patch, G = c->img_size / P, Np = G * G, N = Np + 1, BN = B * N;
    const int Kpe = c->in_chans * P * P, Dt = c->lm_dim, L = c->depth, M = a->M;
    const eva_vit_train_tensors *w = &m->p, *g = &m->g;
    eva_pool *pool = m->pool;
    bool ref = m->reference;
    eva_status st;
    memset(m->grad_mem, 0, sizeof(float) * (size_t)m->total);

    /* lm_head and final norm on the masked rows, scattered into dx (zero elsewhere) */
    memset(a->dx, 0, sizeof(float) * (size_t)BN * D);
    if (c->num_classes > 0) {
        /* head, fc_norm, then the mean over the Np patch tokens spreads 1/Np to each */
        const int C = c->num_classes;
        eva_linear_backward(pool, true, B, C, D, a->pooled_n, w->head_w, a->dlogits, a->dpooled_n, false, g->head_w,
                            g->head_b, false);
        memset(a->dpooled, 0, sizeof(float) * (size_t)B * D);
        st = ln_bwd(m, a->pooled, w->fc_norm_w, a->mu_f, a->rs_f, a->dpooled_n, a->dpooled, g->fc_norm_w, g->fc_norm_b, B);
        if (st != EVA_OK) return st;
        for (int b = 0; b < B; b++)
            for (int p = 1; p < N; p++) {
                float *dxr = a->dx + ((size_t)b * N + p) * D;
                const float *dp = a->dpooled + (size_t)b * D;
                for (int d = 0; d < D; d++) dxr[d] = dp[d] / (float)Np;
            }
    } else if (M > 0) {
        linear_bwd(m, M, Dt, D, a->xn, w->lm_w, a->dpred, a->dxn, g->lm_w, g->lm_b);
        memset(a->dxm, 0, sizeof(float) * (size_t)M * D);
        st = ln_bwd(m, a->xm, w->norm_w, a->mu_m, a->rs_m, a->dxn, a->dxm, g->norm_w, g->norm_b, M);
        if (st != EVA_OK) return st;
        for (int r = 0; r < M; r++) memcpy(a->dx + (size_t)a->rows[r] * D, a->dxm + (size_t)r * D, sizeof(float) * D);
    }
    grad_ready(m, L, L + 1);   /* the head: fc_norm + head or norm + lm_head */

    for (int l = L - 1; l >= 0; l--) {
        block_acts kv = block_view(m, l);
        /* checkpointing: redo the block's forward from its saved input (the last block's
         * intermediates are still in the working set from the forward) */
        if (a->checkpointed && l < L - 1) block_fwd(m, l, B, &kv, a->x_recompute);
        block_acts *k = &kv;
        const eva_vit_train_block *bw = &w->blocks[l];
        eva_vit_train_block *bg = &g->blocks[l];
        /* MLP branch: dbranch = keep2 * dx (dx is also the gradient of x_mid through the residual) */
        const float *dbr = a->dx;
        bool dp2 = false, dp1 = false;
        for (int b = 0; b < B; b++) {
            dp2 |= k->keep2[b] != 1.0f;
            dp1 |= k->keep1[b] != 1.0f;
        }
        if (dp2) {
            memset(a->tmp, 0, sizeof(float) * (size_t)BN * D);
            add_scaled_branch(a->tmp, a->tmp, a->dx, k->keep2, B, N, D);
            dbr = a->tmp;
        }
        linear_bwd(m, BN, D, F, k->g, bw->fc2_w, dbr, a->dg, bg->fc2_w, bg->fc2_b);
        if (ref)
            eva_gelu_backward_ref(k->u, a->dg, a->dg, (size_t)BN * F);
        else
            eva_gelu_backward(pool, k->u, a->dg, a->dg, (size_t)BN * F);
        ln_fwd(m, k->x_mid, bw->norm2_w, bw->norm2_b, a->h, k->mu2, k->rs2, BN);   /* recompute LN2 output */
        linear_bwd(m, BN, F, D, a->h, bw->fc1_w, a->dg, a->dh, bg->fc1_w, bg->fc1_b);
        st = ln_bwd(m, k->x_mid, bw->norm2_w, k->mu2, k->rs2, a->dh, a->dx, bg->norm2_w, bg->norm2_b, BN);
        if (st != EVA_OK) return st;

        /* attention branch */
        dbr = a->dx;
        if (dp1) {
            memset(a->tmp, 0, sizeof(float) * (size_t)BN * D);
            add_scaled_branch(a->tmp, a->tmp, a->dx, k->keep1, B, N, D);
            dbr = a->tmp;
        }
        linear_bwd(m, BN, D, D, k->att, bw->proj_w, dbr, a->datt, bg->proj_w, bg->proj_b);
        if (ref)
            eva_attention_backward_ref(k->qkv, k->att, k->lse, a->datt, a->dqkv, B, N, D, c->heads);
        else
            eva_attention_backward(pool, k->qkv, k->att, k->lse, a->datt, a->dqkv, B, N, D, c->heads);
        ln_fwd(m, k->x_in, bw->norm1_w, bw->norm1_b, a->h, k->mu1, k->rs1, BN);     /* recompute LN1 output */
        linear_bwd(m, BN, 3 * D, D, a->h, bw->qkv_w, a->dqkv, a->dh, bg->qkv_w, a->dqkv_bias);
        memcpy(bg->q_bias, a->dqkv_bias, sizeof(float) * D);       /* the k third has no parameter */
        memcpy(bg->v_bias, a->dqkv_bias + 2 * D, sizeof(float) * D);
        st = ln_bwd(m, k->x_in, bw->norm1_w, k->mu1, k->rs1, a->dh, a->dx, bg->norm1_w, bg->norm1_b, BN);
        if (st != EVA_OK) return st;
        grad_ready(m, l, l + 1);
    }

    /* x0 = [cls | mask ? mask_token : e] + pos: sums over the batch, masked rows go to mask_token */
    for (int t = 0; t < N; t++)
        for (int d = 0; d < D; d++) {
            double s = 0;
            for (int b = 0; b < B; b++) s += a->dx[((size_t)b * N + t) * D + d];
            g->pos_embed[(size_t)t * D + d] = (float)s;
        }
    for (int d = 0; d < D; d++) {
        double s = 0, sm = 0;
        for (int b = 0; b < B; b++) s += a->dx[(size_t)b * N * D + d];
        for (int b = 0; mask && b < B; b++)
            for (int p = 0; p < Np; p++)
                if (mask[(size_t)b * Np + p]) sm += a->dx[((size_t)b * N + 1 + p) * D + d];
        g->cls_token[d] = (float)s;
        if (g->mask_token) g->mask_token[d] = (float)sm;
    }
    if (c->num_classes > 0 && c->stop_grad_conv1) {   /* x = patch_embed(x).detach() */
        grad_ready(m, -1, 0);
        return EVA_OK;
    }
    /* de [B Np, D]: dx of unmasked patch rows, zero where the mask token replaced the embedding */
    for (int b = 0; b < B; b++)
        for (int p = 0; p < Np; p++) {
            float *de = a->e + ((size_t)b * Np + p) * D;   /* e is no longer needed: reuse */
            if (mask && mask[(size_t)b * Np + p])
                memset(de, 0, sizeof(float) * D);
            else
                memcpy(de, a->dx + ((size_t)b * N + 1 + p) * D, sizeof(float) * D);
        }
    linear_bwd(m, B * Np, D, Kpe, a->cols, w->patch_w, a->e, NULL, g->patch_w, g->patch_b);
    grad_ready(m, -1, 0);
    return EVA_OK;
}

eva_status eva_vit_train_mim_loss(eva_vit_train *m, const float *images, int B, const uint8_t *mask,
                                  const float *teacher, double *loss_out) {
    eva_status st = check_inputs(m, images, B, mask, teacher);
    if (st != EVA_OK) return st;
    return forward(m, images, B, mask, teacher, loss_out);
}

eva_status eva_vit_train_mim_step(eva_vit_train *m, const float *images, int B, const uint8_t *mask,
                                  const float *teacher, float *pred_out, int *M_out, double *loss_out) {
    eva_status st = check_inputs(m, images, B, mask, teacher);
    if (st != EVA_OK) return st;
    double loss = 0;
    st = forward(m, images, B, mask, teacher, &loss);
    if (st != EVA_OK) return st;
    if (pred_out) memcpy(pred_out, m->acts->pred, sizeof(float) * (size_t)m->acts->M * m->cfg.lm_dim);
    if (M_out) *M_out = m->acts->M;
    if (loss_out) *loss_out = loss;
    return backward(m, B, mask);
}

eva_status eva_vit_train_cls_step(eva_vit_train *m, const float *images, int B, const float *targets, float *logits_out,
                                  double *loss_out) {
    if (!m || !images || !targets || m->cfg.num_classes <= 0)
        return eva_fail(EVA_ERR_INVALID_ARG, "classifier step: %s", m && m->cfg.num_classes <= 0 ? "not a classifier" : "null argument");
    if (B <= 0 || B > 4096) return eva_fail(EVA_ERR_INVALID_ARG, "classifier step: batch size %d out of range", B);
    double loss = 0;
    eva_status st = forward(m, images, B, NULL, targets, &loss);
    if (st != EVA_OK) return st;
    if (logits_out) memcpy(logits_out, m->acts->logits, sizeof(float) * (size_t)B * m->cfg.num_classes);
    if (loss_out) *loss_out = loss;
    return backward(m, B, NULL);
}

eva_status eva_vit_train_cls_forward(eva_vit_train *m, const float *images, int B, float *logits) {
    if (!m || !images || !logits || m->cfg.num_classes <= 0) return eva_fail(EVA_ERR_INVALID_ARG, "classifier forward: bad arguments");
    double loss;
    eva_status st = forward(m, images, B, NULL, NULL, &loss);
    if (st == EVA_OK) memcpy(logits, m->acts->logits, sizeof(float) * (size_t)B * m->cfg.num_classes);
    return st;
}

double eva_vit_train_step_flops(const eva_vit_train_config *c, int B, int M) {
    double D = c->width, F = c->mlp, G = c->img_size / c->patch, Np = G * G, N = Np + 1;
    double K = (double)c->in_chans * c->patch * c->patch;
    double per_block = 2.0 * N * (3 * D * D + D * D + 2 * D * F) + 4.0 * N * N * D;
    double fwd = B * (2.0 * Np * K * D + c->depth * per_block) + 2.0 * M * D * c->lm_dim;
    return 3.0 * fwd;
}
