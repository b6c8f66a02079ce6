/* vit_load.c — from a tensor file to a bound EVA model: choose the state dict, work out the
 * architecture (registry, file metadata, or the shapes themselves), check every name and shape,
 * convert 16-bit weights to fp32 once, and resample the position embedding for the run size.
 *
 * Weight memory: fp32 tensors stay views into the file mapping (zero-copy); everything that has
 * to be computed (converted tensors, the [q|0|v] bias, a resampled pos_embed) is carved from one
 * allocation sized by a counting pass over the same binding code. */
#include "models/vit.h"
#include "ops/ops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

eva_model_params eva_model_default_params(void) {
    eva_model_params p;
    memset(&p, 0, sizeof p);
    p.posemb = EVA_POSEMB_OFFICIAL;
    p.ckpt_policy = EVA_CKPT_OFFICIAL;
    p.weight_dtype = EVA_F32;
    return p;
}

float *eva_model_take(eva_model *m, size_t n) {
    size_t need = (n + 15) & ~(size_t)15;   /* keep every slice 64-byte aligned */
    if (!m->owned) {                        /* counting pass */
        m->owned_floats += need;
        return NULL;
    }
    if (m->owned_used + need > m->owned_floats) return NULL;
    float *p = m->owned + m->owned_used;
    m->owned_used += need;
    return p;
}

/* ---------------------------------------------------------------- choosing the state dict */

