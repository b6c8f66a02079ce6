/* clip.c — the EVA-CLIP model: vision tower (eva_model, pooled CLS + head) + text tower
 * (clip_text.c) + logit_scale, loaded from one file in any of the three known layouts, and the
 * zero-shot helpers. Shapes: B images, n texts, E joint width, C classes, T templates. */
#include "models/clip.h"
#include "models/vit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

eva_clip_params eva_clip_default_params(void) {
    eva_clip_params p;
    memset(&p, 0, sizeof p);
    p.weight_dtype = EVA_F32;
    return p;
}

static bool ends_with(const char *s, const char *suffix, size_t *stem_len) {
    size_t ls = strlen(s), lx = strlen(suffix);
    if (ls < lx || strcmp(s + ls - lx, suffix) != 0) return false;
    if (ls > lx && s[ls - lx - 1] != '.') return false;   /* whole dotted component */
    *stem_len = ls - lx;
    return true;
}

static const eva_named_tensor *find2(const eva_tensor_map *m, const char *root, const char *name) {
    char full[512];
    snprintf(full, sizeof full, "%s%s", root, name);
    return eva_tensor_map_find(m, full);
}

/* The scalar logit_scale: "<root>logit_scale" (open_clip, EVA-CLIP repo) or
 * "<root>text.logit_scale" (EVA-01 original). */
static eva_status read_logit_scale(eva_clip *c, const eva_named_tensor **where) {
    const eva_named_tensor *ls = find2(&c->map, c->prefix, "logit_scale");
    *where = ls;
    if (!ls) *where = ls = find2(&c->map, c->prefix, "text.logit_scale");
    if (!ls) {
        c->logit_scale = logf(1.0f / 0.07f);
        eva_log(EVA_LOG_WARN, "%s: no logit_scale tensor; using ln(1/0.07)", c->map.source);
        return EVA_OK;
    }
    if (eva_tensor_numel(&ls->t) != 1 || ls->t.dtype == EVA_Q8)
        return eva_fail(EVA_ERR_SHAPE, "%s: %s must be a scalar", c->map.source, ls->name);
    float v;
    eva_status st = eva_convert_to_f32(ls->t.dtype, ls->t.data, &v, 1);
    if (st != EVA_OK) return st;
    if (!isfinite(v)) return eva_fail(EVA_ERR_FORMAT, "%s: %s is not finite", c->map.source, ls->name);
    c->logit_scale = v;
    return EVA_OK;
}

