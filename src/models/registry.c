/* registry.c — every EVA-01 image model of the model card, by official and timm name.
 * All share the EVA-g/14 trunk: width 1408, depth 40, 16 heads, MLP 6144, LN eps 1e-6. */
#include "models/registry.h"

const float EVA_CLIP_MEAN[3] = {0.48145466f, 0.4578275f, 0.40821073f};
const float EVA_CLIP_STD[3] = {0.26862954f, 0.26130258f, 0.27577711f};
const float EVA_IMAGENET_MEAN[3] = {0.485f, 0.456f, 0.406f};
const float EVA_IMAGENET_STD[3] = {0.229f, 0.224f, 0.225f};

#define G 1408, 40, 16, 6144
static const eva_arch g_archs[] = {
    /* name, timm name, timm arch, width, depth, heads, mlp, patch, img, classes, lm_dim, pooling, mask,
       crop_pct, squash, imagenet_mean, labels, source */
    {"eva_psz14", NULL, NULL, G, 14, 224, 0, 768, EVA_POOL_MIM, true, 1.0f, 0, false, "none", "eva_psz14.pt"},
    {"eva_psz14to16", NULL, NULL, G, 16, 224, 0, 768, EVA_POOL_MIM, true, 1.0f, 0, false, "none", "eva_psz14to16.pt"},
    {"eva_21k_224px_psz14", NULL, NULL, G, 14, 224, 21841, 0, EVA_POOL_MEAN_FCNORM, false, 1.0f, 0, false,
     "imagenet21k", "eva_21k_224px_psz14.pt"},
    {"eva_21k_1k_336px_psz14_ema", "eva_giant_patch14_336.m30m_ft_in22k_in1k", NULL, G, 14, 336,
     1000, 0, EVA_POOL_MEAN_FCNORM, false, 1.0f, 0, false, "imagenet1k", "eva_21k_1k_336px_psz14_ema_89p6.pt"},
    {"eva_21k_1k_560px_psz14_ema", "eva_giant_patch14_560.m30m_ft_in22k_in1k", "eva_giant_patch14_560", G, 14, 560,
     1000, 0, EVA_POOL_MEAN_FCNORM, false, 1.0f, 0, false, "imagenet1k", "eva_21k_1k_560px_psz14_ema_89p7.pt"},
    {"eva_clip_psz14", "eva_giant_patch14_clip_224.laion400m", "eva_giant_patch14_clip_224", G, 14, 224, 1024, 0,
     EVA_POOL_CLS_NORM, false, 1.0f, 0, false, "clip", "eva_clip_psz14.pt"},
    /* timm-only entries (CLIP vision encoder fine-tuned on IN-1k) */
    {"eva_giant_patch14_224.clip_ft_in1k", "eva_giant_patch14_224.clip_ft_in1k", "eva_giant_patch14_224", G, 14, 224,
     1000, 0, EVA_POOL_MEAN_FCNORM, false, 0.9f, 0, false, "imagenet1k", "eva_clip_vis_enc_sz224_ftcls_89p1.pt"},
    {"eva_giant_patch14_336.clip_ft_in1k", "eva_giant_patch14_336.clip_ft_in1k", "eva_giant_patch14_336", G, 14, 336, 1000, 0,
     EVA_POOL_MEAN_FCNORM, false, 1.0f, 1, false, "imagenet1k", "eva_clip_vis_enc_sz336_ftcls_89p4.pt"},
    /* the golden tiny configuration (width 192, depth 3, 3 heads): tests, examples, debugging */
    {"eva_tiny_test", NULL, NULL, 192, 3, 3, 832, 14, 224, 10, 0, EVA_POOL_MEAN_FCNORM, false, 1.0f, 0, false, "none",
     "synthetic (golden tiny shape)"},
};
#undef G

int eva_arch_count(void) { return (int)EVA_ARRAY_LEN(g_archs); }
const eva_arch *eva_arch_at(int i) { return i >= 0 && i < eva_arch_count() ? &g_archs[i] : NULL; }

const eva_arch *eva_arch_find(const char *name) {
    if (!name) return NULL;
    for (int i = 0; i < eva_arch_count(); i++) {
        const eva_arch *a = &g_archs[i];
        if (strcmp(a->name, name) == 0 || (a->timm_name && strcmp(a->timm_name, name) == 0)) return a;
    }
    /* a bare timm architecture name means its default pretrained tag (the first entry using it) */
    for (int i = 0; i < eva_arch_count(); i++)
        if (g_archs[i].timm_arch && strcmp(g_archs[i].timm_arch, name) == 0) return &g_archs[i];
    return NULL;
}

int eva_registry_count(void) { return eva_arch_count(); }

const char *eva_registry_name(int index, const char **timm_name_out) {
    const eva_arch *a = eva_arch_at(index);
    if (timm_name_out) *timm_name_out = a ? a->timm_name : NULL;
    return a ? a->name : NULL;
}
