/* model_meta.c — what a model file says about itself beyond its tensors: class names
 * (metadata "eva.class_names", one per line), written by eva finetune / eva convert. */
#include "models/vit.h"

#include <stdio.h>

int eva_model_class_name(const eva_model *m, int index, char *buf, size_t cap) {
    if (!m || !buf || cap == 0 || index < 0) return 0;
    const char *names = eva_tensor_map_get_meta(&m->map, "eva.class_names");
    if (!names) return 0;
    for (int i = 0; i < index; i++) {
        names = strchr(names, '\n');
        if (!names) return 0;
        names++;
    }
    const char *end = strchr(names, '\n');
    size_t n = end ? (size_t)(end - names) : strlen(names);
    if (n == 0) return 0;
    snprintf(buf, cap, "%.*s", (int)n, names);
    return 1;
}

/* A head that gives class logits: mean pooling + fc_norm + head, or final norm + cls + head when
 * the file marks it as a classifier (linear probe); final norm + cls + head otherwise is CLIP's
 * image projection. */
bool eva_model_is_classifier(const eva_model *m) {
    if (!m || !m->cfg.has_head) return false;
    return m->cfg.pooling == EVA_POOL_MEAN_FCNORM || (m->cfg.pooling == EVA_POOL_CLS_NORM && m->cfg.cls_classifier);
}
