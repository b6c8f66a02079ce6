/* tensor.c — the tensor descriptor's helpers. */
#include "base.h"

#include <stdio.h>

int64_t eva_tensor_numel(const eva_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

bool eva_tensor_is_contiguous(const eva_tensor *t) {
    int64_t expect = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->stride[i] != expect) return false;
        expect *= t->shape[i];
    }
    return true;
}

void eva_tensor_set_contiguous_strides(eva_tensor *t) {
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        t->stride[i] = s;
        s *= t->shape[i];
    }
}

const char *eva_shape_str(int ndim, const int64_t *shape, char *buf, size_t cap) {
    size_t pos = 0;
    pos += (size_t)snprintf(buf + pos, cap - pos, "[");
    for (int i = 0; i < ndim && pos < cap; i++)
        pos += (size_t)snprintf(buf + pos, cap - pos, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (pos < cap) snprintf(buf + pos, cap - pos, "]");
    return buf;
}
