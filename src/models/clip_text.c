/* clip_text.c — EVA-CLIP's text tower: binding from a state dict and the forward pass over a
 * ragged batch (see clip_text.h). Shapes: n texts, ctx ids each, L_s = computed positions of
 * text s, R = sum L_s packed rows, W width, F MLP hidden, E joint width. */
#include "models/clip_text.h"
#include "ops/attention_causal.h"
#include "ops/gemm.h"
#include "ops/ops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static eva_status own(eva_clip_text *t, void *p) {
    if (t->n_owned == t->cap_owned) {
        int cap = t->cap_owned ? 2 * t->cap_owned : 64;
        void **n = realloc(t->owned, sizeof(void *) * (size_t)cap);
        if (!n) {
            free(p);
            return eva_fail(EVA_ERR_NOMEM, "out of memory binding the text tower");
        }
        t->owned = n;
        t->cap_owned = cap;
    }
    t->owned[t->n_owned++] = p;
    return EVA_OK;
}

typedef struct binder {
    eva_clip_text *t;
    const eva_tensor_map *map;
    const char *prefix;
    eva_status st;
} binder;

static const eva_named_tensor *find(const binder *b, const char *name) {
    char full[512];
    snprintf(full, sizeof full, "%s%s", b->prefix, name);
    return eva_tensor_map_find(b->map, full);
}

/* A tensor as contiguous F32 with the given shape (a view when the file holds F32). */
static const float *bind(binder *b, const char *name, int ndim, int64_t d0, int64_t d1) {
    if (b->st != EVA_OK) return NULL;
    const eva_named_tensor *nt = find(b, name);
    if (!nt) {
        b->st = eva_fail(EVA_ERR_MISSING, "%s: missing tensor '%s%s'", b->map->source, b->prefix, name);
        return NULL;
    }
    const eva_tensor *x = &nt->t;
    int64_t want[2] = {d0, d1};
    bool ok = x->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = x->shape[i] == want[i];
    if (!ok) {
        char got[96];
        b->st = eva_fail(EVA_ERR_SHAPE, "%s: '%s%s' has shape %s, want [%lld%s%lld]", b->map->source, b->prefix, name,
                         eva_shape_str(x->ndim, x->shape, got, sizeof got), (long long)d0, ndim == 2 ? ", " : "",
                         ndim == 2 ? (long long)d1 : 0LL);
        if (ndim == 1) eva_fail(EVA_ERR_SHAPE, "%s: '%s%s' has shape %s, want [%lld]", b->map->source, b->prefix, name, got,
                                (long long)d0);
        return NULL;
    }
    if (!eva_tensor_is_contiguous(x)) {
        b->st = eva_fail(EVA_ERR_UNSUPPORTED, "%s: '%s%s' is not contiguous", b->map->source, b->prefix, name);
        return NULL;
    }
    b->t->n_params += eva_tensor_numel(x);
    if (x->dtype == EVA_F32) return x->data;
    size_t n = (size_t)eva_tensor_numel(x);
    float *f = eva_malloc(sizeof(float) * (n ? n : 1));
    if (!f) {
        b->st = EVA_ERR_NOMEM;
        return NULL;
    }
    if ((b->st = eva_convert_to_f32(x->dtype, x->data, f, n)) != EVA_OK) {
        free(f);
        return NULL;
    }
    if ((b->st = own(b->t, f)) != EVA_OK) return NULL;
    return f;
}

