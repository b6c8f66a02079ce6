/* optim.c — AdamW over a list of named fp32 tensors with the official EVA-01 groups.
 * Shapes: every parameter is a flat array of numel floats; m and v have the same size.
 * The work is cut into fixed chunks of at most CHUNK elements so the thread pool can spread a
 * 1B-parameter model evenly; each element is independent (the clip coefficient is global and
 * is passed in), so the result does not depend on the thread count. */
#include "train/optim.h"

#include <math.h>
#include <stdlib.h>

#define CHUNK 65536

static const char *const k_default_skip[] = {"pos_embed", "cls_token"};

eva_adamw_config eva_adamw_config_pretrain(int depth) {
    eva_adamw_config c = {0.9, 0.98, 1e-6, 0.05, 1.0, depth, NULL, 0};
    return c;
}

eva_adamw_config eva_adamw_config_finetune(int depth, double layer_decay) {
    eva_adamw_config c = {0.9, 0.999, 1e-8, 0.05, layer_decay, depth, NULL, 0};
    return c;
}

static bool starts_with(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

/* optim_factory.get_num_layer_for_vit(name, depth + 2). */
int eva_vit_layer_id(const char *name, int depth) {
    if (strcmp(name, "cls_token") == 0 || strcmp(name, "mask_token") == 0 || strcmp(name, "pos_embed") == 0)
        return 0;
    if (starts_with(name, "patch_embed")) return 0;
    if (starts_with(name, "rel_pos_bias")) return depth + 1;
    if (starts_with(name, "blocks")) {
        /* int(name.split('.')[1]) + 1; a malformed index falls to the "everything else" bucket */
        const char *p = name + 6;
        if (*p != '.') return depth + 1;
        p++;
        long id = 0;
        int digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 9) id = id * 10 + (*p++ - '0'), digits++;
        if (digits == 0 || (*p != '.' && *p != '\0')) return depth + 1;
        return (int)id + 1;
    }
    return depth + 1;
}

double eva_layer_decay_scale(double r, int depth, int layer_id) {
    /* Python: layer_decay ** (num_layers + 1 - i); pow with an integer exponent, as CPython does */
    return pow(r, (double)(depth + 1 - layer_id));
}

bool eva_param_has_weight_decay(const char *name, int ndim, const char *const *skip, int n_skip) {
    if (ndim == 1) return false;
    size_t len = strlen(name);
    if (len >= 5 && strcmp(name + len - 5, ".bias") == 0) return false;
    if (!skip) {
        skip = k_default_skip;
        n_skip = (int)EVA_ARRAY_LEN(k_default_skip);
    }
    for (int i = 0; i < n_skip; i++)
        if (strcmp(name, skip[i]) == 0) return false;
    return true;
}

typedef struct adamw_param {
    eva_param_ref ref;     /* name owned */
    float *m, *v;          /* 64-byte aligned, zero-initialised */
    double lr_scale;
    int layer_id;
    bool decay;
} adamw_param;

typedef struct adamw_chunk {
    int param;
    int64_t begin, end;
} adamw_chunk;

struct eva_adamw {
    eva_adamw_config cfg;
    adamw_param *params;
    int n;
    adamw_chunk *chunks;
    int n_chunks;
    int64_t step;
};

void eva_adamw_free(eva_adamw *opt) {
    if (!opt) return;
    for (int i = 0; i < opt->n; i++) {
        free((char *)opt->params[i].ref.name);
        eva_aligned_free(opt->params[i].m);
        eva_aligned_free(opt->params[i].v);
    }
    free(opt->params);
    free(opt->chunks);
    free(opt);
}

