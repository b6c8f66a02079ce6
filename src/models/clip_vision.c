/* clip_vision.c — the CLIP vision tower's weights: allocation in one block and loading from
 * OpenAI / open_clip checkpoints (.safetensors or .pt, fp16/fp32 mixed, converted to fp32).
 *
 * Names (golden README-teacher-finetune §1.2), relative to a prefix ("visual." in both OpenAI's
 * and open_clip's CLIP state dicts; none for a bare VisionTransformer state dict):
 *   conv1.weight [W,3,P,P]  class_embedding [W]  positional_embedding [G*G+1, W]  proj [W, D]
 *   ln_pre.{weight,bias}  ln_post.{weight,bias}  transformer.resblocks.N.{ln_1, ln_2}.{weight,bias}
 *   transformer.resblocks.N.attn.{in_proj_weight [3W,W], in_proj_bias [3W], out_proj.{weight,bias}}
 *   transformer.resblocks.N.mlp.{c_fc [F,W], c_proj [W,F]}.{weight,bias}
 *   (open_clip only, optional) transformer.resblocks.N.{ls_1, ls_2}.gamma [W]  */
#include "models/clip_vision.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* ---------------------------------------------------------------- allocation */

/* Carve n floats from the block, keeping every tensor 64-byte aligned. */
static float *carve(float **cursor, size_t n) {
    float *p = *cursor;
    *cursor += (n + 15) & ~(size_t)15;
    return p;
}

static size_t rounded(size_t n) { return (n + 15) & ~(size_t)15; }

eva_status eva_clip_vision_alloc(const eva_clip_vision_config *cfg, eva_clip_vision *out) {
    memset(out, 0, sizeof *out);
    const size_t W = (size_t)cfg->width, P = (size_t)cfg->patch, F = (size_t)cfg->mlp_hidden;
    const size_t D = (size_t)cfg->out_dim, T = (size_t)cfg->grid * (size_t)cfg->grid + 1, L = (size_t)cfg->layers;
    if (cfg->width < 1 || cfg->width > 65536 || cfg->patch < 1 || cfg->patch > 1024 || cfg->grid < 1 ||
        cfg->grid > 4096 || cfg->mlp_hidden < 1 || cfg->mlp_hidden > 1048576 || cfg->out_dim < 1 ||
        cfg->out_dim > 1048576 || cfg->layers < 1 || cfg->layers > 1024 || cfg->heads < 1 || cfg->width % cfg->heads)
        return eva_fail(EVA_ERR_SHAPE, "CLIP vision config out of range (width %d, layers %d, heads %d, patch %d, grid %d)",
                        cfg->width, cfg->layers, cfg->heads, cfg->patch, cfg->grid);
    /* All sizes are bounded above (W, F, D <= 2^20, P <= 1024, T <= 2^24, L <= 1024), so the
     * sums below cannot overflow a 64-bit size_t. */
    size_t per_block = 4 * rounded(W) + rounded(3 * W * W) + rounded(3 * W) + rounded(W * W) + rounded(W) +
                       rounded(F * W) + rounded(F) + rounded(W * F) + rounded(W) + (cfg->layer_scale ? 2 * rounded(W) : 0);
    size_t total = rounded(W * 3 * P * P) + rounded(W) + rounded(T * W) + 4 * rounded(W) + rounded(W * D) + L * per_block;
    size_t bytes;
    if (!eva_size_mul(total, sizeof(float), &bytes) || bytes > ((size_t)1 << 40))
        return eva_fail(EVA_ERR_NOMEM, "CLIP vision tower too large (%zu floats)", total);
    out->storage = eva_aligned_alloc(bytes);
    out->blocks = eva_calloc(L, sizeof(eva_clip_block));
    if (!out->storage || !out->blocks) {
        eva_clip_vision_free(out);
        return EVA_ERR_NOMEM;
    }
    out->cfg = *cfg;
    float *c = out->storage;
    out->conv_w = carve(&c, W * 3 * P * P);
    out->cls = carve(&c, W);
    out->pos = carve(&c, T * W);
    out->ln_pre_w = carve(&c, W);
    out->ln_pre_b = carve(&c, W);
    out->ln_post_w = carve(&c, W);
    out->ln_post_b = carve(&c, W);
    out->proj = carve(&c, W * D);
    for (size_t l = 0; l < L; l++) {
        eva_clip_block *b = &out->blocks[l];
        b->ln1_w = carve(&c, W);
        b->ln1_b = carve(&c, W);
        b->in_w = carve(&c, 3 * W * W);
        b->in_b = carve(&c, 3 * W);
        b->out_w = carve(&c, W * W);
        b->out_b = carve(&c, W);
        b->ln2_w = carve(&c, W);
        b->ln2_b = carve(&c, W);
        b->fc_w = carve(&c, F * W);
        b->fc_b = carve(&c, F);
        b->cproj_w = carve(&c, W * F);
        b->cproj_b = carve(&c, W);
        if (cfg->layer_scale) {
            b->ls1 = carve(&c, W);
            b->ls2 = carve(&c, W);
        }
    }
    out->n_params = W * 3 * P * P + W + T * W + 4 * W + W * D +
                    L * (4 * W + 4 * W * W + 3 * W + W + 2 * F * W + F + W + (cfg->layer_scale ? 2 * W : 0));
    return EVA_OK;
}

