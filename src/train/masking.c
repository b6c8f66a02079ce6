/* masking.c — block-wise masking (EVA-01 masking_generator.py), shapes: one mask [H, W] bytes.
 *
 * Python reference semantics reproduced here (golden README-train-clip §2.2):
 *   random.uniform(a, b) = a + (b - a) * U[0,1)   (so a > b is fine: the value lies in [b, a])
 *   random.randint(a, b) inclusive on both ends
 *   int(round(x))       round half to even (rint under the default rounding mode)
 * Only the random source differs (Philox via eva_rng), so masks match in distribution only. */
#include "train/masking.h"

#include <math.h>

eva_mask_config eva_mask_config_official(void) {
    eva_mask_config c = {16, 16, 105, 16, 0, 0.3, 0};
    return c;
}

eva_status eva_mask_config_resolve(eva_mask_config *cfg) {
    if (cfg->height < 1 || cfg->width < 1 || cfg->height > 4096 || cfg->width > 4096)
        return eva_fail(EVA_ERR_INVALID_ARG, "mask grid %dx%d: each side must be in [1, 4096]",
                        cfg->height, cfg->width);
    int64_t cells = (int64_t)cfg->height * cfg->width;
    if (cfg->num_masking_patches < 1 || cfg->num_masking_patches > cells)
        return eva_fail(EVA_ERR_INVALID_ARG, "mask count %d: must be in [1, %lld] for a %dx%d grid",
                        cfg->num_masking_patches, (long long)cells, cfg->height, cfg->width);
    if (cfg->min_num_patches < 1 || cfg->min_num_patches > cfg->num_masking_patches)
        return eva_fail(EVA_ERR_INVALID_ARG, "minimum block %d: must be in [1, count %d]",
                        cfg->min_num_patches, cfg->num_masking_patches);
    if (cfg->max_num_patches <= 0) cfg->max_num_patches = cfg->num_masking_patches;
    if (!(cfg->min_aspect > 0) || !isfinite(cfg->min_aspect))
        return eva_fail(EVA_ERR_INVALID_ARG, "minimum aspect %g: must be a positive number", cfg->min_aspect);
    if (cfg->max_aspect <= 0) cfg->max_aspect = 1.0 / cfg->min_aspect;
    if (!isfinite(cfg->max_aspect))
        return eva_fail(EVA_ERR_INVALID_ARG, "maximum aspect %g: must be a positive number", cfg->max_aspect);
    return EVA_OK;
}

/* One call of the official _mask(): up to 10 attempts, at most one block placed. */
static int try_block(const eva_mask_config *cfg, eva_rng *rng, uint8_t *mask, int limit,
                     double log_lo, double log_hi) {
    const int H = cfg->height, W = cfg->width;
    int delta = 0;
    for (int attempt = 0; attempt < 10; attempt++) {
        double area = cfg->min_num_patches + (limit - cfg->min_num_patches) * eva_rng_uniform(rng);
        double aspect = exp(log_lo + (log_hi - log_lo) * eva_rng_uniform(rng));
        /* sqrt of a positive finite value; rint = Python round (half to even) */
        double hf = rint(sqrt(area * aspect)), wf = rint(sqrt(area / aspect));
        if (wf < W && hf < H) {
            int h = (int)hf, w = (int)wf;
            int top = (int)eva_rng_below(rng, (int64_t)(H - h) + 1);
            int left = (int)eva_rng_below(rng, (int64_t)(W - w) + 1);
            int already = 0;
            for (int i = top; i < top + h; i++)
                for (int j = left; j < left + w; j++) already += mask[(size_t)i * W + j];
            int fresh = h * w - already;
            if (fresh > 0 && fresh <= limit) {
                for (int i = top; i < top + h; i++)
                    for (int j = left; j < left + w; j++) mask[(size_t)i * W + j] = 1;
                delta += fresh;
            }
        }
        if (delta > 0) break;
    }
    return delta;
}

int eva_mask_generate(const eva_mask_config *cfg, eva_rng *rng, uint8_t *mask) {
    memset(mask, 0, (size_t)cfg->height * (size_t)cfg->width);
    double log_lo = log(cfg->min_aspect), log_hi = log(cfg->max_aspect);
    int count = 0;
    while (count < cfg->num_masking_patches) {
        int limit = EVA_MIN(cfg->num_masking_patches - count, cfg->max_num_patches);
        int delta = try_block(cfg, rng, mask, limit, log_lo, log_hi);
        if (delta == 0) break;
        count += delta;
    }
    return count;
}

eva_status eva_mask_generate_batch(const eva_mask_config *cfg_in, uint64_t seed, int64_t n,
                                   uint8_t *masks, int *counts) {
    eva_mask_config cfg = *cfg_in;
    eva_status st = eva_mask_config_resolve(&cfg);
    if (st != EVA_OK) return st;
    if (n < 0) return eva_fail(EVA_ERR_INVALID_ARG, "mask batch: negative count %lld", (long long)n);
    size_t cells = (size_t)cfg.height * (size_t)cfg.width;
    for (int64_t i = 0; i < n; i++) {
        eva_rng rng = eva_rng_make(seed, (uint64_t)i);
        int c = eva_mask_generate(&cfg, &rng, masks + (size_t)i * cells);
        if (counts) counts[i] = c;
    }
    return EVA_OK;
}
