/* convert.c — write a bound model back out as one self-describing safetensors file (timm /
 * official names, F32/F16/BF16/Q8 (int8 block matrices + per-row scales), __metadata__ with architecture, pooling, preprocessing, labels
 * and provenance, so `eva ... --model OUT` needs no flags), and EVA-01's patch 14 -> 16
 * conversion (spec §4.3; timm's pseudo-inverse variant §4.2). */
#include "models/vit.h"
#include "ops/ops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static const char *pooling_key(eva_pooling p) {
    return p == EVA_POOL_CLS_NORM ? "cls_norm" : p == EVA_POOL_MIM ? "mim" : "mean_fcnorm";
}

typedef struct saver {
    eva_tensor_writer *w;
    eva_dtype dtype;
    bool panels;   /* block matrices as F32 weight panels [ceil(N/32), K, 32] */
    eva_status st;
} saver;

static void put(saver *s, const char *name, const float *data, int ndim, const int64_t *shape) {
    if (s->st != EVA_OK || !data) return;
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    if (s->dtype == EVA_F32 || s->dtype == EVA_Q8) {   /* Q8 files keep all but the block matrices in fp32 */
        s->st = eva_tensor_writer_add_view(s->w, name, EVA_F32, ndim, shape, data);
        return;
    }
    uint16_t *tmp = eva_malloc(n * 2 + 2);
    if (!tmp) {
        s->st = EVA_ERR_NOMEM;
        return;
    }
    for (size_t i = 0; i < n; i++) tmp[i] = s->dtype == EVA_F16 ? eva_f32_to_f16(data[i]) : eva_f32_to_bf16(data[i]);
    s->st = eva_tensor_writer_add(s->w, name, s->dtype, ndim, shape, tmp);
    free(tmp);
}

#define SH(...) (const int64_t[]){__VA_ARGS__}

/* Row n of a block matrix as fp32, whatever the model computes it in (bf16 widened exactly,
 * int8 dequantised as wq·ws). */
static void linear_row_f32(const eva_model *m, const float *f32, const eva_lowp_linear *lp, int64_t n, int64_t K,
                           float *dst) {
    if (m->wdtype == EVA_F32 && lp->panels) {
        for (int64_t k = 0; k < K; k++) dst[k] = eva_panels_at(lp->panels, (int)K, (int)n, (int)k);
    } else if (m->wdtype == EVA_BF16) {
        for (int64_t k = 0; k < K; k++) dst[k] = eva_bf16_to_f32(lp->bf16[n * K + k]);
    } else if (m->wdtype == EVA_Q8) {
        for (int64_t k = 0; k < K; k++) dst[k] = (float)eva_q8_at(&lp->q8, (int)n, (int)k) * lp->q8.scale[n];
    } else {
        memcpy(dst, f32 + n * K, sizeof(float) * (size_t)K);
    }
}

/* A block matrix [N, K]: Q8 files get NAME as I8 [N, K] + NAME.scale F32 [N] (quantised per
 * output row, or the model's own int8 values when it is already Q8); other dtypes go through
 * put() from fp32 (the bf16 bytes are written as they are when both sides are BF16). */