eva_status eva_clip_text_bind(eva_clip_text *t, const eva_tensor_map *map, const char *prefix, int heads) {
    memset(t, 0, sizeof *t);
    binder b = {t, map, prefix, EVA_OK};
    const eva_named_tensor *pos = find(&b, "positional_embedding");
    const eva_named_tensor *proj = find(&b, "text_projection");
    const eva_named_tensor *tok = find(&b, "token_embedding.weight");
    if (!pos || pos->t.ndim != 2)
        return eva_fail(EVA_ERR_MISSING, "%s: no text tower ('%spositional_embedding' [P, W] missing)", map->source, prefix);
    if (!proj || proj->t.ndim != 2)
        return eva_fail(EVA_ERR_MISSING, "%s: missing tensor '%stext_projection' [W, E]", map->source, prefix);
    if (!tok)
        return eva_fail(EVA_ERR_MISSING,
                        "%s: the text token embedding '%stoken_embedding.weight' is not in the file (the golden tiny "
                        "EVA-CLIP omits it: generate it with README-train-clip §3.4 and merge it in)", map->source, prefix);
    t->context = (int)pos->t.shape[0];
    t->width = (int)pos->t.shape[1];
    t->embed_dim = (int)proj->t.shape[1];
    t->ln_eps = 1e-5f;
    int64_t W = t->width;
    if (t->context < 2 || t->context > 4096 || W < 1 || W > 65536 || t->embed_dim < 1 || t->embed_dim > 65536)
        return eva_fail(EVA_ERR_SHAPE, "%s: implausible text tower (context %d, width %d, embed %d)", map->source,
                        t->context, t->width, t->embed_dim);
    if (tok->t.ndim != 2 || tok->t.shape[1] != W || tok->t.shape[0] < 1 || tok->t.shape[0] > (1 << 24) ||
        !eva_tensor_is_contiguous(&tok->t) || tok->t.dtype == EVA_Q8 || tok->t.dtype == EVA_BOOL)
        return eva_fail(EVA_ERR_SHAPE, "%s: '%stoken_embedding.weight' must be a contiguous float [V, %d]", map->source,
                        prefix, t->width);
    t->vocab = (int)tok->t.shape[0];
    t->tok_emb = tok->t.data;
    t->tok_dtype = tok->t.dtype;
    t->n_params += eva_tensor_numel(&tok->t);
    /* layers: count consecutive resblocks.<i>.ln_1.weight */
    char name[128];
    for (t->layers = 0; t->layers < 1000; t->layers++) {
        snprintf(name, sizeof name, "transformer.resblocks.%d.ln_1.weight", t->layers);
        if (!find(&b, name)) break;
    }
    if (t->layers == 0) return eva_fail(EVA_ERR_MISSING, "%s: no '%stransformer.resblocks.0.*' tensors", map->source, prefix);
    snprintf(name, sizeof name, "transformer.resblocks.0.mlp.c_fc.weight");
    const eva_named_tensor *fc = find(&b, name);
    if (!fc || fc->t.ndim != 2) return eva_fail(EVA_ERR_MISSING, "%s: missing tensor '%s%s'", map->source, prefix, name);
    t->mlp = (int)fc->t.shape[0];
    if (t->mlp < 1 || t->mlp > (1 << 20)) return eva_fail(EVA_ERR_SHAPE, "%s: implausible text MLP width", map->source);
    t->heads = heads > 0 ? heads : (t->width % 64 == 0 ? t->width / 64 : 0);
    if (t->heads <= 0 || t->width % t->heads != 0)
        return eva_fail(EVA_ERR_INVALID_ARG, "%s: cannot tell the text tower's heads for width %d (pass heads)",
                        map->source, t->width);
    int64_t F = t->mlp;
    t->pos_emb = bind(&b, "positional_embedding", 2, t->context, W);
    t->proj = bind(&b, "text_projection", 2, W, t->embed_dim);
    t->lnf_w = bind(&b, "ln_final.weight", 1, W, 0);
    t->lnf_b = bind(&b, "ln_final.bias", 1, W, 0);
    t->blocks = eva_calloc((size_t)t->layers, sizeof *t->blocks);
    if (!t->blocks) return EVA_ERR_NOMEM;
    for (int i = 0; i < t->layers && b.st == EVA_OK; i++) {
        eva_clip_text_block *k = &t->blocks[i];
#define B1(field, suffix, d0) (snprintf(name, sizeof name, "transformer.resblocks.%d." suffix, i), k->field = bind(&b, name, 1, d0, 0))
#define B2(field, suffix, d0, d1) (snprintf(name, sizeof name, "transformer.resblocks.%d." suffix, i), k->field = bind(&b, name, 2, d0, d1))
        B1(ln1_w, "ln_1.weight", W);
        B1(ln1_b, "ln_1.bias", W);
        B2(in_w, "attn.in_proj_weight", 3 * W, W);
        B1(in_b, "attn.in_proj_bias", 3 * W);
        B2(out_w, "attn.out_proj.weight", W, W);
        B1(out_b, "attn.out_proj.bias", W);
        B1(ln2_w, "ln_2.weight", W);
        B1(ln2_b, "ln_2.bias", W);
        B2(fc_w, "mlp.c_fc.weight", F, W);
        B1(fc_b, "mlp.c_fc.bias", F);
        B2(proj_w, "mlp.c_proj.weight", W, F);
        B1(proj_b, "mlp.c_proj.bias", W);
#undef B1
#undef B2
    }
    if (b.st != EVA_OK) {
        eva_status st = b.st;
        eva_clip_text_free(t);
        return st;
    }
    return EVA_OK;
}