eva_status eva_adamw_create(const eva_param_ref *params, int n, const eva_adamw_config *cfg, eva_adamw **out) {
    *out = NULL;
    if (n < 0 || (n > 0 && !params) || !cfg) return eva_fail(EVA_ERR_INVALID_ARG, "adamw: bad parameter list");
    if (!(cfg->beta1 >= 0 && cfg->beta1 < 1) || !(cfg->beta2 >= 0 && cfg->beta2 < 1))
        return eva_fail(EVA_ERR_INVALID_ARG, "adamw: betas (%g, %g) must be in [0, 1)", cfg->beta1, cfg->beta2);
    if (!(cfg->eps >= 0) || !(cfg->weight_decay >= 0) || !(cfg->layer_decay > 0) || cfg->depth < 0)
        return eva_fail(EVA_ERR_INVALID_ARG, "adamw: eps %g, weight decay %g, layer decay %g, depth %d out of range",
                        cfg->eps, cfg->weight_decay, cfg->layer_decay, cfg->depth);
    eva_adamw *o = eva_calloc(1, sizeof *o);
    if (!o) return EVA_ERR_NOMEM;
    o->cfg = *cfg;
    o->cfg.skip_list = NULL;   /* only used below; the caller's array need not outlive us */
    o->params = eva_calloc(n > 0 ? (size_t)n : 1, sizeof *o->params);
    if (!o->params) {
        free(o);
        return EVA_ERR_NOMEM;
    }
    int64_t n_chunks = 0;
    for (int i = 0; i < n; i++) {
        const eva_param_ref *r = &params[i];
        adamw_param *p = &o->params[i];
        if (!r->name || !r->param || r->numel < 0 || r->ndim < 0) {
            eva_adamw_free(o);
            return eva_fail(EVA_ERR_INVALID_ARG, "adamw: parameter %d is incomplete", i);
        }
        p->ref = *r;
        o->n = i + 1;
        p->ref.name = eva_strdup(r->name);
        size_t bytes;
        if (!p->ref.name || !eva_size_mul((size_t)r->numel, sizeof(float), &bytes)) {
            eva_adamw_free(o);
            return p->ref.name ? eva_fail(EVA_ERR_NOMEM, "adamw: %s is too large", r->name) : EVA_ERR_NOMEM;
        }
        p->m = eva_aligned_alloc(bytes ? bytes : 64);
        p->v = eva_aligned_alloc(bytes ? bytes : 64);
        if (!p->m || !p->v) {
            eva_adamw_free(o);
            return EVA_ERR_NOMEM;
        }
        memset(p->m, 0, bytes);
        memset(p->v, 0, bytes);
        p->layer_id = eva_vit_layer_id(r->name, cfg->depth);
        p->lr_scale = cfg->layer_decay == 1.0 ? 1.0 : eva_layer_decay_scale(cfg->layer_decay, cfg->depth, p->layer_id);
        p->decay = eva_param_has_weight_decay(r->name, r->ndim, cfg->skip_list, cfg->skip_count);
        n_chunks += (r->numel + CHUNK - 1) / CHUNK;
    }
    if (n_chunks > INT32_MAX / 2) {
        eva_adamw_free(o);
        return eva_fail(EVA_ERR_NOMEM, "adamw: %lld chunks is too many", (long long)n_chunks);
    }
    o->chunks = eva_calloc(n_chunks > 0 ? (size_t)n_chunks : 1, sizeof *o->chunks);
    if (!o->chunks) {
        eva_adamw_free(o);
        return EVA_ERR_NOMEM;
    }
    for (int i = 0; i < n; i++)
        for (int64_t b = 0; b < params[i].numel; b += CHUNK) {
            adamw_chunk *c = &o->chunks[o->n_chunks++];
            c->param = i;
            c->begin = b;
            c->end = EVA_MIN(b + CHUNK, params[i].numel);
        }
    *out = o;
    return EVA_OK;
}

double eva_adamw_lr_scale(const eva_adamw *opt, int index) { return opt->params[index].lr_scale; }
int eva_adamw_layer_id(const eva_adamw *opt, int index) { return opt->params[index].layer_id; }
bool eva_adamw_decayed(const eva_adamw *opt, int index) { return opt->params[index].decay; }
int64_t eva_adamw_steps(const eva_adamw *opt) { return opt->step; }
int eva_adamw_count(const eva_adamw *opt) { return opt->n; }
void eva_adamw_set_steps(eva_adamw *opt, int64_t steps) { opt->step = steps < 0 ? 0 : steps; }