static void put_linear(saver *s, const eva_model *m, const char *name, const float *f32, const eva_lowp_linear *lp,
                       int64_t N, int64_t K) {
    if (s->st != EVA_OK) return;
    if (s->panels) {   /* F32 only (save_model checks) */
        int64_t P = (N + EVA_PANEL_WIDTH - 1) / EVA_PANEL_WIDTH;
        if (m->wdtype == EVA_F32 && lp->panels) {
            s->st = eva_tensor_writer_add_view(s->w, name, EVA_F32, 3, SH(P, K, EVA_PANEL_WIDTH), lp->panels);
            return;
        }
        float *wp = eva_aligned_alloc(eva_panels_floats((int)N, (int)K) * sizeof(float));
        float *row = eva_malloc(sizeof(float) * (size_t)K);
        if (!wp || !row) {
            s->st = EVA_ERR_NOMEM;
        } else {
            memset(wp, 0, eva_panels_floats((int)N, (int)K) * sizeof(float));
            for (int64_t n = 0; n < N; n++) {
                linear_row_f32(m, f32, lp, n, K, row);
                eva_panels_set_row(wp, (int)K, (int)n, row);
            }
            s->st = eva_tensor_writer_add(s->w, name, EVA_F32, 3, SH(P, K, EVA_PANEL_WIDTH), wp);   /* copied */
        }
        eva_aligned_free(wp);
        free(row);
        return;
    }
    if (m->wdtype == EVA_F32 && !lp->panels && s->dtype != EVA_Q8) {
        put(s, name, f32, 2, SH(N, K));
        return;
    }
    if (m->wdtype == EVA_BF16 && s->dtype == EVA_BF16) {
        s->st = eva_tensor_writer_add_view(s->w, name, EVA_BF16, 2, SH(N, K), lp->bf16);
        return;
    }
    size_t nk = (size_t)N * (size_t)K;
    float *row = eva_malloc(sizeof(float) * (size_t)K);
    float *full = s->dtype == EVA_Q8 ? NULL : eva_malloc(sizeof(float) * nk);
    int8_t *q = s->dtype == EVA_Q8 ? eva_malloc(nk) : NULL;
    float *scale = s->dtype == EVA_Q8 ? eva_malloc(sizeof(float) * (size_t)N) : NULL;
    if (!row || (s->dtype == EVA_Q8 ? !q || !scale : !full)) {
        s->st = EVA_ERR_NOMEM;
    } else {
        for (int64_t n = 0; n < N; n++) {
            if (s->dtype == EVA_Q8 && m->wdtype == EVA_Q8) {
                for (int64_t k = 0; k < K; k++) q[n * K + k] = eva_q8_at(&lp->q8, (int)n, (int)k);
                scale[n] = lp->q8.scale[n];
            } else if (s->dtype == EVA_Q8) {
                linear_row_f32(m, f32, lp, n, K, row);
                scale[n] = eva_q8_quantize_row(row, (int)K, q + n * K);
            } else {
                linear_row_f32(m, f32, lp, n, K, full + n * K);
            }
        }
        if (s->dtype == EVA_Q8) {
            char sname[160];
            snprintf(sname, sizeof sname, "%s.scale", name);
            s->st = eva_tensor_writer_add(s->w, name, EVA_I8, 2, SH(N, K), q);
            if (s->st == EVA_OK) s->st = eva_tensor_writer_add(s->w, sname, EVA_F32, 1, SH(N), scale);
        } else if (s->dtype == EVA_F32) {
            s->st = eva_tensor_writer_add(s->w, name, EVA_F32, 2, SH(N, K), full);   /* copied: full is freed */
        } else {
            put(s, name, full, 2, SH(N, K));
        }
    }
    free(row);
    free(full);
    free(q);
    free(scale);
}