eva_status eva_clip_load(const char *path, const eva_clip_params *params, eva_clip **out) {
    if (!out) return eva_fail(EVA_ERR_INVALID_ARG, "eva_clip_load: null output");
    *out = NULL;
    if (!path) return eva_fail(EVA_ERR_INVALID_ARG, "eva_clip_load: null path");
    eva_clip_params p = params ? *params : eva_clip_default_params();
    eva_clip *c = eva_calloc(1, sizeof *c);
    if (!c) return EVA_ERR_NOMEM;
    eva_tensor_map_init(&c->map);
    eva_status st = eva_tensor_map_open(path, &c->map);
    if (st != EVA_OK) goto fail;
    /* the state-dict root is what precedes "text.positional_embedding" */
    bool found = false, vis = false;
    for (int i = 0; i < c->map.count && !found; i++) {
        size_t stem;
        const char *nm = c->map.items[i].name;
        if (ends_with(nm, "text.positional_embedding", &stem) && stem < sizeof c->prefix) {
            memcpy(c->prefix, nm, stem);
            c->prefix[stem] = 0;
            found = true;
        }
    }
    if (!found) {
        bool has_pos = false;
        for (int i = 0; i < c->map.count && !has_pos; i++) {
            size_t stem;
            has_pos = ends_with(c->map.items[i].name, "pos_embed", &stem);
        }
        st = eva_fail(EVA_ERR_MISSING, "%s: no CLIP text tower ('text.positional_embedding' not found)%s", path,
                      has_pos ? ": this is a vision-only checkpoint; CLIP needs a file with both towers (EVA-CLIP)" : "");
        goto fail;
    }
    const eva_named_tensor *ls;
    if ((st = read_logit_scale(c, &ls)) != EVA_OK) goto fail;
    const char *ls_name = ls ? ls->name + strlen(c->prefix) : "";
    bool trunk = find2(&c->map, c->prefix, "visual.trunk.pos_embed") != NULL;
    vis = trunk || find2(&c->map, c->prefix, "visual.pos_embed") != NULL;
    snprintf(c->layout, sizeof c->layout, "%s",
             trunk ? "open_clip" : strcmp(ls_name, "text.logit_scale") == 0 ? "eva01" : "eva_clip");
    char tprefix[160];
    snprintf(tprefix, sizeof tprefix, "%stext.", c->prefix);
    if ((st = eva_clip_text_bind(&c->text, &c->map, tprefix, p.text_heads)) != EVA_OK) {
        eva_fail_context(st, "loading the text tower");
        goto fail;
    }
    if ((st = eva_pool_create(p.n_threads, &c->pool)) != EVA_OK) goto fail;
    if (vis) {
        eva_model_params mp = eva_model_default_params();
        mp.heads = p.vision_heads;
        mp.weight_dtype = p.weight_dtype;
        if ((st = eva_model_load(path, &mp, &c->vision)) != EVA_OK) {
            eva_fail_context(st, "loading the vision tower");
            goto fail;
        }
        eva_model_info vi;
        eva_model_get_info(c->vision, &vi);
        if (vi.pooling != EVA_POOL_CLS_NORM || !vi.has_head) {
            st = eva_fail(EVA_ERR_FORMAT, "%s: the vision tower has no final norm + projection head (not EVA-CLIP)", path);
            goto fail;
        }
        if (vi.num_classes != c->text.embed_dim) {
            st = eva_fail(EVA_ERR_SHAPE, "%s: image projection width %d != text projection width %d", path,
                          vi.num_classes, c->text.embed_dim);
            goto fail;
        }
        if ((st = eva_ctx_create(c->vision, p.n_threads, &c->vctx)) != EVA_OK) goto fail;
    }
    const char *ref = getenv("EVA_REFERENCE");
    c->reference = ref && *ref && strcmp(ref, "0") != 0;
    *out = c;
    return EVA_OK;
fail:
    eva_clip_free(c);
    return st;
}

void eva_clip_free(eva_clip *c) {
    if (!c) return;
    eva_ctx_free(c->vctx);
    eva_model_free(c->vision);
    eva_clip_text_free(&c->text);
    eva_pool_free(c->pool);
    eva_tensor_map_free(&c->map);
    free(c);
}

eva_status eva_clip_get_info(const eva_clip *c, eva_clip_info *o) {
    if (!c || !o) return eva_fail(EVA_ERR_INVALID_ARG, "eva_clip_get_info: null argument");
    memset(o, 0, sizeof *o);
    snprintf(o->layout, sizeof o->layout, "%s", c->layout);
    o->embed_dim = c->text.embed_dim;
    o->text_width = c->text.width;
    o->text_layers = c->text.layers;
    o->text_heads = c->text.heads;
    o->text_mlp = c->text.mlp;
    o->context_length = c->text.context;
    o->vocab_size = c->text.vocab;
    o->logit_scale = c->logit_scale;
    o->logit_scale_exp = expf(c->logit_scale);
    o->n_params = c->text.n_params + 1;
    if (c->vision) {
        eva_model_info vi;
        eva_model_get_info(c->vision, &vi);
        o->has_vision = true;
        o->img_size = vi.img_size;
        o->patch = vi.patch;
        o->vision_width = vi.width;
        o->vision_depth = vi.depth;
        o->vision_heads = vi.heads;
        o->n_params += vi.n_params;
    }
    return EVA_OK;
}

void eva_clip_normalize_rows(float *x, int n, int E) {
    for (int i = 0; i < n; i++) {
        float *r = x + (size_t)i * E;
        double s = 0;
        for (int d = 0; d < E; d++) s += (double)r[d] * r[d];
        float inv = (float)(1.0 / fmax(sqrt(s), 1e-12));
        for (int d = 0; d < E; d++) r[d] *= inv;
    }
}

