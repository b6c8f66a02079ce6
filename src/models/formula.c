/* formula.c — deterministic synthetic weights (golden README §7.1): every value is
 * (float)(offset + scale * u_i) with u_i from splitmix64 over FNV-1a(name) + i, so the
 * full-size EVA-g can be built and checked against the reference without any download. */
#include "models/vit.h"
#include "ops/gemm.h"
#include "ops/gemm_lowp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t eva_formula_hash(const char *name) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ull;
    }
    return h;
}

static inline double formula_u(uint64_t s, uint64_t i) {
    uint64_t z = s + i;
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z = z ^ (z >> 31);
    return (double)(z >> 40) / 8388608.0 - 1.0;
}

float eva_formula_value(uint64_t s, uint64_t i, double offset, double scale) {
    return (float)(offset + scale * formula_u(s, i));
}

void eva_formula_input(const char *tag, float *out, size_t n) {
    char name[256];
    snprintf(name, sizeof name, "input/%s", tag);
    uint64_t s = eva_formula_hash(name);
    for (size_t i = 0; i < n; i++) out[i] = (float)(2.0 * formula_u(s, i));
}

void eva_synthetic_input(const char *tag, float *out, size_t n) { eva_formula_input(tag, out, n); }

static bool ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* offset/scale of the formula table by tensor kind */
static void formula_kind(const char *name, double *offset, double *scale) {
    if (strstr(name, "norm") && ends_with(name, ".weight")) { *offset = 1; *scale = 0.125; }
    else if (strstr(name, "norm") && ends_with(name, ".bias")) { *offset = 0; *scale = 0.125; }
    else if (!strcmp(name, "cls_token") || !strcmp(name, "pos_embed") || !strcmp(name, "mask_token")) { *offset = 0; *scale = 0.0625; }
    else if (ends_with(name, ".weight")) { *offset = 0; *scale = 0.03125; }
    else { *offset = 0; *scale = 0.015625; }   /* biases, q_bias, v_bias */
}

typedef struct {
    char name[64];
    int ndim;
    int64_t shape[4];
    int64_t panel_rows;   /* N of a panels matrix, else 0 */
    eva_dtype dtype;      /* F32; BF16 or I8 (+ a ".scale" F32 [N] entry) for block matrices of a bf16 / q8 model */
    bool with_matrix;     /* that ".scale" entry: written together with its matrix, just before it */
} spec;

/* attn.qkv / attn.proj / mlp.fc1 / mlp.fc2 weights: the matrices a panels or bf16 / q8 model
 * holds in another form */
static bool block_matrix(const spec *s) {
    const char *dot = strrchr(s->name, '.');
    return s->ndim == 2 && !strncmp(s->name, "blocks.", 7) && dot && !strcmp(dot, ".weight");
}