void eva_clip_text_free(eva_clip_text *t) {
    if (!t) return;
    for (int i = 0; i < t->n_owned; i++) free(t->owned[i]);
    free(t->owned);
    free(t->blocks);
    memset(t, 0, sizeof *t);
}

/* ---------------------------------------------------------------- synthetic weights */

static float *synth(eva_clip_text *t, eva_rng *r, size_t n, double mean, double std) {
    float *f = eva_malloc(sizeof(float) * n);
    if (!f || own(t, f) != EVA_OK) return NULL;
    for (size_t i = 0; i < n; i++) f[i] = (float)(mean + std * eva_rng_normal(r));
    t->n_params += (int64_t)n;
    return f;
}

eva_status eva_clip_text_synthetic(eva_clip_text *t, int width, int layers, int heads, int embed_dim, uint64_t seed) {
    memset(t, 0, sizeof *t);
    if (width < 8 || layers < 1 || heads < 1 || width % heads || embed_dim < 1)
        return eva_fail(EVA_ERR_INVALID_ARG, "bad synthetic text tower shape");
    t->vocab = 49408;
    t->context = 77;
    t->width = width;
    t->layers = layers;
    t->heads = heads;
    t->mlp = 4 * width;
    t->embed_dim = embed_dim;
    t->ln_eps = 1e-5f;
    eva_rng r = eva_rng_make(seed, 7);
    size_t W = (size_t)width, F = (size_t)t->mlp;
    /* token embedding stored as F16 (half the memory; rows are converted when gathered) */
    uint16_t *tok = eva_malloc(sizeof(uint16_t) * (size_t)t->vocab * W);
    if (!tok || own(t, tok) != EVA_OK) return EVA_ERR_NOMEM;
    for (size_t i = 0; i < (size_t)t->vocab * W; i++) tok[i] = eva_f32_to_f16((float)(0.02 * eva_rng_normal(&r)));
    t->tok_emb = tok;
    t->tok_dtype = EVA_F16;
    t->n_params += (int64_t)t->vocab * (int64_t)W;
    bool ok = (t->pos_emb = synth(t, &r, 77 * W, 0, 0.01)) && (t->proj = synth(t, &r, W * (size_t)embed_dim, 0, 0.03)) &&
              (t->lnf_w = synth(t, &r, W, 1, 0.1)) && (t->lnf_b = synth(t, &r, W, 0, 0.02));
    t->blocks = ok ? eva_calloc((size_t)layers, sizeof *t->blocks) : NULL;
    ok = ok && t->blocks;
    for (int i = 0; ok && i < layers; i++) {
        eva_clip_text_block *k = &t->blocks[i];
        ok = (k->ln1_w = synth(t, &r, W, 1, 0.1)) && (k->ln1_b = synth(t, &r, W, 0, 0.02)) &&
             (k->in_w = synth(t, &r, 3 * W * W, 0, 0.02)) && (k->in_b = synth(t, &r, 3 * W, 0, 0.02)) &&
             (k->out_w = synth(t, &r, W * W, 0, 0.02)) && (k->out_b = synth(t, &r, W, 0, 0.02)) &&
             (k->ln2_w = synth(t, &r, W, 1, 0.1)) && (k->ln2_b = synth(t, &r, W, 0, 0.02)) &&
             (k->fc_w = synth(t, &r, F * W, 0, 0.02)) && (k->fc_b = synth(t, &r, F, 0, 0.02)) &&
             (k->proj_w = synth(t, &r, W * F, 0, 0.02)) && (k->proj_b = synth(t, &r, W, 0, 0.02));
    }
    if (!ok) {
        eva_clip_text_free(t);
        return EVA_ERR_NOMEM;
    }
    return EVA_OK;
}

