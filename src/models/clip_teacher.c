/* clip_teacher.c — the public eva_teacher API: a CLIP vision tower (clip_vision.h) with its own
 * thread pool and activation workspace, returning EVA-01's MIM targets (golden
 * README-teacher-finetune §1.3-1.4). */
#include "models/clip_vision.h"

#include <stdlib.h>

struct eva_teacher {
    eva_clip_vision model;
    eva_clip_vision_work work;
    eva_pool *pool;
};

eva_teacher_params eva_teacher_default_params(void) {
    eva_teacher_params p = {0};
    return p;
}

eva_teacher_options eva_teacher_default_options(void) {
    eva_teacher_options o = {.layer = -1, .ln_post = true, .proj = true, .keep_cls = false, .reference = false};
    return o;
}

eva_status eva_teacher_load(const char *path, const eva_teacher_params *params, eva_teacher **out) {
    if (!out) return eva_fail(EVA_ERR_INVALID_ARG, "null output handle");
    *out = NULL;
    eva_teacher_params p = params ? *params : eva_teacher_default_params();
    if (p.heads < 0 || p.n_threads < 0 || p.n_threads > 1024)
        return eva_fail(EVA_ERR_INVALID_ARG, "heads must be >= 0 and n_threads in [0, 1024]");
    eva_teacher *t = eva_calloc(1, sizeof *t);
    if (!t) return EVA_ERR_NOMEM;
    eva_status st = eva_clip_vision_load(path, p.heads, &t->model);
    if (st == EVA_OK) st = eva_pool_create(p.n_threads, &t->pool);
    if (st != EVA_OK) {
        eva_teacher_free(t);
        return st;
    }
    *out = t;
    return EVA_OK;
}

void eva_teacher_free(eva_teacher *t) {
    if (!t) return;
    eva_clip_vision_work_free(&t->work);
    eva_clip_vision_free(&t->model);
    eva_pool_free(t->pool);
    free(t);
}

eva_status eva_teacher_get_info(const eva_teacher *t, eva_teacher_info *out) {
    if (!t || !out) return eva_fail(EVA_ERR_INVALID_ARG, "null argument");
    const eva_clip_vision_config *c = &t->model.cfg;
    memset(out, 0, sizeof *out);
    out->width = c->width;
    out->layers = c->layers;
    out->heads = c->heads;
    out->patch = c->patch;
    out->img_size = c->grid * c->patch;
    out->mlp_hidden = c->mlp_hidden;
    out->out_dim = c->out_dim;
    out->n_params = (int64_t)t->model.n_params;
    return EVA_OK;
}

static eva_clip_vision_select to_select(const eva_teacher_options *o) {
    eva_teacher_options d = eva_teacher_default_options();
    if (!o) o = &d;
    eva_clip_vision_select s = {o->layer, o->ln_post, o->proj, o->keep_cls, o->reference};
    return s;
}

eva_status eva_teacher_feature_shape(const eva_teacher *t, int img_size, const eva_teacher_options *opts, int *rows,
                                     int *dim) {
    if (!t) return eva_fail(EVA_ERR_INVALID_ARG, "null teacher");
    eva_clip_vision_select s = to_select(opts);
    if (img_size == 0) img_size = t->model.cfg.grid * t->model.cfg.patch;
    int r = eva_clip_vision_rows(&t->model, img_size, &s);
    if (!r)
        return eva_fail(EVA_ERR_SHAPE, "image size %d is not a positive multiple of the patch size %d", img_size,
                        t->model.cfg.patch);
    if (rows) *rows = r;
    if (dim) *dim = eva_clip_vision_dim(&t->model, &s);
    return EVA_OK;
}

eva_status eva_teacher_features(eva_teacher *t, const float *images, int batch, int img_size,
                                const eva_teacher_options *opts, float *features, float *image_embed) {
    if (!t) return eva_fail(EVA_ERR_INVALID_ARG, "null teacher");
    if (img_size == 0) img_size = t->model.cfg.grid * t->model.cfg.patch;
    eva_clip_vision_select s = to_select(opts);
    return eva_clip_vision_forward(&t->model, &t->work, t->pool, images, batch, img_size, &s, features, image_embed);
}