eva_status eva_vit_build_synthetic(eva_model *m, const eva_arch *a, const eva_model_params *p) {
    int64_t D = a->width, F = a->mlp, P = a->patch, G = a->img_size / a->patch;
    int C = p->num_classes > 0 ? p->num_classes : a->num_classes;
    int n = 0, cap = 16 + 17 * a->depth;   /* 13 tensors a block, + 4 ".scale" for a q8 model */
    spec *sp = eva_calloc((size_t)cap, sizeof *sp);
    if (!sp) return EVA_ERR_NOMEM;
#define ADD(nm, nd, ...) do { snprintf(sp[n].name, sizeof sp[n].name, "%s", nm); sp[n].ndim = nd; \
        memcpy(sp[n].shape, (int64_t[]){__VA_ARGS__}, sizeof(int64_t) * nd); n++; } while (0)
    char nm[64];
    ADD("cls_token", 3, 1, 1, D);
    ADD("pos_embed", 3, 1, G * G + 1, D);
    ADD("patch_embed.proj.weight", 4, D, 3, P, P);
    ADD("patch_embed.proj.bias", 1, D);
    if (a->has_mask_token) ADD("mask_token", 3, 1, 1, D);
    for (int l = 0; l < a->depth; l++) {
#define BLK(suffix, nd, ...) do { snprintf(nm, sizeof nm, "blocks.%d.%s", l, suffix); ADD(nm, nd, __VA_ARGS__); } while (0)
        BLK("norm1.weight", 1, D); BLK("norm1.bias", 1, D);
        BLK("attn.q_bias", 1, D); BLK("attn.v_bias", 1, D);
        BLK("attn.qkv.weight", 2, 3 * D, D);
        BLK("attn.proj.weight", 2, D, D); BLK("attn.proj.bias", 1, D);
        BLK("norm2.weight", 1, D); BLK("norm2.bias", 1, D);
        BLK("mlp.fc1.weight", 2, F, D); BLK("mlp.fc1.bias", 1, F);
        BLK("mlp.fc2.weight", 2, D, F); BLK("mlp.fc2.bias", 1, D);
#undef BLK
    }
    if (a->pooling == EVA_POOL_MEAN_FCNORM) {
        ADD("fc_norm.weight", 1, D); ADD("fc_norm.bias", 1, D);
    } else {
        ADD("norm.weight", 1, D); ADD("norm.bias", 1, D);
    }
    if (C > 0) { ADD("head.weight", 2, C, D); ADD("head.bias", 1, C); }
    if (a->lm_dim > 0) { ADD("lm_head.weight", 2, a->lm_dim, D); ADD("lm_head.bias", 1, a->lm_dim); }