/* raw -> (raw_out copy, out normalised) with a temporary when the caller wants only one. */
static eva_status finish(const float *raw, int n, int E, float *raw_out, float *out) {
    if (raw_out && raw_out != raw) memcpy(raw_out, raw, sizeof(float) * (size_t)n * E);
    if (out) {
        if (out != raw) memcpy(out, raw, sizeof(float) * (size_t)n * E);
        eva_clip_normalize_rows(out, n, E);
    }
    return EVA_OK;
}

eva_status eva_clip_encode_images(eva_clip *c, const float *images, int batch, int img_size, float *raw_out, float *out) {
    if (!c || (!images && batch > 0) || batch < 0)
        return eva_fail(EVA_ERR_INVALID_ARG, "eva_clip_encode_images: bad arguments");
    if (!c->vision) return eva_fail(EVA_ERR_UNSUPPORTED, "%s: this CLIP file has no vision tower", c->map.source);
    if (batch == 0) return EVA_OK;
    int E = c->text.embed_dim;
    float *raw = raw_out ? raw_out : eva_malloc(sizeof(float) * (size_t)batch * E);
    if (!raw) return EVA_ERR_NOMEM;
    eva_outputs o;
    memset(&o, 0, sizeof o);
    o.logits = raw;
    eva_status st = eva_forward(c->vctx, images, batch, img_size, &o);
    if (st == EVA_OK) finish(raw, batch, E, NULL, out);
    if (raw != raw_out) free(raw);
    return st;
}

eva_status eva_clip_encode_ids_ex(eva_clip *c, const int32_t *ids, int n, int ctx, bool full, float *raw_out,
                                  float *tokens_out) {
    return eva_clip_text_forward(&c->text, c->pool, ids, n, ctx, full, c->reference, raw_out, tokens_out);
}

eva_status eva_clip_encode_token_ids(eva_clip *c, const int32_t *ids, int n, int context, float *raw_out, float *out) {
    if (!c || (!ids && n > 0) || n < 0) return eva_fail(EVA_ERR_INVALID_ARG, "eva_clip_encode_token_ids: bad arguments");
    if (n == 0) return EVA_OK;
    int E = c->text.embed_dim;
    float *raw = raw_out ? raw_out : eva_malloc(sizeof(float) * (size_t)n * E);
    if (!raw) return EVA_ERR_NOMEM;
    eva_status st = eva_clip_text_forward(&c->text, c->pool, ids, n, context, false, c->reference, raw, NULL);
    if (st == EVA_OK) finish(raw, n, E, NULL, out);
    if (raw != raw_out) free(raw);
    return st;
}

eva_status eva_clip_encode_texts(eva_clip *c, const char *const *texts, int n, float *raw_out, float *out) {
    if (!c || (!texts && n > 0) || n < 0) return eva_fail(EVA_ERR_INVALID_ARG, "eva_clip_encode_texts: bad arguments");
    if (n == 0) return EVA_OK;
    int P = c->text.context;
    int32_t *ids = eva_malloc(sizeof(int32_t) * (size_t)n * P);
    if (!ids) return EVA_ERR_NOMEM;
    eva_status st = EVA_OK;
    for (int i = 0; i < n && st == EVA_OK; i++) {
        if (!texts[i]) st = eva_fail(EVA_ERR_INVALID_ARG, "text %d is NULL", i);
        else if ((st = eva_tokenize(texts[i], strlen(texts[i]), ids + (size_t)i * P, P, NULL)) != EVA_OK)
            eva_fail_context(st, "text %d", i);
    }
    if (st == EVA_OK) st = eva_clip_encode_token_ids(c, ids, n, P, raw_out, out);
    free(ids);
    return st;
}

/* "{}" in the template replaced by the class name (every occurrence). malloc'd. */
static char *format_template(const char *tpl, const char *name) {
    size_t ln = strlen(name), n = 1;
    for (const char *s = tpl; *s; s++) n += (s[0] == '{' && s[1] == '}') ? (s++, ln) : 1;
    char *r = eva_malloc(n), *w = r;
    if (!r) return NULL;
    for (const char *s = tpl; *s; s++) {
        if (s[0] == '{' && s[1] == '}') {
            memcpy(w, name, ln);
            w += ln;
            s++;
        } else {
            *w++ = *s;
        }
    }
    *w = 0;
    return r;
}

