/* registry.h — the named EVA-01 configurations of the model card (spec §1.2, §1.5). */
#ifndef EVA_REGISTRY_H
#define EVA_REGISTRY_H

#include "base/base.h"

typedef struct eva_arch {
    const char *name;          /* official EVA-01 name, or the timm name when there is none */
    const char *timm_name;     /* timm name with pretrained tag, or NULL */
    const char *timm_arch;     /* bare timm architecture fn, or NULL */
    int width, depth, heads, mlp, patch, img_size, num_classes, lm_dim;
    eva_pooling pooling;
    bool has_mask_token;
    /* preprocessing (official EVA-01 eval transform unless the entry is timm-only) */
    float crop_pct;
    int squash;
    bool imagenet_mean;        /* ImageNet mean/std instead of OpenAI CLIP */
    const char *labels;        /* "imagenet1k", "imagenet21k", "clip", "none" */
    const char *source_file;   /* the published checkpoint this configuration belongs to */
} eva_arch;

/* Look up by official name, timm name (with or without tag). NULL if unknown. */
const eva_arch *eva_arch_find(const char *name);
int eva_arch_count(void);
const eva_arch *eva_arch_at(int i);

extern const float EVA_CLIP_MEAN[3], EVA_CLIP_STD[3], EVA_IMAGENET_MEAN[3], EVA_IMAGENET_STD[3];

#endif
