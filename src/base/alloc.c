/* alloc.c — allocation that reports instead of crashing, with overflow-checked sizes. */
#include "base.h"

#include <stdlib.h>

/* Nothing eva.c legitimately allocates in one piece exceeds this; larger requests come from
 * lying headers and are refused before they reach the allocator. */
#define EVA_MAX_ALLOC ((size_t)1 << 40)

bool eva_size_mul(size_t a, size_t b, size_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}

void *eva_malloc(size_t n) {
    if (n > EVA_MAX_ALLOC) {
        eva_fail(EVA_ERR_NOMEM, "refusing to allocate %zu bytes", n);
        return NULL;
    }
    void *p = malloc(n ? n : 1);
    if (!p) eva_fail(EVA_ERR_NOMEM, "out of memory allocating %zu bytes", n);
    return p;
}

void *eva_calloc(size_t count, size_t size) {
    size_t n;
    if (!eva_size_mul(count, size, &n) || n > EVA_MAX_ALLOC) {
        eva_fail(EVA_ERR_NOMEM, "refusing to allocate %zu x %zu bytes", count, size);
        return NULL;
    }
    void *p = calloc(n ? n : 1, 1);
    if (!p) eva_fail(EVA_ERR_NOMEM, "out of memory allocating %zu bytes", n);
    return p;
}

void *eva_aligned_alloc(size_t n) {
    if (n > EVA_MAX_ALLOC) {
        eva_fail(EVA_ERR_NOMEM, "refusing to allocate %zu bytes", n);
        return NULL;
    }
    void *p = NULL;
    if (posix_memalign(&p, 64, n ? (n + 63) & ~(size_t)63 : 64) != 0) {
        eva_fail(EVA_ERR_NOMEM, "out of memory allocating %zu bytes", n);
        return NULL;
    }
    return p;
}

void eva_aligned_free(void *p) { free(p); }

char *eva_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = eva_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}