void eva_adamw_state(eva_adamw *opt, int index, float **m, float **v) {
    *m = opt->params[index].m;
    *v = opt->params[index].v;
}

typedef struct step_ctx {
    eva_adamw *opt;
    double lr, wd, grad_scale;
    double bc1, bc2_sqrt;
} step_ctx;

/* Reference element loop for one chunk (plain C; the compiler vectorises the double maths). */
static void step_chunk(void *vctx, int task, int thread) {
    (void)thread;
    const step_ctx *s = vctx;
    const adamw_chunk *c = &s->opt->chunks[task];
    adamw_param *p = &s->opt->params[c->param];
    if (!p->ref.grad) return;
    const double b1 = s->opt->cfg.beta1, b2 = s->opt->cfg.beta2, eps = s->opt->cfg.eps;
    const double lr = s->lr * p->lr_scale;
    const double decay = 1.0 - lr * (p->decay ? s->wd : 0.0);
    const double step_size = lr / s->bc1;
    float *restrict w = p->ref.param, *restrict m = p->m, *restrict v = p->v;
    const float *restrict g = p->ref.grad;
    for (int64_t i = c->begin; i < c->end; i++) {
        double gi = (double)g[i] * s->grad_scale;
        double mi = b1 * m[i] + (1.0 - b1) * gi;
        double vi = b2 * v[i] + (1.0 - b2) * gi * gi;
        double denom = sqrt(vi) / s->bc2_sqrt + eps;
        double wi = (double)w[i] * decay - step_size * mi / denom;
        m[i] = (float)mi;
        v[i] = (float)vi;
        w[i] = (float)wi;
    }
}

eva_status eva_adamw_step(eva_adamw *opt, double lr, double wd, double grad_scale, eva_pool *pool) {
    if (!opt) return eva_fail(EVA_ERR_INVALID_ARG, "adamw step: no optimizer");
    if (!isfinite(lr) || lr < 0 || !isfinite(wd) || wd < 0 || !isfinite(grad_scale))
        return eva_fail(EVA_ERR_INVALID_ARG, "adamw step: lr %g, wd %g, grad scale %g out of range", lr, wd, grad_scale);
    opt->step++;
    step_ctx s = {opt, lr, wd, grad_scale, 0, 0};
    /* torch: bias_correction1 = 1 - beta1**step; denom uses sqrt(1 - beta2**step) */
    s.bc1 = 1.0 - pow(opt->cfg.beta1, (double)opt->step);
    s.bc2_sqrt = sqrt(1.0 - pow(opt->cfg.beta2, (double)opt->step));
    if (pool && opt->n_chunks > 1)
        eva_pool_run(pool, opt->n_chunks, step_chunk, &s);
    else
        for (int t = 0; t < opt->n_chunks; t++) step_chunk(&s, t, 0);
    return EVA_OK;
}

double eva_grad_global_norm(const eva_param_ref *params, int n) {
    /* torch: norm of the per-tensor norms; one double sum of squares is the same value */
    double ss = 0;
    for (int i = 0; i < n; i++) {
        const float *g = params[i].grad;
        if (!g) continue;
        double t = 0;
        for (int64_t j = 0; j < params[i].numel; j++) t += (double)g[j] * g[j];
        ss += t;
    }
    return sqrt(ss);
}

double eva_grad_clip_coef(double total_norm, double max_norm) {
    if (!(max_norm > 0)) return 1.0;
    double coef = max_norm / (total_norm + 1e-6);
    return coef < 1.0 ? coef : 1.0;
}

void eva_grad_scale(const eva_param_ref *params, int n, double coef) {
    if (coef == 1.0) return;
    for (int i = 0; i < n; i++) {
        float *g = params[i].grad;
        if (!g) continue;
        for (int64_t j = 0; j < params[i].numel; j++) g[j] = (float)((double)g[j] * coef);
    }
}