#undef ADD
    /* weight_layout PANELS: the block matrices are generated straight into the weight-panel
       layout (as a `--layout panels` file holds them), so nothing is packed or copied at bind */
    bool panels = p->weight_layout == EVA_LAYOUT_PANELS;
    for (int i = 0; i < n && panels; i++) {
        if (!block_matrix(&sp[i])) continue;
        sp[i].panel_rows = sp[i].shape[0];
        sp[i].ndim = 3;
        sp[i].shape[0] = (sp[i].panel_rows + EVA_PANEL_WIDTH - 1) / EVA_PANEL_WIDTH;
        sp[i].shape[2] = EVA_PANEL_WIDTH;
    }
    /* a bf16 or q8 model: the block matrices are generated straight in that form (bf16 rounded,
       or int8 rows with their scales, exactly as eva_vit_bind would convert the fp32 values), so
       the fp32 matrices never exist: peak memory is that of the model it becomes */
    eva_dtype low = p->weight_layout == EVA_LAYOUT_PANELS ? EVA_F32
                    : p->weight_dtype == EVA_BF16      ? EVA_BF16
                    : p->weight_dtype == EVA_Q8        ? EVA_I8
                                                       : EVA_F32;
    for (int i = 0; i < n && low != EVA_F32; i++) {
        if (!block_matrix(&sp[i])) continue;
        sp[i].dtype = low;
        if (low == EVA_I8) {   /* its per-row scales go right after it (the generator writes both) */
            memmove(&sp[i + 2], &sp[i + 1], sizeof *sp * (size_t)(n - i - 1));
            spec sc = {.ndim = 1, .shape = {sp[i].shape[0]}, .dtype = EVA_F32, .with_matrix = true};
            snprintf(sc.name, sizeof sc.name, "%s.scale", sp[i].name);
            sp[i + 1] = sc;
            n++;
            i++;
        }
    }
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        size_t k = 1;
        for (int d = 0; d < sp[i].ndim; d++) k *= (size_t)sp[i].shape[d];
        total += (k * eva_dtype_size(sp[i].dtype) + 63) & ~(size_t)63;
    }
    char *block = eva_aligned_alloc(total);
    if (!block) { free(sp); return EVA_ERR_NOMEM; }
    eva_status st = eva_tensor_map_own(&m->map, block);
    snprintf(m->map.source, sizeof m->map.source, "synthetic:%s", a->name);
    size_t pos = 0;
    for (int i = 0; i < n && st == EVA_OK; i++) {
        eva_tensor t = {.dtype = sp[i].dtype, .ndim = sp[i].ndim, .data = block + pos};
        size_t k = 1;
        for (int d = 0; d < sp[i].ndim; d++) { t.shape[d] = sp[i].shape[d]; k *= (size_t)sp[i].shape[d]; }
        eva_tensor_set_contiguous_strides(&t);
        double off, sc;
        formula_kind(sp[i].name, &off, &sc);
        uint64_t h = eva_formula_hash(sp[i].name);
        float *dst = (float *)(block + pos);
        size_t bytes = (k * eva_dtype_size(sp[i].dtype) + 63) & ~(size_t)63;
        if (sp[i].dtype == EVA_BF16) {
            uint16_t *o = (uint16_t *)(block + pos);
            for (size_t j = 0; j < k; j++) o[j] = eva_f32_to_bf16((float)(off + sc * formula_u(h, j)));
        } else if (sp[i].dtype == EVA_I8) {
            /* row by row: the fp32 row, then eva_q8_quantize_row as the binder would; the row
               scales go to the ".scale" entry, which is laid out right after this one */
            int64_t N = sp[i].shape[0], K = sp[i].shape[1];
            float *row = malloc(sizeof(float) * (size_t)K);
            if (!row) { st = EVA_ERR_NOMEM; break; }
            float *scales = (float *)(block + pos + bytes);   /* the next entry's storage */
            for (int64_t r = 0; r < N; r++) {
                for (int64_t kk = 0; kk < K; kk++) row[kk] = (float)(off + sc * formula_u(h, (uint64_t)(r * K + kk)));
                scales[r] = eva_q8_quantize_row(row, (int)K, (int8_t *)(block + pos) + (size_t)r * (size_t)K);
            }
            free(row);
        } else if (sp[i].with_matrix) {
            /* already written with its matrix */
        } else if (sp[i].panel_rows) {
            /* element [p, kk, jj] is W[32p + jj, kk] of the row-major formula tensor */
            int64_t N = sp[i].panel_rows, K = sp[i].shape[1];
            float *o = dst;
            for (int64_t p0 = 0; p0 < N; p0 += EVA_PANEL_WIDTH)
                for (int64_t kk = 0; kk < K; kk++)
                    for (int64_t row = p0; row < p0 + EVA_PANEL_WIDTH; row++)
                        *o++ = row < N ? (float)(off + sc * formula_u(h, (uint64_t)(row * K + kk))) : 0.0f;
        } else {
            for (size_t j = 0; j < k; j++) dst[j] = (float)(off + sc * formula_u(h, j));
        }
        pos += bytes;
        st = eva_tensor_map_add(&m->map, sp[i].name, &t);
    }
    free(sp);
    if (st != EVA_OK) return st;
    char heads[16];
    snprintf(heads, sizeof heads, "%d", a->heads);
    eva_tensor_map_set_meta(&m->map, "eva.heads", heads);
    if (panels) eva_tensor_map_set_meta(&m->map, "eva.layout", "panels32");
    return EVA_OK;
}

eva_status eva_model_synthetic(const char *arch, const eva_model_params *params, eva_model **out) {
    *out = NULL;
    eva_model_params p = params ? *params : eva_model_default_params();
    const eva_arch *a = eva_arch_find(arch);
    if (!a) return eva_fail(EVA_ERR_INVALID_ARG, "unknown architecture '%s' (eva info --models lists them)", arch ? arch : "(none)");
    eva_model *m = eva_calloc(1, sizeof *m);
    if (!m) return EVA_ERR_NOMEM;
    snprintf(m->source, sizeof m->source, "synthetic:%s", a->name);
    eva_tensor_map_init(&m->map);
    p.arch = a->name;
    eva_status st = eva_vit_build_synthetic(m, a, &p);
    if (st == EVA_OK) st = eva_vit_bind(m, &p);
    if (st != EVA_OK) {
        eva_model_free(m);
        return st;
    }
    *out = m;
    return EVA_OK;
}