static eva_status save_model(const eva_model *m, const char *path, eva_dtype dtype, bool panels,
                             const char *provenance) {
    if (dtype != EVA_F32 && dtype != EVA_F16 && dtype != EVA_BF16 && dtype != EVA_Q8)
        return eva_fail(EVA_ERR_UNSUPPORTED, "cannot save weights as %s (F32, F16, BF16 or Q8)", eva_dtype_name(dtype));
    if (panels && dtype != EVA_F32)
        return eva_fail(EVA_ERR_UNSUPPORTED, "the panels layout is for F32 weights, not %s", eva_dtype_name(dtype));
    const eva_vit_config *c = &m->cfg;
    int64_t D = c->width, F = c->mlp, P = c->patch, G = c->img_size / c->patch;
    saver s = {NULL, dtype, panels, EVA_OK};
    if ((s.st = eva_tensor_writer_create(&s.w)) != EVA_OK) return s.st;
    put(&s, "cls_token", m->cls_token, 3, SH(1, 1, D));
    if (c->has_mask_token) put(&s, "mask_token", m->mask_token, 3, SH(1, 1, D));
    put(&s, "pos_embed", m->pos_embed, 3, SH(1, G * G + 1, D));
    put(&s, "patch_embed.proj.weight", m->patch_w, 4, SH(D, c->in_chans, P, P));
    put(&s, "patch_embed.proj.bias", m->patch_b, 1, SH(D));
    for (int l = 0; l < c->depth && s.st == EVA_OK; l++) {
        const eva_block_weights *b = &m->blocks[l];
        char n[96];
#define PUT(suffix, ptr, nd, ...) snprintf(n, sizeof n, "blocks.%d.%s", l, suffix); put(&s, n, ptr, nd, SH(__VA_ARGS__))
        PUT("norm1.weight", b->norm1_w, 1, D);
        PUT("norm1.bias", b->norm1_b, 1, D);
        PUT("attn.q_bias", b->q_bias, 1, D);
        PUT("attn.v_bias", b->v_bias, 1, D);
        snprintf(n, sizeof n, "blocks.%d.attn.qkv.weight", l);
        put_linear(&s, m, n, b->qkv_w, &b->qkv_lp, 3 * D, D);
        snprintf(n, sizeof n, "blocks.%d.attn.proj.weight", l);
        put_linear(&s, m, n, b->proj_w, &b->proj_lp, D, D);
        PUT("attn.proj.bias", b->proj_b, 1, D);
        PUT("norm2.weight", b->norm2_w, 1, D);
        PUT("norm2.bias", b->norm2_b, 1, D);
        snprintf(n, sizeof n, "blocks.%d.mlp.fc1.weight", l);
        put_linear(&s, m, n, b->fc1_w, &b->fc1_lp, F, D);
        PUT("mlp.fc1.bias", b->fc1_b, 1, F);
        snprintf(n, sizeof n, "blocks.%d.mlp.fc2.weight", l);
        put_linear(&s, m, n, b->fc2_w, &b->fc2_lp, D, F);
        PUT("mlp.fc2.bias", b->fc2_b, 1, D);
#undef PUT
    }
    if (c->has_norm) {
        put(&s, "norm.weight", m->norm_w, 1, SH(D));
        put(&s, "norm.bias", m->norm_b, 1, SH(D));
    }
    if (c->has_fc_norm) {
        put(&s, "fc_norm.weight", m->fc_norm_w, 1, SH(D));
        put(&s, "fc_norm.bias", m->fc_norm_b, 1, SH(D));
    }
    if (c->has_head) {
        put(&s, "head.weight", m->head_w, 2, SH(c->num_classes, D));
        put(&s, "head.bias", m->head_b, 1, SH(c->num_classes));
    }
    if (c->has_lm_head) {
        put(&s, "lm_head.weight", m->lm_w, 2, SH(c->lm_dim, D));
        put(&s, "lm_head.bias", m->lm_b, 1, SH(c->lm_dim));
    }
    if (s.st == EVA_OK) {
        char buf[128];
        time_t now = time(NULL);
        struct tm tmv;
        gmtime_r(&now, &tmv);
        eva_tensor_writer_set_metadata(s.w, "format", "eva.c safetensors (timm/official EVA-01 names)");
        eva_tensor_writer_set_metadata(s.w, "eva.arch", c->arch);
        if (c->timm_name[0]) eva_tensor_writer_set_metadata(s.w, "eva.timm_name", c->timm_name);
#define META_INT(key, v) snprintf(buf, sizeof buf, "%d", (int)(v)); eva_tensor_writer_set_metadata(s.w, key, buf)
        META_INT("eva.width", c->width);
        META_INT("eva.depth", c->depth);
        META_INT("eva.heads", c->heads);
        META_INT("eva.mlp", c->mlp);
        META_INT("eva.patch", c->patch);
        META_INT("eva.img_size", c->img_size);
        META_INT("eva.num_classes", c->has_head ? c->num_classes : 0);
#undef META_INT
        eva_tensor_writer_set_metadata(s.w, "eva.pooling", c->cls_classifier ? "cls_classifier" : pooling_key(c->pooling));
        /* the block matrices' compute dtype on load (bf16: bit-identical results, half the memory) */
        if (dtype == EVA_Q8) eva_tensor_writer_set_metadata(s.w, "eva.dtype", "q8");
        else if (dtype == EVA_BF16) eva_tensor_writer_set_metadata(s.w, "eva.dtype", "bf16");
        /* block matrices as F32 [ceil(N/32), K, 32] weight panels (gemm.h): loaded without packing */
        if (panels) eva_tensor_writer_set_metadata(s.w, "eva.layout", "panels32");
        snprintf(buf, sizeof buf, "%.8g,%.8g,%.8g", c->mean[0], c->mean[1], c->mean[2]);
        eva_tensor_writer_set_metadata(s.w, "eva.preprocess.mean", buf);
        snprintf(buf, sizeof buf, "%.8g,%.8g,%.8g", c->std[0], c->std[1], c->std[2]);
        eva_tensor_writer_set_metadata(s.w, "eva.preprocess.std", buf);
        snprintf(buf, sizeof buf, "%.6g", c->crop_pct);
        eva_tensor_writer_set_metadata(s.w, "eva.preprocess.crop_pct", buf);
        eva_tensor_writer_set_metadata(s.w, "eva.preprocess.resize", c->squash ? "squash" : "shortest");
        eva_tensor_writer_set_metadata(s.w, "eva.labels", c->labels);
        const char *names = eva_tensor_map_get_meta(&m->map, "eva.class_names");   /* carried over */
        if (names) eva_tensor_writer_set_metadata(s.w, "eva.class_names", names);
        eva_tensor_writer_set_metadata(s.w, "eva.source", m->source);
        if (m->ckpt_prefix[0]) eva_tensor_writer_set_metadata(s.w, "eva.source_state_dict", m->ckpt_prefix);
        if (provenance) eva_tensor_writer_set_metadata(s.w, "eva.provenance", provenance);
        strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tmv);
        eva_tensor_writer_set_metadata(s.w, "eva.converted_at", buf);
        eva_tensor_writer_set_metadata(s.w, "eva.version", eva_version());
        s.st = eva_tensor_writer_save(s.w, path);
    }
    eva_tensor_writer_free(s.w);
    return s.st;
}