void eva_clip_vision_free(eva_clip_vision *m) {
    if (!m) return;
    eva_aligned_free(m->storage);
    free(m->blocks);
    memset(m, 0, sizeof *m);
}

/* ---------------------------------------------------------------- loading */

typedef struct loader {
    eva_tensor_file *f;
    const char *path;
    char prefix[128];
} loader;

/* Find prefix+name; check ndim and each dim (-1: any); *view receives it. */
static eva_status find(loader *ld, const char *name, int ndim, const int64_t *dims, eva_tensor_view *v) {
    char full[320];
    snprintf(full, sizeof full, "%s%s", ld->prefix, name);
    if (eva_tensor_file_find(ld->f, full, v) != EVA_OK)
        return eva_fail(EVA_ERR_MISSING, "%s: CLIP vision tensor '%s' is missing", ld->path, full);
    bool ok = v->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = dims[i] < 0 || v->shape[i] == dims[i];
    if (!ok) {
        char got[96], want[96];
        eva_shape_str(v->ndim, v->shape, got, sizeof got);
        eva_shape_str(ndim, dims, want, sizeof want);
        return eva_fail(EVA_ERR_SHAPE, "%s: '%s' has shape %s, expected %s", ld->path, full, got, want);
    }
    switch (v->dtype) {
    case EVA_F32: case EVA_F16: case EVA_BF16: case EVA_F64: break;
    default:
        return eva_fail(EVA_ERR_UNSUPPORTED, "%s: '%s' has dtype %s, expected a float type", ld->path, full,
                        eva_dtype_name(v->dtype));
    }
    return EVA_OK;
}

static eva_status load_into(loader *ld, const char *name, int ndim, const int64_t *dims, float *dst) {
    eva_tensor_view v;
    eva_status st = find(ld, name, ndim, dims, &v);
    if (st != EVA_OK) return st;
    return eva_tensor_convert_f32(&v, dst);
}

static bool has(loader *ld, const char *name) {
    char full[320];
    eva_tensor_view v;
    snprintf(full, sizeof full, "%s%s", ld->prefix, name);
    bool found = eva_tensor_file_find(ld->f, full, &v) == EVA_OK;
    eva_clear_error();
    return found;
}

static bool ends_with(const char *s, const char *suffix, size_t *stem) {
    size_t n = strlen(s), k = strlen(suffix);
    if (n < k || strcmp(s + n - k, suffix) != 0) return false;
    if (n > k && s[n - k - 1] != '.') return false;
    *stem = n - k;
    return true;
}

/* The prefix of the vision tower: a name "<prefix>conv1.weight" next to
 * "<prefix>transformer.resblocks.0.ln_1.weight". "visual." wins over other candidates (a .pt
 * holding 'model' and 'model_ema' dicts would offer several; the first in file order is taken). */
