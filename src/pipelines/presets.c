/* presets.c — named evaluation transforms (spec §3.1 official EVA-01, §1.5 timm pretrained_cfg,
 * golden README §6.1).
 *
 * Two families:
 *   official  EVA-01/eva/datasets.py build_transform as the README commands run it: shorter side
 *             to int(S / crop_pct) with crop_pct = 1.0, CenterCrop(S), OpenAI CLIP mean/std
 *             (also EVA-CLIP's image_transform: Resize(224) + CenterCrop(224), CLIP).
 *   timm      timm.data.create_transform(**resolve_data_config(model)): per-tag crop_pct,
 *             crop_mode (center / squash) and mean/std.
 * A name selects its own family unless the caller asks for the other one. */
#include "pipelines/preprocess.h"

#include <stdio.h>

static const float CLIP_MEAN[3] = {0.48145466f, 0.4578275f, 0.40821073f};
static const float CLIP_STD[3] = {0.26862954f, 0.26130258f, 0.27577711f};
static const float IN_MEAN[3] = {0.485f, 0.456f, 0.406f};
static const float IN_STD[3] = {0.229f, 0.224f, 0.225f};

typedef struct timm_preset {
    const char *name;        /* full timm name with pretrained tag */
    const char *bare;        /* architecture name when this tag is the default, else NULL */
    const char *alias;       /* golden key, or NULL */
    int size;
    float crop_pct;
    int squash;
    int imagenet;            /* 1: ImageNet mean/std, 0: OpenAI CLIP */
} timm_preset;

static const timm_preset TIMM[] = {
    {"eva_giant_patch14_224.clip_ft_in1k", "eva_giant_patch14_224", "t224", 224, 0.9f, 0, 0},
    {"eva_giant_patch14_336.clip_ft_in1k", "eva_giant_patch14_336", "t336", 336, 1.0f, 1, 0},
    {"eva_giant_patch14_336.m30m_ft_in22k_in1k", NULL, NULL, 336, 1.0f, 1, 1},
    {"eva_giant_patch14_560.m30m_ft_in22k_in1k", "eva_giant_patch14_560", "t560", 560, 1.0f, 1, 1},
    {"eva_giant_patch14_clip_224.laion400m", "eva_giant_patch14_clip_224", NULL, 224, 0.9f, 0, 0},
    {"eva_giant_patch14_clip_224.merged2b", NULL, NULL, 224, 0.9f, 0, 0},
};

typedef struct official_preset {
    const char *name;
    int size;
    const char *timm;        /* closest timm preset for --preprocess timm, or NULL (timm defaults) */
} official_preset;

static const official_preset OFFICIAL[] = {
    {"eva_psz14", 224, NULL},
    {"eva_psz14to16", 224, NULL},
    {"eva_21k_224px_psz14", 224, NULL},
    {"eva_21k_1k_336px_psz14_ema", 336, "eva_giant_patch14_336.m30m_ft_in22k_in1k"},
    {"eva_21k_1k_560px_psz14_ema", 560, "eva_giant_patch14_560.m30m_ft_in22k_in1k"},
    {"eva_clip_psz14", 224, "eva_giant_patch14_clip_224.laion400m"},
};

static void set_official(int size, eva_preprocess_params *out) {
    memset(out, 0, sizeof *out);
    out->size = size;
    out->crop_pct = 1.0f;
    out->squash = 0;
    memcpy(out->mean, CLIP_MEAN, sizeof out->mean);
    memcpy(out->std, CLIP_STD, sizeof out->std);
}

static void set_timm(const timm_preset *t, eva_preprocess_params *out) {
    memset(out, 0, sizeof *out);
    out->size = t->size;
    out->crop_pct = t->crop_pct;
    out->squash = t->squash;
    memcpy(out->mean, t->imagenet ? IN_MEAN : CLIP_MEAN, sizeof out->mean);
    memcpy(out->std, t->imagenet ? IN_STD : CLIP_STD, sizeof out->std);
}

/* timm defaults for a 224 model without its own cfg: crop_pct 0.9, center, CLIP. */
static void set_timm_default(int size, eva_preprocess_params *out) {
    timm_preset d = {"", NULL, NULL, size, 0.9f, 0, 0};
    set_timm(&d, out);
}

static const timm_preset *find_timm(const char *name) {
    for (size_t i = 0; i < EVA_ARRAY_LEN(TIMM); i++)
        if (strcmp(name, TIMM[i].name) == 0 || (TIMM[i].bare && strcmp(name, TIMM[i].bare) == 0) ||
            (TIMM[i].alias && strcmp(name, TIMM[i].alias) == 0))
            return &TIMM[i];
    return NULL;
}

eva_status eva_preprocess_preset_family(const char *name, const char *family, eva_preprocess_params *out) {
    if (!name || !out) return eva_fail(EVA_ERR_INVALID_ARG, "eva_preprocess_preset: NULL argument");
    int fam = -1;   /* -1: the name's own, 0: official, 1: timm */
    if (family && family[0]) {
        if (strcmp(family, "official") == 0) fam = 0;
        else if (strcmp(family, "timm") == 0) fam = 1;
        else return eva_fail(EVA_ERR_INVALID_ARG, "unknown preprocessing family '%s' (official or timm)", family);
    }
    const timm_preset *t = find_timm(name);
    if (t) {
        if (fam == 0) set_official(t->size, out);
        else set_timm(t, out);
        return EVA_OK;
    }
    for (size_t i = 0; i < EVA_ARRAY_LEN(OFFICIAL); i++) {
        const official_preset *o = &OFFICIAL[i];
        if (strcmp(name, o->name) != 0) continue;
        if (fam == 1) {
            if (o->timm) set_timm(find_timm(o->timm), out);
            else set_timm_default(o->size, out);
        } else {
            set_official(o->size, out);
        }
        return EVA_OK;
    }
    return eva_fail(EVA_ERR_INVALID_ARG,
                    "unknown preprocessing preset '%s' (e.g. eva_21k_1k_336px_psz14_ema, eva_giant_patch14_224.clip_ft_in1k, t224)",
                    name);
}

eva_status eva_preprocess_preset(const char *name, eva_preprocess_params *out) {
    return eva_preprocess_preset_family(name, NULL, out);
}