eva_status eva_model_save(const eva_model *m, const char *path, eva_dtype dtype, const char *provenance) {
    if (!m || !path) return eva_fail(EVA_ERR_INVALID_ARG, "eva_model_save: null argument");
    return save_model(m, path, dtype, false, provenance);
}

eva_status eva_model_save_panels(const eva_model *m, const char *path, const char *provenance) {
    if (!m || !path) return eva_fail(EVA_ERR_INVALID_ARG, "eva_model_save_panels: null argument");
    return save_model(m, path, EVA_F32, true, provenance);
}

/* ---------------------------------------------------------------- patch 14 -> 16 */

/* timm's resample_patch_embed: R [new_hw, old_hw] maps an old kernel to its antialiased bicubic
 * resize; new kernel = old · pinv(R^T)... precisely new = P^T-free form: new[1, new_hw] =
 * old[1, old_hw] · pinv(R) with pinv(R) = (R^T R)^-1 R^T (R has full column rank when
 * upsampling). Solved once in double by Cholesky. */
static eva_status pinv_matrix(int ko, int kn, double *pinv /* [ko*ko, kn*kn] */) {
    int no = ko * ko, nn = kn * kn;
    double *R = calloc((size_t)nn * no, sizeof(double)), *A = calloc((size_t)no * no, sizeof(double));
    float *basis = calloc((size_t)no, sizeof(float)), *res = calloc((size_t)nn, sizeof(float));
    eva_status st = EVA_OK;
    if (!R || !A || !basis || !res) st = eva_fail(EVA_ERR_NOMEM, "out of memory");
    for (int i = 0; i < no && st == EVA_OK; i++) {
        memset(basis, 0, sizeof(float) * (size_t)no);
        basis[i] = 1;
        eva_resample_grid_timm(basis, ko, ko, res, kn, kn, 1);
        for (int j = 0; j < nn; j++) R[(size_t)j * no + i] = res[j];
    }
    /* A = R^T R, Cholesky A = L L^T, then pinv = A^-1 R^T column by column */
    for (int i = 0; i < no && st == EVA_OK; i++)
        for (int j = 0; j < no; j++) {
            double s = 0;
            for (int k = 0; k < nn; k++) s += R[(size_t)k * no + i] * R[(size_t)k * no + j];
            A[(size_t)i * no + j] = s;
        }
    for (int j = 0; j < no && st == EVA_OK; j++) {
        double d = A[(size_t)j * no + j];
        for (int k = 0; k < j; k++) d -= A[(size_t)j * no + k] * A[(size_t)j * no + k];
        if (d <= 0) {
            st = eva_fail(EVA_ERR_INVALID_ARG, "pseudo-inverse resampling needs a larger target kernel");
            break;
        }
        d = sqrt(d);
        A[(size_t)j * no + j] = d;
        for (int i = j + 1; i < no; i++) {
            double s = A[(size_t)i * no + j];
            for (int k = 0; k < j; k++) s -= A[(size_t)i * no + k] * A[(size_t)j * no + k];
            A[(size_t)i * no + j] = s / d;
        }
    }
    double *col = calloc((size_t)no, sizeof(double));
    if (!col && st == EVA_OK) st = eva_fail(EVA_ERR_NOMEM, "out of memory");
    for (int c = 0; c < nn && st == EVA_OK; c++) {
        for (int i = 0; i < no; i++) col[i] = R[(size_t)c * no + i];   /* column c of R^T */
        for (int i = 0; i < no; i++) {                                   /* forward: L y = b */
            double s = col[i];
            for (int k = 0; k < i; k++) s -= A[(size_t)i * no + k] * col[k];
            col[i] = s / A[(size_t)i * no + i];
        }
        for (int i = no - 1; i >= 0; i--) {                              /* back: L^T x = y */
            double s = col[i];
            for (int k = i + 1; k < no; k++) s -= A[(size_t)k * no + i] * col[k];
            col[i] = s / A[(size_t)i * no + i];
        }
        for (int i = 0; i < no; i++) pinv[(size_t)i * nn + c] = col[i];
    }
    free(col); free(R); free(A); free(basis); free(res);
    return st;
}