static eva_status find_prefix(loader *ld) {
    int n = eva_tensor_file_count(ld->f);
    bool found = false, trunk = false, resnet = false;
    char best[128] = "";
    for (int i = 0; i < n; i++) {
        eva_tensor_view v;
        eva_tensor_file_get(ld->f, i, &v);
        size_t stem;
        if (strstr(v.name, "trunk.")) trunk = true;
        if (strstr(v.name, "layer1.0.")) resnet = true;
        if (!ends_with(v.name, "conv1.weight", &stem) || stem >= sizeof ld->prefix) continue;
        memcpy(ld->prefix, v.name, stem);
        ld->prefix[stem] = 0;
        if (!has(ld, "transformer.resblocks.0.ln_1.weight") || !has(ld, "class_embedding")) continue;
        if (strcmp(ld->prefix, "visual.") == 0) return EVA_OK;
        if (!found) memcpy(best, ld->prefix, sizeof best);   /* keep the first candidate */
        found = true;
    }
    memcpy(ld->prefix, best, sizeof best);
    if (found) return EVA_OK;
    if (trunk)
        return eva_fail(EVA_ERR_UNSUPPORTED, "%s: a timm-trunk vision tower (visual.trunk.*), not an OpenAI-style CLIP ViT",
                        ld->path);
    if (resnet)
        return eva_fail(EVA_ERR_UNSUPPORTED, "%s: a CLIP ResNet (ModifiedResNet) tower; only CLIP ViT towers are supported",
                        ld->path);
    return eva_fail(EVA_ERR_MISSING,
                    "%s: not a CLIP vision checkpoint (no 'visual.conv1.weight' with 'visual.transformer.resblocks.0.*')",
                    ld->path);
}

static eva_status read_config(loader *ld, int heads, eva_clip_vision_config *cfg) {
    eva_tensor_view conv, pos, proj, fc;
    const int64_t any4[4] = {-1, 3, -1, -1};
    eva_status st = find(ld, "conv1.weight", 4, any4, &conv);
    if (st != EVA_OK) return st;
    if (conv.shape[2] != conv.shape[3] || conv.shape[0] < 1 || conv.shape[0] > 65536 || conv.shape[2] < 1 ||
        conv.shape[2] > 1024)
        return eva_fail(EVA_ERR_SHAPE, "%s: conv1.weight must be [W, 3, P, P] with W <= 65536, P <= 1024", ld->path);
    const int64_t W = conv.shape[0];
    const int64_t any2w[2] = {-1, W}, w_any[2] = {W, -1};
    if ((st = find(ld, "positional_embedding", 2, any2w, &pos)) != EVA_OK) return st;
    int64_t G = pos.shape[0] >= 2 ? (int64_t)llround(sqrt((double)(pos.shape[0] - 1))) : 0;
    if (G < 1 || G * G + 1 != pos.shape[0])
        return eva_fail(EVA_ERR_SHAPE, "%s: positional_embedding has %lld rows, expected G*G + 1 (a square grid plus the class token)",
                        ld->path, (long long)pos.shape[0]);
    if ((st = find(ld, "proj", 2, w_any, &proj)) != EVA_OK) return st;
    if ((st = find(ld, "transformer.resblocks.0.mlp.c_fc.weight", 2, (const int64_t[2]){-1, W}, &fc)) != EVA_OK) return st;
    int L = 0;
    char name[160];
    for (;; L++) {
        snprintf(name, sizeof name, "transformer.resblocks.%d.ln_1.weight", L);
        if (!has(ld, name) || L > 1024) break;
    }
    if (L > 1024) return eva_fail(EVA_ERR_SHAPE, "%s: more than 1024 resblocks", ld->path);
    if (heads <= 0) {
        if (W % 64) return eva_fail(EVA_ERR_SHAPE, "%s: width %lld is not a multiple of 64; give the head count", ld->path, (long long)W);
        heads = (int)(W / 64);
    }
    if (W % heads) return eva_fail(EVA_ERR_SHAPE, "%s: width %lld is not divisible by %d heads", ld->path, (long long)W, heads);
    memset(cfg, 0, sizeof *cfg);
    cfg->width = (int)W;
    cfg->layers = L;
    cfg->heads = heads;
    cfg->patch = (int)conv.shape[2];
    cfg->grid = (int)G;
    cfg->mlp_hidden = (int)fc.shape[0];
    cfg->out_dim = (int)proj.shape[1];
    cfg->layer_scale = has(ld, "transformer.resblocks.0.ls_1.gamma");
    cfg->ln_eps = 1e-5f;
    return EVA_OK;
}

