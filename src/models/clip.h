/* clip.h — the eva_clip handle (internal view, for tests and the CLI's debug paths). */
#ifndef EVA_MODELS_CLIP_H
#define EVA_MODELS_CLIP_H

#include "models/clip_text.h"

struct eva_clip {
    eva_model *vision;          /* NULL: text-only file */
    eva_ctx *vctx;
    eva_clip_text text;
    eva_tensor_map map;         /* the file, for the text weights */
    eva_pool *pool;             /* text tower threads */
    float logit_scale;
    char layout[16];
    char prefix[128];           /* state-dict root ("" or "module." ...) */
    bool reference;             /* EVA_REFERENCE=1: plain kernels */
};

/* L2-normalise n rows of E floats in place as torch F.normalize (divide by max(|x|, 1e-12)). */
void eva_clip_normalize_rows(float *x, int n, int E);

/* Text tower with options the public API does not expose: full = every context position,
 * tokens_out [n, ctx, W] after ln_final (needs full). */
eva_status eva_clip_encode_ids_ex(eva_clip *clip, const int32_t *ids, int n, int ctx, bool full, float *raw_out,
                                  float *tokens_out);

#endif