eva_status eva_clip_zeroshot_weights(eva_clip *c, const char *const *names, int C, const char *const *templates, int T,
                                     float *W, eva_clip_progress_fn progress, void *user) {
    if (!c || !names || C < 0 || !W) return eva_fail(EVA_ERR_INVALID_ARG, "eva_clip_zeroshot_weights: bad arguments");
    const char *builtin[80];
    if (!templates) {
        for (int i = 0; i < 80; i++) builtin[i] = eva_imagenet_template(i);
        templates = builtin;
        T = 80;
    }
    if (T < 1 || T > 100000) return eva_fail(EVA_ERR_INVALID_ARG, "zero-shot: need 1..100000 templates, got %d", T);
    int E = c->text.embed_dim, P = c->text.context;
    /* classes per batch: ~256 texts so the text GEMMs stay large */
    int per = EVA_MAX(1, 256 / T);
    size_t cap = (size_t)per * T;
    int32_t *ids = eva_malloc(sizeof(int32_t) * cap * P);
    float *emb = eva_malloc(sizeof(float) * cap * E);
    eva_status st = (ids && emb) ? EVA_OK : EVA_ERR_NOMEM;
    for (int a = 0; a < C && st == EVA_OK; a += per) {
        int cnt = EVA_MIN(per, C - a);
        for (int k = 0; k < cnt && st == EVA_OK; k++) {
            if (!names[a + k]) {
                st = eva_fail(EVA_ERR_INVALID_ARG, "class %d: NULL name", a + k);
                break;
            }
            for (int t = 0; t < T && st == EVA_OK; t++) {
                char *txt = templates[t] ? format_template(templates[t], names[a + k]) : NULL;
                if (!txt) {
                    st = templates[t] ? EVA_ERR_NOMEM : eva_fail(EVA_ERR_INVALID_ARG, "template %d is NULL", t);
                    break;
                }
                st = eva_tokenize(txt, strlen(txt), ids + ((size_t)k * T + t) * P, P, NULL);
                free(txt);
            }
        }
        if (st == EVA_OK) st = eva_clip_encode_token_ids(c, ids, cnt * T, P, NULL, emb);
        for (int k = 0; k < cnt && st == EVA_OK; k++) {
            /* mean of the normalised template embeddings, then normalised (the scale of the
             * mean cancels, so summing is the same) */
            float *w = W + (size_t)(a + k) * E;
            for (int d = 0; d < E; d++) {
                double s = 0;
                for (int t = 0; t < T; t++) s += emb[((size_t)k * T + t) * E + d];
                w[d] = (float)(s / T);
            }
            eva_clip_normalize_rows(w, 1, E);
        }
        if (st == EVA_OK && progress) progress(a + cnt, C, user);
    }
    free(ids);
    free(emb);
    return st;
}

eva_status eva_clip_zeroshot_logits(const eva_clip *c, const float *feat, int n, const float *W, int C, float scale,
                                    float *logits, float *probs) {
    if (!c || !feat || !W || !logits || n < 0 || C < 1)
        return eva_fail(EVA_ERR_INVALID_ARG, "eva_clip_zeroshot_logits: bad arguments");
    int E = c->text.embed_dim;
    for (int i = 0; i < n; i++) {
        float *l = logits + (size_t)i * C;
        for (int k = 0; k < C; k++) {
            double s = 0;
            for (int d = 0; d < E; d++) s += (double)feat[(size_t)i * E + d] * W[(size_t)k * E + d];
            l[k] = (float)(scale * s);
        }
        if (probs) {
            float mx = l[0];
            for (int k = 1; k < C; k++) mx = fmaxf(mx, l[k]);
            double sum = 0;
            for (int k = 0; k < C; k++) sum += exp((double)l[k] - mx);
            for (int k = 0; k < C; k++) probs[(size_t)i * C + k] = (float)(exp((double)l[k] - mx) / sum);
        }
    }
    return EVA_OK;
}