static bool has_prefix(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

/* Every P such that P + "pos_embed" names a tensor is a candidate state dict. */
static eva_status choose_prefix(eva_model *m, const eva_model_params *p) {
    const eva_tensor_map *map = &m->map;
    char cands[16][128];
    int nc = 0;
    for (int i = 0; i < map->count && nc < 16; i++) {
        const char *name = map->items[i].name;
        size_t len = strlen(name);
        if (len >= 9 && strcmp(name + len - 9, "pos_embed") == 0 && (len == 9 || name[len - 10] == '.') &&
            len - 9 < sizeof cands[0]) {
            memcpy(cands[nc], name, len - 9);
            cands[nc][len - 9] = 0;
            nc++;
        }
    }
    if (nc == 0)
        return eva_fail(EVA_ERR_MISSING, "%s: no 'pos_embed' tensor found: not an EVA vision checkpoint", m->source);
    int pick = -1;
    if (p->ckpt_key && *p->ckpt_key) {
        char want[140];
        snprintf(want, sizeof want, "%s.", p->ckpt_key);
        for (int i = 0; i < nc && pick < 0; i++)
            if (has_prefix(cands[i], want) || strcmp(p->ckpt_key, cands[i]) == 0) pick = i;
        if (pick < 0) {
            char list[512] = "";
            for (int i = 0; i < nc; i++) {
                size_t l = strlen(list);
                snprintf(list + l, sizeof list - l, "%s'%.*s'", i ? ", " : "", (int)(strlen(cands[i]) ? strlen(cands[i]) - 1 : 0), cands[i]);
            }
            return eva_fail(EVA_ERR_MISSING, "%s: no state dict under key '%s' (found: %s)", m->source, p->ckpt_key,
                            nc ? list : "none");
        }
    } else {
        static const char *official[] = {"model.", "module.", "state_dict.", "", "model_ema."};
        static const char *timm[] = {"model_ema.", "model.", "module.", "state_dict.", ""};
        const char **order = p->ckpt_policy == EVA_CKPT_TIMM ? timm : official;
        for (int o = 0; o < 5 && pick < 0; o++)
            for (int i = 0; i < nc && pick < 0; i++) {
                bool match = order[o][0] ? has_prefix(cands[i], order[o])
                                         : (!has_prefix(cands[i], "model.") && !has_prefix(cands[i], "model_ema.") &&
                                            !has_prefix(cands[i], "module.") && !has_prefix(cands[i], "state_dict."));
                if (match) pick = i;
            }
        if (pick < 0) pick = 0;
    }
    snprintf(m->ckpt_prefix, sizeof m->ckpt_prefix, "%.127s", cands[pick]);
    return EVA_OK;
}

static const eva_named_tensor *find_w(const eva_model *m, const char *name) {
    char full[256];
    snprintf(full, sizeof full, "%s%s", m->ckpt_prefix, name);
    return eva_tensor_map_find(&m->map, full);
}

/* ---------------------------------------------------------------- configuration */

static int meta_int(const eva_model *m, const char *key) {
    const char *v = eva_tensor_map_get_meta(&m->map, key);
    return v ? atoi(v) : 0;
}

static eva_status infer_config(eva_model *m, const eva_model_params *p) {
    eva_vit_config *c = &m->cfg;
    const eva_named_tensor *pw = find_w(m, "patch_embed.proj.weight");
    const eva_named_tensor *pe = find_w(m, "pos_embed");
    const eva_named_tensor *fc1 = find_w(m, "blocks.0.mlp.fc1.weight");
    if (!pw || pw->t.ndim != 4 || pw->t.shape[2] != pw->t.shape[3])
        return eva_fail(EVA_ERR_MISSING, "%s: missing or malformed 'patch_embed.proj.weight'", m->source);
    const char *layout = eva_tensor_map_get_meta(&m->map, "eva.layout");
    bool panels = layout && !strcmp(layout, "panels32") && fc1 && fc1->t.ndim == 3;
    const eva_named_tensor *fc1b = panels ? find_w(m, "blocks.0.mlp.fc1.bias") : NULL;
    if (!fc1 || (panels ? !fc1b || fc1b->t.ndim != 1 : fc1->t.ndim != 2))
        return eva_fail(EVA_ERR_MISSING, "%s: missing 'blocks.0.mlp.fc1.weight'%s", m->source,
                        panels ? " or its bias (panels layout)" : "");
    c->width = (int)pw->t.shape[0];
    c->in_chans = (int)pw->t.shape[1];
    c->patch = (int)pw->t.shape[2];
    c->mlp = (int)(panels ? fc1b : fc1)->t.shape[0];   /* panels: [ceil(F/32), D, 32] */
    int depth = 0;
    for (;; depth++) {
        char name[64];
        snprintf(name, sizeof name, "blocks.%d.norm1.weight", depth);
        if (!find_w(m, name)) break;
    }
    c->depth = depth;
    int64_t tokens = pe->t.shape[pe->t.ndim - 2];
    int grid = (int)llround(sqrt((double)(tokens - 1)));
    if (pe->t.ndim != 3 || pe->t.shape[0] != 1 || pe->t.shape[2] != c->width || (int64_t)grid * grid + 1 != tokens)
        return eva_fail(EVA_ERR_SHAPE, "%s: pos_embed has an unexpected shape (want [1, G*G+1, %d])", m->source, c->width);
    c->img_size = grid * c->patch;
    const eva_named_tensor *head = find_w(m, "head.weight");
    const eva_named_tensor *lm = find_w(m, "lm_head.weight");
    c->has_mask_token = find_w(m, "mask_token") != NULL;
    c->has_lm_head = lm != NULL;
    c->has_norm = find_w(m, "norm.weight") != NULL;
    c->has_fc_norm = find_w(m, "fc_norm.weight") != NULL;
    c->has_head = head != NULL;
    c->num_classes = head ? (int)head->t.shape[0] : 0;
    c->lm_dim = lm ? (int)lm->t.shape[0] : 0;
    bool mim = c->has_mask_token || c->has_lm_head;
    if (mim && p->timm_mim_mapping) {
        /* timm: norm -> fc_norm, drop mask_token and lm_head; classifier absent */
        c->pooling = EVA_POOL_MEAN_FCNORM;
        c->has_fc_norm = c->has_norm;
        c->has_norm = false;
        c->has_mask_token = c->has_lm_head = false;
        c->lm_dim = 0;
    } else if (mim) {
        c->pooling = EVA_POOL_MIM;
    } else if (c->has_fc_norm) {
        c->pooling = EVA_POOL_MEAN_FCNORM;
    } else if (c->has_norm) {
        c->pooling = EVA_POOL_CLS_NORM;
    } else {
        c->pooling = EVA_POOL_MEAN_FCNORM;   /* trunk only: mean of patch tokens, no fc_norm */
    }
    /* final norm + cls + head is a CLIP projection, unless the file says the head classifies
     * (eva finetune --linear-probe writes eva.pooling = cls_classifier) */
    const char *pool_meta = eva_tensor_map_get_meta(&m->map, "eva.pooling");
    c->cls_classifier = c->pooling == EVA_POOL_CLS_NORM && c->has_head && pool_meta && !strcmp(pool_meta, "cls_classifier");
    /* heads are not visible in the weights: flag, registry, file metadata, then width/64 */
    int heads = p->heads;
    const eva_arch *a = p->arch ? eva_arch_find(p->arch) : NULL;
    if (!a && eva_tensor_map_get_meta(&m->map, "eva.arch")) {
        /* the file's own record counts only while its shapes agree with that entry */
        const eva_arch *r = eva_arch_find(eva_tensor_map_get_meta(&m->map, "eva.arch"));
        if (r && r->width == c->width && r->depth == c->depth && r->mlp == c->mlp && r->patch == c->patch) a = r;
    }
    if (!heads && a && a->width == c->width) heads = a->heads;
    if (!heads) heads = meta_int(m, "eva.heads");
    if (!heads) heads = meta_int(m, "num_heads");
    if (!heads && c->width == 1408) heads = 16;
    if (!heads && c->width % 64 == 0) heads = c->width / 64;
    if (heads <= 0 || c->width % heads != 0)
        return eva_fail(EVA_ERR_INVALID_ARG, "%s: cannot tell the number of attention heads for width %d: pass --heads",
                        m->source, c->width);
    c->heads = heads;
    c->ln_eps = 1e-6f;
    /* identity and preprocessing: from the registry entry when the shapes match it */
    if (!a) {
        for (int i = 0; i < eva_arch_count() && !a; i++) {
            const eva_arch *r = eva_arch_at(i);
            if (r->width == c->width && r->depth == c->depth && r->patch == c->patch && r->img_size == c->img_size &&
                r->num_classes == c->num_classes && (r->pooling == EVA_POOL_MIM) == mim)
                a = r;
        }
    } else if (a->width != c->width || a->depth != c->depth || a->mlp != c->mlp || a->patch != c->patch) {
        return eva_fail(EVA_ERR_SHAPE, "%s: weights are width %d, depth %d, MLP %d, patch %d but --arch %s is width %d, depth %d, "
                        "MLP %d, patch %d", m->source, c->width, c->depth, c->mlp, c->patch, a->name, a->width, a->depth,
                        a->mlp, a->patch);
    }
    if (a) {
        snprintf(c->arch, sizeof c->arch, "%s", a->name);
        snprintf(c->timm_name, sizeof c->timm_name, "%s", a->timm_name ? a->timm_name : "");
        c->crop_pct = a->crop_pct;
        c->squash = a->squash;
        memcpy(c->mean, a->imagenet_mean ? EVA_IMAGENET_MEAN : EVA_CLIP_MEAN, sizeof c->mean);
        memcpy(c->std, a->imagenet_mean ? EVA_IMAGENET_STD : EVA_CLIP_STD, sizeof c->std);
        snprintf(c->labels, sizeof c->labels, "%s", a->labels);
    } else {
        const char *arch_meta = eva_tensor_map_get_meta(&m->map, "eva.arch");
        snprintf(c->arch, sizeof c->arch, "%s", arch_meta ? arch_meta : "custom");
        c->crop_pct = 1.0f;
        memcpy(c->mean, EVA_CLIP_MEAN, sizeof c->mean);
        memcpy(c->std, EVA_CLIP_STD, sizeof c->std);
        snprintf(c->labels, sizeof c->labels, "%s", c->num_classes == 1000 ? "imagenet1k" : "none");
    }
    return EVA_OK;
}

/* ---------------------------------------------------------------- binding */

typedef struct binder {
    eva_model *m;
    eva_status st;
    int64_t n_params;
    bool stored_panels;   /* the file's block matrices are weight panels (eva.layout = panels32) */
    bool want_panels;     /* fp32 block matrices are to be held as panels (lp->panels) */
} binder;

/* Tensor `name` with the expected shape as fp32: a view when stored as contiguous fp32, else a
 * converted copy. Returns NULL on error (counting pass: NULL is normal; check b->st). */
static const float *bind(binder *b, const char *name, int ndim, const int64_t *shape) {
    if (b->st != EVA_OK) return NULL;
    const eva_named_tensor *nt = find_w(b->m, name);
    if (!nt) {
        b->st = eva_fail(EVA_ERR_MISSING, "%s: missing tensor '%s%s'", b->m->source, b->m->ckpt_prefix, name);
        return NULL;
    }
    int64_t numel = 1;
    bool same = nt->t.ndim == ndim;
    for (int i = 0; i < ndim; i++) {
        numel *= shape[i];
        same = same && nt->t.shape[i] == shape[i];
    }
    if (!same) {
        char got[96], want[96];
        b->st = eva_fail(EVA_ERR_SHAPE, "%s: tensor '%s' has shape %s, expected %s", b->m->source, name,
                         eva_shape_str(nt->t.ndim, nt->t.shape, got, sizeof got), eva_shape_str(ndim, shape, want, sizeof want));
        return NULL;
    }
    b->n_params += numel;
    if (nt->t.dtype == EVA_F32 && eva_tensor_is_contiguous(&nt->t)) return nt->t.data;
    float *dst = eva_model_take(b->m, (size_t)numel);
    if (!b->m->owned) return NULL;   /* counting */
    if (!dst) {
        b->st = eva_fail(EVA_ERR_INTERNAL, "weight arena too small binding '%s'", name);
        return NULL;
    }
    if (!eva_tensor_is_contiguous(&nt->t)) {
        b->st = eva_fail(EVA_ERR_UNSUPPORTED, "%s: tensor '%s' is not contiguous", b->m->source, name);
        return NULL;
    }
    b->st = eva_convert_to_f32(nt->t.dtype, nt->t.data, dst, (size_t)numel);
    if (b->st != EVA_OK) eva_fail_context(b->st, "%s: tensor '%s'", b->m->source, name);
    return dst;
}

#define SHAPE(...) (const int64_t[]){__VA_ARGS__}

/* The per-output-channel scales of an int8 weight `name` ([N] F32 tensor `name.scale`). */
static const eva_named_tensor *find_scale(binder *b, const char *name, int64_t N) {
    char sname[160];
    snprintf(sname, sizeof sname, "%s.scale", name);
    const eva_named_tensor *sc = find_w(b->m, sname);
    if (!sc || sc->t.dtype != EVA_F32 || sc->t.ndim != 1 || sc->t.shape[0] != N || !eva_tensor_is_contiguous(&sc->t)) {
        b->st = eva_fail(EVA_ERR_MISSING, "%s: int8 tensor '%s' needs an F32 [%lld] tensor '%s'", b->m->source, name,
                         (long long)N, sname);
        return NULL;
    }
    return sc;
}

/* Row n of a stored [N, K] weight as fp32 (int8 rows dequantised with their scale). */
static eva_status weight_row_f32(const eva_named_tensor *nt, const eva_named_tensor *sc, bool panels, int64_t n,
                                 int64_t K, float *dst) {
    if (panels) {   /* F32 [ceil(N/32), K, 32] */
        for (int64_t k = 0; k < K; k++) dst[k] = eva_panels_at(nt->t.data, (int)K, (int)n, (int)k);
        return EVA_OK;
    }
    size_t es = eva_dtype_size(nt->t.dtype);
    const char *src = (const char *)nt->t.data + (size_t)n * (size_t)K * es;
    if (nt->t.dtype == EVA_I8) {
        float ws;
        memcpy(&ws, (const char *)sc->t.data + (size_t)n * sizeof(float), sizeof ws);
        for (int64_t k = 0; k < K; k++) dst[k] = (float)((const int8_t *)src)[k] * ws;
        return EVA_OK;
    }
    return eva_convert_to_f32(nt->t.dtype, src, dst, (size_t)K);
}

/* A big block matrix [N, K] in the model's compute dtype:
 *   F32:  *f32 = fp32 view or converted copy (int8 files are dequantised), or with want_panels
 *         lp->panels = the file's panels (zero-copy) or a packed copy;
 *   BF16: lp->bf16 = the file's BF16 bytes (zero-copy) or a rounded (nearest even) copy;
 *   Q8:   lp->q8 packed from the file's I8 + .scale, or quantised per output row.
 * A panels file stores it as F32 [ceil(N/32), K, 32] (gemm.h), read here row by row when the
 * model wants rows, bf16 or int8. */
static void bind_linear(binder *b, const char *name, int64_t N, int64_t K, const float **f32, eva_lowp_linear *lp) {
    eva_model *m = b->m;
    memset(lp, 0, sizeof *lp);
    *f32 = NULL;
    if (b->st != EVA_OK) return;
    const eva_named_tensor *nt = find_w(m, name);
    bool panels = b->stored_panels && nt && nt->t.ndim == 3;
    bool want_panels = m->wdtype == EVA_F32 && b->want_panels;
    if (m->wdtype == EVA_F32 && (!nt || nt->t.dtype != EVA_I8) && !panels && !want_panels) {
        *f32 = bind(b, name, 2, SHAPE(N, K));
        return;
    }
    if (!nt) {
        b->st = eva_fail(EVA_ERR_MISSING, "%s: missing tensor '%s%s'", m->source, m->ckpt_prefix, name);
        return;
    }
    int64_t P = (N + EVA_PANEL_WIDTH - 1) / EVA_PANEL_WIDTH;
    bool shape_ok = panels ? nt->t.dtype == EVA_F32 && nt->t.shape[0] == P && nt->t.shape[1] == K &&
                                 nt->t.shape[2] == EVA_PANEL_WIDTH
                           : nt->t.ndim == 2 && nt->t.shape[0] == N && nt->t.shape[1] == K;
    if (!shape_ok) {
        char got[96], want[96];
        b->st = eva_fail(EVA_ERR_SHAPE, "%s: tensor '%s' is %s %s, expected %s%s", m->source, name,
                         eva_dtype_name(nt->t.dtype), eva_shape_str(nt->t.ndim, nt->t.shape, got, sizeof got),
                         panels ? "F32 " : "",
                         panels ? eva_shape_str(3, SHAPE(P, K, EVA_PANEL_WIDTH), want, sizeof want)
                                : eva_shape_str(2, SHAPE(N, K), want, sizeof want));
        return;
    }
    if (!eva_tensor_is_contiguous(&nt->t)) {
        b->st = eva_fail(EVA_ERR_UNSUPPORTED, "%s: tensor '%s' is not contiguous", m->source, name);
        return;
    }
    const eva_named_tensor *sc = NULL;
    if (nt->t.dtype == EVA_I8 && !(sc = find_scale(b, name, N))) return;
    b->n_params += N * K;
    size_t nk = (size_t)N * (size_t)K, np = eva_panels_floats((int)N, (int)K);
    if (want_panels && panels) {
        /* the kernel loads panels with aligned 64-byte loads: a view when the file allows it */
        if ((uintptr_t)nt->t.data % 64 == 0) {
            lp->panels = nt->t.data;
            return;
        }
        float *dst = eva_model_take(m, np);
        if (!m->owned) return;
        if (!dst) {
            b->st = eva_fail(EVA_ERR_INTERNAL, "weight arena too small binding '%s'", name);
            return;
        }
        memcpy(dst, nt->t.data, np * sizeof(float));
        eva_release_file_pages(&m->map.file, nt->t.data, np * sizeof(float));
        lp->panels = dst;
        return;
    }
    if (m->wdtype == EVA_BF16 && nt->t.dtype == EVA_BF16) {
        lp->bf16 = nt->t.data;
        return;
    }
    /* everything else is computed into the owned allocation */
    float *f32dst = NULL, *pdst = NULL;
    uint16_t *bfdst = NULL;
    int8_t *packed = NULL;
    float *scale = NULL;
    int32_t *rowsum = NULL;
    size_t npad = eva_q8_padded_rows((int)N);
    if (m->wdtype == EVA_F32 && want_panels) {
        pdst = eva_model_take(m, np);
    } else if (m->wdtype == EVA_F32) {
        f32dst = eva_model_take(m, nk);
    } else if (m->wdtype == EVA_BF16) {
        bfdst = (uint16_t *)eva_model_take(m, (nk + 1) / 2);
    } else {
        packed = (int8_t *)eva_model_take(m, (eva_q8_packed_bytes((int)N, (int)K) + 3) / 4);
        scale = eva_model_take(m, npad);
        rowsum = (int32_t *)eva_model_take(m, npad);
    }
    if (!m->owned) return;   /* counting pass */
    if ((m->wdtype == EVA_F32 && !f32dst && !pdst) || (m->wdtype == EVA_BF16 && !bfdst) ||
        (m->wdtype == EVA_Q8 && (!packed || !scale || !rowsum))) {
        b->st = eva_fail(EVA_ERR_INTERNAL, "weight arena too small binding '%s'", name);
        return;
    }
    float *row = malloc(sizeof(float) * (size_t)K);
    int8_t *qrow = malloc((size_t)K);
    if (!row || !qrow) {
        free(row);
        free(qrow);
        b->st = eva_fail(EVA_ERR_NOMEM, "out of memory binding '%s'", name);
        return;
    }
    if (packed) {
        memset(packed, 0, eva_q8_packed_bytes((int)N, (int)K));
        memset(scale, 0, npad * sizeof(float));
        memset(rowsum, 0, npad * sizeof(int32_t));
    }
    if (pdst) memset(pdst, 0, np * sizeof(float));   /* the last panel's padding lanes */
    for (int64_t n = 0; n < N && b->st == EVA_OK; n++) {
        if (packed && nt->t.dtype == EVA_I8) {
            /* stored int8: used as is */
            float ws;
            memcpy(&ws, (const char *)sc->t.data + (size_t)n * sizeof(float), sizeof ws);
            eva_q8_pack_row((int)n, (int)K, (const int8_t *)nt->t.data + (size_t)n * (size_t)K, ws, packed, scale, rowsum);
            continue;
        }
        float *dst = f32dst ? f32dst + (size_t)n * (size_t)K : row;
        b->st = weight_row_f32(nt, sc, panels, n, K, dst);
        if (b->st != EVA_OK) {
            eva_fail_context(b->st, "%s: tensor '%s'", m->source, name);
            break;
        }
        if (pdst) eva_panels_set_row(pdst, (int)K, (int)n, row);
        if (bfdst) eva_f32_to_bf16_n(row, bfdst + (size_t)n * (size_t)K, (size_t)K);
        if (packed) {
            float ws = eva_q8_quantize_row(row, (int)K, qrow);
            eva_q8_pack_row((int)n, (int)K, qrow, ws, packed, scale, rowsum);
        }
    }
    free(row);
    free(qrow);
    /* the stored matrix is not referenced by the model: drop its pages of the checkpoint's
       mapping, so converting at load (--dtype q8 on an fp32 file, say) does not keep both in
       memory (EVA-g --dtype q8 from the 4 GB .pt: 1126 MB peak RSS instead of 4853; README,
       "Attention, int8 prefetch, memory at load") */
    if (b->st == EVA_OK) eva_release_file_pages(&m->map.file, nt->t.data, nk * eva_dtype_size(nt->t.dtype));
    if (f32dst) *f32 = f32dst;
    lp->panels = pdst;
    lp->bf16 = bfdst;
    lp->q8 = (eva_q8_weight){.N = (int)N, .K = (int)K, .packed = packed, .scale = scale, .rowsum = rowsum};
}

static void bind_all(binder *b, const eva_model_params *p) {
    eva_model *m = b->m;
    eva_vit_config *c = &m->cfg;
    int64_t D = c->width, F = c->mlp, P = c->patch, C = c->in_chans;
    int stored_grid = (int)llround(sqrt((double)(find_w(m, "pos_embed")->t.shape[1] - 1)));
    int run_grid = (p->img_size ? p->img_size : c->img_size) / c->patch;
    m->patch_w = bind(b, "patch_embed.proj.weight", 4, SHAPE(D, C, P, P));
    m->patch_b = bind(b, "patch_embed.proj.bias", 1, SHAPE(D));
    m->cls_token = bind(b, "cls_token", 3, SHAPE(1, 1, D));
    const float *pos = bind(b, "pos_embed", 3, SHAPE(1, (int64_t)stored_grid * stored_grid + 1, D));
    if (run_grid != stored_grid) {
        /* resample the grid part once; the cls slot is copied */
        float *dst = eva_model_take(m, (size_t)(run_grid * run_grid + 1) * (size_t)D);
        if (m->owned && dst && pos) {
            memcpy(dst, pos, sizeof(float) * (size_t)D);
            if (p->posemb == EVA_POSEMB_TIMM)
                eva_resample_grid_timm(pos + D, stored_grid, stored_grid, dst + D, run_grid, run_grid, (int)D);
            else
                eva_resample_grid_official(pos + D, stored_grid, stored_grid, dst + D, run_grid, run_grid, (int)D);
        }
        pos = dst;
    }
    m->pos_embed = pos;
    if (m->owned) {
        free(m->blocks);
        m->blocks = eva_calloc((size_t)c->depth, sizeof *m->blocks);
        if (!m->blocks) {
            b->st = EVA_ERR_NOMEM;
            return;
        }
    }
    for (int l = 0; l < c->depth && b->st == EVA_OK; l++) {
        eva_block_weights tmp, *w = m->blocks ? &m->blocks[l] : &tmp;
        char name[96];
#define BIND(field, suffix, nd, ...)                                        \
        snprintf(name, sizeof name, "blocks.%d.%s", l, suffix);             \
        w->field = bind(b, name, nd, SHAPE(__VA_ARGS__))
        BIND(norm1_w, "norm1.weight", 1, D);
        BIND(norm1_b, "norm1.bias", 1, D);
#define BIND_LINEAR(field, lpfield, suffix, n_, k_)                         \
        snprintf(name, sizeof name, "blocks.%d.%s", l, suffix);             \
        bind_linear(b, name, n_, k_, &w->field, &w->lpfield)
        BIND_LINEAR(qkv_w, qkv_lp, "attn.qkv.weight", 3 * D, D);
        BIND(q_bias, "attn.q_bias", 1, D);
        BIND(v_bias, "attn.v_bias", 1, D);
        BIND_LINEAR(proj_w, proj_lp, "attn.proj.weight", D, D);
        BIND(proj_b, "attn.proj.bias", 1, D);
        BIND(norm2_w, "norm2.weight", 1, D);
        BIND(norm2_b, "norm2.bias", 1, D);
        BIND_LINEAR(fc1_w, fc1_lp, "mlp.fc1.weight", F, D);
        BIND(fc1_b, "mlp.fc1.bias", 1, F);
        BIND_LINEAR(fc2_w, fc2_lp, "mlp.fc2.weight", D, F);
        BIND(fc2_b, "mlp.fc2.bias", 1, D);
#undef BIND
#undef BIND_LINEAR
        w->qkv_bias = eva_model_take(m, (size_t)(3 * D));
        if (m->owned && w->qkv_bias && w->q_bias && w->v_bias) {
            memcpy(w->qkv_bias, w->q_bias, sizeof(float) * (size_t)D);
            memset(w->qkv_bias + D, 0, sizeof(float) * (size_t)D);   /* k has no bias */
            memcpy(w->qkv_bias + 2 * D, w->v_bias, sizeof(float) * (size_t)D);
        }
    }
    bool timm_mim = p->timm_mim_mapping && (find_w(m, "mask_token") || find_w(m, "lm_head.weight"));
    if (c->has_norm) {
        m->norm_w = bind(b, "norm.weight", 1, SHAPE(D));
        m->norm_b = bind(b, "norm.bias", 1, SHAPE(D));
    }
    if (c->has_fc_norm) {
        m->fc_norm_w = bind(b, timm_mim ? "norm.weight" : "fc_norm.weight", 1, SHAPE(D));
        m->fc_norm_b = bind(b, timm_mim ? "norm.bias" : "fc_norm.bias", 1, SHAPE(D));
    }
    if (c->has_head) {
        m->head_w = bind(b, "head.weight", 2, SHAPE(c->num_classes, D));
        m->head_b = bind(b, "head.bias", 1, SHAPE(c->num_classes));
    }
    if (c->has_mask_token) m->mask_token = bind(b, "mask_token", 3, SHAPE(1, 1, D));
    if (c->has_lm_head) {
        m->lm_w = bind(b, "lm_head.weight", 2, SHAPE(c->lm_dim, D));
        m->lm_b = bind(b, "lm_head.bias", 1, SHAPE(c->lm_dim));
    }
}

/* Names the model does not use are reported (a wrong checkpoint shows up here), except the
 * buffers the official loader also ignores. */
static eva_status check_unexpected(eva_model *m, const eva_model_params *p) {
    size_t plen = strlen(m->ckpt_prefix);
    int unexpected = 0;
    char first[160] = "";
    for (int i = 0; i < m->map.count; i++) {
        const char *name = m->map.items[i].name;
        if (!has_prefix(name, m->ckpt_prefix)) continue;
        /* a bare state dict may travel with its EMA copy ("model_ema.*", written by eva finetune) */
        if (!m->ckpt_prefix[0] && has_prefix(name, "model_ema.")) continue;
        const char *n = name + plen;
        if (strstr(n, "relative_position_index") || strstr(n, "_high_index") || strstr(n, "_width_index") ||
            strstr(n, "attn.k_bias"))
            continue;
        if (p->timm_mim_mapping && (strcmp(n, "mask_token") == 0 || has_prefix(n, "lm_head."))) continue;
        bool known = has_prefix(n, "blocks.") || strcmp(n, "cls_token") == 0 || strcmp(n, "pos_embed") == 0 ||
                     has_prefix(n, "patch_embed.proj.") || has_prefix(n, "norm.") || has_prefix(n, "fc_norm.") ||
                     has_prefix(n, "head.") || strcmp(n, "mask_token") == 0 || has_prefix(n, "lm_head.");
        if (has_prefix(n, "blocks.")) {
            int l = atoi(n + 7);
            known = l >= 0 && l < m->cfg.depth;
            const char *rest = strchr(n + 7, '.');
            static const char *parts[] = {".norm1.weight", ".norm1.bias", ".attn.qkv.weight", ".attn.q_bias",
                                          ".attn.v_bias", ".attn.proj.weight", ".attn.proj.bias", ".norm2.weight",
                                          ".norm2.bias", ".mlp.fc1.weight", ".mlp.fc1.bias", ".mlp.fc2.weight",
                                          ".mlp.fc2.bias", ".attn.qkv.weight.scale", ".attn.proj.weight.scale",
                                          ".mlp.fc1.weight.scale", ".mlp.fc2.weight.scale"};
            bool part = false;
            for (size_t k = 0; rest && k < EVA_ARRAY_LEN(parts); k++) part = part || strcmp(rest, parts[k]) == 0;
            known = known && part;
        }
        if (!known) {
            if (!unexpected) snprintf(first, sizeof first, "%s", n);
            unexpected++;
        }
    }
    if (unexpected)
        return eva_fail(EVA_ERR_FORMAT, "%s: %d unexpected tensor(s) for an EVA ViT, e.g. '%s%s' (text tower or another "
                        "model? try --ckpt-key)", m->source, unexpected, m->ckpt_prefix, first);
    return EVA_OK;
}

/* Compute dtype of the block matrices: --dtype (params) first, else the file's "eva.dtype"
 * metadata (written by `eva convert --dtype q8|bf16`), else fp32. A file's own dtype is used
 * only where its fast kernel runs (AVX-512 / VNNI): elsewhere a bf16 file computes in fp32 (same
 * numbers) and a q8 file is dequantised to fp32 at load (the int8 reference kernel would be
 * ~100x slower); an explicit --dtype is always honoured. */
static eva_status choose_wdtype(eva_model *m, const eva_model_params *p) {
    eva_dtype want = p->weight_dtype;
    if (want != EVA_F32 && want != EVA_BF16 && want != EVA_Q8)
        return eva_fail(EVA_ERR_UNSUPPORTED, "weight dtype %s is not supported for compute (F32, BF16 or Q8)",
                        eva_dtype_name(want));
    if (want == EVA_F32) {
        const char *meta = eva_tensor_map_get_meta(&m->map, "eva.dtype");
        if (meta && strcmp(meta, "q8") == 0 && eva_gemm_q8_fast()) want = EVA_Q8;
        else if (meta && strcmp(meta, "bf16") == 0 && eva_gemm_bf16_fast()) want = EVA_BF16;
    }
    m->wdtype = want;
    return EVA_OK;
}

eva_dtype eva_model_weight_dtype(const eva_model *m) { return m ? m->wdtype : EVA_F32; }

bool eva_model_weights_panels(const eva_model *m) {
    return m && m->wdtype == EVA_F32 && m->blocks && m->cfg.depth > 0 && m->blocks[0].qkv_lp.panels != NULL;
}

eva_status eva_vit_bind(eva_model *m, const eva_model_params *p) {
    eva_status st = choose_prefix(m, p);
    if (st == EVA_OK) st = infer_config(m, p);
    if (st != EVA_OK) return st;
    int S = p->img_size ? p->img_size : m->cfg.img_size;
    if (S <= 0 || S % m->cfg.patch != 0)
        return eva_fail(EVA_ERR_INVALID_ARG, "image size %d is not a positive multiple of the patch size %d", S,
                        m->cfg.patch);
    if (S > 8192) return eva_fail(EVA_ERR_INVALID_ARG, "image size %d is too large (max 8192)", S);
    st = check_unexpected(m, p);
    if (st != EVA_OK) return st;
    st = choose_wdtype(m, p);
    if (st != EVA_OK) return st;
    if (p->weight_layout != EVA_LAYOUT_AS_STORED && p->weight_layout != EVA_LAYOUT_ROWS &&
        p->weight_layout != EVA_LAYOUT_PANELS)
        return eva_fail(EVA_ERR_INVALID_ARG, "unknown weight layout %d", (int)p->weight_layout);
    const char *layout = eva_tensor_map_get_meta(&m->map, "eva.layout");
    bool stored_panels = layout && !strcmp(layout, "panels32");
    if (layout && !stored_panels)
        return eva_fail(EVA_ERR_UNSUPPORTED, "%s: weight layout '%s' is not known to this eva.c (rows or panels32)",
                        m->source, layout);
    bool want_panels = p->weight_layout == EVA_LAYOUT_PANELS || (p->weight_layout == EVA_LAYOUT_AS_STORED && stored_panels);
    binder b = {m, EVA_OK, 0, stored_panels, want_panels};
    bind_all(&b, p);   /* counting pass: sizes the owned allocation */
    if (b.st != EVA_OK) return b.st;
    m->owned = eva_aligned_alloc(sizeof(float) * (m->owned_floats ? m->owned_floats : 16));
    if (!m->owned) return EVA_ERR_NOMEM;
    b = (binder){m, EVA_OK, 0, stored_panels, want_panels};
    bind_all(&b, p);
    if (b.st != EVA_OK) return b.st;
    m->n_params = b.n_params;
    m->cfg.img_size = S;
    m->posemb = p->posemb;
    return EVA_OK;
}

/* ---------------------------------------------------------------- public entry points */

eva_status eva_model_load(const char *path, const eva_model_params *params, eva_model **out) {
    *out = NULL;
    eva_model_params p = params ? *params : eva_model_default_params();
    if (!path) return eva_fail(EVA_ERR_INVALID_ARG, "no model path given");
    if (p.arch && !eva_arch_find(p.arch))
        return eva_fail(EVA_ERR_INVALID_ARG, "unknown architecture '%s' (eva info --models lists them)", p.arch);
    eva_model *m = eva_calloc(1, sizeof *m);
    if (!m) return EVA_ERR_NOMEM;
    snprintf(m->source, sizeof m->source, "%s", path);
    eva_status st = eva_tensor_map_open(path, &m->map);
    if (st == EVA_OK) st = eva_vit_bind(m, &p);
    if (st != EVA_OK) {
        eva_model_free(m);
        return st;
    }
    *out = m;
    return EVA_OK;
}

void eva_model_free(eva_model *m) {
    if (!m) return;
    free(m->blocks);
    eva_aligned_free(m->owned);
    eva_tensor_map_free(&m->map);
    free(m);
}

eva_status eva_model_get_info(const eva_model *m, eva_model_info *o) {
    if (!m || !o) return eva_fail(EVA_ERR_INVALID_ARG, "null model");
    memset(o, 0, sizeof *o);
    const eva_vit_config *c = &m->cfg;
    snprintf(o->arch, sizeof o->arch, "%s", c->arch);
    snprintf(o->timm_name, sizeof o->timm_name, "%s", c->timm_name);
    o->width = c->width;
    o->depth = c->depth;
    o->heads = c->heads;
    o->mlp_hidden = c->mlp;
    o->patch = c->patch;
    o->img_size = c->img_size;
    o->in_chans = c->in_chans;
    o->num_classes = c->has_head ? c->num_classes : 0;
    o->embed_dim = c->width;
    o->lm_dim = c->lm_dim;
    o->pooling = c->pooling;
    o->has_head = c->has_head;
    o->has_fc_norm = c->has_fc_norm;
    o->has_norm = c->has_norm;
    o->has_mask_token = c->has_mask_token;
    o->has_lm_head = c->has_lm_head;
    o->n_params = m->n_params;
    memcpy(o->mean, c->mean, sizeof o->mean);
    memcpy(o->std, c->std, sizeof o->std);
    o->crop_pct = c->crop_pct;
    o->resize_squash = c->squash;
    return EVA_OK;
}

int eva_model_tokens(const eva_model *m, int S) {
    if (!m || S <= 0 || S % m->cfg.patch) return 0;
    int g = S / m->cfg.patch;
    return g * g + 1;
}

double eva_model_flops(const eva_model *m, int S) {
    if (!m) return 0;
    if (S <= 0) S = m->cfg.img_size;
    const eva_vit_config *c = &m->cfg;
    double G2 = (double)(S / c->patch) * (S / c->patch), N = G2 + 1, D = c->width, F = c->mlp, P = c->patch;
    double macs = c->depth * (N * (4 * D * D + 2 * D * F) + 2 * N * N * D) + G2 * (c->in_chans * P * P * D);
    if (c->has_head) macs += D * c->num_classes;
    return 2 * macs;
}
