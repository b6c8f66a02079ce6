/* init.c — truncated-normal initialisation and the official per-name init rules.
 * Shapes: each parameter is a flat array of numel floats. */
#include "train/init.h"

#include <math.h>

eva_status eva_trunc_normal_fill(float *dst, int64_t n, double mean, double std, double lo, double hi, eva_rng *rng) {
    if (!(std > 0) || !isfinite(std) || !isfinite(mean) || !(lo < hi))
        return eva_fail(EVA_ERR_INVALID_ARG, "trunc_normal: std %g, bounds [%g, %g] invalid", std, lo, hi);
    double a = (lo - mean) / std, b = (hi - mean) / std;
    double mass = 0.5 * (erf(b / M_SQRT2) - erf(a / M_SQRT2));
    if (!(mass >= 1e-3))
        return eva_fail(EVA_ERR_INVALID_ARG, "trunc_normal: bounds [%g, %g] hold only %.2g of N(%g, %g^2)",
                        lo, hi, mass, mean, std);
    for (int64_t i = 0; i < n; i++) {
        double z;
        do z = eva_rng_normal(rng); while (z < a || z > b);
        double x = mean + std * z;
        /* rounding to float may step just outside [lo, hi]: clamp as torch's clamp_ does */
        float f = (float)x;
        if (f < (float)lo) f = (float)lo;
        if (f > (float)hi) f = (float)hi;
        dst[i] = f;
    }
    return EVA_OK;
}

eva_init_config eva_init_config_pretrain(void) {
    eva_init_config c = {0.015, -0.015, 0.015, 1.0};
    return c;
}

eva_init_config eva_init_config_finetune(void) {
    eva_init_config c = {0.02, -2.0, 2.0, 1e-3};
    return c;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

static void fill_const(float *p, int64_t n, float v) {
    for (int64_t i = 0; i < n; i++) p[i] = v;
}

eva_status eva_init_vit_params(const eva_param_ref *params, int n, const eva_init_config *cfg, uint64_t seed) {
    for (int j = 0; j < n; j++) {
        const eva_param_ref *r = &params[j];
        const char *name = r->name;
        eva_rng rng = eva_rng_make(seed, (uint64_t)j);
        bool is_norm = strstr(name, "norm") != NULL;   /* norm1/norm2/norm/fc_norm (LayerNorm) */
        if (ends_with(name, ".bias") || ends_with(name, "q_bias") || ends_with(name, "v_bias")) {
            fill_const(r->param, r->numel, 0.0f);
            continue;
        }
        if (is_norm && ends_with(name, ".weight")) {
            fill_const(r->param, r->numel, 1.0f);
            continue;
        }
        if (r->ndim <= 1 && strcmp(name, "cls_token") != 0 && strcmp(name, "mask_token") != 0 &&
            strcmp(name, "pos_embed") != 0) {
            fill_const(r->param, r->numel, 0.0f);
            continue;
        }
        eva_status st = eva_trunc_normal_fill(r->param, r->numel, 0.0, cfg->std, cfg->trunc_lo, cfg->trunc_hi, &rng);
        if (st != EVA_OK) return eva_fail_context(st, "initialising %s", name);
        /* fix_init_weight: rescale the residual-branch outputs by 1/sqrt(2 * layer_id) */
        if (ends_with(name, ".attn.proj.weight") || ends_with(name, ".mlp.fc2.weight")) {
            int id = eva_vit_layer_id(name, 1 << 20);   /* blocks.i -> i + 1 */
            if (id >= 1 && id <= (1 << 20)) {
                double s = 1.0 / sqrt(2.0 * id);
                for (int64_t i = 0; i < r->numel; i++) r->param[i] = (float)(r->param[i] * s);
            }
        }
        if (strcmp(name, "head.weight") == 0 && cfg->head_scale != 1.0)
            for (int64_t i = 0; i < r->numel; i++) r->param[i] = (float)(r->param[i] * cfg->head_scale);
    }
    return EVA_OK;
}