eva_status eva_patch14to16(const char *in_path, const char *out_path, eva_patch_method method,
                           const eva_model_params *params) {
    eva_model_params p = params ? *params : eva_model_default_params();
    p.img_size = 0;
    eva_model *m;
    eva_status st = eva_model_load(in_path, &p, &m);
    if (st != EVA_OK) return st;
    eva_vit_config *c = &m->cfg;
    const int ko = c->patch, kn = 16, D = c->width, Cin = c->in_chans;
    const int g_old = c->img_size / ko, g_new = 14;   /* official: hard-coded 196 patches */
    if (ko == kn) {
        eva_model_free(m);
        return eva_fail(EVA_ERR_INVALID_ARG, "%s already has patch size 16", in_path);
    }
    size_t nk = (size_t)D * Cin * kn * kn, np = (size_t)(g_new * g_new + 1) * D;
    float *kernel = calloc(nk, sizeof(float)), *pos = calloc(np, sizeof(float));
    double *pinv = method == EVA_PATCH_PINV ? calloc((size_t)ko * ko * kn * kn, sizeof(double)) : NULL;
    if (!kernel || !pos || (method == EVA_PATCH_PINV && !pinv)) st = eva_fail(EVA_ERR_NOMEM, "out of memory");
    if (st == EVA_OK && method == EVA_PATCH_PINV) st = pinv_matrix(ko, kn, pinv);
    for (size_t s = 0; st == EVA_OK && s < (size_t)D * Cin; s++) {
        const float *src = m->patch_w + s * ko * ko;
        float *dst = kernel + s * kn * kn;
        if (method == EVA_PATCH_OFFICIAL) {
            eva_resize_plane_official(src, ko, ko, dst, kn, kn);
        } else {
            for (int j = 0; j < kn * kn; j++) {
                double acc = 0;
                for (int i = 0; i < ko * ko; i++) acc += (double)src[i] * pinv[(size_t)i * kn * kn + j];
                dst[j] = (float)acc;
            }
        }
    }
    if (st == EVA_OK) {
        memcpy(pos, m->pos_embed, sizeof(float) * (size_t)D);
        if (method == EVA_PATCH_OFFICIAL)
            eva_resample_grid_official(m->pos_embed + D, g_old, g_old, pos + D, g_new, g_new, D);
        else
            eva_resample_grid_timm(m->pos_embed + D, g_old, g_old, pos + D, g_new, g_new, D);
        eva_model out = *m;
        out.patch_w = kernel;
        out.pos_embed = pos;
        out.cfg.patch = kn;
        out.cfg.img_size = g_new * kn;
        snprintf(out.cfg.arch, sizeof out.cfg.arch, "%s", !strcmp(c->arch, "eva_psz14") ? "eva_psz14to16" : "custom");
        out.cfg.timm_name[0] = 0;
        st = save_model(&out, out_path, EVA_F32, false,
                        method == EVA_PATCH_OFFICIAL ? "EVA-01 interpolate_patch_14to16 (bicubic a=-0.75, pos_embed to 14x14)"
                                                     : "timm resample_patch_embed (pseudo-inverse), pos_embed antialiased");
    }
    free(kernel);
    free(pos);
    free(pinv);
    eva_model_free(m);
    return st;
}
