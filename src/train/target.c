/* target.c — teacher features from a CLIP vision tower or an EVA model. */
#include "train/target.h"
#include "train/teacher_cache.h"

#include <stdio.h>
#include <stdlib.h>

struct eva_target {
    eva_teacher *clip;
    eva_model *eva;
    eva_ctx *ctx;
    eva_teacher_cache *cache;
    int img_size, block, rows, dim, tokens;
    float *tmp;          /* EVA: [B, N, D] tokens of the current batch */
    int tmp_batch;
};

eva_status eva_target_open(const char *path, int S, int block, int threads, eva_target **out) {
    *out = NULL;
    eva_target *t = eva_calloc(1, sizeof *t);
    if (!t) return EVA_ERR_NOMEM;
    t->img_size = S;
    t->block = block;
    eva_teacher_params tp = eva_teacher_default_params();
    tp.n_threads = threads;
    eva_status st = eva_teacher_load(path, &tp, &t->clip);
    char clip_err[512];
    snprintf(clip_err, sizeof clip_err, "%s", eva_last_error());
    if (st == EVA_OK) {
        eva_teacher_options o = eva_teacher_default_options();
        if (block >= 0) o.layer = block + 1;
        st = eva_teacher_feature_shape(t->clip, S, &o, &t->rows, &t->dim);
        if (st != EVA_OK) eva_fail_context(st, "teacher %s at %d px", path, S);
    } else {
        /* not a CLIP tower: any EVA vision model */
        eva_model_params mp = eva_model_default_params();
        mp.img_size = S;
        st = eva_model_load(path, &mp, &t->eva);
        if (st != EVA_OK) {
            eva_fail(st, "teacher %s is neither a CLIP vision tower (%s) nor an EVA model (%s)", path, clip_err,
                     eva_last_error());
        } else {
            eva_model_info info;
            eva_model_get_info(t->eva, &info);
            if (block >= info.depth) st = eva_fail(EVA_ERR_INVALID_ARG, "teacher block %d out of range (0..%d)", block, info.depth - 1);
            t->tokens = eva_model_tokens(t->eva, S);
            t->rows = t->tokens - 1;
            t->dim = info.width;
            if (st == EVA_OK) st = eva_ctx_create(t->eva, threads, &t->ctx);
        }
    }
    if (st != EVA_OK) {
        eva_target_free(t);
        return st;
    }
    *out = t;
    return EVA_OK;
}

void eva_target_free(eva_target *t) {
    if (!t) return;
    eva_teacher_free(t->clip);
    eva_ctx_free(t->ctx);
    eva_model_free(t->eva);
    eva_teacher_cache_free(t->cache);
    free(t->tmp);
    free(t);
}

int eva_target_rows(const eva_target *t) { return t->rows; }
int eva_target_dim(const eva_target *t) { return t->dim; }
const char *eva_target_kind(const eva_target *t) { return t->cache ? "cache" : t->clip ? "clip" : "eva"; }

eva_status eva_target_features(eva_target *t, const float *images, int B, float *out) {
    if (t->cache) return eva_fail(EVA_ERR_INVALID_ARG, "a cached teacher is read by step (eva_target_features_at)");
    if (t->clip) {
        eva_teacher_options o = eva_teacher_default_options();
        if (t->block >= 0) o.layer = t->block + 1;
        return eva_teacher_features(t->clip, images, B, t->img_size, &o, out, NULL);
    }
    size_t per = (size_t)t->tokens * t->dim;
    if (t->tmp_batch < B) {
        free(t->tmp);
        t->tmp = malloc(sizeof(float) * per * (size_t)B);
        if (!t->tmp) {
            t->tmp_batch = 0;
            return eva_fail(EVA_ERR_NOMEM, "out of memory for teacher tokens");
        }
        t->tmp_batch = B;
    }
    eva_outputs o = {0};
    if (t->block >= 0) {
        o.block_out = t->tmp;
        o.block_index = t->block;
    } else {
        o.tokens_final = t->tmp;
    }
    eva_status st = eva_forward(t->ctx, images, B, t->img_size, &o);
    if (st != EVA_OK) return st;
    for (int b = 0; b < B; b++)   /* drop the cls row */
        memcpy(out + (size_t)b * t->rows * t->dim, t->tmp + per * b + t->dim, sizeof(float) * (size_t)t->rows * t->dim);
    return EVA_OK;
}

eva_status eva_target_open_cache(const char *path, eva_target **out) {
    *out = NULL;
    eva_target *t = eva_calloc(1, sizeof *t);
    if (!t) return EVA_ERR_NOMEM;
    eva_status st = eva_teacher_cache_open(path, &t->cache);
    if (st != EVA_OK) {
        free(t);
        return st;
    }
    const eva_teacher_cache_info *i = eva_teacher_cache_get_info(t->cache);
    t->img_size = i->size;
    t->block = i->teacher_block;
    t->rows = i->rows;
    t->dim = i->dim;
    *out = t;
    return EVA_OK;
}

eva_status eva_target_check_run(const eva_target *t, const struct eva_dataset *ds, int size, int batch, uint64_t seed, int world,
                                int64_t total_steps) {
    return t->cache ? eva_teacher_cache_check(t->cache, ds, size, batch, seed, world, total_steps) : EVA_OK;
}

eva_status eva_target_features_at(eva_target *t, int64_t step, const int64_t *indices, const float *images, int B, float *out) {
    if (t->cache) return eva_teacher_cache_read(t->cache, step, B, indices, images, out);
    return eva_target_features(t, images, B, out);
}