static eva_status load_weights(loader *ld, eva_clip_vision *m) {
    const eva_clip_vision_config *c = &m->cfg;
    const int64_t W = c->width, F = c->mlp_hidden, P = c->patch, T = (int64_t)c->grid * c->grid + 1;
    const int64_t vW[1] = {W}, vW3[1] = {3 * W}, vF[1] = {F};
    eva_status st;
#define LOAD(name, nd, dims, dst) \
    if ((st = load_into(ld, name, nd, dims, dst)) != EVA_OK) return st
    LOAD("conv1.weight", 4, ((const int64_t[4]){W, 3, P, P}), m->conv_w);
    LOAD("class_embedding", 1, vW, m->cls);
    LOAD("positional_embedding", 2, ((const int64_t[2]){T, W}), m->pos);
    LOAD("ln_pre.weight", 1, vW, m->ln_pre_w);
    LOAD("ln_pre.bias", 1, vW, m->ln_pre_b);
    LOAD("ln_post.weight", 1, vW, m->ln_post_w);
    LOAD("ln_post.bias", 1, vW, m->ln_post_b);
    LOAD("proj", 2, ((const int64_t[2]){W, c->out_dim}), m->proj);
    for (int l = 0; l < c->layers; l++) {
        eva_clip_block *b = &m->blocks[l];
        char n[200];
#define BLK(suffix, nd, dims, dst) \
    snprintf(n, sizeof n, "transformer.resblocks.%d.%s", l, suffix); \
    LOAD(n, nd, dims, dst)
        BLK("ln_1.weight", 1, vW, b->ln1_w);
        BLK("ln_1.bias", 1, vW, b->ln1_b);
        BLK("attn.in_proj_weight", 2, ((const int64_t[2]){3 * W, W}), b->in_w);
        BLK("attn.in_proj_bias", 1, vW3, b->in_b);
        BLK("attn.out_proj.weight", 2, ((const int64_t[2]){W, W}), b->out_w);
        BLK("attn.out_proj.bias", 1, vW, b->out_b);
        BLK("ln_2.weight", 1, vW, b->ln2_w);
        BLK("ln_2.bias", 1, vW, b->ln2_b);
        BLK("mlp.c_fc.weight", 2, ((const int64_t[2]){F, W}), b->fc_w);
        BLK("mlp.c_fc.bias", 1, vF, b->fc_b);
        BLK("mlp.c_proj.weight", 2, ((const int64_t[2]){W, F}), b->cproj_w);
        BLK("mlp.c_proj.bias", 1, vW, b->cproj_b);
        if (c->layer_scale) {
            BLK("ls_1.gamma", 1, vW, b->ls1);
            BLK("ls_2.gamma", 1, vW, b->ls2);
        }
#undef BLK
    }
#undef LOAD
    return EVA_OK;
}

eva_status eva_clip_vision_load(const char *path, int heads, eva_clip_vision *out) {
    memset(out, 0, sizeof *out);
    if (!path) return eva_fail(EVA_ERR_INVALID_ARG, "null path");
    loader ld = {.path = path};
    eva_status st = eva_tensor_file_open(path, &ld.f);
    if (st != EVA_OK) return st;
    eva_clip_vision_config cfg;
    if ((st = find_prefix(&ld)) == EVA_OK && (st = read_config(&ld, heads, &cfg)) == EVA_OK &&
        (st = eva_clip_vision_alloc(&cfg, out)) == EVA_OK) {
        st = load_weights(&ld, out);
        if (st != EVA_OK) eva_clip_vision_free(out);
    }
    eva_tensor_file_close(ld.f);
    return st;
}
