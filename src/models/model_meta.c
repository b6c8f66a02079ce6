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