/* ---------------------------------------------------------------- forward */

enum { ROW_BUDGET = 2048 };   /* packed rows per chunk: big GEMMs, bounded activations */

typedef struct tctx {
    const eva_clip_text *t;
    eva_pool *pool;
    bool ref;
} tctx;

static void linear(const tctx *c, int M, int N, int K, const float *A, const float *W, const float *bias, float *C,
                   eva_gemm_epilogue epi) {
    if (c->ref)
        eva_gemm_ref(M, N, K, A, K, W, K, bias, C, N, epi);
    else
        eva_gemm(c->pool, M, N, K, A, K, W, K, bias, C, N, epi);
}

static void layernorm(const tctx *c, const float *x, const float *w, const float *b, float *y, int rows) {
    if (c->ref)
        eva_layernorm_ref(x, w, b, y, rows, c->t->width, c->t->ln_eps);
    else
        eva_layernorm(c->pool, x, w, b, y, rows, c->t->width, c->t->ln_eps);
}

/* Position of the first largest id (torch argmax returns the first maximal index). */
static int eot_position(const int32_t *ids, int ctx) {
    int best = 0;
    for (int j = 1; j < ctx; j++)
        if (ids[j] > ids[best]) best = j;
    return best;
}

eva_status eva_clip_text_forward(const eva_clip_text *t, eva_pool *pool, const int32_t *ids, int n, int ctx,
                                 bool full, bool reference, float *raw_out, float *tokens_out) {
    if (n < 0 || ctx < 1 || ctx > t->context)
        return eva_fail(EVA_ERR_SHAPE, "text ids: context %d must be in 1..%d", ctx, t->context);
    if (tokens_out && !full) return eva_fail(EVA_ERR_INVALID_ARG, "text tokens output needs the full context");
    for (int s = 0; s < n; s++)
        for (int j = 0; j < ctx; j++) {
            int32_t id = ids[(size_t)s * ctx + j];
            if (id < 0 || id >= t->vocab)
                return eva_fail(EVA_ERR_INVALID_ARG, "text %d: token id %d at position %d is outside [0, %d)", s, (int)id,
                                j, t->vocab);
        }
    if (n == 0) return EVA_OK;
    size_t W = (size_t)t->width, F = (size_t)t->mlp, E = (size_t)t->embed_dim;
    /* rows per chunk: the budget, or less when all texts need fewer (a single query text must
     * not allocate activations for 2048 rows) */
    size_t total = 0, longest = 0;
    for (int s = 0; s < n; s++) {
        size_t L = full ? (size_t)ctx : (size_t)eot_position(ids + (size_t)s * ctx, ctx) + 1;
        total += L;
        longest = EVA_MAX(longest, L);
    }
    size_t R = EVA_MAX(EVA_MIN((size_t)ROW_BUDGET, total), longest);
    int max_texts = (int)EVA_MIN((size_t)n, R);
    float *x = eva_malloc(sizeof(float) * R * W), *h = eva_malloc(sizeof(float) * R * W);
    float *o = eva_malloc(sizeof(float) * R * W), *qkv = eva_malloc(sizeof(float) * R * 3 * W);
    float *f = eva_malloc(sizeof(float) * R * F), *pooled = eva_malloc(sizeof(float) * (size_t)max_texts * W);
    int *off = eva_malloc(sizeof(int) * ((size_t)max_texts + 1)), *eot = eva_malloc(sizeof(int) * (size_t)max_texts);
    eva_status st = EVA_OK;
    if (!x || !h || !o || !qkv || !f || !pooled || !off || !eot) {
        st = eva_fail(EVA_ERR_NOMEM, "cannot allocate text tower activations (%zu rows)", R);
        goto done;
    }
    tctx c = {t, pool, reference};
    for (int a = 0; a < n;) {
        /* chunk [a, b): as many texts as fit in R packed rows */
        int cnt = 0, rows = 0;
        off[0] = 0;
        while (a + cnt < n && cnt < max_texts) {
            const int32_t *tid = ids + (size_t)(a + cnt) * ctx;
            int e = eot_position(tid, ctx), L = full ? ctx : e + 1;
            if (rows + L > (int)R) break;
            eot[cnt] = e;
            rows += L;
            off[++cnt] = rows;
        }
        /* embeddings: token row (converted from the file's dtype) + position */
        for (int s = 0; s < cnt; s++) {
            const int32_t *tid = ids + (size_t)(a + s) * ctx;
            for (int j = 0; j < off[s + 1] - off[s]; j++) {
                float *xr = x + (size_t)(off[s] + j) * W;
                const uint8_t *src = (const uint8_t *)t->tok_emb + (size_t)tid[j] * W * eva_dtype_size(t->tok_dtype);
                if ((st = eva_convert_to_f32(t->tok_dtype, src, xr, W)) != EVA_OK) goto done;
                const float *pe = t->pos_emb + (size_t)j * W;
                for (size_t d = 0; d < W; d++) xr[d] += pe[d];
            }
        }
        for (int l = 0; l < t->layers; l++) {
            const eva_clip_text_block *k = &t->blocks[l];
            layernorm(&c, x, k->ln1_w, k->ln1_b, h, rows);
            linear(&c, rows, 3 * t->width, t->width, h, k->in_w, k->in_b, qkv, EVA_GEMM_STORE);
            if (reference) {
                if (!eva_attention_causal_ref(qkv, o, off, cnt, t->width, t->heads)) {
                    st = eva_fail(EVA_ERR_NOMEM, "out of memory in attention");
                    goto done;
                }
            } else {
                eva_attention_causal(pool, qkv, o, off, cnt, t->width, t->heads);
            }
            linear(&c, rows, t->width, t->width, o, k->out_w, k->out_b, x, EVA_GEMM_ACCUMULATE);
            layernorm(&c, x, k->ln2_w, k->ln2_b, h, rows);
            linear(&c, rows, t->mlp, t->width, h, k->fc_w, k->fc_b, f, EVA_GEMM_GELU);
            linear(&c, rows, t->width, t->mlp, f, k->proj_w, k->proj_b, x, EVA_GEMM_ACCUMULATE);
        }
        if (tokens_out) {
            layernorm(&c, x, t->lnf_w, t->lnf_b, h, rows);
            memcpy(tokens_out + (size_t)a * ctx * W, h, sizeof(float) * (size_t)rows * W);
        }
        for (int s = 0; s < cnt; s++) memcpy(pooled + (size_t)s * W, x + (size_t)(off[s] + eot[s]) * W, sizeof(float) * W);
        layernorm(&c, pooled, t->lnf_w, t->lnf_b, pooled, cnt);
        if (reference)
            eva_gemm_nn_ref(cnt, (int)E, t->width, pooled, t->width, t->proj, (int)E, raw_out + (size_t)a * E, (int)E, false);
        else
            eva_gemm_nn(pool, cnt, (int)E, t->width, pooled, t->width, t->proj, (int)E, raw_out + (size_t)a * E, (int)E, false);
        a += cnt;
    }
done:
    free(x), free(h), free(o), free(qkv), free(f), free(pooled), free(off), free(eot);
    return st;
}
